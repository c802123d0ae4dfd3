using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// Writes an evaluation to a folder: <c>evaluation.json</c> (every number), <c>calibration.png</c>,
/// <c>operating-points.png</c> and <c>report.md</c>, which embeds the two plots.
/// </summary>
public static class EvaluationReport
{
    public const string JsonFile = "evaluation.json";
    public const string MarkdownFile = "report.md";
    public const string CalibrationPlot = "calibration.png";
    public const string OperatingPointsPlot = "operating-points.png";

    /// <summary>The target budget: ≤ 0.05 alerts per patient-day (≈ 17 alerts per nurse-day for 3 nurses and 1,000 patients).</summary>
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
        WriteOperatingPointsPlot(result, Path.Combine(directory, OperatingPointsPlot));
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

    private static void WriteOperatingPointsPlot(EvaluationResult result, string path)
    {
        var plot = new Plot();
        foreach (var scorer in result.Scorers)
        {
            var line = plot.Add.Scatter(
                scorer.Curve.Select(p => p.AlertsPerPatientDay).ToArray(),
                scorer.Curve.Select(p => double.IsNaN(p.EventSensitivity) ? 0 : 100 * p.EventSensitivity).ToArray());
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
        plot.Axes.SetLimits(0, ModelEvaluation.CurveBudgets.Max() * 1.02, 0, 100);
        plot.Title("Exacerbations alerted 1-7 days before onset, by alert budget");
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
        Line($"## Operating points");
        Line($"");
        Line($"At a budget of b alerts per patient-day, the b × N highest-scored patient-days are alerts (ties broken at random, every day counted).");
        Line($"An exacerbation is alerted when an alert falls 1 to 7 days before its onset; the lead time is onset minus the first such alert.");
        Line($"");
        Line($"| scorer | alerts per patient-day | exacerbations alerted 1–7 days ahead | median lead time | positive days alerted | alerts on a positive day |");
        Line($"| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var budget in result.Scorers[0].OperatingPoints.Select(p => p.Budget))
        {
            foreach (var s in result.Scorers)
            {
                var p = s.OperatingPoints.First(x => x.Budget == budget);
                Line($"| {s.Name} | {p.AlertsPerPatientDay:F3} | {100 * p.EventSensitivity:F1} % ({p.EventsAlerted}/{p.Events}) | {Hours(p.MedianLeadHours)} | {100 * p.DaySensitivity:F1} % | {100 * p.Precision:F1} % |");
            }
        }

        Line($"");
        Line($"![Exacerbations alerted by alert budget]({OperatingPointsPlot})");
        Line($"");
        Line($"## Targets (issue 5)");
        Line($"");
        var model = result.Scorers[0];
        var atBudget = model.OperatingPoints.FirstOrDefault(p => p.Budget == TargetBudget);
        var baselines = result.Scorers.Where(s => s.Name is "NEWS2" or "threshold rules").ToList();
        var bestBaseline = atBudget is null ? null : baselines.Select(s => s.OperatingPoints.First(p => p.Budget == TargetBudget)).MaxBy(p => p.EventSensitivity);
        Line($"| target | reached | met |");
        Line($"| --- | ---: | --- |");
        Line($"| AUROC ≥ 0.80 | {model.Auroc:F3} | {Met(model.Auroc >= 0.80)} |");
        if (atBudget is not null && bestBaseline is not null)
        {
            Line($"| ≥ 60 % of exacerbations alerted 1–7 days ahead at ≤ 0.05 alerts per patient-day | {100 * atBudget.EventSensitivity:F1} % | {Met(atBudget.EventSensitivity >= 0.60)} |");
            Line($"| median lead time ≥ 48 h | {Hours(atBudget.MedianLeadHours)} | {Met(atBudget.MedianLeadHours >= 48)} |");
            var gain = 100 * (atBudget.EventSensitivity - bestBaseline.EventSensitivity);
            Line($"| ≥ 20 points above the best baseline at that budget ({100 * bestBaseline.EventSensitivity:F1} %) | {gain:+0.0;-0.0} points | {Met(gain >= 20)} |");
        }

        Line($"| AUROC not above 0.90 (else: simulator too easy or label leak) | {model.Auroc:F3} | {Met(model.Auroc <= 0.90)} |");
        return md.ToString();
    }

    private static string Met(bool met) => met ? "yes" : "**no**";

    private static string Hours(double hours) => double.IsNaN(hours) ? "–" : string.Create(CultureInfo.InvariantCulture, $"{hours:F0} h");
}
