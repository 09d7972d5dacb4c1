using System.Globalization;
using System.Text;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Builds OData <c>$filter</c> strings with every interpolated value turned into a typed, escaped literal,
/// so a user-supplied value can never change the shape of the query.
/// </summary>
/// <example><c>TableFilter.Format($"PartitionKey eq {pk} and Due lt {now}")</c> →
/// <c>PartitionKey eq 'a''b' and Due lt datetime'2025-01-01T00:00:00.0000000Z'</c>.</example>
public static class TableFilter
{
    /// <summary>Formats the filter, rendering each argument as an OData literal.</summary>
    public static string Format(FormattableString filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var args = filter.GetArguments();
        var literals = new object?[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            literals[i] = Literal(args[i]);
        }

        return string.Format(CultureInfo.InvariantCulture, filter.Format, literals);
    }

    /// <summary>One value as an OData literal: 'text' (quotes doubled), 12, 12L, 1.5, true, datetime'…', guid'…', X'…'.</summary>
    public static string Literal(object? value) => value switch
    {
        null => throw new ArgumentException("Table filters cannot compare with null; test for the property's absence differently."),
        string s => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'",
        char c => Literal(c.ToString()),
        int i => i.ToString(CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture) + "L",
        double d when double.IsFinite(d) => d.ToString("R", CultureInfo.InvariantCulture) is var r && (r.Contains('.', StringComparison.Ordinal) || r.Contains('E', StringComparison.Ordinal)) ? r : r + ".0",
        double => throw new ArgumentException("NaN and infinities cannot appear in a table filter."),
        bool b => b ? "true" : "false",
        DateTimeOffset d => "datetime'" + TableJson.FormatDate(d) + "'",
        DateTime d => Literal(new DateTimeOffset(d.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(d, DateTimeKind.Utc) : d.ToUniversalTime())),
        Guid g => "guid'" + g.ToString("D") + "'",
        byte[] b => "X'" + Convert.ToHexStringLower(b) + "'",
        _ => throw new ArgumentException($"Type {value.GetType().Name} has no table filter literal."),
    };

    /// <summary><c>PartitionKey eq '…'</c>.</summary>
    public static string PartitionKeyEquals(string partitionKey) => Format($"PartitionKey eq {partitionKey}");

    /// <summary>All row keys starting with <paramref name="prefix"/> in one partition (a range scan, not a table scan).</summary>
    public static string RowKeyStartsWith(string partitionKey, string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        if (prefix[^1] == char.MaxValue)
        {
            throw new ArgumentException("A prefix ending in U+FFFF has no upper bound to scan to.", nameof(prefix));
        }

        var upper = new StringBuilder(prefix);
        upper[^1] = (char)(upper[^1] + 1);
        return Format($"PartitionKey eq {partitionKey} and RowKey ge {prefix} and RowKey lt {upper.ToString()}");
    }
}
