using System.Text.Json;
using System.Text.Json.Serialization;

namespace TeleSuivi.Devices.Profiles;

// The shape of profile.json, exactly as ingest/README.md documents it. Unknown keys are rejected when a profile is
// loaded, so a misspelt key fails loudly instead of being ignored. A "field" is a JSON path (JSON profiles) or a
// CSV column name or 1-based number (CSV profiles); it is kept as a JsonElement and interpreted by the compiler.

internal sealed class ProfileDocument
{
    public string? Manufacturer { get; set; }

    public string? Description { get; set; }

    public string? Format { get; set; }

    public bool AllowEmpty { get; set; }

    public Dictionary<string, UnitAliasDocument>? Units { get; set; }

    public CsvDocument? Csv { get; set; }

    public string? Records { get; set; }

    public List<SkipDocument>? Skip { get; set; }

    public TimeDocument? Time { get; set; }

    public Dictionary<string, QualifierDocument>? Qualifiers { get; set; }

    public List<ValueDocument>? Values { get; set; }
}

internal sealed class CsvDocument
{
    public string? Delimiter { get; set; }

    public bool Header { get; set; }

    public int? Columns { get; set; }

    public string? DecimalSeparator { get; set; }

    public int SkipLines { get; set; }

    public string? Comment { get; set; }
}

internal sealed class SkipDocument
{
    public JsonElement? Field { get; set; }

    public List<string>? In { get; set; }
}

internal sealed class TimeDocument
{
    public JsonElement? Field { get; set; }

    public JsonElement? TimeOfDayField { get; set; }

    public string? Format { get; set; }

    public string? Pattern { get; set; }

    public string? Zone { get; set; }

    public JsonElement? ZoneField { get; set; }

    public bool Optional { get; set; }
}

internal sealed class QualifierDocument
{
    public JsonElement? Field { get; set; }

    public string? Value { get; set; }

    public Dictionary<string, string>? Map { get; set; }
}

internal sealed class ValueDocument
{
    public string? Items { get; set; }

    public JsonElement? Field { get; set; }

    public string? Measure { get; set; }

    public JsonElement? MeasureField { get; set; }

    public Dictionary<string, MeasureMapEntryDocument>? MeasureMap { get; set; }

    public string? Unit { get; set; }

    public JsonElement? UnitField { get; set; }

    public double? Scale { get; set; }

    public JsonElement? ExponentField { get; set; }

    public double? Offset { get; set; }

    public Dictionary<string, double>? ValueMap { get; set; }

    public List<double>? NoDataValues { get; set; }

    public bool Optional { get; set; }
}

/// <summary>A measure-map entry: <c>"body-weight"</c>, or an object with a unit, a scale, or <c>"ignore": true</c>.</summary>
[JsonConverter(typeof(MeasureMapEntryConverter))]
internal sealed class MeasureMapEntryDocument
{
    public string? Measure { get; set; }

    public string? Unit { get; set; }

    public double? Scale { get; set; }

    public double? Offset { get; set; }

    public bool Ignore { get; set; }
}

/// <summary>A unit alias: <c>"[lb_av]"</c>, or <c>{ "unit": "[lb_av]", "factor": 14 }</c> for a unit UCUM lacks (stone).</summary>
[JsonConverter(typeof(UnitAliasConverter))]
internal sealed class UnitAliasDocument
{
    public string? Unit { get; set; }

    public double Factor { get; set; } = 1;
}

internal sealed class MeasureMapEntryConverter : JsonConverter<MeasureMapEntryDocument>
{
    public override MeasureMapEntryDocument? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return new MeasureMapEntryDocument { Measure = reader.GetString() };
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("a measure-map entry is a measure key or an object { measure, unit, scale, offset, ignore }");
        }

        var entry = new MeasureMapEntryDocument();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "measure": entry.Measure = reader.GetString(); break;
                case "unit": entry.Unit = reader.GetString(); break;
                case "scale": entry.Scale = reader.GetDouble(); break;
                case "offset": entry.Offset = reader.GetDouble(); break;
                case "ignore": entry.Ignore = reader.GetBoolean(); break;
                default: throw new JsonException($"unknown key '{name}' in a measure-map entry (expected measure, unit, scale, offset, ignore)");
            }
        }

        return entry;
    }

    public override void Write(Utf8JsonWriter writer, MeasureMapEntryDocument value, JsonSerializerOptions options) =>
        throw new NotSupportedException();
}

internal sealed class UnitAliasConverter : JsonConverter<UnitAliasDocument>
{
    public override UnitAliasDocument? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return new UnitAliasDocument { Unit = reader.GetString() };
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("a unit alias is a UCUM code or an object { unit, factor }");
        }

        var alias = new UnitAliasDocument();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "unit": alias.Unit = reader.GetString(); break;
                case "factor": alias.Factor = reader.GetDouble(); break;
                default: throw new JsonException($"unknown key '{name}' in a unit alias (expected unit, factor)");
            }
        }

        return alias;
    }

    public override void Write(Utf8JsonWriter writer, UnitAliasDocument value, JsonSerializerOptions options) =>
        throw new NotSupportedException();
}
