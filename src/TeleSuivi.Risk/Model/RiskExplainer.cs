using System.Globalization;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;

namespace TeleSuivi.Risk.Model;

/// <summary>
/// One reason behind a score: a topic (a measure, an environment variable, the patient's profile, the season, data
/// gaps), how much its features added to the model's score, and a sentence with the patient's own values.
/// </summary>
/// <param name="Sentence">In English.</param>
/// <param name="Phrase">The same in French: the board shows one or the other.</param>
public sealed record RiskReason(string Topic, double Contribution, string Sentence, string Phrase);

/// <summary>
/// Turns per-prediction feature contributions into sentences a nurse can act on. The features of one topic (the
/// deviation, slope, last value... of SpO2) are summed, since they describe one thing; the topics that raised the
/// score most are worded from the feature that weighed most, with the values behind it.
/// </summary>
public static class RiskExplainer
{
    private sealed record Quantity(string Name, string Unit, string Format, string DifferenceUnit, string French, string FrenchUnit, string FrenchDifferenceUnit);

    private static readonly Dictionary<string, Quantity> Quantities = new(StringComparer.Ordinal)
    {
        [Measures.HeartRate] = new("Heart rate", " /min", "F0", " /min", "Fréquence cardiaque", " /min", " /min"),
        [Measures.RespiratoryRate] = new("Breathing rate", " /min", "F0", " /min", "Fréquence respiratoire", " /min", " /min"),
        [Measures.OxygenSaturation] = new("SpO2", " %", "F0", " points", "SpO2", " %", " points"),
        [Measures.Systolic] = new("Systolic pressure", " mmHg", "F0", " mmHg", "Pression systolique", " mmHg", " mmHg"),
        [Measures.Diastolic] = new("Diastolic pressure", " mmHg", "F0", " mmHg", "Pression diastolique", " mmHg", " mmHg"),
        [Measures.BodyWeight] = new("Weight", " kg", "F1", " kg", "Poids", " kg", " kg"),
        [Measures.BodyTemperature] = new("Temperature", " °C", "F1", " °C", "Température", " °C", " °C"),
        [Measures.Steps] = new("Steps", " a day", "N0", " steps", "Pas", " par jour", " pas"),
        [Measures.Glucose] = new("Glucose", " mmol/L", "F1", " mmol/L", "Glycémie", " mmol/L", " mmol/L"),
        [Measures.AmbientPm25] = new("PM2.5", " µg/m³", "F0", " µg/m³", "PM2.5", " µg/m³", " µg/m³"),
        [Measures.AmbientPm10] = new("PM10", " µg/m³", "F0", " µg/m³", "PM10", " µg/m³", " µg/m³"),
        [Measures.AmbientNo2] = new("NO2", " µg/m³", "F0", " µg/m³", "NO2", " µg/m³", " µg/m³"),
        [Measures.AmbientO3] = new("Ozone", " µg/m³", "F0", " µg/m³", "Ozone", " µg/m³", " µg/m³"),
        [Measures.AmbientTemperature] = new("Outdoor temperature", " °C", "F0", " °C", "Température extérieure", " °C", " °C"),
        [Measures.AmbientHumidity] = new("Outdoor humidity", " %", "F0", " %", "Humidité extérieure", " %", " %"),
        [Measures.PollenIndex] = new("Pollen index", " (of 5)", "F0", string.Empty, "Indice pollinique", " (sur 5)", ""),
    };

    private static readonly string[] Topics = FeatureSchema.Names.Select(TopicOf).ToArray();

    /// <summary>The topic of a feature: its measure or environment variable, else "profile", "season", "data", "vitals" or "history".</summary>
    public static string TopicOf(string feature)
    {
        ArgumentNullException.ThrowIfNull(feature);
        var colon = feature.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? feature[..colon]
            : feature.StartsWith("season-", StringComparison.Ordinal) ? "season"
            : feature == "hours-since-any-reading" || FeatureSchema.MissingDataBlock.Contains(feature) ? "data"
            : feature.StartsWith("vitals-", StringComparison.Ordinal) ? "vitals"
            : FeatureSchema.HistoryBlock.Contains(feature) ? "history"
            : "profile";
    }

    /// <param name="features">The features as computed (<see cref="FeatureSchema"/> layout, NaN for missing); with the explanation values after them (<see cref="FeatureSchema.VectorLength"/>), sentences say how long a deviation has lasted.</param>
    /// <param name="contributions">Each feature's contribution to the model's score (same layout).</param>
    /// <param name="count">How many reasons at most; only topics that raised the score are given.</param>
    public static IReadOnlyList<RiskReason> Explain(ReadOnlySpan<float> features, ReadOnlySpan<float> contributions, int count = 3)
    {
        if (features.Length < FeatureSchema.Count || contributions.Length != FeatureSchema.Count)
        {
            throw new ArgumentException($"features need at least {FeatureSchema.Count} values (durations after them are quoted when given) and contributions {FeatureSchema.Count}");
        }

        var totals = new Dictionary<string, (double Sum, int Strongest)>(StringComparer.Ordinal);
        for (var i = 0; i < contributions.Length; i++)
        {
            var topic = Topics[i];
            var (sum, strongest) = totals.TryGetValue(topic, out var t) ? t : (0, i);
            totals[topic] = (sum + contributions[i], contributions[i] > contributions[strongest] ? i : strongest);
        }

        var reasons = new List<RiskReason>(count);
        foreach (var (topic, (sum, strongest)) in totals.Where(t => t.Value.Sum > 0).OrderByDescending(t => t.Value.Sum).Take(count))
        {
            reasons.Add(new RiskReason(topic, sum, Sentence(features, strongest), Phrase(features, strongest)));
        }

        return reasons;
    }

    /// <summary>The sentence for feature <paramref name="index"/>, with the patient's values, in English.</summary>
    public static string Sentence(ReadOnlySpan<float> features, int index) => Describe(features, index, French: false);

    /// <summary>The same sentence in French (the board's other language).</summary>
    public static string Phrase(ReadOnlySpan<float> features, int index) => Describe(features, index, French: true);

    /// <summary>
    /// French numbers (decimal comma, thin-space thousands) and month names, built on the invariant culture: the
    /// server runs in .NET's globalization-invariant mode, where no "fr-FR" culture exists.
    /// </summary>
    private static readonly CultureInfo FrenchCulture = BuildFrenchCulture();

    private static CultureInfo BuildFrenchCulture()
    {
        var culture = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        culture.NumberFormat.NumberDecimalSeparator = ",";
        culture.NumberFormat.NumberGroupSeparator = "\u202F";
        string[] months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre", string.Empty];
        culture.DateTimeFormat.MonthNames = months;
        culture.DateTimeFormat.MonthGenitiveNames = months;
        return CultureInfo.ReadOnly(culture);
    }

    private static string Describe(ReadOnlySpan<float> features, int index, bool French)
    {
        var values = features.ToArray();
        var culture = French ? FrenchCulture : CultureInfo.InvariantCulture;
        string Say(string en, string fr) => French ? fr : en;
        string Number(double v, string format) => v.ToString(format, culture);
        var name = FeatureSchema.Names[index];
        var topic = Topics[index];
        var kind = name.Contains(':', StringComparison.Ordinal) ? name[(name.IndexOf(':', StringComparison.Ordinal) + 1)..] : name;
        double Value(string feature) => FeatureSchema.Index(feature) < values.Length ? values[FeatureSchema.Index(feature)] : double.NaN;
        var possessive = Value("male") switch { 1 => "his", 0 => "her", _ => "the patient's" };
        if (topic == "profile")
        {
            return Profile(features, French);
        }

        if (topic == "season")
        {
            var dayOfYear = (int)Math.Round(((Math.Atan2(Value("season-sin"), Value("season-cos")) / (2 * Math.PI) * 365.25) + 365.25) % 365.25) + 1;
            var date = new DateTime(2025, 1, 1).AddDays(dayOfYear - 1);
            var month = date.ToString("MMMM", culture);
            return date.Month is 12 or 1 or 2
                ? Say($"Winter ({month}): the season of most exacerbations", $"Hiver ({month}) : la saison de la plupart des exacerbations")
                : Say($"Time of year ({month})", $"Période de l'année ({month})");
        }

        if (topic == "data" && name == "hours-since-any-reading")
        {
            return Say($"No reading from any device for {Number(Value(name), "F0")} h", $"Aucune mesure d'aucun appareil depuis {Number(Value(name), "F0")} h");
        }

        if (topic == "data")
        {
            var ratio = Value("readings-24h-vs-usual");
            var silent = Value("measures-silent-24h");
            var share = double.IsNaN(ratio) ? string.Empty : Say(
                $"{Number(100 * ratio, "F0")} % of the usual daily number of readings in the last 24 h",
                $"{Number(100 * ratio, "F0")} % du nombre habituel de mesures par jour sur les dernières 24 h");
            var quiet = silent >= 1 ? Say(
                $"{Number(silent, "F0")} measure(s) read this week silent for 24 h",
                $"{Number(silent, "F0")} mesure(s) relevée(s) cette semaine sans valeur depuis 24 h") : string.Empty;
            var both = string.Join("; ", new[] { share, quiet }.Where(p => p.Length > 0));
            return both.Length > 0
                ? Say($"Readings missing: {both}", $"Mesures manquantes : {both}")
                : Say("Readings as usual", "Mesures comme d'habitude");
        }

        if (topic == "history")
        {
            var count = Value("exacerbations-365d");
            var days = Value("days-since-exacerbation");
            var priorYear = Value(FeatureSchema.PriorYearExacerbations);
            var recorded = double.IsNaN(days)
                ? Say("no exacerbation recorded since", "aucune exacerbation enregistrée depuis")
                : Say(
                    $"{Number(count, "F0")} recorded in the last year, the latest {Number(days, "F0")} days ago",
                    $"{Number(count, "F0")} enregistrée(s) sur la dernière année, la dernière il y a {Number(days, "F0")} jours");
            if (!double.IsNaN(priorYear))
            {
                return Say(
                    $"{Number(priorYear, "F0")} exacerbation(s) in the year before enrolment; {recorded}",
                    $"{Number(priorYear, "F0")} exacerbation(s) dans l'année précédant l'inclusion ; {recorded}");
            }

            return double.IsNaN(days)
                ? Say("No exacerbation recorded", "Aucune exacerbation enregistrée")
                : Say(
                    $"{Number(count, "F0")} exacerbation(s) recorded in the last year, the latest {Number(days, "F0")} days ago",
                    $"{Number(count, "F0")} exacerbation(s) enregistrée(s) sur la dernière année, la dernière il y a {Number(days, "F0")} jours");
        }

        if (topic == "vitals")
        {
            return Vitals(features, French);
        }

        var q = Quantities[topic];
        var qName = French ? q.French : q.Name;
        var unit = French ? q.FrenchUnit : q.Unit;
        var differenceUnit = French ? q.FrenchDifferenceUnit : q.DifferenceUnit;
        string Show(double v) => Number(v, q.Format) + unit;
        string Amount(double v) => Number(Math.Abs(v), q.Format) + differenceUnit;
        double Of(string feature) => Value($"{topic}:{feature}");
        var lower = French ? qName : InSentence(q.Name, CultureInfo.InvariantCulture);

        if (Measures.Environment.Contains(topic))
        {
            var three = Of("mean-lag0-2");
            var max = Of("max-lag0-7");
            var beyondDays = Of("days-beyond-level");
            var (level, above) = ZoneEnvironmentState.Levels[FeatureSchema.Index($"{topic}:days-beyond-level") - FeatureSchema.DaysBeyondLevelOffset(0)];
            return kind switch
            {
                _ when double.IsNaN(three) && double.IsNaN(Of("mean-lag0-7")) => Say($"No {lower} data for the patient's zone in the last 8 days", $"Aucune donnée {lower} pour la zone du patient depuis 8 jours"),
                _ when beyondDays >= 2 => Say(
                    $"{q.Name} {(above ? "above" : "below")} {Show(level)} for {Number(beyondDays, "F0")} days (mean of the last 3 days {Show(three)}, highest daily mean in 8 days {Show(max)})",
                    $"{qName} {(above ? "au-dessus de" : "en dessous de")} {Show(level)} depuis {Number(beyondDays, "F0")} jours (moyenne des 3 derniers jours {Show(three)}, plus forte moyenne journalière sur 8 jours {Show(max)})"),
                "max-lag0-7" => Say($"{q.Name} reached a daily mean of {Show(max)} in the last 8 days", $"{qName} a atteint une moyenne journalière de {Show(max)} sur les 8 derniers jours"),
                "mean-lag0-7" => Say($"{q.Name} averaged {Show(Of("mean-lag0-7"))} over the last 8 days (highest daily mean {Show(max)})", $"{qName} en moyenne {Show(Of("mean-lag0-7"))} sur les 8 derniers jours (plus forte moyenne journalière {Show(max)})"),
                "lag0" when !double.IsNaN(Of("lag0")) => Say($"{q.Name} {Show(Of("lag0"))} today", $"{qName} {Show(Of("lag0"))} aujourd'hui"),
                _ => Say($"{q.Name} averaged {Show(three)} over the last 3 days (highest daily mean in 8 days {Show(max)})", $"{qName} en moyenne {Show(three)} sur les 3 derniers jours (plus forte moyenne journalière sur 8 jours {Show(max)})"),
            };
        }

        var last = Of("last");
        var mean = Of("mean-24h");
        var baseline = Of("baseline");
        var hours = Of("hours-since");
        switch (kind)
        {
            case "slope-24h" or "slope-72h" when !double.IsNaN(Value(name)):
                var slope = Value(name);
                return Say(
                    $"{q.Name} {(slope >= 0 ? "rising" : "falling")} by {Amount(slope)} a day over the last {(kind == "slope-24h" ? "24 h" : "3 days")} (latest {Show(last)})",
                    $"{qName} en {(slope >= 0 ? "hausse" : "baisse")} de {Amount(slope)} par jour sur {(kind == "slope-24h" ? "les dernières 24 h" : "les 3 derniers jours")} (dernière valeur {Show(last)})");
            case "change-3d" when !double.IsNaN(Value(name)):
                var change = Value(name);
                return Say($"{q.Name} {(change >= 0 ? "up" : "down")} {Amount(change)} in 3 days (latest {Show(last)})", $"{qName} en {(change >= 0 ? "hausse" : "baisse")} de {Amount(change)} en 3 jours (dernière valeur {Show(last)})");
            case "sd-7d" when !double.IsNaN(Value(name)):
                return Say($"{q.Name} varying from day to day over the last 7 days (SD of the daily means {Amount(Value(name))})", $"{qName} variable d'un jour à l'autre sur 7 jours (écart-type des moyennes journalières {Amount(Value(name))})");
            case "completeness-7d":
                return Say($"{q.Name} measured on {Number(Math.Round(Value(name) * 7), "F0")} of the last 7 days", $"{qName} mesuré(e) {Number(Math.Round(Value(name) * 7), "F0")} jours sur les 7 derniers");
            case "last" or "hours-since":
                return double.IsNaN(hours)
                    ? Say($"No {lower} reading yet", $"Pas encore de mesure : {lower}")
                    : hours > 24 ? Say($"No {lower} reading for {Number(hours, "F0")} h (latest {Show(last)})", $"Pas de mesure ({lower}) depuis {Number(hours, "F0")} h (dernière valeur {Show(last)})")
                    : Say($"Latest {lower} {Show(last)}, {Number(hours, "F0")} h ago", $"Dernière mesure ({lower}) {Show(last)}, il y a {Number(hours, "F0")} h");
        }

        if (double.IsNaN(mean))
        {
            return double.IsNaN(hours)
                ? Say($"No {lower} reading yet", $"Pas encore de mesure : {lower}")
                : Say($"No {lower} reading in the last 24 h (latest {Show(last)}, {Number(hours, "F0")} h ago)", $"Pas de mesure ({lower}) sur les dernières 24 h (dernière valeur {Show(last)}, il y a {Number(hours, "F0")} h)");
        }

        if (double.IsNaN(baseline))
        {
            return Say(
                $"{q.Name} {Show(mean)} over the last 24 h; no usual value yet (fewer than 10 days of readings in the last 4 weeks)",
                $"{qName} {Show(mean)} sur les dernières 24 h ; pas encore de valeur habituelle (moins de 10 jours de mesures sur 4 semaines)");
        }

        var since = Duration(Of("deviation-hours"), French);
        var difference = mean - baseline;
        if (topic == Measures.Steps && baseline > 0)
        {
            var percent = 100 * difference / baseline;
            return Say(
                $"{q.Name} {Show(mean)} in the last 24 h, {Number(Math.Abs(percent), "F0")} % {(percent >= 0 ? "above" : "below")} {possessive} usual {Show(baseline)}{since}",
                $"{qName} {Show(mean)} sur les dernières 24 h, {Number(Math.Abs(percent), "F0")} % {(percent >= 0 ? "au-dessus de" : "en dessous de")} sa valeur habituelle de {Show(baseline)}{since}");
        }

        return Math.Abs(difference) < 0.5 * Math.Pow(10, -Decimals(q.Format))
            ? Say($"{q.Name} {Show(mean)} over the last 24 h, as {possessive} usual", $"{qName} {Show(mean)} sur les dernières 24 h, comme d'habitude")
            : Say(
                $"{q.Name} {Show(mean)} over the last 24 h, {Amount(difference)} {(difference >= 0 ? "above" : "below")} {possessive} usual {Show(baseline)}{since}",
                $"{qName} {Show(mean)} sur les dernières 24 h, {Amount(difference)} {(difference >= 0 ? "au-dessus de" : "en dessous de")} sa valeur habituelle de {Show(baseline)}{since}");
    }

    /// <summary>", for 36 h" / ", for 4 days" when the deviation has lasted at least an hour; hours up to 3 days, then days.</summary>
    private static string Duration(double hours, bool french)
    {
        if (double.IsNaN(hours) || hours < 1)
        {
            return string.Empty;
        }

        var culture = french ? FrenchCulture : CultureInfo.InvariantCulture;
        var amount = hours < 72
            ? Math.Round(hours).ToString("F0", culture) + " h"
            : Math.Floor(hours / 24).ToString("F0", culture) + (french ? " jours" : " days");
        return (french ? ", depuis " : ", for ") + amount;
    }

    private static int Decimals(string format) => format is "F1" ? 1 : 0;

    /// <summary>The vitals block: which measures are at least one robust SD off in the illness direction, by how much.</summary>
    private static string Vitals(ReadOnlySpan<float> features, bool french)
    {
        var culture = french ? FrenchCulture : CultureInfo.InvariantCulture;
        var off = new List<string>();
        for (var m = 0; m < Measures.Patient.Count; m++)
        {
            var z = FeatureSchema.IllnessDirection[m] * features[FeatureSchema.Index($"{Measures.Patient[m]}:deviation")];
            if (FeatureSchema.IllnessDirection[m] != 0 && z >= 1)
            {
                var q = Quantities[Measures.Patient[m]];
                var name = french ? q.French : q.Name;
                var lower = InSentence(name, culture);
                off.Add(string.Create(culture, $"{lower} {z:F1}"));
            }
        }

        var sum = features[FeatureSchema.VitalsOffset];
        if (off.Count == 0)
        {
            return french
                ? string.Create(culture, $"Signes vitaux pris ensemble : écart cumulé de {sum:F1} écart-type dans le sens d'une aggravation sur les dernières 24 h")
                : string.Create(culture, $"Vital signs taken together {sum:F1} SD in the direction of illness over the last 24 h");
        }

        return french
            ? string.Create(culture, $"{off.Count} signe(s) vital(aux) éloigné(s) ensemble de la valeur habituelle dans le sens d'une aggravation sur les dernières 24 h (en écarts-types : {string.Join(", ", off)})")
            : string.Create(culture, $"{off.Count} vital sign{(off.Count > 1 ? "s" : string.Empty)} off the usual together in the direction of illness over the last 24 h (in SDs: {string.Join(", ", off)})");
    }

    private static string Profile(ReadOnlySpan<float> features, bool french)
    {
        var conditions = new List<string>();
        foreach (var (feature, label, frenchLabel) in new[] { ("copd", "COPD", "BPCO"), ("heart-failure", "heart failure", "insuffisance cardiaque"), ("diabetes", "diabetes", "diabète"), ("frail-elderly", "frailty", "fragilité") })
        {
            if (features[FeatureSchema.Index(feature)] == 1)
            {
                conditions.Add(french ? frenchLabel : label);
            }
        }

        var severity = features[FeatureSchema.Index("severity")];
        var age = features[FeatureSchema.Index("age")];
        if (french)
        {
            var which = conditions.Count == 0 ? "la maladie du patient" : string.Join(" avec ", conditions);
            return string.Create(FrenchCulture, $"Risque de fond : {which}, sévérité {severity:F0} sur 4, {age:F0} ans");
        }

        var what = conditions.Count == 0 ? "the patient's condition" : string.Join(" with ", conditions);
        return Invariant($"Underlying risk: {what}, severity {severity:F0} of 4, aged {age:F0}");
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>A measure's name inside a sentence: "heart rate", but "SpO2" and "PM2.5" as they are written.</summary>
    private static string InSentence(string name, CultureInfo culture) =>
        name.Skip(1).Any(char.IsUpper) ? name : char.ToLower(name[0], culture) + name[1..];
}
