using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// Writes an evaluation to a folder: <c>evaluation.json</c> (every number), <c>calibration.png</c>,
/// <c>operating-points.png</c>, <c>operating-points-policy.png</c> and <c>report.md</c>, which embeds the three plots.
/// </summary>
public static class EvaluationReport
{
    public const string JsonFile = "evaluation.json";
    public const string MarkdownFile = "report.md";
    public const string CalibrationPlot = "calibration.png";
    public const string OperatingPointsPlot = "operating-points.png";
    public const string PolicyOperatingPointsPlot = "operating-points-policy.png";

    /// <summary>The issue's target budget: ≤ 0.05 alerts per patient-day (≈ 17 alerts per nurse-day for 3 nurses and 1,000 patients).</summary>
    public const double TargetBudget = 0.05;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void Write(EvaluationResult result, string directory)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, JsonFile), JsonSerializer.Serialize(result, Json));
        WriteCalibrationPlot(result, Path.Combine(directory, CalibrationPlot));
        WriteOperatingPointsPlot(result, s => s.Curve, "per-day threshold", Path.Combine(directory, OperatingPointsPlot));
        WriteOperatingPointsPlot(result, s => s.PolicyCurve, "as the platform alerts", Path.Combine(directory, PolicyOperatingPointsPlot));
        File.WriteAllText(Path.Combine(directory, MarkdownFile), Markdown(result));
    }

    private static void WriteCalibrationPlot(EvaluationResult result, string path)
    {
        var plot = new Plot();
        var max = 0.0;
        foreach (var scorer in result.Scorers.Where(s => s.Calibration is not null))
        {
            var bins = scorer.Calibration!;
            var line = plot.Add.Scatter(bins.Select(b => b.MeanPredicted).ToArray(), bins.Select(b => b.ObservedRate).ToArray());
            line.LegendText = scorer.Name;
            line.MarkerSize = 8;
            max = Math.Max(max, bins.Max(b => Math.Max(b.MeanPredicted, b.ObservedRate)));
        }

        max = Math.Max(max * 1.1, 0.01);
        var diagonal = plot.Add.Line(0, 0, max, max);
        diagonal.LegendText = "perfect calibration";
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.Color = Colors.Gray;
        plot.Axes.SetLimits(0, max, 0, max);
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"Calibration on the held-out cohort ({ModelEvaluation.CalibrationBins} bins of equal count)"));
        plot.XLabel("mean predicted probability of onset within 72 h");
        plot.YLabel("observed share of patient-days with onset within 72 h");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 900, 650);
    }

    private static void WriteOperatingPointsPlot(EvaluationResult result, Func<ScorerResult, IReadOnlyList<OperatingPoint>> curve, string counting, string path)
    {
        var plot = new Plot();
        foreach (var scorer in result.Scorers)
        {
            var line = plot.Add.Scatter(
                curve(scorer).Select(p => p.AlertsPerPatientDay).ToArray(),
                curve(scorer).Select(p => double.IsNaN(p.EventSensitivity) ? 0 : 100 * p.EventSensitivity).ToArray());
            line.LegendText = scorer.Name;
            line.MarkerSize = 6;
        }

        var budget = plot.Add.VerticalLine(TargetBudget);
        budget.LegendText = "budget 0.05 alerts per patient-day";
        budget.LinePattern = LinePattern.Dashed;
        budget.Color = Colors.Gray;
        var target = plot.Add.HorizontalLine(60);
        target.LegendText = "target: 60 % of exacerbations alerted 1-7 days ahead";
        target.LinePattern = LinePattern.Dotted;
        target.Color = Colors.Gray;
        if (result.Ceiling is { } ceiling)
        {
            var bound = plot.Add.HorizontalLine(100 * ceiling.Fraction);
            bound.LegendText = "oracle ceiling: events with a signal >= 24 h before onset";
            bound.LinePattern = LinePattern.DenselyDashed;
            bound.Color = Colors.Black;
        }

        plot.Axes.SetLimits(0, ModelEvaluation.CurveBudgets.Max() * 1.02, 0, 100);
        plot.Title($"Exacerbations alerted 1-7 days before onset, by alert budget ({counting})");
        plot.XLabel("alerts per patient-day");
        plot.YLabel("% of exacerbations alerted 1-7 days ahead");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 650);
    }

    public static string Markdown(EvaluationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var md = new StringBuilder();
        void Line(FormattableString text) => md.Append(FormattableString.Invariant(text)).Append('\n');
        Line($"# Evaluation of {result.Model}");
        Line($"");
        if (result.ModelSha256 is { } sha)
        {
            Line($"Model file SHA-256: `{sha}`.");
            Line($"");
        }

        if (result.DataDescription is { } description)
        {
            foreach (var line in description)
            {
                Line($"{line}");
            }
        }
        else
        {
            Line($"Held-out synthetic cohort: {result.Patients:N0} patients × {result.Days} days, seed {result.Seed}, with shifted generator parameters:");
            Line($"");
            foreach (var shift in result.Shifts)
            {
                Line($"- {shift}");
            }

            Line($"");
            Line($"The model was trained on the default cohort: {result.Training.Patients:N0} patients × {result.Training.Days} days, seed {result.Training.Seed}, {result.Training.Trees} trees of {result.Training.Leaves} leaves.");
        }

        Line($"Patient-days scored: {result.PatientDays:N0} (days of an ongoing exacerbation or its recovery excluded); positive: {result.PositiveDays:N0} ({100 * result.Prevalence:F2} %); exacerbations: {result.Exacerbations:N0}.");
        Line($"");
        Line($"## Discrimination and calibration (per patient-day, onset within 72 h)");
        Line($"");
        Line($"| scorer | AUROC | AUPRC | Brier |");
        Line($"| --- | ---: | ---: | ---: |");
        foreach (var s in result.Scorers)
        {
            Line($"| {s.Name}: {s.Description} | {s.Auroc:F3} | {s.Auprc:F3} | {(s.Brier is { } b ? b.ToString("F4", CultureInfo.InvariantCulture) : "n/a (not a probability)")} |");
        }

        Line($"");
        Line($"AUPRC of a score that knows nothing: the prevalence, {result.Prevalence:F3}. Brier score of always predicting the prevalence: {result.Prevalence * (1 - result.Prevalence):F4}.");
        Line($"");
        Line($"![Calibration plot]({CalibrationPlot})");
        Line($"");
        if (result.Ceiling is { } ceiling)
        {
            Line($"## Oracle ceiling");
            Line($"");
            Line($"From the generator's ground truth: of the {ceiling.Events:N0} exacerbations judged below (their whole 1–7-day window scored), **{ceiling.WithEarlySignal:N0} ({100 * ceiling.Fraction:F1} %)** carry a telemonitoring signal at least 24 h before onset (a prodrome of ≥ 1 day, or a heart-failure weight build-up); {ceiling.Sudden:N0} ({Share(ceiling.Sudden, ceiling.Events)}) have a signal that starts less than 24 h before onset and {ceiling.WithoutSignal:N0} ({Share(ceiling.WithoutSignal, ceiling.Events)}) none at all.");
            Line($"Alerts that rest on the readings can reach at most {100 * ceiling.Fraction:F1} % of exacerbations 1–7 days ahead; the rest are reached only by alerts that land in their window by the patient's base risk, history, the environment or chance (alerts at random reach some, see the tables). This bounds the signal, not the share alerted: a model that alerts high-risk patients again while their risk stays high goes beyond it.");
            Line($"");
        }

        if (Oracle(result) is { } oracle)
        {
            var reached = result.Scorers[0];
            Line($"**AUROC ceiling.** The oracle row scores the same held-out patient-days with the same label from the generator's ground truth: {GroundTruthOracle.Description}. It sees no noise, no missed day and the true hazard, but nothing after the scoring time, so a model of the readings should stay below it. Oracle AUROC **{oracle.Auroc:F3}** (AUPRC {oracle.Auprc:F3}) against the model's {reached.Auroc:F3} (AUPRC {reached.Auprc:F3}): the model reaches {Share(reached.Auroc - 0.5, oracle.Auroc - 0.5)} of the oracle's discrimination above chance. {(oracle.Auroc >= 0.80
                ? "An AUROC of 0.80 is below the oracle's, so this cohort does not rule it out; but the oracle reads the vitals without noise, gaps or missing devices, which no model of the readings can, so how much of the gap is reachable is not known."
                : "An AUROC of 0.80 is **beyond** what this cohort allows: even the oracle does not reach it.")}");
            Line($"");
        }

        Line($"## Operating points as the platform alerts");
        Line($"");
        Line($"Each patient's daily scores go through the platform's risk alert policy (`RiskAlertPolicy`: {result.AlertPolicy ?? EpisodePolicy.PlatformDefault.Describe()}; critical-at is the raise-at of the budget a tenth as large, as the server derives it). Its raise-at r is the one that raises the most alerts within b per patient-day (lowered from the top among {EpisodeOperatingPoints.GridPoints} values by the alert count alone, never by the outcomes).");
        Line($"A scorer that cannot spend a budget shows the alerts per patient-day it does reach.");
        Line($"Every scorer gets the same policy and budget (ties of whole-number scores broken at random). An exacerbation is alerted when a raised alert falls 1 to 7 days before its onset; the lead time is onset minus the first such alert.");
        Line($"");
        OperatingPointTable(result, s => s.PolicyOperatingPoints, withRaiseAt: true);
        Line($"");
        Line($"![Exacerbations alerted by alert budget, alerts raised by the policy]({PolicyOperatingPointsPlot})");
        Line($"");
        Line($"## Operating points per day above a threshold (no episode suppression)");
        Line($"");
        Line($"The earlier count, kept for comparison: at a budget of b alerts per patient-day, the b × N highest-scored patient-days are alerts (ties broken at random, every day counted, including a patient's successive days above the threshold).");
        Line($"");
        OperatingPointTable(result, s => s.OperatingPoints, withRaiseAt: false);
        Line($"");
        Line($"![Exacerbations alerted by alert budget, every day above the threshold]({OperatingPointsPlot})");
        Line($"");
        Line($"## Targets (issue 5)");
        Line($"");
        var model = result.Scorers[0];
        Line($"| target | reached | met |");
        Line($"| --- | ---: | --- |");
        Line($"| AUROC ≥ 0.80 | {model.Auroc:F3} | {Met(model.Auroc >= 0.80)} |");
        if (Oracle(result) is { } o)
        {
            Line($"| AUROC 0.80 not ruled out by the cohort: oracle AUROC (ground truth, noise-free) | {o.Auroc:F3} | {(o.Auroc >= 0.80 ? "yes (an upper bound: see the oracle ceiling)" : "**no**: 0.80 is above the oracle")} |");
        }

        TargetRows(result, s => s.PolicyOperatingPoints, "alerts raised by the policy");
        TargetRows(result, s => s.OperatingPoints, "every day above a threshold");
        if (Oracle(result)?.PolicyOperatingPoints.FirstOrDefault(p => p.Budget == TargetBudget) is { } oraclePoint)
        {
            Line($"| 60 % reachable on this cohort: the oracle, as the platform alerts at 0.05 | {100 * oraclePoint.EventSensitivity:F1} % | {(oraclePoint.EventSensitivity >= 0.60 ? "yes" : "**no**: the 60 % target is above what even the ground truth reaches")} |");
        }

        if (result.Ceiling is { } c)
        {
            Line($"| exacerbations with a signal ≥ 24 h before onset (oracle ceiling of alerts resting on the readings alone; the rest is reached through risk) | {100 * c.Fraction:F1} % | – |");
        }

        Line($"| AUROC not above 0.90 (else: simulator too easy or label leak) | {model.Auroc:F3} | {Met(model.Auroc <= 0.90)} |");
        return md.ToString();

        void OperatingPointTable(EvaluationResult r, Func<ScorerResult, IReadOnlyList<OperatingPoint>> points, bool withRaiseAt)
        {
            var raiseAt = withRaiseAt ? " raise-at |" : string.Empty;
            Line($"| scorer |{raiseAt} alerts per patient-day | exacerbations alerted 1–7 days ahead | median lead time | positive days alerted | alerts on a positive day |");
            Line($"| --- |{(withRaiseAt ? " ---: |" : string.Empty)} ---: | ---: | ---: | ---: | ---: |");
            foreach (var budget in points(r.Scorers[0]).Select(p => p.Budget))
            {
                foreach (var s in r.Scorers)
                {
                    var p = points(s).First(x => x.Budget == budget);
                    var at = withRaiseAt ? FormattableString.Invariant($" {p.RaiseAt:G3} |") : string.Empty;
                    Line($"| {s.Name} |{at} {p.AlertsPerPatientDay:F3} | {100 * p.EventSensitivity:F1} % ({p.EventsAlerted}/{p.Events}) | {Hours(p.MedianLeadHours)} | {100 * p.DaySensitivity:F1} % | {100 * p.Precision:F1} % |");
                }
            }
        }

        void TargetRows(EvaluationResult r, Func<ScorerResult, IReadOnlyList<OperatingPoint>> points, string counting)
        {
            var atBudget = points(r.Scorers[0]).FirstOrDefault(p => p.Budget == TargetBudget);
            var best = r.Scorers.Where(s => s.Name is "NEWS2" or "threshold rules")
                .Select(s => points(s).FirstOrDefault(p => p.Budget == TargetBudget)).OfType<OperatingPoint>().MaxBy(p => p.EventSensitivity);
            if (atBudget is null || best is null)
            {
                return;
            }

            Line($"| {counting}: ≥ 60 % of exacerbations alerted 1–7 days ahead at ≤ 0.05 alerts per patient-day | {100 * atBudget.EventSensitivity:F1} % | {Met(atBudget.EventSensitivity >= 0.60)} |");
            Line($"| {counting}: median lead time ≥ 48 h | {Hours(atBudget.MedianLeadHours)} | {Met(atBudget.MedianLeadHours >= 48)} |");
            var gain = 100 * (atBudget.EventSensitivity - best.EventSensitivity);
            Line($"| {counting}: ≥ 20 points above the best baseline at that budget ({100 * best.EventSensitivity:F1} %) | {gain:+0.0;-0.0} points | {Met(gain >= 20)} |");
        }
    }

    private static ScorerResult? Oracle(EvaluationResult result) => result.Scorers.FirstOrDefault(s => s.Name == ModelEvaluation.OracleName);

    private static string Share(double part, double whole) => whole <= 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{100 * part / whole:F0} %");

    private static string Share(int part, int whole) => whole == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{100.0 * part / whole:F1} %");

    private static string Met(bool met) => met ? "yes" : "**no**";

    private static string Hours(double hours) => double.IsNaN(hours) ? "–" : string.Create(CultureInfo.InvariantCulture, $"{hours:F0} h");
}
