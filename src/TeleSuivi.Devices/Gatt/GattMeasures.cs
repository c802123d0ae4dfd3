namespace TeleSuivi.Devices.Gatt;

/// <summary>The measure-catalogue keys and UCUM units the GATT decoders produce.</summary>
internal static class GattMeasures
{
    public const string BloodPressure = "blood-pressure";
    public const string SystolicPressure = "systolic-pressure";
    public const string DiastolicPressure = "diastolic-pressure";
    public const string MeanArterialPressure = "mean-arterial-pressure";

    /// <summary>
    /// The pressure in the cuff while a blood-pressure measurement is under way (0x2A36). It is not a systolic pressure:
    /// filing it as one would put every inflation step into the patient's blood-pressure trend.
    /// </summary>
    public const string CuffPressure = "cuff-pressure";

    public const string HeartRate = "heart-rate";
    public const string RrInterval = "rr-interval";
    public const string EnergyExpended = "energy-expended";
    public const string OxygenSaturation = "oxygen-saturation";
    public const string PulseAmplitudeIndex = "pulse-amplitude-index";
    public const string BodyTemperature = "body-temperature";
    public const string BodyWeight = "body-weight";
    public const string BodyHeight = "body-height";
    public const string BodyMassIndex = "bmi";
    public const string Glucose = "glucose";

    /// <summary>
    /// The device-status flag of a value sent while the measurement is still under way (PLX "Measurement Ongoing",
    /// and every value of 0x2A36 and 0x2A1E).
    /// </summary>
    public const string MeasurementOngoing = "measurement-ongoing";
}

/// <summary>UCUM codes of the units devices send.</summary>
internal static class UcumUnits
{
    public const string MillimetreOfMercury = "mm[Hg]";
    public const string Kilopascal = "kPa";
    public const string PerMinute = "/min";
    public const string Millisecond = "ms";
    public const string Kilojoule = "kJ";
    public const string Percent = "%";
    public const string Celsius = "Cel";
    public const string Fahrenheit = "[degF]";
    public const string Kilogram = "kg";
    public const string Pound = "[lb_av]";
    public const string Metre = "m";
    public const string Inch = "[in_i]";
    public const string KilogramPerSquareMetre = "kg/m2";
    public const string KilogramPerLitre = "kg/L";
    public const string MolePerLitre = "mol/L";
}
