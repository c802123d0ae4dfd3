using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Tests.Devices.Normalization;

public sealed class UnitConverterTests
{
    private const double GlucoseMolarMass = 180.156;

    [Theory]
    // Pressure: the conventional millimetre of mercury is 133.322387415 Pa.
    [InlineData(120, "mm[Hg]", "kPa", 15.9986864898)]
    [InlineData(16, "kPa", "mm[Hg]", 120.009852135)]
    [InlineData(1, "mm[Hg]", "mm[Hg]", 1)]
    [InlineData(10, "cm[H2O]", "kPa", 0.980665)]
    [InlineData(10, "cm[H2O]", "mm[Hg]", 7.355591353)]
    [InlineData(13332.2387415, "Pa", "mm[Hg]", 100)]
    // Temperature: °F and K are affine.
    [InlineData(98.6, "[degF]", "Cel", 37)]
    [InlineData(32, "[degF]", "Cel", 0)]
    [InlineData(-40, "[degF]", "Cel", -40)]
    [InlineData(37, "Cel", "[degF]", 98.6)]
    [InlineData(310.15, "K", "Cel", 37)]
    [InlineData(36.6, "Cel", "Cel", 36.6)]
    // Mass: the international avoirdupois pound is exactly 0.45359237 kg.
    [InlineData(1, "[lb_av]", "kg", 0.45359237)]
    [InlineData(160, "[lb_av]", "kg", 72.5747792)]
    [InlineData(16, "[oz_av]", "kg", 0.45359237)]
    [InlineData(72500, "g", "kg", 72.5)]
    [InlineData(72.5, "kg", "kg", 72.5)]
    // Length.
    [InlineData(1.75, "m", "cm", 175)]
    [InlineData(1750, "mm", "cm", 175)]
    [InlineData(1, "[in_i]", "cm", 2.54)]
    [InlineData(1, "[ft_i]", "cm", 30.48)]
    [InlineData(69, "[in_i]", "cm", 175.26)]
    // Volume flow and volume.
    [InlineData(2.5, "L/min", "L/min", 2.5)]
    [InlineData(500, "mL/min", "L/min", 0.5)]
    [InlineData(8, "L/s", "L/min", 480)]
    [InlineData(120, "L/h", "L/min", 2)]
    [InlineData(3200, "mL", "L", 3.2)]
    [InlineData(32, "dL", "L", 3.2)]
    // Dimensionless.
    [InlineData(0.97, "1", "%", 97)]
    [InlineData(97, "%", "1", 0.97)]
    [InlineData(1000, "[ppm]", "%", 0.1)]
    [InlineData(0.1, "%", "[ppm]", 1000)]
    [InlineData(850, "[ppb]", "[ppm]", 0.85)]
    // Counts per time.
    [InlineData(1.2, "/s", "/min", 72)]
    [InlineData(720, "/h", "/min", 12)]
    [InlineData(30, "/h", "/h", 30)]
    [InlineData(1440, "/d", "/min", 1)]
    // Durations.
    [InlineData(450, "min", "h", 7.5)]
    [InlineData(27000, "s", "h", 7.5)]
    [InlineData(1, "d", "h", 24)]
    [InlineData(0.85, "s", "ms", 850)]
    // Energy: the thermochemical calorie is 4.184 J; [Cal] is the nutrition Calorie (kcal).
    [InlineData(418.4, "kJ", "kcal", 100)]
    [InlineData(1, "kcal", "kJ", 4.184)]
    [InlineData(2000, "[Cal]", "kcal", 2000)]
    [InlineData(4184, "J", "kcal", 1)]
    [InlineData(1000, "cal", "kcal", 1)]
    // Mass concentrations (air).
    [InlineData(1, "mg/m3", "ug/m3", 1000)]
    [InlineData(12.5, "ug/m3", "ug/m3", 12.5)]
    [InlineData(1, "mg/dL", "mg/L", 10)]
    [InlineData(1, "g/dL", "g/L", 10)]
    // Substance concentrations.
    [InlineData(0.0055, "mol/L", "mmol/L", 5.5)]
    [InlineData(5500, "umol/L", "mmol/L", 5.5)]
    [InlineData(24.3, "kg/m2", "kg/m2", 24.3)]
    public void Convert_KnownUnits_GivesExactValue(double value, string from, string to, double expected)
    {
        var actual = UnitConverter.Convert(value, from, to);

        Assert.Equal(expected, actual, 1e-8);
    }

    [Theory]
    // 1 mmol/L of glucose = 18.0156 mg/dL; UCUM alone cannot convert, the molar mass does.
    [InlineData(180.156, "mg/dL", "mmol/L", 10)]
    [InlineData(100, "mg/dL", "mmol/L", 5.5507449099)]
    [InlineData(5.5, "mmol/L", "mg/dL", 99.0858)]
    [InlineData(1, "g/L", "mmol/L", 5.5507449099)]
    [InlineData(0.001, "kg/L", "mmol/L", 5.5507449099)]
    [InlineData(0.0055, "mol/L", "mg/dL", 99.0858)]
    public void Convert_GlucoseWithMolarMass_CrossesMassAndSubstance(double value, string from, string to, double expected)
    {
        var actual = UnitConverter.Convert(value, from, to, GlucoseMolarMass);

        Assert.Equal(expected, actual, 1e-8);
    }

    [Fact]
    public void Convert_MassToSubstanceWithoutMolarMass_FailsWithReason()
    {
        var ok = UnitConverter.TryConvert(100, "mg/dL", "mmol/L", null, out _, out var error);

        Assert.False(ok);
        Assert.Equal("unit 'mg/dL' (mass concentration) cannot be converted to 'mmol/L' (substance concentration) without the molar mass of the analyte", error);
    }

    [Theory]
    [InlineData("lbs", "kg", "unknown unit 'lbs' (not a UCUM unit TeleSuivi converts)")]
    [InlineData("kg", "st", "unknown unit 'st' (not a UCUM unit TeleSuivi converts)")]
    [InlineData("mmHg", "mm[Hg]", "unknown unit 'mmHg' (not a UCUM unit TeleSuivi converts)")]
    [InlineData("kg", "/min", "unit 'kg' (mass) cannot be converted to '/min' (count per time)")]
    [InlineData("Cel", "%", "unit 'Cel' (temperature) cannot be converted to '%' (dimensionless)")]
    [InlineData("L", "L/min", "unit 'L' (volume) cannot be converted to 'L/min' (volume flow)")]
    [InlineData("h", "/h", "unit 'h' (duration) cannot be converted to '/h' (count per time)")]
    public void Convert_UnknownOrIncompatibleUnit_FailsWithPreciseReason(string from, string to, string expected)
    {
        var exception = Assert.Throws<UnitConversionException>(() => UnitConverter.Convert(1, from, to));

        Assert.Equal(expected, exception.Message);
    }

    [Theory]
    [InlineData("{beats}/min", "/min", 72, 72)]
    [InlineData("{steps}/d", "/d", 8000, 8000)]
    [InlineData("{score}", "1", 12, 12)]
    public void Convert_AnnotatedUnit_IgnoresTheAnnotation(string from, string to, double value, double expected)
    {
        Assert.Equal(expected, UnitConverter.Convert(value, from, to), 1e-12);
    }

    [Theory]
    [InlineData(98.6, "[degF]", "Cel", "37.00")]
    [InlineData(120, "mg/dL", "mmol/L", "6.66")]
    [InlineData(16.5, "kPa", "mm[Hg]", "123.8")]
    [InlineData(160.4, "[lb_av]", "kg", "72.76")]
    [InlineData(1.75, "m", "cm", "175")]
    [InlineData(0.0066, "mol/L", "mmol/L", "6.6")]
    [InlineData(36.8, "Cel", "Cel", "36.8")]
    [InlineData(420, "min", "h", "7.00")]
    public void DecimalsAfter_Conversion_KeepsTheSourcePrecision(double value, string from, string to, string expected)
    {
        Assert.True(UnitConverter.TryGetConversion(from, to, GlucoseMolarMass, out var conversion, out _));

        var decimals = QuantityPrecision.DecimalsAfter(QuantityPrecision.DecimalsOf(value), conversion.Scale);
        var rounded = QuantityPrecision.ToDecimal(conversion.Apply(value), decimals);

        Assert.Equal(expected, rounded.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(36.800000000000004, 1)]
    [InlineData(72.5, 1)]
    [InlineData(120, 0)]
    [InlineData(0.0066, 4)]
    [InlineData(-40, 0)]
    public void DecimalsOf_FloatingNoise_IsIgnored(double value, int expected)
    {
        Assert.Equal(expected, QuantityPrecision.DecimalsOf(value));
    }

    [Fact]
    public void ToDecimal_NegativeValue_KeepsSignAndScale()
    {
        Assert.Equal("-17.78", QuantityPrecision.ToDecimal(-17.7777, 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
