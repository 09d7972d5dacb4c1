using System.Globalization;
using System.Text;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>
/// Long strings split over numbered string properties (<c>{prefix}0..{prefix}n</c>, each at most
/// <see cref="TableLimits.MaxStringLength"/> characters) with the count in <c>{prefix}N</c>.
/// </summary>
internal static class Chunks
{
    /// <summary>Chunks per entity: 14 × 32K characters ≈ 900 KB by the service's size formula, under the 1 MiB entity limit.</summary>
    public const int MaxPerEntity = 14;

    public const int Size = TableLimits.MaxStringLength;

    public static int CountFor(int length) => Math.Max(1, (length + Size - 1) / Size);

    /// <summary>Most characters one entity holds through <see cref="Write"/>.</summary>
    public const int MaxCharsPerEntity = MaxPerEntity * Size;

    /// <summary>
    /// Writes chunks of <paramref name="value"/> from <paramref name="firstChunk"/> into the entity. Unless
    /// <paramref name="partial"/> (the caller spreads the value over several rows), a value that does not fit is
    /// refused rather than silently cut.
    /// </summary>
    public static void Write(TableEntity entity, string prefix, string value, int firstChunk = 0, int maxChunks = MaxPerEntity, bool partial = false)
    {
        var total = CountFor(value.Length);
        if (!partial && total - firstChunk > maxChunks)
        {
            throw new StateTooLargeException(
                $"Row {entity.RowKey}: property {prefix} is {value.Length} characters; one row holds {maxChunks * Size}.");
        }

        var n = Math.Min(maxChunks, total - firstChunk);
        for (var i = 0; i < n; i++)
        {
            var start = (firstChunk + i) * Size;
            var length = Math.Min(Size, value.Length - start);
            entity[prefix + i.ToString(CultureInfo.InvariantCulture)] = length <= 0 ? "" : value.Substring(start, length);
        }

        entity[prefix + "N"] = n;
    }

    public static void Append(StringBuilder sb, TableEntity entity, string prefix)
    {
        var n = entity.GetInt32(prefix + "N") ?? 0;
        for (var i = 0; i < n; i++)
        {
            sb.Append(entity.GetString(prefix + i.ToString(CultureInfo.InvariantCulture)));
        }
    }

    public static string? Read(TableEntity entity, string prefix)
    {
        if (entity.GetInt32(prefix + "N") is null)
        {
            return null;
        }

        var sb = new StringBuilder();
        Append(sb, entity, prefix);
        return sb.ToString();
    }
}

/// <summary>Composite key helpers: every id part is <see cref="TableKey.Encode"/>d and parts are joined by <c>|</c>.</summary>
internal static class Keys
{
    public static string Join(params string[] parts) => string.Join('|', parts.Select(TableKey.Encode));

    public static string Request(string tenantId, string requestId) => Join(tenantId, requestId);

    public static string Decode(string part) => TableKey.TryDecode(part, out var value) ? value : part;
}
