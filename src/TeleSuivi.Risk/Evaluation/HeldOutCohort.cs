using TeleSuivi.Risk.Cohort;

namespace TeleSuivi.Risk.Evaluation;

/// <summary>
/// The evaluation cohort: another seed AND generator parameters shifted away from the training cohort's, as a model
/// meets a programme that is not the one it was built on. Every shift is listed in <see cref="Shifts"/> (and in the
/// report); none makes prediction easier — most make it harder (more sudden and silent events, more flares, noisier
/// devices, worse adherence).
/// </summary>
public static class HeldOutCohort
{
    public const int DefaultSeed = 1001;

    public static readonly IReadOnlyList<string> Shifts =
    [
        "start 1 January 2026 instead of 2025 (other weekdays and weather)",
        "primary conditions COPD 30 %, heart failure 40 %, diabetes 18 %, frail elderly 12 % (instead of 35/35/18/12)",
        "mean age 74 instead of 72",
        "exacerbations per patient-year COPD 1.5, heart failure 0.8 (instead of 1.3, 0.7)",
        "1.3 self-resolving flares per exacerbation instead of 1.0",
        "80 % of the exacerbations of the year before enrolment recorded at enrolment instead of all",
        "sudden onsets 55 % instead of 50 %; events without any telemonitoring signal 25 % instead of 20 %",
        "pollution episodes start 1.8 %/day instead of 1.2 %; temperature anomaly SD 3.2 °C instead of 2.8",
        "adherence mean 0.80 instead of 0.85; late batches 12 % of device-days instead of 8 %; artefacts 1.5 % instead of 1 %",
        "device noise: heart rate SD 3.5 /min instead of 3, SpO2 SD 1.2 points instead of 1",
    ];

    public static CohortParameters Parameters(int patients, int days)
    {
        var d = CohortParameters.Default;
        return d with
        {
            Patients = patients,
            Days = days,
            Start = new DateOnly(2026, 1, 1),
            Population = d.Population with { PrimaryConditionWeights = [0.30, 0.40, 0.18, 0.12], AgeMean = 74 },
            Exacerbation = d.Exacerbation with { AnnualRate = [1.5, 0.8, 0.25, 0.5], FlaresPerEvent = 1.3, PriorYearRecall = 0.8 },
            Prodrome = d.Prodrome with { SuddenFraction = 0.55, NoSignalFraction = 0.25 },
            Environment = d.Environment with { EpisodeStartPerDay = 0.018, TemperatureAnomalySd = 3.2 },
            Measurement = d.Measurement with
            {
                AdherenceMean = 0.80, LateBatchProbability = 0.12, ArtifactProbability = 0.015, HeartRateNoise = 3.5, SpO2Noise = 1.2,
            },
        };
    }
}
