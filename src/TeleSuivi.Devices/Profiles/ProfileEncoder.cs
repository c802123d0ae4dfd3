using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using TeleSuivi.Devices.Normalization;

namespace TeleSuivi.Devices.Profiles;

/// <summary>A reading the encoder cannot write in a manufacturer's format, with the manufacturer and the reason.</summary>
public sealed class ProfileEncodingException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One measurement session to encode: values taken together at one time (a blood pressure with its pulse, a
/// weighing with its body composition), each a catalogue measure key with its value in the measure's canonical
/// unit (<see cref="MeasureCatalog"/>: kg, mm[Hg], Cel, mmol/L, …). A panel is given by its components
/// (systolic-pressure and diastolic-pressure, optionally mean-arterial-pressure).
/// </summary>
/// <param name="Qualifiers">How it was taken (<see cref="QualifierKeys"/>, or "method"); each must be one the profile can write.</param>
public sealed record ReadingToEncode(DateTimeOffset Time, IReadOnlyDictionary<string, double> Values, IReadOnlyDictionary<string, string>? Qualifiers = null)
{
    public static ReadingToEncode Of(string measure, double value, DateTimeOffset time) =>
        new(time, new Dictionary<string, double>(StringComparer.Ordinal) { [measure] = value });
}

/// <summary>How to encode, beyond the readings.</summary>
public sealed record EncodeOptions
{
    public static EncodeOptions Default { get; } = new();

    /// <summary>
    /// The device's time zone: written in the zone field of profiles that have one (else <see cref="ProfileEncoder.DefaultZoneId"/>),
    /// and the offset of ISO-8601 times (else the offset of the reading's <see cref="DateTimeOffset"/>). Profiles with a
    /// fixed zone use theirs.
    /// </summary>
    public TimeZoneInfo? Zone { get; init; }

    /// <summary>
    /// Varies what the format leaves open: which unit alias (lbs, kg or st), which map key, the order of CSV columns.
    /// Null takes the first of each, in profile order.
    /// </summary>
    public Random? Random { get; init; }
}

/// <summary>A measure a profile can write.</summary>
/// <param name="Units">The units the payload carries it in: the UCUM code of a fixed unit, or the spellings a unit field may take.</param>
/// <param name="Required">Every reading must carry it: the profile reads it in every record and has no no-data code.</param>
public sealed record EncodableMeasure(string Measure, IReadOnlyList<string> Units, bool Required);

/// <summary>How a profile writes times.</summary>
/// <param name="Format">"epoch-s", "epoch-ms", "iso-8601", "local", or "none" (the decoder then takes the receive time).</param>
/// <param name="Precision">The finest time the format keeps (1 ms … 1 day); a time is truncated to it. Zero for "none".</param>
/// <param name="Zone">The zone of local times when the profile fixes it.</param>
/// <param name="ZoneInPayload">True when each record names its zone (then <see cref="EncodeOptions.Zone"/> is written).</param>
public sealed record TimeEncoding(string Format, TimeSpan Precision, TimeZoneInfo? Zone, bool ZoneInPayload);

/// <summary>
/// The inverse of one manufacturer profile: writes readings as payloads in that manufacturer's format, such that the
/// profile's decoder reads back the same measures, values (to the format's precision) and times. Data-driven: it
/// follows the compiled profile (records, items, time format, measure maps, units, scale, exponent, offset, value
/// maps, no-data codes, qualifiers, skip rules, CSV layout) and has no code per manufacturer.
/// </summary>
/// <remarks>
/// Every payload is decoded again before it is returned: a payload that would not read back as intended is an
/// exception, never a publication. Instances are immutable and thread-safe (a <see cref="EncodeOptions.Random"/>
/// is not: give each thread its own).
/// </remarks>
public sealed class ProfileEncoder
{
    /// <summary>The zone written in a profile's zone field when <see cref="EncodeOptions.Zone"/> is not given.</summary>
    public const string DefaultZoneId = "Europe/Paris";

    private static readonly DateTimeOffset ProbeTime = new(2026, 1, 15, 8, 30, 0, TimeSpan.Zero);

    private readonly CompiledProfile profile;
    private readonly ProfileDecoder decoder;
    private readonly EncoderTime time;
    private readonly EncoderLayout layout;
    private readonly EncoderRecordWriter writer;
    private readonly Dictionary<string, List<Route>> routes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> unencodable = new(StringComparer.Ordinal);
    private readonly List<EncodableMeasure> measures = [];

    internal ProfileEncoder(CompiledProfile profile)
    {
        this.profile = profile;
        decoder = new ProfileDecoder(profile);
        time = new EncoderTime(profile.Manufacturer, profile.Time);
        layout = new EncoderLayout(profile);
        writer = new EncoderRecordWriter(profile, new EncoderFields(profile, layout.EnclosingLevels), time, layout.WildcardCount);
        for (var index = 0; index < profile.Values.Count; index++)
        {
            var rule = profile.Values[index];
            var targets = rule.Fixed is { } target
                ? [(target, (string?)null)]
                : rule.TextMap!.Where(p => !p.Value.Ignore).Select(p => (p.Value, (string?)p.Key));
            foreach (var (measureTarget, key) in targets)
            {
                if (!routes.TryGetValue(measureTarget.Measure, out var list))
                {
                    routes[measureTarget.Measure] = list = [];
                }

                list.Add(new Route(index, measureTarget, key));
            }
        }

        RequiredMeasures = [.. profile.Values
            .Where(v => v.Items is null && v.Fixed is not null && !v.Optional && v.NoDataValues is not { Count: > 0 })
            .Select(v => v.Fixed!.Measure).Distinct(StringComparer.Ordinal)];
        Time = new TimeEncoding(time.Format, time.Precision, time.Zone, time.ZoneInPayload);
        Qualifiers = profile.Qualifiers.ToDictionary(
            q => q.Key,
            q => q.Field is null ? [q.Value!] : q.Map?.Values.Distinct(StringComparer.Ordinal).ToList() ?? (IReadOnlyList<string>?)null,
            StringComparer.Ordinal);
        Probe();
    }

    public string Manufacturer => profile.Manufacturer;

    /// <summary>The measures this profile can write, sorted, with their units.</summary>
    public IReadOnlyList<EncodableMeasure> Measures => measures;

    /// <summary>The keys of <see cref="Measures"/>.</summary>
    public IReadOnlyList<string> EncodableMeasures => [.. measures.Select(m => m.Measure)];

    /// <summary>Measures every reading must carry (e.g. systolic and diastolic pressure for a blood-pressure monitor).</summary>
    public IReadOnlyList<string> RequiredMeasures { get; }

    public TimeEncoding Time { get; }

    /// <summary>The qualifiers a reading may ask for: key → the values the profile can write (null: any text).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>?> Qualifiers { get; }

    /// <summary>True when one payload holds several records (a JSON batch, CSV lines); false: one record per payload.</summary>
    public bool Batches => layout.HoldsSeveralRecords;

    /// <summary>Compiles a profile.json and its encoder; <paramref name="manufacturer"/> is the folder name.</summary>
    public static ProfileEncoder Compile(string manufacturer, ReadOnlySpan<byte> profileJson) =>
        new(ProfileCompiler.Compile(manufacturer, profileJson));

    /// <summary>True when the profile can write <paramref name="measure"/>, a value measure or a panel (all its required components).</summary>
    public bool CanEncode(string measure) =>
        MeasureCatalog.TryGet(measure, out var definition) && definition.IsPanel
            ? definition.RequiredComponents.All(CanEncode)
            : measures.Exists(m => m.Measure == measure);

    /// <summary>Why <paramref name="measure"/> cannot be written, or null when it can.</summary>
    public string? WhyNot(string measure) =>
        CanEncode(measure) ? null
        : !MeasureCatalog.TryGet(measure, out var definition) ? $"'{measure}' is not a measure of the catalogue"
        : definition.IsPanel ? string.Join("; ", definition.RequiredComponents.Select(WhyNot).Where(r => r is not null))
        : unencodable.TryGetValue(measure, out var reason) ? reason
        : "no value of the profile reads it";

    /// <summary>One reading as one payload.</summary>
    public byte[] Encode(ReadingToEncode reading, EncodeOptions? options = null) => Encode([reading], options);

    /// <summary>Readings as one payload (a batch); throws when the profile needs several payloads for them.</summary>
    public byte[] Encode(IReadOnlyList<ReadingToEncode> readings, EncodeOptions? options = null)
    {
        var payloads = EncodeMessages(readings, options);
        return payloads.Count == 1
            ? payloads[0]
            : throw new ProfileEncodingException($"{Manufacturer}: these readings need {payloads.Count} payloads " +
                (Batches ? "(their shared fields differ)" : "(the profile holds one record per payload)") + ": use EncodeMessages");
    }

    /// <summary>Readings as few payloads as the profile allows, each to publish as one message.</summary>
    public IReadOnlyList<byte[]> EncodeMessages(IReadOnlyList<ReadingToEncode> readings, EncodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (readings.Count == 0)
        {
            throw new ProfileEncodingException($"{Manufacturer}: no reading to encode");
        }

        options ??= EncodeOptions.Default;
        var chooser = Chooser.From(options.Random);
        var plans = new List<RecordPlan>();
        foreach (var reading in readings)
        {
            plans.AddRange(Plan(reading, options, chooser.For(options.Random?.Next() ?? 0)));
        }

        var payloads = new List<byte[]>();
        List<(byte[] Payload, List<RecordPlan> Records)> laid;
        try
        {
            laid = layout.Lay(plans, chooser);
        }
        catch (InvalidOperationException ex)
        {
            throw new ProfileEncodingException($"{Manufacturer}: the payload cannot be laid out: {ex.Message}", ex);
        }

        foreach (var (payload, records) in laid)
        {
            Verify(payload, records);
            payloads.Add(payload);
        }

        return payloads;
    }

    /// <summary>The time the decoder will read for a reading taken at <paramref name="time"/> (truncated to the format's precision); null when the payloads carry no time.</summary>
    public DateTimeOffset? ReadBackTime(DateTimeOffset time, EncodeOptions? options = null) =>
        this.time.Write(time, (options ?? EncodeOptions.Default).Zone).ReadBack;

    /// <summary>Packs one reading into as few records as the profile allows: a panel's components always share one.</summary>
    private List<RecordPlan> Plan(ReadingToEncode reading, EncodeOptions options, Chooser chooser)
    {
        ArgumentNullException.ThrowIfNull(reading);
        if (time.Unusable is { } why)
        {
            throw new ProfileEncodingException($"{Manufacturer}: {why}");
        }

        if (layout.Unusable is { } layoutWhy)
        {
            throw new ProfileEncodingException($"{Manufacturer}: {layoutWhy}");
        }

        if (reading.Values is not { Count: > 0 })
        {
            throw new ProfileEncodingException($"{Manufacturer}: a reading needs at least one value");
        }

        var groups = new List<List<(string Measure, double Value)>>();
        foreach (var (measure, value) in reading.Values)
        {
            if (!MeasureCatalog.TryGet(measure, out var definition))
            {
                throw new ProfileEncodingException($"{Manufacturer}: '{measure}' is not a measure of the catalogue");
            }

            if (definition.IsPanel)
            {
                throw new ProfileEncodingException($"{Manufacturer}: {measure} is a panel: give its components ({string.Join(", ", definition.Components)})");
            }

            if (!double.IsFinite(value))
            {
                throw new ProfileEncodingException($"{Manufacturer}: {measure} {value} is not a number");
            }

            if (!routes.ContainsKey(measure) || unencodable.ContainsKey(measure))
            {
                throw new ProfileEncodingException($"{Manufacturer} cannot encode {measure}: {WhyNot(measure)} (it encodes {Describe(EncodableMeasures)})");
            }

            var group = MeasureCatalog.TryGetPanelOf(measure, out var panel)
                ? groups.Find(g => MeasureCatalog.TryGetPanelOf(g[0].Measure, out var other) && other == panel)
                : null;
            if (group is null)
            {
                groups.Add([(measure, value)]);
            }
            else
            {
                group.Add((measure, value));
            }
        }

        foreach (var group in groups)
        {
            if (MeasureCatalog.TryGetPanelOf(group[0].Measure, out var panel)
                && MeasureCatalog.Get(panel).RequiredComponents.FirstOrDefault(c => !group.Exists(g => g.Measure == c)) is { } missing)
            {
                throw new ProfileEncodingException($"{Manufacturer}: a {panel} reading needs {missing} too");
            }
        }

        // Most readings fit one record (a measure group, a BP reading with its pulse): try that first, in one build.
        if (TryOneRecord(reading, groups, options, chooser) is { } single)
        {
            return [single];
        }

        var records = new List<RecordContent>();
        foreach (var group in groups)
        {
            string? conflict = null;
            var placed = false;
            for (var i = 0; i < records.Count && !placed; i++)
            {
                if (TryAdd(records[i], group, options, chooser, out var merged, ref conflict))
                {
                    records[i] = merged;
                    placed = true;
                }
            }

            if (!placed)
            {
                if (!TryAdd(new RecordContent(reading.Time, reading.Qualifiers), group, options, chooser, out var created, ref conflict))
                {
                    throw new ProfileEncodingException($"{Manufacturer}: cannot write {string.Join(" + ", group.Select(g => g.Measure))}: {conflict}");
                }

                records.Add(created);
            }
        }

        var plans = new List<RecordPlan>(records.Count);
        foreach (var record in records)
        {
            plans.Add(writer.TryBuild(record, options, chooser, partial: false, out var conflict)
                ?? throw new ProfileEncodingException($"{Manufacturer}: cannot write {Describe(record.Entries.Select(e => e.Route.Measure))}: {conflict}" +
                    (RequiredMeasures.Count > 0 ? $" (every reading must carry {Describe(RequiredMeasures)})" : string.Empty)));
        }

        return plans;
    }

    /// <summary>Every value in one record through the first route of each whose rule is still free; null when that does not write.</summary>
    private RecordPlan? TryOneRecord(ReadingToEncode reading, List<List<(string Measure, double Value)>> groups, EncodeOptions options, Chooser chooser)
    {
        var record = new RecordContent(reading.Time, reading.Qualifiers);
        var used = new HashSet<int>();
        foreach (var (measure, value) in groups.SelectMany(g => g))
        {
            var route = chooser.Order("route." + measure, routes[measure]).FirstOrDefault(r => profile.Values[r.Rule].Items is not null || !used.Contains(r.Rule));
            if (route is null)
            {
                return null;
            }

            used.Add(route.Rule);
            record.Entries.Add(new RecordEntry(route, value));
        }

        return writer.TryBuild(record, options, chooser, partial: false, out _);
    }

    /// <summary>Adds a group of values to a record through the first combination of routes that writes without conflict.</summary>
    private bool TryAdd(RecordContent record, List<(string Measure, double Value)> group, EncodeOptions options, Chooser chooser, out RecordContent merged, ref string? conflict)
    {
        var options2 = group.Select(g => chooser.Order("route." + g.Measure, routes[g.Measure]).ToList()).ToList();
        foreach (var combination in Combinations(options2))
        {
            var used = record.Entries.Select(e => e.Route.Rule).ToList();
            var fits = true;
            for (var i = 0; i < combination.Count && fits; i++)
            {
                var rule = combination[i].Rule;
                fits = record.Entries.TrueForAll(e => e.Route.Measure != combination[i].Measure)
                    && (profile.Values[rule].Items is not null || !used.Contains(rule));
                used.Add(rule);
            }

            if (!fits)
            {
                conflict ??= "the profile reads one value per rule and record";
                continue;
            }

            var candidate = record.With(combination.Select((route, i) => new RecordEntry(route, group[i].Value)));
            if (writer.TryBuild(candidate, options, chooser, partial: true, out var why) is not null)
            {
                merged = candidate;
                return true;
            }

            conflict = why;
        }

        merged = record;
        return false;
    }

    private static IEnumerable<List<Route>> Combinations(List<List<Route>> options)
    {
        if (options.Count == 0)
        {
            yield return [];
            yield break;
        }

        foreach (var rest in Combinations(options[1..]))
        {
            foreach (var first in options[0])
            {
                yield return [first, .. rest];
            }
        }
    }

    /// <summary>Decodes the payload with the profile's own decoder: it must give exactly the planned readings.</summary>
    private void Verify(byte[] payload, List<RecordPlan> records)
    {
        var outcome = decoder.Decode(payload, new DecodeContext("encoder-check", ProbeTime));
        if (outcome.Error is { } error)
        {
            throw new ProfileEncodingException($"{Manufacturer}: the encoded payload does not decode ({error}): {Encoding.UTF8.GetString(payload)}");
        }

        var expected = records.SelectMany(r => r.Readings()).ToList();
        var unmatched = outcome.Readings.ToList();
        foreach (var reading in expected)
        {
            var index = unmatched.FindIndex(r => Same(r, reading));
            if (index < 0)
            {
                throw new ProfileEncodingException($"{Manufacturer}: the encoded payload does not decode to {Show(reading)} (it gives {string.Join("; ", outcome.Readings.Select(Show))}): {Encoding.UTF8.GetString(payload)}");
            }

            unmatched.RemoveAt(index);
        }

        if (unmatched.Count > 0)
        {
            throw new ProfileEncodingException($"{Manufacturer}: the encoded payload decodes to more readings than intended ({string.Join("; ", unmatched.Select(Show))}): {Encoding.UTF8.GetString(payload)}");
        }
    }

    private static bool Same(DecodedReading actual, DecodedReading expected) =>
        actual.Measure == expected.Measure
        && actual.Time == expected.Time
        && actual.Values.Count == expected.Values.Count
        && expected.Values.All(e => actual.Values.Any(a => a.Measure == e.Measure && a.Unit == e.Unit && Math.Abs(a.Value - e.Value) <= 1e-9 * Math.Max(1, Math.Abs(e.Value))))
        && (actual.Qualifiers ?? new Dictionary<string, string>()).Count == (expected.Qualifiers ?? new Dictionary<string, string>()).Count
        && (expected.Qualifiers ?? new Dictionary<string, string>()).All(q => actual.Qualifiers!.TryGetValue(q.Key, out var value) && value == q.Value);

    private static string Show(DecodedReading reading)
    {
        var values = string.Join(", ", reading.Values.Select(v => string.Create(CultureInfo.InvariantCulture, $"{v.Measure} {v.Value} {v.Unit}")));
        var qualifiers = reading.Qualifiers is { Count: > 0 } q ? $" [{string.Join(", ", q.Select(p => $"{p.Key}={p.Value}"))}]" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{reading.Measure} at {reading.Time:O}: {values}{qualifiers}");
    }

    private static string Describe(IEnumerable<string> items) => items.Any() ? string.Join(", ", items) : "nothing";

    /// <summary>Finds the encodable measures by encoding a typical value of each (with what the profile requires beside it).</summary>
    private void Probe()
    {
        foreach (var measure in routes.Keys.Order(StringComparer.Ordinal))
        {
            var values = new Dictionary<string, double>(StringComparer.Ordinal) { [measure] = Typical(measure) };
            if (MeasureCatalog.TryGetPanelOf(measure, out var panel))
            {
                foreach (var component in MeasureCatalog.Get(panel).RequiredComponents)
                {
                    values.TryAdd(component, Typical(component));
                }
            }

            foreach (var required in RequiredMeasures)
            {
                values.TryAdd(required, Typical(required));
            }

            try
            {
                EncodeMessages([new ReadingToEncode(ProbeTime, values)]);
            }
            catch (ProfileEncodingException ex)
            {
                unencodable[measure] = ex.Message.StartsWith(Manufacturer + ": ", StringComparison.Ordinal) ? ex.Message[(Manufacturer.Length + 2)..] : ex.Message;
                continue;
            }

            var units = MeasureCatalog.Get(measure).Kind != MeasureValueKind.Quantity
                ? []
                : routes[measure]
                    .SelectMany(r => r.Target.Unit is { } unit ? [unit] : writer.UnitNames(r.Rule, measure))
                    .Distinct(StringComparer.Ordinal)
                    .ToList();
            measures.Add(new EncodableMeasure(measure, units, RequiredMeasures.Contains(measure)));
        }
    }

    /// <summary>A value inside the catalogue's range (blood pressure: systolic 165 above diastolic 105, as their range midpoints are).</summary>
    private static double Typical(string measure)
    {
        var definition = MeasureCatalog.Get(measure);
        return definition.Kind switch
        {
            MeasureValueKind.YesNo => 1,
            _ when definition.Range is { } range => definition.Kind == MeasureValueKind.Score ? Math.Round((range.Min + range.Max) / 2) : (range.Min + range.Max) / 2,
            _ => 1,
        };
    }
}

/// <summary>The encoders of every manufacturer folder of an ingest directory, as <see cref="ProfileRegistry"/> loads their decoders.</summary>
public sealed class ProfileEncoderRegistry
{
    private readonly Dictionary<string, ProfileEncoder> encoders;

    private ProfileEncoderRegistry(Dictionary<string, ProfileEncoder> encoders) => this.encoders = encoders;

    /// <summary>The manufacturer names (folder names, MQTT topic segments), sorted.</summary>
    public IReadOnlyList<string> Manufacturers => [.. encoders.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Loads every <c>{manufacturer}/profile.json</c>; an invalid profile fails the load with every reason, like <see cref="ProfileRegistry.Load"/>.</summary>
    public static ProfileEncoderRegistry Load(string ingestDirectory)
    {
        if (!Directory.Exists(ingestDirectory))
        {
            throw new ProfileException($"the ingest directory {ingestDirectory} does not exist");
        }

        var encoders = new Dictionary<string, ProfileEncoder>(StringComparer.Ordinal);
        var errors = new List<string>();
        foreach (var folder in Directory.EnumerateDirectories(ingestDirectory).Order(StringComparer.Ordinal))
        {
            var file = Path.Combine(folder, ProfileRegistry.ProfileFileName);
            if (!File.Exists(file))
            {
                continue;
            }

            var manufacturer = Path.GetFileName(folder);
            try
            {
                encoders.Add(manufacturer, ProfileEncoder.Compile(manufacturer, File.ReadAllBytes(file)));
            }
            catch (ProfileException ex)
            {
                errors.Add($"{file}: {ex.Message}");
            }
        }

        return errors.Count == 0
            ? new ProfileEncoderRegistry(encoders)
            : throw new ProfileException($"{errors.Count} invalid profile(s):{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
    }

    public bool TryGet(string manufacturer, [NotNullWhen(true)] out ProfileEncoder? encoder) => encoders.TryGetValue(manufacturer, out encoder);

    public ProfileEncoder Get(string manufacturer) =>
        encoders.TryGetValue(manufacturer, out var encoder)
            ? encoder
            : throw new ProfileEncodingException($"'{manufacturer}' is not a manufacturer of the ingest directory (known: {string.Join(", ", Manufacturers)})");

    public bool CanEncode(string manufacturer, string measure) => TryGet(manufacturer, out var encoder) && encoder.CanEncode(measure);

    public IReadOnlyList<string> EncodableMeasures(string manufacturer) => Get(manufacturer).EncodableMeasures;

    /// <summary>The manufacturers whose format can carry <paramref name="measure"/> (a value measure or a panel), sorted.</summary>
    public IReadOnlyList<string> ManufacturersEncoding(string measure) => [.. Manufacturers.Where(m => encoders[m].CanEncode(measure))];

    public byte[] Encode(string manufacturer, ReadingToEncode reading, EncodeOptions? options = null) => Get(manufacturer).Encode(reading, options);

    public IReadOnlyList<byte[]> EncodeMessages(string manufacturer, IReadOnlyList<ReadingToEncode> readings, EncodeOptions? options = null) =>
        Get(manufacturer).EncodeMessages(readings, options);
}
