using System.Globalization;

namespace TeleSuivi.Devices.Gatt;

/// <summary>
/// Gathers the readings of one payload, leaves out the values that are not measurements (NaN, NRes, infinities) and
/// turns "nothing measurable left" into a failure that names every value it left out.
/// </summary>
internal sealed class ReadingCollector(string characteristic, DateTimeOffset? time, IReadOnlyDictionary<string, string>? qualifiers)
{
    private readonly List<DecodedReading> readings = [];
    private readonly List<string> leftOut = [];

    /// <summary>Adds <paramref name="value"/> to <paramref name="panel"/> if it is a number; otherwise records why not.</summary>
    public void AddComponent(List<DecodedValue> panel, string measure, string field, Ieee11073Value value, string unit)
    {
        if (value.IsNumber)
        {
            panel.Add(new DecodedValue(measure, value.ToDouble(), unit));
        }
        else
        {
            leftOut.Add($"{field} is {value.Describe()}");
        }
    }

    public void AddPanel(string measure, List<DecodedValue> panel)
    {
        if (panel.Count > 0)
        {
            readings.Add(new DecodedReading(measure, time, panel) { Qualifiers = qualifiers });
        }
    }

    public void AddValue(string measure, string field, Ieee11073Value value, string unit)
    {
        if (value.IsNumber)
        {
            AddValue(measure, value.ToDouble(), unit);
        }
        else
        {
            leftOut.Add($"{field} is {value.Describe()}");
        }
    }

    public void AddValue(string measure, double value, string unit, TimeSpan beforeReceipt = default) =>
        readings.Add(DecodedReading.OfValue(measure, time, value, unit) with { Qualifiers = qualifiers, TimeBeforeReceipt = beforeReceipt });

    public void LeaveOut(string reason) => leftOut.Add(reason);

    public DecodeOutcome ToOutcome()
    {
        if (readings.Count > 0)
        {
            return DecodeOutcome.Success(readings);
        }

        var reasons = leftOut.Count > 0 ? string.Join(", ", leftOut) : "no value";
        return DecodeOutcome.Failure($"{characteristic}: {reasons}: no measurement");
    }
}

/// <summary>Builds the qualifier dictionary of a reading, or null when the payload says nothing about how it was taken.</summary>
internal sealed class QualifierSet
{
    private readonly Dictionary<string, string> qualifiers = new(StringComparer.Ordinal);
    private readonly List<string> deviceStatus = [];

    public void Set(string key, string value) => qualifiers[key] = value;

    public void Set(string key, int value) => qualifiers[key] = value.ToString(CultureInfo.InvariantCulture);

    public void AddDeviceStatus(string flag) => deviceStatus.Add(flag);

    public IReadOnlyDictionary<string, string>? Build()
    {
        if (deviceStatus.Count > 0)
        {
            qualifiers[QualifierKeys.DeviceStatus] = string.Join(',', deviceStatus);
        }

        return qualifiers.Count > 0 ? qualifiers : null;
    }
}
