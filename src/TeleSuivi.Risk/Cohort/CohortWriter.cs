using System.Globalization;
using System.Text;
using System.Text.Json;
using TeleSuivi.Risk.Labels;

namespace TeleSuivi.Risk.Cohort;

public enum CohortFileFormat
{
    Csv,
    Jsonl,
}

/// <summary>What a written cohort holds (counts within the readings span).</summary>
public sealed record CohortSummary(
    int Patients,
    int Days,
    long Readings,
    long Artifacts,
    long LateReadings,
    int Exacerbations,
    int Flares,
    int SilentExacerbations,
    IReadOnlyDictionary<Condition, (int Patients, int Events)> ByCondition,
    long PositiveDays,
    long ExcludedDays,
    long PatientDays);

/// <summary>
/// Writes a cohort to a folder, one patient at a time (memory stays flat whatever the size): patients, readings,
/// ground-truth events, daily labels and the zones' hourly environment.
/// </summary>
public static class CohortWriter
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public static CohortSummary Write(SyntheticCohort cohort, string directory, CohortFileFormat format, Action<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        Directory.CreateDirectory(directory);
        var p = cohort.Parameters;
        var ext = format == CohortFileFormat.Csv ? "csv" : "jsonl";
        using var patients = Open(directory, "patients.csv");
        using var readings = Open(directory, $"readings.{ext}");
        using var events = Open(directory, "events.csv");
        using var labels = Open(directory, "labels.csv");
        patients.WriteLine("patient_id,age,sex,zone,conditions,primary,severity,devices,adherence,susceptibility,prior_year_exacerbations,hr,rr,spo2,systolic,diastolic,weight_kg,temperature_c,steps,glucose_mmol_l");
        if (format == CohortFileFormat.Csv)
        {
            readings.WriteLine("patient_id,device,measure,time,received_at,value,artifact");
        }

        events.WriteLine("patient_id,kind,condition,onset,prodrome_days,duration_days,signal_scale,weight_prodrome_days,weight_gain_kg,hospitalised");
        labels.WriteLine("patient_id,day,scoring_time,label");
        long readingCount = 0, artifacts = 0, late = 0, positive = 0, excluded = 0;
        int exacerbations = 0, flares = 0, silent = 0, done = 0;
        var byCondition = Enum.GetValues<Condition>().ToDictionary(c => c, _ => (Patients: 0, Events: 0));
        var spanStart = p.StartTime;
        var spanEnd = p.StartTime.AddDays(p.Days);
        foreach (var patient in cohort.Patients)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pr = patient.Profile;
            var b = pr.Baseline;
            patients.WriteLine(Invariant(
                $"{pr.Id},{pr.Age},{pr.Sex},{pr.Zone},{string.Join(';', pr.Conditions)},{pr.Primary},{pr.Severity},{string.Join(';', pr.Devices)},{pr.Adherence},{pr.Susceptibility},{pr.PriorYearExacerbations},{b.HeartRate},{b.RespiratoryRate},{b.SpO2},{b.Systolic},{b.Diastolic},{b.WeightKg},{b.TemperatureC},{b.StepsPerDay},{b.GlucoseMmolL}"));
            foreach (var c in pr.Conditions)
            {
                byCondition[c] = (byCondition[c].Patients + 1, byCondition[c].Events);
            }

            foreach (var r in patient.Readings())
            {
                readingCount++;
                artifacts += r.Artifact ? 1 : 0;
                late += r.ReceivedAt - r.Time > TimeSpan.FromHours(1) ? 1 : 0;
                if (format == CohortFileFormat.Csv)
                {
                    readings.WriteLine(Invariant($"{pr.Id},{r.Device},{r.Measure},{Time(r.Time)},{Time(r.ReceivedAt)},{r.Value},{(r.Artifact ? 1 : 0)}"));
                }
                else
                {
                    readings.WriteLine(Invariant(
                        $"{{\"patient\":\"{pr.Id}\",\"device\":\"{r.Device}\",\"measure\":\"{r.Measure}\",\"time\":\"{Time(r.Time)}\",\"receivedAt\":\"{Time(r.ReceivedAt)}\",\"value\":{r.Value},\"artifact\":{(r.Artifact ? "true" : "false")}}}"));
                }
            }

            foreach (var e in patient.Events)
            {
                events.WriteLine(Invariant(
                    $"{e.PatientId},{e.Kind},{e.Condition},{Time(e.Onset)},{e.ProdromeDays},{e.DurationDays},{e.SignalScale},{e.WeightProdromeDays},{e.WeightGainKg},{(e.Hospitalised ? 1 : 0)}"));
                if (e.Onset >= spanStart && e.Onset < spanEnd)
                {
                    if (e.Kind == EventKind.Exacerbation)
                    {
                        exacerbations++;
                        silent += e.SignalScale == 0 ? 1 : 0;
                        byCondition[e.Condition] = (byCondition[e.Condition].Patients, byCondition[e.Condition].Events + 1);
                    }
                    else
                    {
                        flares++;
                    }
                }
            }

            var day = 0;
            foreach (var (at, label) in ExacerbationLabel.Daily(p, patient.Events))
            {
                labels.WriteLine(Invariant($"{pr.Id},{day++},{Time(at)},{label.ToString().ToLowerInvariant()}"));
                positive += label == LabelValue.Positive ? 1 : 0;
                excluded += label == LabelValue.Excluded ? 1 : 0;
            }

            progress?.Invoke(++done);
        }

        WriteEnvironment(cohort, directory, format, cancellationToken);
        return new CohortSummary(done, p.Days, readingCount, artifacts, late, exacerbations, flares, silent, byCondition, positive, excluded, (long)done * p.Days);
    }

    private static void WriteEnvironment(SyntheticCohort cohort, string directory, CohortFileFormat format, CancellationToken cancellationToken)
    {
        using var writer = Open(directory, format == CohortFileFormat.Csv ? "environment.csv" : "environment.jsonl");
        if (format == CohortFileFormat.Csv)
        {
            writer.WriteLine("zone,time,pm25,pm10,no2,o3,temperatureC,humidity,pollenIndex");
        }

        foreach (var zone in cohort.Environment.Zones)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var day = 0; day < cohort.Parameters.Days; day++)
            {
                foreach (var e in cohort.Environment.Hourly(zone, day))
                {
                    writer.WriteLine(format == CohortFileFormat.Csv
                        ? Invariant($"{e.Zone},{Time(e.Time)},{e.Pm25},{e.Pm10},{e.No2},{e.O3},{e.TemperatureC},{e.Humidity},{e.PollenIndex}")
                        : Invariant($"{{\"zone\":{JsonSerializer.Serialize(e.Zone)},\"time\":\"{Time(e.Time)}\",\"pm25\":{e.Pm25},\"pm10\":{e.Pm10},\"no2\":{e.No2},\"o3\":{e.O3},\"temperatureC\":{e.TemperatureC},\"humidity\":{e.Humidity},\"pollenIndex\":{e.PollenIndex}}}"));
                }
            }
        }
    }

    private static StreamWriter Open(string directory, string name) =>
        new(Path.Combine(directory, name), append: false, Utf8, bufferSize: 1 << 16) { NewLine = "\n" };

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString s) => FormattableString.Invariant(s);
}
