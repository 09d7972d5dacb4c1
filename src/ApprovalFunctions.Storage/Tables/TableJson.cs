using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Entity JSON in the OData v3 "minimal metadata" dialect the Table service speaks: writes carry
/// <c>Name@odata.type</c> for types JSON cannot express (Int64, DateTime, Guid, Binary, Double), reads
/// get the same annotations back, so every type round-trips exactly.
/// </summary>
internal static class TableJson
{
    private const string DateFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    public static void WriteEntity(IBufferWriter<byte> output, TableEntity entity)
    {
        using var w = new Utf8JsonWriter(output, WriterOptions);
        w.WriteStartObject();
        w.WriteString("PartitionKey"u8, entity.PartitionKey);
        w.WriteString("RowKey"u8, entity.RowKey);
        foreach (var (name, value) in entity.Properties)
        {
            switch (value)
            {
                case string s:
                    w.WriteString(name, s);
                    break;
                case int i:
                    w.WriteNumber(name, i);
                    break;
                case long l:
                    w.WriteString(name + "@odata.type", "Edm.Int64");
                    w.WriteString(name, l.ToString(CultureInfo.InvariantCulture));
                    break;
                case double d:
                    w.WriteString(name + "@odata.type", "Edm.Double");
                    if (double.IsFinite(d))
                    {
                        w.WriteNumber(name, d);
                    }
                    else
                    {
                        w.WriteString(name, double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
                    }

                    break;
                case bool b:
                    w.WriteBoolean(name, b);
                    break;
                case DateTimeOffset dt:
                    w.WriteString(name + "@odata.type", "Edm.DateTime");
                    w.WriteString(name, dt.UtcDateTime.ToString(DateFormat, CultureInfo.InvariantCulture));
                    break;
                case Guid g:
                    w.WriteString(name + "@odata.type", "Edm.Guid");
                    w.WriteString(name, g.ToString("D"));
                    break;
                case byte[] bytes:
                    w.WriteString(name + "@odata.type", "Edm.Binary");
                    w.WriteBase64String(name, bytes);
                    break;
            }
        }

        w.WriteEndObject();
    }

    public static void WriteCreateTable(IBufferWriter<byte> output, string tableName)
    {
        using var w = new Utf8JsonWriter(output, WriterOptions);
        w.WriteStartObject();
        w.WriteString("TableName"u8, tableName);
        w.WriteEndObject();
    }

    public static string FormatDate(DateTimeOffset value) =>
        value.UtcDateTime.ToString(DateFormat, CultureInfo.InvariantCulture);

    public static TableEntity ReadEntity(ReadOnlySpan<byte> json, string? etagHeader)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        var entity = ReadEntity(ref reader);
        entity.ETag ??= etagHeader;
        return entity;
    }

    public static List<TableEntity> ReadQuery(ReadOnlySpan<byte> json)
    {
        var list = new List<TableEntity>();
        var reader = new Utf8JsonReader(json);
        reader.Read(); // StartObject
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("value"u8))
            {
                reader.Read(); // StartArray
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    list.Add(ReadEntity(ref reader));
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return list;
    }

    /// <summary>Reads {"odata.error":{"code":..,"message":{"value":..}}}; tolerant of anything else.</summary>
    public static (string? Code, string? Message) ReadError(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            if (doc.RootElement.TryGetProperty("odata.error", out var error))
            {
                var code = error.TryGetProperty("code", out var c) ? c.GetString() : null;
                string? message = null;
                if (error.TryGetProperty("message", out var m))
                {
                    message = m.ValueKind == JsonValueKind.Object && m.TryGetProperty("value", out var v) ? v.GetString() : m.ToString();
                }

                return (code, message);
            }
        }
        catch (JsonException)
        {
            // Not JSON (e.g. an XML auth error from a proxy): the caller falls back to the status line.
        }

        return (null, null);
    }

    private static TableEntity ReadEntity(ref Utf8JsonReader reader)
    {
        string? pk = null, rk = null, etag = null;
        DateTimeOffset? timestamp = null;
        Dictionary<string, string>? types = null;
        var raw = new List<(string Name, JsonTokenType Token, string? Text, double Number, bool IsInt, int Int)>();

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (name.EndsWith("@odata.type", StringComparison.Ordinal))
            {
                (types ??= new(StringComparer.Ordinal))[name[..^"@odata.type".Length]] = reader.GetString()!;
                continue;
            }

            switch (name)
            {
                case "PartitionKey":
                    pk = reader.GetString();
                    continue;
                case "RowKey":
                    rk = reader.GetString();
                    continue;
                case "odata.etag":
                    etag = reader.GetString();
                    continue;
                case "Timestamp":
                    timestamp = ParseDate(reader.GetString()!);
                    continue;
            }

            if (name.StartsWith("odata.", StringComparison.Ordinal))
            {
                reader.Skip();
                continue;
            }

            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    raw.Add((name, JsonTokenType.String, reader.GetString(), 0, false, 0));
                    break;
                case JsonTokenType.Number:
                    var isInt = reader.TryGetInt32(out var i);
                    raw.Add((name, JsonTokenType.Number, null, isInt ? i : reader.GetDouble(), isInt, i));
                    break;
                case JsonTokenType.True or JsonTokenType.False:
                    raw.Add((name, reader.TokenType, null, 0, false, 0));
                    break;
                case JsonTokenType.Null:
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        var entity = new TableEntity(pk ?? "", rk ?? "") { ETag = etag, Timestamp = timestamp };
        foreach (var p in raw)
        {
            string? type = null;
            types?.TryGetValue(p.Name, out type);
            object value = p.Token switch
            {
                JsonTokenType.True => true,
                JsonTokenType.False => false,
                JsonTokenType.Number when type == "Edm.Double" => p.Number,
                JsonTokenType.Number when type == "Edm.Int64" => (long)p.Number,
                JsonTokenType.Number => p.IsInt ? (object)p.Int : p.Number,
                _ => type switch
                {
                    "Edm.Int64" => long.Parse(p.Text!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
                    "Edm.DateTime" => ParseDate(p.Text!),
                    "Edm.Guid" => Guid.Parse(p.Text!),
                    "Edm.Binary" => Convert.FromBase64String(p.Text!),
                    "Edm.Double" => p.Text switch
                    {
                        "NaN" => double.NaN,
                        "Infinity" => double.PositiveInfinity,
                        "-Infinity" => double.NegativeInfinity,
                        var t => double.Parse(t!, NumberStyles.Float, CultureInfo.InvariantCulture),
                    },
                    "Edm.Int32" => int.Parse(p.Text!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
                    "Edm.Boolean" => bool.Parse(p.Text!),
                    _ => p.Text!,
                },
            };
            entity.SetRaw(p.Name, value);
        }

        return entity;
    }

    private static DateTimeOffset ParseDate(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
