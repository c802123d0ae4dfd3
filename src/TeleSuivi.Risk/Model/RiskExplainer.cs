using System.Globalization;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Features;

namespace TeleSuivi.Risk.Model;

/// <summary>
/// One reason behind a score: a topic (a measure, an environment variable, the patient's profile, the season, data
/// gaps), how much its features added to the model's score, and a sentence with the patient's own values.
/// </summary>
public sealed record RiskReason(string Topic, double Contribution, string Sentence);

/// <summary>
/// Turns per-prediction feature contributions into sentences a nurse can act on. The features of one topic (the
/// deviation, slope, last value... of SpO2) are summed, since they describe one thing; the topics that raised the
/// score most are worded from the feature that weighed most, with the values behind it.
/// </summary>
public static class RiskExplainer
{
    private sealed record Quantity(string Name, string Unit, string Format, string DifferenceUnit);

    private static readonly Dictionary<string, Quantity> Quantities = new(StringComparer.Ordinal)
    {
        [Measures.HeartRate] = new("Heart rate", " /min", "F0", " /min"),
        [Measures.RespiratoryRate] = new("Breathing rate", " /min", "F0", " /min"),
        [Measures.OxygenSaturation] = new("SpO2", " %", "F0", " points"),
        [Measures.Systolic] = new("Systolic pressure", " mmHg", "F0", " mmHg"),
        [Measures.Diastolic] = new("Diastolic pressure", " mmHg", "F0", " mmHg"),
        [Measures.BodyWeight] = new("Weight", " kg", "F1", " kg"),
        [Measures.BodyTemperature] = new("Temperature", " °C", "F1", " °C"),
        [Measures.Steps] = new("Steps", " a day", "N0", " steps"),
        [Measures.Glucose] = new("Glucose", " mmol/L", "F1", " mmol/L"),
        [Measures.AmbientPm25] = new("PM2.5", " µg/m³", "F0", " µg/m³"),
        [Measures.AmbientPm10] = new("PM10", " µg/m³", "F0", " µg/m³"),
        [Measures.AmbientNo2] = new("NO2", " µg/m³", "F0", " µg/m³"),
        [Measures.AmbientO3] = new("Ozone", " µg/m³", "F0", " µg/m³"),
        [Measures.AmbientTemperature] = new("Outdoor temperature", " °C", "F0", " °C"),
        [Measures.AmbientHumidity] = new("Outdoor humidity", " %", "F0", " %"),
        [Measures.PollenIndex] = new("Pollen index", " (of 5)", "F0", string.Empty),
    };

    private static readonly string[] Topics = FeatureSchema.Names.Select(TopicOf).ToArray();

    /// <summary>The topic of a feature: its measure or environment variable, else "profile", "season" or "data".</summary>
    public static string TopicOf(string feature)
    {
        ArgumentNullException.ThrowIfNull(feature);
        var colon = feature.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? feature[..colon]
            : feature.StartsWith("season-", StringComparison.Ordinal) ? "season"
            : feature == "hours-since-any-reading" ? "data"
            : "profile";
    }

    /// <param name="features">The features as computed (<see cref="FeatureSchema"/> layout, NaN for missing).</param>
    /// <param name="contributions">Each feature's contribution to the model's score (same layout).</param>
    /// <param name="count">How many reasons at most; only topics that raised the score are given.</param>
    public static IReadOnlyList<RiskReason> Explain(ReadOnlySpan<float> features, ReadOnlySpan<float> contributions, int count = 3)
    {
        if (features.Length != FeatureSchema.Count || contributions.Length != FeatureSchema.Count)
        {
            throw new ArgumentException($"features and contributions need {FeatureSchema.Count} values each");
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
            reasons.Add(new RiskReason(topic, sum, Sentence(features, strongest)));
        }

        return reasons;
    }

    /// <summary>The sentence for feature <paramref name="index"/>, with the patient's values.</summary>
    public static string Sentence(ReadOnlySpan<float> features, int index)
    {
        var values = features.ToArray();
        var name = FeatureSchema.Names[index];
        var topic = Topics[index];
        var kind = name.Contains(':', StringComparison.Ordinal) ? name[(name.IndexOf(':', StringComparison.Ordinal) + 1)..] : name;
        double Value(string feature) => values[FeatureSchema.Index(feature)];
        var possessive = Value("male") switch { 1 => "his", 0 => "her", _ => "the patient's" };
        if (topic == "profile")
        {
            return Profile(features);
        }

        if (topic == "season")
        {
            var dayOfYear = (int)Math.Round(((Math.Atan2(Value("season-sin"), Value("season-cos")) / (2 * Math.PI) * 365.25) + 365.25) % 365.25) + 1;
            var month = new DateTime(2025, 1, 1).AddDays(dayOfYear - 1).ToString("MMMM", CultureInfo.InvariantCulture);
            return month is "December" or "January" or "February"
                ? $"Winter ({month}): the season of most exacerbations"
                : $"Time of year ({month})";
        }

        if (topic == "data")
        {
            return Invariant($"No reading from any device for {Value(name):F0} h");
        }

        var q = Quantities[topic];
        string Show(double v) => v.ToString(q.Format, CultureInfo.InvariantCulture) + q.Unit;
        string Amount(double v) => Math.Abs(v).ToString(q.Format, CultureInfo.InvariantCulture) + q.DifferenceUnit;
        double Of(string feature) => Value($"{topic}:{feature}");
        var lower = char.ToLowerInvariant(q.Name[0]) + q.Name[1..];
        if (q.Name.Length > 1 && char.IsUpper(q.Name[1]))
        {
            lower = q.Name;
        }

        if (Measures.Environment.Contains(topic))
        {
            var three = Of("mean-lag0-2");
            var max = Of("max-lag0-7");
            return kind switch
            {
                _ when double.IsNaN(three) && double.IsNaN(Of("mean-lag0-7")) => $"No {lower} data for the patient's zone in the last 8 days",
                "max-lag0-7" => $"{q.Name} reached a daily mean of {Show(max)} in the last 8 days",
                "mean-lag0-7" => $"{q.Name} averaged {Show(Of("mean-lag0-7"))} over the last 8 days (highest daily mean {Show(max)})",
                "lag0" when !double.IsNaN(Of("lag0")) => $"{q.Name} {Show(Of("lag0"))} today",
                _ => $"{q.Name} averaged {Show(three)} over the last 3 days (highest daily mean in 8 days {Show(max)})",
            };
        }

        var last = Of("last");
        var mean = Of("mean-24h");
        var baseline = Of("baseline");
        switch (kind)
        {
            case "slope-24h" or "slope-72h" when !double.IsNaN(Value(name)):
                var slope = Value(name);
                return $"{q.Name} {(slope >= 0 ? "rising" : "falling")} by {Amount(slope)} a day over the last {(kind == "slope-24h" ? "24 h" : "3 days")} (latest {Show(last)})";
            case "change-3d" when !double.IsNaN(Value(name)):
                var change = Value(name);
                return $"{q.Name} {(change >= 0 ? "up" : "down")} {Amount(change)} in 3 days (latest {Show(last)})";
            case "sd-7d" when !double.IsNaN(Value(name)):
                return $"{q.Name} varying from day to day over the last 7 days (SD of the daily means {Amount(Value(name))})";
            case "completeness-7d":
                return Invariant($"{q.Name} measured on {Math.Round(Value(name) * 7):F0} of the last 7 days");
            case "last" or "hours-since":
                var hours = Of("hours-since");
                return double.IsNaN(hours)
                    ? $"No {lower} reading yet"
                    : hours > 24 ? Invariant($"No {lower} reading for {hours:F0} h (latest {Show(last)})")
                    : Invariant($"Latest {lower} {Show(last)}, {hours:F0} h ago");
        }

        if (double.IsNaN(mean))
        {
            return double.IsNaN(Of("hours-since")) ? $"No {lower} reading yet" : Invariant($"No {lower} reading in the last 24 h (latest {Show(last)}, {Of("hours-since"):F0} h ago)");
        }

        if (double.IsNaN(baseline))
        {
            return $"{q.Name} {Show(mean)} over the last 24 h; no usual value yet (fewer than 10 days of readings in the last 4 weeks)";
        }

        var difference = mean - baseline;
        if (topic == Measures.Steps && baseline > 0)
        {
            var percent = 100 * difference / baseline;
            return Invariant($"{q.Name} {Show(mean)} in the last 24 h, {Math.Abs(percent):F0} % {(percent >= 0 ? "above" : "below")} {possessive} usual {Show(baseline)}");
        }

        return Math.Abs(difference) < 0.5 * Math.Pow(10, -Decimals(q.Format))
            ? $"{q.Name} {Show(mean)} over the last 24 h, as {possessive} usual"
            : $"{q.Name} {Show(mean)} over the last 24 h, {Amount(difference)} {(difference >= 0 ? "above" : "below")} {possessive} usual {Show(baseline)}";
    }

    private static int Decimals(string format) => format is "F1" ? 1 : 0;

    private static string Profile(ReadOnlySpan<float> features)
    {
        var conditions = new List<string>();
        foreach (var (feature, label) in new[] { ("copd", "COPD"), ("heart-failure", "heart failure"), ("diabetes", "diabetes"), ("frail-elderly", "frailty") })
        {
            if (features[FeatureSchema.Index(feature)] == 1)
            {
                conditions.Add(label);
            }
        }

        var what = conditions.Count == 0 ? "the patient's condition" : string.Join(" with ", conditions);
        return Invariant($"Underlying risk: {what}, severity {features[FeatureSchema.Index("severity")]:F0} of 4, aged {features[FeatureSchema.Index("age")]:F0}");
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
