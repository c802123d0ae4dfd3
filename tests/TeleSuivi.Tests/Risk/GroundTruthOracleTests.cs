using TeleSuivi.Risk.Cohort;
using TeleSuivi.Risk.Evaluation;
using TeleSuivi.Risk.Features;
using TeleSuivi.Risk.Labels;
using TeleSuivi.Risk.Model;

namespace TeleSuivi.Tests.Risk;

public sealed class GroundTruthOracleTests
{
    private static readonly SyntheticCohort Cohort = SyntheticCohort.Generate(CohortParameters.Default with { Patients = 40, Days = 60 }, 11);

    [Fact]
    public void Inputs_EventWhoseProdromeStartsLater_InvisibleUntilItStarts()
    {
        var (patient, day) = QuietPatientDay();
        var at = FeatureExtractor.ScoringTime(Cohort.Parameters, day);

        // A strong exacerbation 48 h after the scoring time with a one-day prodrome: positive day d, yet nothing of it
        // exists before t + 24 h, so the oracle must see exactly what it saw without it.
        var coming = new CohortEvent(patient.Profile.Id, EventKind.Exacerbation, Condition.Copd, at.AddHours(48), 1, 7, 2, 0, 0, false);
        var withEvent = With(patient, coming);
        Assert.Equal(LabelValue.Positive, ExacerbationLabel.At(at, withEvent.Events));
        Assert.Equal(GroundTruthOracle.Inputs(Cohort, patient, day), GroundTruthOracle.Inputs(Cohort, withEvent, day));

        // Once its prodrome has run for a day, the shift is there to be read.
        Assert.NotEqual(GroundTruthOracle.Inputs(Cohort, patient, day + 2), GroundTruthOracle.Inputs(Cohort, withEvent, day + 2));
    }

    [Fact]
    public void Inputs_EventWithoutSignal_NeverVisibleBeforeOnset()
    {
        var (patient, day) = QuietPatientDay();
        var at = FeatureExtractor.ScoringTime(Cohort.Parameters, day);
        var silent = With(patient, new CohortEvent(patient.Profile.Id, EventKind.Exacerbation, Condition.HeartFailure, at.AddHours(30), 6, 7, 0, 0, 0, false));

        Assert.Equal(GroundTruthOracle.Inputs(Cohort, patient, day), GroundTruthOracle.Inputs(Cohort, silent, day));
        Assert.Equal(GroundTruthOracle.Inputs(Cohort, patient, day - 3), GroundTruthOracle.Inputs(Cohort, silent, day - 3));
    }

    [Fact]
    public void Inputs_MeasureNoDeviceTakes_NotSeen()
    {
        var (patient, day) = QuietPatientDay();
        var at = FeatureExtractor.ScoringTime(Cohort.Parameters, day);
        var profile = patient.Profile with { Devices = [CohortDevice.Scale] };
        var onlyScale = new CohortPatient(Cohort, profile, [new CohortEvent(profile.Id, EventKind.Exacerbation, Condition.Copd, at.AddHours(12), 4, 7, 1.5, 0, 0, false)]);

        var inputs = GroundTruthOracle.Inputs(Cohort, onlyScale, day);

        // A COPD prodrome moves heart rate, breathing, SpO2 and steps, none of which a scale measures.
        Assert.All(inputs.Skip(1), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Inputs_Views_EachShowsOnlyItsPartOfTheGroundTruth()
    {
        var (patient, day) = QuietPatientDay();
        var at = FeatureExtractor.ScoringTime(Cohort.Parameters, day);
        var ill = With(patient, new CohortEvent(patient.Profile.Id, EventKind.Exacerbation, Condition.Copd, at.AddHours(24), 4, 7, 1.5, 0, 0, false));

        var all = GroundTruthOracle.Inputs(Cohort, ill, day);
        var hazard = GroundTruthOracle.Inputs(Cohort, ill, day, OracleView.Hazard);
        var knowable = GroundTruthOracle.Inputs(Cohort, ill, day, OracleView.HazardWithoutSusceptibility);
        var shifts = GroundTruthOracle.Inputs(Cohort, ill, day, OracleView.Shifts);

        Assert.Equal(all[0], hazard[0]);
        Assert.All(hazard.Skip(1), v => Assert.Equal(0f, v));
        Assert.Equal(all[0] - Math.Log(ill.Profile.Susceptibility), knowable[0], 4);
        Assert.Equal(0f, shifts[0]);
        Assert.Equal(all.Skip(1), shifts.Skip(1));
        Assert.Contains(shifts.Skip(1), v => v != 0);
    }

    [Fact]
    public void Inputs_Readable_DayToDayVariationOnTheMeasuresThePatientTakesOnly()
    {
        var (patient, day) = QuietPatientDay();
        var profile = patient.Profile with { Devices = [CohortDevice.Scale] };
        var onlyScale = new CohortPatient(Cohort, profile, patient.Events);

        var readable = GroundTruthOracle.Inputs(Cohort, onlyScale, day, OracleView.Readable);

        // No event: the weight (7th of each lag's 8) varies from day to day, nothing else the scale does not take.
        for (var lag = 0; lag < GroundTruthOracle.Lags.Count; lag++)
        {
            var offset = 1 + (lag * 8);
            Assert.NotEqual(0f, readable[offset + 6]);
            Assert.All(readable.Skip(offset).Take(6), v => Assert.Equal(0f, v));
        }

        Assert.Equal(readable, GroundTruthOracle.Inputs(Cohort, onlyScale, day, OracleView.Readable));
    }

    [Fact]
    public void Train_SmallCohort_RanksPositiveDaysWithSignalAboveNegativesButNotThoseWithout()
    {
        var oracle = GroundTruthOracle.Train(SyntheticCohort.Generate(CohortParameters.Default with { Patients = 300, Days = 200 }, 21), trees: 60);
        var heldOut = SyntheticCohort.Generate(HeldOutCohort.Parameters(200, 200), 22);
        var days = new List<PatientDay>();
        var signalVisible = new List<bool>();
        foreach (var patient in heldOut.Patients)
        {
            var day = 0;
            foreach (var (at, label) in ExacerbationLabel.Daily(heldOut.Parameters, patient.Events))
            {
                if (label != LabelValue.Excluded)
                {
                    days.Add(new PatientDay(patient.Profile.Id, patient.Profile.Index, day, at, [], label == LabelValue.Positive));
                    signalVisible.Add(GroundTruthOracle.Inputs(heldOut, patient, day)[1 + 7] > 0.5f);
                }

                day++;
            }
        }

        var scores = oracle.Score(heldOut, new PatientDays(heldOut.Parameters, days, []));

        var negatives = Enumerable.Range(0, days.Count).Where(i => !days[i].Label).ToList();
        var withSignal = Enumerable.Range(0, days.Count).Where(i => days[i].Label && signalVisible[i]).ToList();
        var withoutSignal = Enumerable.Range(0, days.Count).Where(i => days[i].Label && !signalVisible[i]).ToList();
        Assert.True(withSignal.Count >= 30 && withoutSignal.Count >= 30, $"{withSignal.Count} positive days with signal, {withoutSignal.Count} without: too few to prove anything");
        var aurocWithSignal = Auroc(withSignal, negatives);
        var aurocWithout = Auroc(withoutSignal, negatives);

        // Where the prodrome is under way a perfect reader knows; where it has not started only the hazard speaks.
        Assert.True(aurocWithSignal > 0.85, $"AUROC {aurocWithSignal:F3} of positive days with a visible signal against the negatives");
        Assert.True(aurocWithout < aurocWithSignal - 0.15, $"AUROC {aurocWithout:F3} without a visible signal, {aurocWithSignal:F3} with one");
        Assert.True(aurocWithout < 0.80, $"AUROC {aurocWithout:F3} of positive days before any signal: the oracle must not see the onset coming");

        double Auroc(List<int> positives, List<int> negative) => BinaryMetrics.Auroc(
            [.. positives.Select(i => scores[i]), .. negative.Select(i => scores[i])], [.. positives.Select(_ => true), .. negative.Select(_ => false)]);
    }

    /// <summary>A patient-day well inside the span with no event shifting anything from 4 days before to 4 days after.</summary>
    private static (CohortPatient Patient, int Day) QuietPatientDay()
    {
        foreach (var patient in Cohort.Patients)
        {
            for (var day = 20; day < 50; day++)
            {
                var at = FeatureExtractor.ScoringTime(Cohort.Parameters, day);
                if (patient.Events.All(e => e.ProdromeStart > at.AddDays(4) || e.End < at.AddDays(-4) - TimeSpan.FromDays(1)))
                {
                    return (patient, day);
                }
            }
        }

        throw new InvalidOperationException("no quiet patient-day in the test cohort");
    }

    private static CohortPatient With(CohortPatient patient, CohortEvent extra) =>
        new(Cohort, patient.Profile, [.. patient.Events, extra]);
}
