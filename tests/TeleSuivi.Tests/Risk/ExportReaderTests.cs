using TeleSuivi.Risk.Cohort;
using TeleSuivi.Server.Export;
using TeleSuivi.Server.Risk;

namespace TeleSuivi.Tests.Risk;

/// <summary>The pseudonymised export read back for <c>train --from-store</c>: features by code and unit, clear errors on bad rows.</summary>
public sealed class ExportReaderTests : IDisposable
{
    private static readonly DateTimeOffset Through = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string folder = Directory.CreateTempSubdirectory("telesuivi-export-read-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Read_ExportRows_PatientFactsReadingsEnvironmentAndOutcomes()
    {
        Write(
            "p1,1950,male,75011,13645005 84114007,3,2",
            """
            p1,d1,2026-05-01T08:00:00.000Z,http://loinc.org|85354-9,http://loinc.org|8480-6,142,mm[Hg]
            p1,d1,2026-05-01T08:00:00.000Z,http://loinc.org|59408-5,,93,%
            p1,d1,2026-05-01T08:00:00.000Z,http://loinc.org|59408-5,,0.93,1
            p1,d1,2026-05-01T08:00:00.000Z,http://loinc.org|8302-2,,170,cm
            """,
            "75011,2026-05-01T06:00:00.000Z,https://telesuivi.org/fhir/CodeSystem/measure|ambient-pm25,,38.5,ug/m3",
            "p1,risk,,critical,2026-05-02T10:00:00.000Z,2026-05-02T12:00:00.000Z,confirmed-exacerbation");

        var history = ExportReader.Read(folder, Through, TimeSpan.FromHours(1), new RiskOptions());

        var patient = Assert.Single(history.Patients);
        Assert.Equal((76, Sex.Male, 3, 2, "75011"), (patient.Facts.Age, patient.Facts.Sex, patient.Facts.Severity, patient.Facts.PriorYearExacerbations, patient.Zone));
        Assert.Equal([Condition.Copd, Condition.HeartFailure], patient.Facts.Conditions);
        // The SpO2 fraction (unit 1) and the height are no feature: skipped.
        Assert.Equal([(Measures.Systolic, 142.0), (Measures.OxygenSaturation, 93.0)], history.Readings["p1"].Select(r => (r.Measure, r.Value)));
        Assert.Equal(Measures.AmbientPm25, Assert.Single(history.Environment["75011"]).Measure);
        Assert.Equal("confirmed-exacerbation", Assert.Single(history.Outcomes).Outcome);
    }

    [Fact]
    public void Read_PatientWithoutSeverityOrPriorYear_DefaultSeverityAndNoHistory()
    {
        Write("p1,1950,female,75011,13645005,,", string.Empty, string.Empty, string.Empty);

        var facts = Assert.Single(ExportReader.Read(folder, Through, TimeSpan.FromHours(1), new RiskOptions()).Patients).Facts;

        Assert.Equal((new RiskOptions().DefaultSeverity, (int?)null), (facts.Severity, facts.PriorYearExacerbations));
    }

    [Fact]
    public void Read_ReadingValueNotANumber_ErrorNamesFileAndLine()
    {
        Write("p1,1950,female,75011,13645005,,", "p1,d1,2026-05-01T08:00:00.000Z,http://loinc.org|59408-5,,ninety,%", string.Empty, string.Empty);

        var error = Assert.Throws<InvalidDataException>(() => ExportReader.Read(folder, Through, TimeSpan.FromHours(1), new RiskOptions()));

        Assert.Contains("readings.csv, line 2: value 'ninety' is not a number", error.Message, StringComparison.Ordinal);
    }

    private void Write(string patients, string readings, string environment, string outcomes)
    {
        static string File(string header, string rows) => header + "\n" + (rows.Length == 0 ? string.Empty : rows + "\n");
        System.IO.File.WriteAllText(Path.Combine(folder, PseudonymisedExport.PatientsFile), File("patient,birth_year,sex,zone,conditions,severity,prior_year_exacerbations", patients));
        System.IO.File.WriteAllText(Path.Combine(folder, PseudonymisedExport.ReadingsFile), File("patient,device,time,code,component,value,unit", readings));
        System.IO.File.WriteAllText(Path.Combine(folder, PseudonymisedExport.EnvironmentFile), File("zone,time,code,component,value,unit", environment));
        System.IO.File.WriteAllText(Path.Combine(folder, PseudonymisedExport.OutcomesFile), File("patient,kind,subject,severity,opened,closed,outcome", outcomes));
    }
}
