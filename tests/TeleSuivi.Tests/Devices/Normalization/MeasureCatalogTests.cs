using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Tests.Devices.Normalization;

public sealed class MeasureCatalogTests
{
    public static TheoryData<string> Keys() => [.. MeasureCatalog.All.Select(d => d.Key)];

    [Theory]
    // The keys and source units the GATT decoder produces.
    [InlineData("blood-pressure", "mm[Hg]")]
    [InlineData("systolic-pressure", "kPa")]
    [InlineData("diastolic-pressure", "mm[Hg]")]
    [InlineData("mean-arterial-pressure", "kPa")]
    [InlineData("heart-rate", "/min")]
    [InlineData("oxygen-saturation", "%")]
    [InlineData("body-temperature", "[degF]")]
    [InlineData("body-weight", "[lb_av]")]
    [InlineData("body-height", "[in_i]")]
    [InlineData("body-height", "m")]
    [InlineData("bmi", "kg/m2")]
    [InlineData("glucose", "kg/L")]
    [InlineData("glucose", "mol/L")]
    [InlineData("energy-expended", "kJ")]
    [InlineData("pulse-amplitude-index", "%")]
    [InlineData("rr-interval", "ms")]
    public void TryGet_GattMeasure_ExistsAndAcceptsTheGattUnit(string key, string gattUnit)
    {
        Assert.True(MeasureCatalog.TryGet(key, out var definition));
        Assert.True(
            UnitConverter.TryGetConversion(gattUnit, definition.Unit, definition.MolarMass, out _, out var error),
            error);
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void All_EveryMeasure_IsCodedConsistently(string key)
    {
        var definition = MeasureCatalog.Get(key);

        Assert.Matches("^[a-z0-9]+(-[a-z0-9]+)*$", definition.Key);
        Assert.True(UnitConverter.IsKnown(definition.Unit), $"{key}: canonical unit {definition.Unit} is unknown");
        foreach (var coding in new[] { definition.Code }.Concat(definition.AdditionalCodings)
                     .Concat(definition.SpecimenVariants.Where(v => v.Code is not null).Select(v => v.Code!)))
        {
            switch (coding.System)
            {
                case MeasureCatalog.Loinc:
                    Assert.True(HasValidLoincCheckDigit(coding.Code), $"{key}: {coding.Code} has a wrong LOINC check digit");
                    break;
                case MeasureCatalog.Mdc:
                    Assert.Matches("^[0-9]{5,6}$", coding.Code);
                    Assert.StartsWith("MDC_", coding.Display, StringComparison.Ordinal);
                    break;
                case MeasureCatalog.LocalSystem:
                    Assert.Equal(coding.Code, coding.Code.ToLowerInvariant());
                    break;
                default:
                    Assert.Fail($"{key}: unexpected code system {coding.System}");
                    break;
            }

            Assert.False(string.IsNullOrWhiteSpace(coding.Display));
        }

        foreach (var component in definition.Components)
        {
            Assert.True(MeasureCatalog.TryGet(component, out var part), $"{key}: component {component} is missing");
            Assert.False(part.IsPanel);
            Assert.True(MeasureCatalog.TryGetPanelOf(component, out var panel) && panel == key);
        }
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void All_EveryNumericMeasure_HasAPlausibleRange(string key)
    {
        // The range is what rejects a corrupt exponent before it reaches decimal arithmetic or a chart.
        var definition = MeasureCatalog.Get(key);
        if (definition.IsPanel || definition.Kind == MeasureValueKind.YesNo)
        {
            return;
        }

        Assert.NotNull(definition.Range);
    }

    [Theory]
    [InlineData("heart-rate", "8867-4")]
    [InlineData("systolic-pressure", "8480-6")]
    [InlineData("diastolic-pressure", "8462-4")]
    [InlineData("mean-arterial-pressure", "8478-0")]
    [InlineData("blood-pressure", "85354-9")]
    [InlineData("oxygen-saturation", "59408-5")]
    [InlineData("body-temperature", "8310-5")]
    [InlineData("body-weight", "29463-7")]
    [InlineData("body-height", "8302-2")]
    [InlineData("bmi", "39156-5")]
    [InlineData("respiratory-rate", "9279-1")]
    [InlineData("peak-expiratory-flow", "19935-6")]
    [InlineData("fev1", "20150-9")]
    [InlineData("oxygen-flow-rate", "3151-8")]
    [InlineData("glucose", "14743-9")]
    public void Get_VitalSign_HasTheFhirLoincCode(string key, string loinc)
    {
        var definition = MeasureCatalog.Get(key);

        Assert.Equal(MeasureCatalog.Loinc, definition.Code.System);
        Assert.Equal(loinc, definition.Code.Code);
    }

    [Fact]
    public void Get_OxygenSaturation_CarriesTheCodeTheVitalSignsProfileRequires()
    {
        var definition = MeasureCatalog.Get("oxygen-saturation");

        Assert.Contains(definition.AdditionalCodings, c => c.System == MeasureCatalog.Loinc && c.Code == "2708-6");
    }

    [Fact]
    public void Get_UnknownKey_Throws()
    {
        Assert.Throws<KeyNotFoundException>(() => MeasureCatalog.Get("blood-sugar"));
    }

    [Theory]
    [InlineData("oxygen-saturation", 100, true)]
    [InlineData("oxygen-saturation", 100.5, false)]
    [InlineData("oxygen-saturation", 0, false)]
    [InlineData("heart-rate", 0, false)]
    [InlineData("heart-rate", 399, true)]
    [InlineData("heart-rate", 400, false)]
    [InlineData("body-temperature", 45, false)]
    [InlineData("body-temperature", 25, false)]
    [InlineData("body-temperature", 41.9, true)]
    [InlineData("body-weight", 0, false)]
    [InlineData("body-weight", 500, true)]
    [InlineData("body-weight", 500.1, false)]
    public void Range_Limits_SeparateImpossibleFromAbnormal(string key, double value, bool plausible)
    {
        Assert.Equal(plausible, MeasureCatalog.Get(key).Range!.Contains(value));
    }

    /// <summary>LOINC's mod-10 check digit (the Luhn algorithm), which catches a mistyped digit.</summary>
    private static bool HasValidLoincCheckDigit(string code)
    {
        var dash = code.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || dash != code.Length - 2)
        {
            return false;
        }

        var sum = 0;
        for (var i = dash - 1; i >= 0; i--)
        {
            var digit = code[i] - '0';
            if ((dash - 1 - i) % 2 == 0)
            {
                digit *= 2;
                digit = (digit / 10) + (digit % 10);
            }

            sum += digit;
        }

        return (10 - (sum % 10)) % 10 == code[^1] - '0';
    }
}
