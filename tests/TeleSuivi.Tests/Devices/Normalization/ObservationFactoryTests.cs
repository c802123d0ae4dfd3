using Hl7.Fhir.Model;
using TeleSuivi.Devices;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Tests.Devices.Normalization;

public sealed class ObservationFactoryTests
{
    private static readonly DateTimeOffset Received = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Measured = new(2026, 1, 15, 8, 30, 0, TimeSpan.Zero);
    private static readonly ObservationContext Context = new("dev-1", "pat-1", Received, "test");
    private readonly ObservationFactory factory = new(new ObservationFactoryOptions { MaxFutureSkew = TimeSpan.FromMinutes(5), MaxAge = TimeSpan.FromDays(30) });

    [Fact]
    public void Create_SameDeviceCodeAndTime_GivesTheSameId()
    {
        var first = Create(DecodedReading.OfValue("heart-rate", Measured, 72, "/min"));
        var redelivered = Create(DecodedReading.OfValue("heart-rate", Measured, 74, "/min"));
        var otherDevice = factory.Create(DecodedReading.OfValue("heart-rate", Measured, 72, "/min"), Context with { DeviceId = "dev-2" }).Observation!;
        var otherTime = Create(DecodedReading.OfValue("heart-rate", Measured.AddSeconds(1), 72, "/min"));

        Assert.Equal(first.Id, redelivered.Id);
        Assert.NotEqual(first.Id, otherDevice.Id);
        Assert.NotEqual(first.Id, otherTime.Id);
        Assert.Matches("^[a-f0-9]{32}$", first.Id);
        Assert.Equal(ObservationFactory.IdOf("dev-1|8867-4|2026-01-15T08:30:00Z"), first.Id);
        Assert.Equal("dev-1|8867-4|2026-01-15T08:30:00Z", first.Identifier.Single().Value);
        Assert.Equal(ObservationFactory.IdentifierSystem, first.Identifier.Single().System);
    }

    [Theory]
    [InlineData("body-temperature", 1e127, "Cel", "is impossible")]
    [InlineData("body-weight", 1e30, "kg", "is impossible")]
    [InlineData("rr-interval", 1e40, "ms", "is impossible")]
    public void Create_ValueBeyondDecimalRange_IsRejectedNotThrown(string measure, double value, string unit, string reason)
    {
        // A corrupt exponent (GATT FLOAT 00 01 00 00 7F, or Withings "unit": 30) must not poison the ingest batch.
        var outcome = factory.Create(DecodedReading.OfValue(measure, Measured, value, unit), Context);

        Assert.Null(outcome.Observation);
        Assert.Equal(RejectionKind.Invalid, outcome.Kind);
        Assert.Contains(reason, outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_GattTemperatureWithHugeExponent_IsRejectedNotThrown()
    {
        var decoded = TeleSuivi.Devices.Gatt.GattDecoder.Decode("2a1c", [0x00, 0x01, 0x00, 0x00, 0x7F]);

        Assert.True(decoded.Succeeded, decoded.Error);
        var outcome = factory.Create(decoded.Readings.Single(), Context with { ReceivedAt = DateTimeOffset.UtcNow });
        Assert.Null(outcome.Observation);
        Assert.Contains("body-temperature", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_Reading_HasReferencesCategoryAndUtcTime()
    {
        var observation = Create(DecodedReading.OfValue("heart-rate", new DateTimeOffset(2026, 1, 15, 9, 30, 0, TimeSpan.FromHours(1)), 72, "/min"));

        Assert.Equal(ObservationStatus.Final, observation.Status);
        Assert.Equal("Patient/pat-1", observation.Subject!.Reference);
        Assert.Equal("Device/dev-1", observation.Device!.Reference);
        Assert.Equal("2026-01-15T08:30:00Z", ((FhirDateTime)observation.Effective!).Value);
        Assert.Equal("vital-signs", observation.Category.Single().Coding.Single().Code);
        Assert.Equal(["8867-4", "149546"], observation.Code!.Coding.Select(c => c.Code));
        Assert.Equal("http://hl7.org/fhir/StructureDefinition/heartrate", observation.Meta!.Profile.Single());
        var quantity = Assert.IsType<Quantity>(observation.Value);
        Assert.Equal(72m, quantity.Value);
        Assert.Equal("/min", quantity.Code);
        Assert.Equal("http://unitsofmeasure.org", quantity.System);
    }

    [Fact]
    public void Create_BloodPressureInKpa_IsAPanelInMmHgWithoutTopLevelValue()
    {
        var reading = new DecodedReading("blood-pressure", Measured,
        [
            new DecodedValue("systolic-pressure", 16.5, "kPa"),
            new DecodedValue("diastolic-pressure", 10.9, "kPa"),
            new DecodedValue("mean-arterial-pressure", 12.8, "kPa"),
        ]);

        var observation = Create(reading);

        Assert.Null(observation.Value);
        Assert.Equal("85354-9", observation.Code!.Coding[0].Code);
        Assert.Equal(["8480-6", "8462-4", "8478-0"], observation.Component.Select(c => c.Code!.Coding[0].Code));
        Assert.Equal([123.8m, 81.8m, 96.0m], observation.Component.Select(c => ((Quantity)c.Value!).Value!.Value));
        Assert.All(observation.Component, c => Assert.Equal("mm[Hg]", ((Quantity)c.Value!).Code));
    }

    [Fact]
    public void Create_BloodPressureWithoutDiastolic_IsRejected()
    {
        var outcome = factory.Create(new DecodedReading("blood-pressure", Measured, [new DecodedValue("systolic-pressure", 120, "mm[Hg]")]), Context);

        Assert.Equal("blood-pressure: diastolic-pressure is missing", outcome.Error);
    }

    [Fact]
    public void Create_SystolicNotAboveDiastolic_IsRejected()
    {
        var outcome = factory.Create(new DecodedReading("blood-pressure", Measured,
            [new DecodedValue("systolic-pressure", 80, "mm[Hg]"), new DecodedValue("diastolic-pressure", 95, "mm[Hg]")]), Context);

        Assert.Equal("blood-pressure: systolic 80 mmHg is not above diastolic 95 mmHg, which is impossible", outcome.Error);
    }

    [Theory]
    [InlineData("oxygen-saturation", 104, "%", "oxygen-saturation 104 % is impossible (allowed above 0 up to 100 %)")]
    [InlineData("heart-rate", 0, "/min", "heart-rate 0 beats/minute is impossible (allowed above 0 and below 400 beats/minute)")]
    [InlineData("heart-rate", 400, "/min", "heart-rate 400 beats/minute is impossible (allowed above 0 and below 400 beats/minute)")]
    [InlineData("body-temperature", 60, "Cel", "body-temperature 60 °C is impossible (allowed above 25 and below 45 °C)")]
    [InlineData("body-temperature", 120, "[degF]", "body-temperature 48.9 °C (120 [degF]) is impossible (allowed above 25 and below 45 °C)")]
    [InlineData("body-weight", 0, "kg", "body-weight 0 kg is impossible (allowed above 0 up to 500 kg)")]
    [InlineData("body-weight", 1200, "[lb_av]", "body-weight 544.3 kg (1200 [lb_av]) is impossible (allowed above 0 up to 500 kg)")]
    public void Create_ImpossibleValue_IsRejectedWithPreciseReason(string measure, double value, string unit, string expected)
    {
        var outcome = factory.Create(DecodedReading.OfValue(measure, Measured, value, unit), Context);

        Assert.Null(outcome.Observation);
        Assert.Equal(expected, outcome.Error);
    }

    [Theory]
    [InlineData("oxygen-saturation", 78, "%")]
    [InlineData("heart-rate", 190, "/min")]
    [InlineData("body-temperature", 41.2, "Cel")]
    [InlineData("glucose", 1.9, "mmol/L")]
    public void Create_AbnormalButPossibleValue_IsKept(string measure, double value, string unit)
    {
        Assert.True(factory.Create(DecodedReading.OfValue(measure, Measured, value, unit), Context).Succeeded);
    }

    [Fact]
    public void Create_GlucoseInMgPerDl_IsConvertedToMmolPerL()
    {
        var observation = Create(DecodedReading.OfValue("glucose", Measured, 120, "mg/dL"));

        var quantity = Assert.IsType<Quantity>(observation.Value);
        Assert.Equal(6.66m, quantity.Value);
        Assert.Equal("mmol/L", quantity.Code);
        Assert.Equal("14743-9", observation.Code!.Coding[0].Code);
        Assert.Equal("laboratory", observation.Category[0].Coding[0].Code);
    }

    [Fact]
    public void Create_GlucoseOfPlasma_UsesThePlasmaCodeWithoutTheCapillaryMdcCode()
    {
        var reading = DecodedReading.OfValue("glucose", Measured, 0.0061, "mol/L") with
        {
            Qualifiers = new Dictionary<string, string> { [QualifierKeys.Specimen] = "venous-plasma" },
        };

        var observation = Create(reading);

        Assert.Equal(["14749-6"], observation.Code!.Coding.Select(c => c.Code));
        Assert.Equal(6.1m, ((Quantity)observation.Value!).Value);
    }

    /// <summary>The same rejections as the board's French shows them: French names, units and decimal commas.</summary>
    [Theory]
    [InlineData("oxygen-saturation", 104, "%", "saturation en oxygène (SpO2) 104 % impossible (admis : plus de 0 et jusqu'à 100 %)")]
    [InlineData("heart-rate", 400, "/min", "fréquence cardiaque 400 battements/min impossible (admis : plus de 0 et moins de 400 battements/min)")]
    [InlineData("body-temperature", 120, "[degF]", "température corporelle 48,9 °C (120 [degF]) impossible (admis : plus de 25 et moins de 45 °C)")]
    [InlineData("body-temperature", 45.25, "Cel", "température corporelle 45,25 °C impossible (admis : plus de 25 et moins de 45 °C)")]
    [InlineData("body-weight", 70, "/min", "poids : l'unité '/min' ne se convertit pas en kg")]
    [InlineData("cat-score", 41, "{score}", "score CAT 41 impossible (admis : 0–40 score)")]
    [InlineData("cat-score", 12.5, "{score}", "score CAT : la valeur 12,5 n'est pas un entier")]
    [InlineData("medication-dose-taken", 2, "1", "prise de médicament : la valeur 2 n'est ni 0 (non) ni 1 (oui)")]
    [InlineData("heart-rate", double.NaN, "/min", "fréquence cardiaque : la valeur NaN n'est pas un nombre")]
    [InlineData("blood-sugar", 5, "mmol/L", "'blood-sugar' n'est pas une mesure connue")]
    public void Create_ImpossibleValue_GivesTheReasonInFrenchToo(string measure, double value, string unit, string expected)
    {
        var outcome = factory.Create(DecodedReading.OfValue(measure, Measured, value, unit), Context);

        Assert.Null(outcome.Observation);
        Assert.Equal(expected, outcome.ErrorFr);
    }

    [Fact]
    public void Create_RejectedBloodPressure_GivesTheReasonInFrenchToo()
    {
        var missing = factory.Create(new DecodedReading("blood-pressure", Measured, [new DecodedValue("systolic-pressure", 120, "mm[Hg]")]), Context);
        var inverted = factory.Create(new DecodedReading("blood-pressure", Measured,
            [new DecodedValue("systolic-pressure", 80.5, "mm[Hg]"), new DecodedValue("diastolic-pressure", 95, "mm[Hg]")]), Context);

        Assert.Equal("tension artérielle : pression diastolique manquante", missing.ErrorFr);
        Assert.Equal("tension artérielle : systolique 80,5 mmHg non supérieure à la diastolique 95 mmHg, ce qui est impossible", inverted.ErrorFr);
    }

    [Fact]
    public void Create_WrongClock_GivesTheReasonInFrenchToo()
    {
        var ahead = factory.Create(DecodedReading.OfValue("heart-rate", Received.AddMinutes(7), 72, "/min"), Context);
        var old = factory.Create(DecodedReading.OfValue("heart-rate", Received.AddDays(-45), 72, "/min"), Context);

        Assert.Equal(
            "fréquence cardiaque : mesure datée du 2026-01-15T09:07:00Z, 7 min après sa réception le 2026-01-15T09:00:00Z (tolérance 5 min)",
            ahead.ErrorFr);
        Assert.Equal(
            "fréquence cardiaque : mesure datée du 2025-12-01T09:00:00Z, 45 j avant sa réception le 2026-01-15T09:00:00Z (limite 30 j)",
            old.ErrorFr);
    }

    [Fact]
    public void Catalogue_EveryMeasure_HasAFrenchNameOfItsOwn()
    {
        var names = MeasureCatalog.All.Select(d => d.NameFr).ToList();

        Assert.All(names, name => Assert.False(string.IsNullOrWhiteSpace(name)));
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Create_GlucoseControlSolution_IsRejected()
    {
        var reading = DecodedReading.OfValue("glucose", Measured, 5.5, "mmol/L") with
        {
            Qualifiers = new Dictionary<string, string> { [QualifierKeys.Specimen] = "control-solution" },
        };

        var outcome = factory.Create(reading, Context);
        Assert.Equal("glucose: specimen 'control-solution' is a control-solution test, not a patient reading", outcome.Error);
        Assert.Equal("glycémie : prélèvement 'control-solution' : un test à la solution de contrôle, pas une mesure du patient", outcome.ErrorFr);
    }

    [Fact]
    public void Create_TimeBeyondFutureTolerance_IsRejected()
    {
        var outcome = factory.Create(DecodedReading.OfValue("heart-rate", Received.AddMinutes(7), 72, "/min"), Context);

        Assert.Equal("heart-rate: time 2026-01-15T09:07:00Z is 7 min after the receive time 2026-01-15T09:00:00Z (tolerance 5 min)", outcome.Error);
    }

    [Fact]
    public void Create_TimeOlderThanLimit_IsRejected()
    {
        var outcome = factory.Create(DecodedReading.OfValue("heart-rate", Received.AddDays(-45), 72, "/min"), Context);

        Assert.Equal("heart-rate: time 2025-12-01T09:00:00Z is 45 d before the receive time 2026-01-15T09:00:00Z (limit 30 d)", outcome.Error);
    }

    [Fact]
    public void Create_SmallClockDrift_IsAccepted()
    {
        Assert.True(factory.Create(DecodedReading.OfValue("heart-rate", Received.AddMinutes(4), 72, "/min"), Context).Succeeded);
        Assert.True(new ObservationFactory().Create(DecodedReading.OfValue("heart-rate", Received.AddYears(-3), 72, "/min"), Context).Succeeded);
    }

    [Fact]
    public void Create_ReadingWithoutTime_TakesTheReceiveTime()
    {
        var observation = Create(DecodedReading.OfValue("heart-rate", null, 72, "/min"));

        Assert.Equal("2026-01-15T09:00:00Z", ((FhirDateTime)observation.Effective!).Value);
    }

    [Fact]
    public void Create_UnassignedDevice_HasNoSubjectAndClaimsNoVitalSignsProfile()
    {
        var observation = factory.Create(DecodedReading.OfValue("heart-rate", Measured, 72, "/min"), Context with { PatientId = null }).Observation!;

        Assert.Null(observation.Subject);
        Assert.Empty(observation.Meta!.Profile);
        Assert.Equal("Device/dev-1", observation.Device!.Reference);
    }

    [Fact]
    public void Create_UnknownMeasure_IsRejected()
    {
        Assert.Equal("'blood-sugar' is not a measure of the catalogue", factory.Create(DecodedReading.OfValue("blood-sugar", Measured, 5, "mmol/L"), Context).Error);
    }

    [Fact]
    public void Create_IncompatibleUnit_IsRejected()
    {
        Assert.Equal("body-weight: unit '/min' (count per time) cannot be converted to 'kg' (mass)",
            factory.Create(DecodedReading.OfValue("body-weight", Measured, 70, "/min"), Context).Error);
    }

    [Fact]
    public void Create_NotANumber_IsRejected()
    {
        Assert.Equal("heart-rate: value NaN is not a number", factory.Create(DecodedReading.OfValue("heart-rate", Measured, double.NaN, "/min"), Context).Error);
    }

    [Fact]
    public void Create_Qualifiers_BecomeBodySiteMethodAndNote()
    {
        var reading = DecodedReading.OfValue("body-temperature", Measured, 37.2, "Cel") with
        {
            Qualifiers = new Dictionary<string, string>
            {
                [QualifierKeys.BodySite] = "tympanum",
                [ObservationFactory.MethodQualifier] = "infrared",
                [QualifierKeys.DeviceStatus] = "body-movement,sensor-contact-lost",
                [QualifierKeys.BatteryPercent] = "80",
            },
        };

        var observation = Create(reading);

        Assert.Equal("tympanum", observation.BodySite!.Text);
        Assert.Equal("infrared", observation.Method!.Text);
        Assert.Equal("device status: body-movement, sensor-contact-lost", observation.Note.Single().Text);
    }

    [Fact]
    public void Create_ScoreAndYesNo_UseIntegerAndBooleanValues()
    {
        var score = Create(DecodedReading.OfValue("cat-score", Measured, 17, "{score}"));
        var taken = Create(DecodedReading.OfValue("medication-dose-taken", Measured, 0, "1"));

        Assert.Equal(17, Assert.IsType<Integer>(score.Value).Value);
        Assert.False(Assert.IsType<FhirBoolean>(taken.Value).Value);
        Assert.Equal("cat-score 41 is impossible (allowed 0–40 score)", factory.Create(DecodedReading.OfValue("cat-score", Measured, 41, "{score}"), Context).Error);
        Assert.Equal("cat-score: value 12.5 is not an integer", factory.Create(DecodedReading.OfValue("cat-score", Measured, 12.5, "{score}"), Context).Error);
        Assert.Equal("medication-dose-taken: value 2 is not 0 (no) or 1 (yes)", factory.Create(DecodedReading.OfValue("medication-dose-taken", Measured, 2, "1"), Context).Error);
    }

    [Fact]
    public void CreateAll_OneImpossibleReading_KeepsTheOthersAndSaysWhy()
    {
        var result = factory.CreateAll(
            [
                DecodedReading.OfValue("heart-rate", Measured, 72, "/min"),
                DecodedReading.OfValue("oxygen-saturation", Measured, 104, "%"),
                DecodedReading.OfValue("body-weight", Measured, 71.3, "kg"),
            ],
            Context);

        Assert.Equal(["8867-4", "29463-7"], result.Observations.Select(o => o.Code!.Coding[0].Code));
        Assert.Equal(["oxygen-saturation 104 % is impossible (allowed above 0 up to 100 %)"], result.Rejections);
    }

    private Observation Create(DecodedReading reading)
    {
        var outcome = factory.Create(reading, Context);
        Assert.True(outcome.Succeeded, outcome.Error);
        return outcome.Observation!;
    }
}
