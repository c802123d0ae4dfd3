using System.Globalization;
using System.Text;
using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>What the prodrome of the exacerbation a positive patient-day precedes looks like at the day's scoring time t.</summary>
public enum OnsetKind
{
    /// <summary>A signal (vital shift or heart-failure weight build-up) started at least 24 h before t.</summary>
    SignalForADay,

    /// <summary>A signal started less than 24 h before t.</summary>
    SignalJustStarted,

    /// <summary>The event has a signal, but it starts after t (a sudden onset, or a prodrome shorter than the lead).</summary>
    SignalNotYetStarted,

    /// <summary>An event without any telemonitoring signal (Hamad 2015).</summary>
    NoSignal,
}

/// <summary>One scorer's AUROC over all positive days and over the positive days of each <see cref="OnsetKind"/> (always against all negative days).</summary>
public sealed record GapRow(string Scorer, double Auroc, IReadOnlyList<double> AurocByKind);

/// <summary>
/// Where the gap between the model and the <see cref="GroundTruthOracle"/> lies: the oracle decomposed into its parts
/// (the true hazard, the hazard without the susceptibility no programme measures, the noise-free shifts), and every
/// scorer's AUROC restricted to the positive days of each <see cref="OnsetKind"/>. The part of the ceiling that rests
/// on shifts under way is what readings can approach; the hazard's susceptibility and the events with no signal yet
/// are not.
/// </summary>
/// <param name="PositiveDaysByKind">Positive patient-days per <see cref="OnsetKind"/>, in enum order.</param>
public sealed record GapAnalysis(string Model, int Patients, int Days, int Seed, int ScoredDays, int PositiveDays, IReadOnlyList<int> PositiveDaysByKind, IReadOnlyList<GapRow> Rows)
{
    public static readonly IReadOnlyList<string> KindNames = ["signal ≥ 24 h at t", "signal < 24 h at t", "signal not yet started", "no signal"];

    public static GapAnalysis Run(EvaluationOptions options, Action<ProgressStep>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var scorer = RiskScorer.Load(options.ModelPath);
        var cohort = SyntheticCohort.Generate(HeldOutCohort.Parameters(options.Patients, options.Days), options.Seed);
        var heldOut = PatientDays.From(cohort, done => progress?.Invoke(new ProgressStep("held-out features", done, options.Patients)), cancellationToken);
        var labels = heldOut.Days.Select(d => d.Label).ToList();
        var kinds = Kinds(heldOut);

        var scores = new List<(string Name, IReadOnlyList<double> Scores)> { ("model", scorer.Probabilities(heldOut.Days.Select(d => d.Features))) };
        var trainedOn = scorer.Info.Training;
        var training = SyntheticCohort.Generate(CohortParameters.Default with { Patients = trainedOn.Patients, Days = trainedOn.Days }, trainedOn.Seed);
        var views = Enum.GetValues<OracleView>();
        foreach (var view in views)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Invoke(new ProgressStep("oracles", scores.Count - 1, views.Length));
            scores.Add((OracleName(view), GroundTruthOracle.Train(training, trainedOn.Seed, view: view).Score(cohort, heldOut)));
        }

        progress?.Invoke(new ProgressStep("oracles", views.Length, views.Length));
        var rows = scores.Select(s => new GapRow(
            s.Name,
            BinaryMetrics.Auroc(s.Scores, labels),
            Enum.GetValues<OnsetKind>().Select(k => Restricted(s.Scores, labels, kinds, k)).ToList())).ToList();
        return new GapAnalysis(
            scorer.Info.Name, options.Patients, options.Days, options.Seed, heldOut.Days.Count, labels.Count(l => l),
            Enum.GetValues<OnsetKind>().Select(k => kinds.Count(x => x == k)).ToList(), rows);
    }

    public static string OracleName(OracleView view) => view switch
    {
        OracleView.All => "oracle: hazard + shifts",
        OracleView.Hazard => "oracle: true hazard only",
        OracleView.HazardWithoutSusceptibility => "oracle: hazard without susceptibility",
        OracleView.Shifts => "oracle: noise-free shifts only",
        OracleView.Readable => "oracle: hazard without susceptibility + shifts with day-to-day variation",
        _ => throw new ArgumentOutOfRangeException(nameof(view), view, null),
    };

    /// <summary>The kind of each positive day's coming onset (null for a negative day).</summary>
    public static IReadOnlyList<OnsetKind?> Kinds(Model.PatientDays days)
    {
        ArgumentNullException.ThrowIfNull(days);
        var byPatient = days.Exacerbations.ToLookup(e => e.PatientId, StringComparer.Ordinal);
        return days.Days.Select(d => d.Label ? Kind(d.At, byPatient[d.PatientId]) : (OnsetKind?)null).ToList();
    }

    /// <summary>The kind of the first exacerbation with an onset in (t, t + 72 h], as the label defines the positive day.</summary>
    public static OnsetKind Kind(DateTimeOffset at, IEnumerable<CohortEvent> exacerbations)
    {
        ArgumentNullException.ThrowIfNull(exacerbations);
        var coming = exacerbations.Where(e => e.Onset > at && e.Onset <= at.AddHours(72)).MinBy(e => e.Onset)
            ?? throw new ArgumentException($"no exacerbation onset within 72 h of {at:O}: not a positive day", nameof(exacerbations));
        if (coming.SignalScale <= 0)
        {
            return OnsetKind.NoSignal;
        }

        var underWay = at - coming.ProdromeStart;
        return underWay >= TimeSpan.FromHours(24) ? OnsetKind.SignalForADay
            : underWay > TimeSpan.Zero ? OnsetKind.SignalJustStarted
            : OnsetKind.SignalNotYetStarted;
    }

    /// <summary>AUROC of the positive days of one kind against all negative days; NaN when there is no such positive day.</summary>
    public static double Restricted(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, IReadOnlyList<OnsetKind?> kinds, OnsetKind kind)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(kinds);
        var keep = Enumerable.Range(0, scores.Count).Where(i => !labels[i] || kinds[i] == kind).ToList();
        return BinaryMetrics.Auroc(keep.Select(i => scores[i]).ToList(), keep.Select(i => labels[i]).ToList());
    }

    public string ToMarkdown()
    {
        var s = new StringBuilder();
        void Line(FormattableString text) => s.Append(text.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Line($"# Gap analysis of {Model}");
        s.Append('\n');
        Line($"{Patients:N0} patients × {Days} days of the shifted cohort, seed {Seed}: {ScoredDays:N0} patient-days, {PositiveDays:N0} positive. AUROC against all negative days, over all positive days and over the positive days whose coming onset is of each kind at the scoring time t.");
        s.Append('\n');
        s.Append("| scorer | all positive days |");
        for (var k = 0; k < KindNames.Count; k++)
        {
            s.Append(CultureInfo.InvariantCulture, $" {KindNames[k]} ({PositiveDaysByKind[k]:N0} days) |");
        }

        s.Append("\n| --- | ---: |").Append(string.Concat(Enumerable.Repeat(" ---: |", KindNames.Count))).Append('\n');
        foreach (var row in Rows)
        {
            s.Append(CultureInfo.InvariantCulture, $"| {row.Scorer} | {row.Auroc:F3} |");
            foreach (var auroc in row.AurocByKind)
            {
                s.Append(CultureInfo.InvariantCulture, $" {auroc:F3} |");
            }

            s.Append('\n');
        }

        return s.ToString();
    }
}
