namespace TeleSuivi.Risk.Evaluation;

/// <summary>One bin of a reliability (calibration) diagram.</summary>
public sealed record CalibrationBin(double MeanPredicted, double ObservedRate, int Count, int Positives);

/// <summary>
/// Discrimination and calibration of a score against binary labels, written out so that every number of a report can
/// be checked by hand (the tests do, on small examples).
/// </summary>
public static class BinaryMetrics
{
    /// <summary>
    /// Area under the ROC curve: the probability that a random positive scores above a random negative, ties counting
    /// one half (Mann–Whitney U with mid-ranks). NaN when either class is empty.
    /// </summary>
    public static double Auroc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        Check(scores, labels);
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        double positiveRankSum = 0;
        long positives = 0;
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            while (end + 1 < order.Length && scores[order[end + 1]] == scores[order[start]])
            {
                end++;
            }

            var midRank = ((start + end) / 2.0) + 1;
            for (var k = start; k <= end; k++)
            {
                if (labels[order[k]])
                {
                    positiveRankSum += midRank;
                    positives++;
                }
            }

            start = end + 1;
        }

        long negatives = scores.Count - positives;
        return positives == 0 || negatives == 0
            ? double.NaN
            : (positiveRankSum - (positives * (positives + 1) / 2.0)) / ((double)positives * negatives);
    }

    /// <summary>
    /// Area under the precision–recall curve as average precision: the mean, over the positives, of the precision at
    /// the threshold of each positive's score (a group of tied scores is taken whole, as one threshold). NaN without positives.
    /// </summary>
    public static double Auprc(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        Check(scores, labels);
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        var totalPositives = labels.Count(l => l);
        if (totalPositives == 0)
        {
            return double.NaN;
        }

        double sum = 0;
        var truePositives = 0;
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            var groupPositives = labels[order[start]] ? 1 : 0;
            while (end + 1 < order.Length && scores[order[end + 1]] == scores[order[start]])
            {
                end++;
                groupPositives += labels[order[end]] ? 1 : 0;
            }

            truePositives += groupPositives;
            sum += groupPositives * ((double)truePositives / (end + 1));
            start = end + 1;
        }

        return sum / totalPositives;
    }

    /// <summary>Brier score: mean squared difference between the predicted probability and the outcome (0 or 1).</summary>
    public static double Brier(IReadOnlyList<double> probabilities, IReadOnlyList<bool> labels)
    {
        Check(probabilities, labels);
        if (probabilities.Count == 0)
        {
            return double.NaN;
        }

        double sum = 0;
        for (var i = 0; i < probabilities.Count; i++)
        {
            var error = probabilities[i] - (labels[i] ? 1 : 0);
            sum += error * error;
        }

        return sum / probabilities.Count;
    }

    /// <summary>
    /// Reliability diagram with bins of equal count (sorted by predicted probability): at a prevalence of about 1 %,
    /// equal-width bins would put nearly every patient-day in the first one.
    /// </summary>
    public static IReadOnlyList<CalibrationBin> Calibration(IReadOnlyList<double> probabilities, IReadOnlyList<bool> labels, int bins)
    {
        Check(probabilities, labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var order = Enumerable.Range(0, probabilities.Count).OrderBy(i => probabilities[i]).ToArray();
        var result = new List<CalibrationBin>(bins);
        for (var b = 0; b < bins; b++)
        {
            var from = (int)((long)order.Length * b / bins);
            var to = (int)((long)order.Length * (b + 1) / bins);
            if (to <= from)
            {
                continue;
            }

            double predicted = 0;
            var positives = 0;
            for (var k = from; k < to; k++)
            {
                predicted += probabilities[order[k]];
                positives += labels[order[k]] ? 1 : 0;
            }

            result.Add(new CalibrationBin(predicted / (to - from), (double)positives / (to - from), to - from, positives));
        }

        return result;
    }

    private static void Check(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(labels);
        if (scores.Count != labels.Count)
        {
            throw new ArgumentException($"{scores.Count} scores for {labels.Count} labels");
        }
    }
}
