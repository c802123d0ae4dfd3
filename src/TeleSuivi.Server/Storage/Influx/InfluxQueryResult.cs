using System.Globalization;
using System.Text.Json;

namespace TeleSuivi.Server.Storage.Influx;

/// <summary>
/// The JSON answer of <c>/query</c>: one result per statement, each with its series. Owns the parsed document:
/// dispose it when done with the rows.
/// </summary>
public sealed class InfluxQueryResult : IDisposable
{
    private readonly JsonDocument document;

    private InfluxQueryResult(JsonDocument document, IReadOnlyList<InfluxStatementResult> statements)
    {
        this.document = document;
        Statements = statements;
    }

    public IReadOnlyList<InfluxStatementResult> Statements { get; }

    /// <summary>The series of the first (usually only) statement.</summary>
    public IReadOnlyList<InfluxSeries> Series => Statements.Count == 0 ? [] : Statements[0].Series;

    public void Dispose() => document.Dispose();

    /// <summary>Parses an answer; throws <see cref="InfluxQueryException"/> when it or one of its statements carries an error.</summary>
    internal static InfluxQueryResult Parse(JsonDocument document, string query)
    {
        try
        {
            var root = document.RootElement;
            if (root.TryGetProperty("error", out var error))
            {
                throw new InfluxQueryException($"InfluxDB refused '{Abbreviate(query)}'", error.GetString() ?? "no reason given", null, error.GetString());
            }

            var statements = new List<InfluxStatementResult>();
            if (root.TryGetProperty("results", out var results))
            {
                foreach (var result in results.EnumerateArray())
                {
                    var statement = InfluxStatementResult.Parse(result);
                    if (statement.Error is { } statementError)
                    {
                        throw new InfluxQueryException(
                            $"InfluxDB could not run statement {statement.StatementId} of '{Abbreviate(query)}'", statementError, null, statementError);
                    }

                    statements.Add(statement);
                }
            }

            return new InfluxQueryResult(document, statements);
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    internal static string Abbreviate(string text) =>
        (text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 200), "…")).ReplaceLineEndings(" ");
}

public sealed class InfluxStatementResult
{
    private InfluxStatementResult(int statementId, IReadOnlyList<InfluxSeries> series, IReadOnlyList<string> messages, bool partial, string? error)
    {
        StatementId = statementId;
        Series = series;
        Messages = messages;
        Partial = partial;
        Error = error;
    }

    public int StatementId { get; }

    public IReadOnlyList<InfluxSeries> Series { get; }

    /// <summary>Warnings and notes the server attached (e.g. deprecations), as <c>level: text</c>.</summary>
    public IReadOnlyList<string> Messages { get; }

    /// <summary>True when the server cut the result short (e.g. its <c>max-row-limit</c>).</summary>
    public bool Partial { get; }

    internal string? Error { get; }

    internal static InfluxStatementResult Parse(JsonElement result)
    {
        var id = result.TryGetProperty("statement_id", out var idElement) && idElement.ValueKind == JsonValueKind.Number ? idElement.GetInt32() : 0;
        var error = result.TryGetProperty("error", out var errorElement) ? errorElement.GetString() : null;
        var partial = result.TryGetProperty("partial", out var partialElement) && partialElement.ValueKind == JsonValueKind.True;
        var series = new List<InfluxSeries>();
        if (result.TryGetProperty("series", out var seriesElement))
        {
            foreach (var item in seriesElement.EnumerateArray())
            {
                var one = InfluxSeries.Parse(item);
                partial |= one.Partial;
                series.Add(one);
            }
        }

        var messages = new List<string>();
        if (result.TryGetProperty("messages", out var messagesElement))
        {
            foreach (var message in messagesElement.EnumerateArray())
            {
                var level = message.TryGetProperty("level", out var l) ? l.GetString() : null;
                var text = message.TryGetProperty("text", out var t) ? t.GetString() : null;
                messages.Add($"{level}: {text}");
            }
        }

        return new InfluxStatementResult(id, series, messages, partial, error);
    }
}

/// <summary>One series of a result: its measurement, the tags it was grouped by, its columns and rows.</summary>
public sealed class InfluxSeries
{
    private readonly Dictionary<string, int> columnIndex;

    private InfluxSeries(string name, IReadOnlyDictionary<string, string> tags, IReadOnlyList<string> columns, IReadOnlyList<InfluxRow> rows, bool partial)
    {
        Name = name;
        Tags = tags;
        Columns = columns;
        Rows = rows;
        Partial = partial;
        columnIndex = new Dictionary<string, int>(columns.Count, StringComparer.Ordinal);
        for (var i = 0; i < columns.Count; i++)
        {
            columnIndex.TryAdd(columns[i], i);
        }
    }

    public string Name { get; }

    /// <summary>The tag values of the series (the <c>GROUP BY</c> tags); empty without grouping.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; }

    public IReadOnlyList<string> Columns { get; }

    public IReadOnlyList<InfluxRow> Rows { get; }

    public bool Partial { get; }

    /// <summary>The position of a column, or -1.</summary>
    public int IndexOf(string column) => columnIndex.TryGetValue(column, out var index) ? index : -1;

    internal static InfluxSeries Parse(JsonElement series)
    {
        var name = series.TryGetProperty("name", out var n) ? n.GetString() ?? string.Empty : string.Empty;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (series.TryGetProperty("tags", out var tagElement) && tagElement.ValueKind == JsonValueKind.Object)
        {
            foreach (var tag in tagElement.EnumerateObject())
            {
                tags[tag.Name] = tag.Value.GetString() ?? string.Empty;
            }
        }

        var columns = new List<string>();
        if (series.TryGetProperty("columns", out var columnElement))
        {
            foreach (var column in columnElement.EnumerateArray())
            {
                columns.Add(column.GetString() ?? string.Empty);
            }
        }

        var rows = new List<InfluxRow>();
        if (series.TryGetProperty("values", out var values))
        {
            foreach (var row in values.EnumerateArray())
            {
                rows.Add(new InfluxRow(row));
            }
        }

        var partial = series.TryGetProperty("partial", out var p) && p.ValueKind == JsonValueKind.True;
        return new InfluxSeries(name, tags, columns, rows, partial);
    }
}

/// <summary>One row of a series: cells by column position, typed as the caller knows the schema.</summary>
public readonly struct InfluxRow
{
    private readonly JsonElement cells;

    internal InfluxRow(JsonElement cells) => this.cells = cells;

    public int Count => cells.GetArrayLength();

    public JsonElement this[int column] => cells[column];

    public bool IsNull(int column) => column < 0 || cells[column].ValueKind == JsonValueKind.Null;

    public string? GetString(int column) => IsNull(column) ? null : cells[column].GetString();

    /// <summary>A number cell; InfluxDB writes a float with an integral value without a decimal point.</summary>
    public double? GetDouble(int column) => IsNull(column) ? null : cells[column].GetDouble();

    public long? GetInt64(int column) => IsNull(column) ? null : cells[column].GetInt64();

    public bool? GetBoolean(int column) => IsNull(column) ? null : cells[column].GetBoolean();

    public override string ToString() => cells.GetRawText();

    /// <summary>A time cell of a query made with an epoch, as that many units since 1970.</summary>
    public long GetEpoch(int column) => IsNull(column)
        ? throw new InvalidOperationException("the time cell is null")
        : cells[column].ValueKind == JsonValueKind.Number
            ? cells[column].GetInt64()
            : throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"the time cell is '{cells[column]}': query with an epoch"));
}
