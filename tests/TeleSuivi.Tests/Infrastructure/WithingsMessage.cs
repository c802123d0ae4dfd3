using System.Globalization;

namespace TeleSuivi.Tests.Infrastructure;

/// <summary>A message of the Withings profile (<c>ingest/withings</c>): measure groups of whole values (unit exponent 0).</summary>
public static class WithingsMessage
{
    /// <summary>One measure group per reading, in this order: one message, hence one stored batch on one worker.</summary>
    public static string Of(params (DateTimeOffset Time, int Type, double Value)[] readings) =>
        $$"""{"measuregrps":[{{string.Join(',', readings.Select(r =>
            $$"""{"date":{{r.Time.ToUnixTimeSeconds()}},"measures":[{"value":{{r.Value.ToString(CultureInfo.InvariantCulture)}},"type":{{r.Type}},"unit":0}]}"""))}}]}""";
}
