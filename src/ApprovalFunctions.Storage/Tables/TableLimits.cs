using System.Globalization;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Azure Table service limits, enforced by the client before a request is sent. Azurite is laxer than
/// Azure on several of them (batches across partitions, 253+ properties, entities over 1 MiB), so a
/// store that passes its Azurite tests would otherwise fail only in production.
/// </summary>
public static class TableLimits
{
    /// <summary>Largest string property, in UTF-16 code units (64 KiB of UTF-16).</summary>
    public const int MaxStringLength = 32 * 1024;

    /// <summary>Largest binary property, in bytes.</summary>
    public const int MaxBinaryLength = 64 * 1024;

    /// <summary>Largest entity, by the service's size formula (UTF-16 strings).</summary>
    public const int MaxEntitySize = 1024 * 1024;

    /// <summary>Custom properties per entity (255 including PartitionKey, RowKey and Timestamp).</summary>
    public const int MaxCustomProperties = 252;

    /// <summary>Longest property name.</summary>
    public const int MaxPropertyNameLength = 255;

    /// <summary>Longest key, in UTF-16 code units: 1 KiB of UTF-16, the conservative reading of the documented "1 KiB".</summary>
    public const int MaxKeyLength = 512;

    /// <summary>Operations per entity-group transaction.</summary>
    public const int MaxBatchOperations = 100;

    /// <summary>Largest transaction payload in bytes.</summary>
    public const int MaxBatchPayload = 4 * 1024 * 1024;

    /// <summary>
    /// Size of an entity by the formula the service documents: 4 + 2·len(PK + RK) + Σ (8 + 2·len(name) + value),
    /// where a string costs 4 + 2·len, binary 4 + len, Guid 16, Int64/Double/DateTime 8, Int32 4, bool 1.
    /// </summary>
    public static long EntitySize(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        long size = 4 + 2L * (entity.PartitionKey.Length + entity.RowKey.Length);
        foreach (var (name, value) in entity.Properties)
        {
            size += 8 + 2L * name.Length + ValueSize(value);
        }

        return size;
    }

    private static long ValueSize(object value) => value switch
    {
        string s => 4 + 2L * s.Length,
        byte[] b => 4 + b.LongLength,
        Guid => 16,
        long or double or DateTimeOffset => 8,
        int => 4,
        bool => 1,
        _ => 0,
    };

    internal static void ValidateKey(string key, string which, int? index = null)
    {
        if (key.Length > MaxKeyLength)
        {
            throw TableException.Refused(TableErrorKind.TooLarge, "ClientKeyTooLong",
                Msg(index, $"{which} is {key.Length} characters; the limit is {MaxKeyLength} (1 KiB of UTF-16). Build keys with TableKey.Encode."), index);
        }

        if (HasUnpairedSurrogate(key))
        {
            throw TableException.Refused(TableErrorKind.InvalidInput, "ClientInvalidKeyCharacter",
                Msg(index, $"{which} contains an unpaired UTF-16 surrogate, which cannot be sent as UTF-8. Build keys with TableKey.Encode."), index);
        }

        foreach (var c in key)
        {
            if (c is '/' or '\\' or '#' or '?' || c <= '\u001F' || c is >= '\u007F' and <= '\u009F')
            {
                throw TableException.Refused(TableErrorKind.InvalidInput, "ClientInvalidKeyCharacter",
                    Msg(index, $"{which} contains U+{(int)c:X4}, which Azure forbids in keys (/ \\ # ? and control characters). Build keys with TableKey.Encode."), index);
            }
        }
    }

    internal static void ValidateEntity(TableEntity entity, int? index = null)
    {
        ValidateKey(entity.PartitionKey, "PartitionKey", index);
        ValidateKey(entity.RowKey, "RowKey", index);
        if (entity.Count > MaxCustomProperties)
        {
            throw TableException.Refused(TableErrorKind.InvalidInput, "ClientTooManyProperties",
                Msg(index, $"Entity ({entity.PartitionKey}, {entity.RowKey}) has {entity.Count} custom properties; Azure allows {MaxCustomProperties}."), index);
        }

        foreach (var (name, value) in entity.Properties)
        {
            if (name.Length == 0 || name.Length > MaxPropertyNameLength || name is "PartitionKey" or "RowKey" or "Timestamp" || name.Contains('@', StringComparison.Ordinal))
            {
                throw TableException.Refused(TableErrorKind.InvalidInput, "ClientInvalidPropertyName",
                    Msg(index, $"Property name '{Shorten(name)}' is empty, longer than {MaxPropertyNameLength}, reserved or contains '@'."), index);
            }

            switch (value)
            {
                case string s when s.Length > MaxStringLength:
                    throw TableException.Refused(TableErrorKind.TooLarge, "ClientPropertyValueTooLarge",
                        Msg(index, $"Property '{name}' is a string of {s.Length} characters; Azure allows {MaxStringLength} (64 KiB of UTF-16)."), index);
                case string s when HasUnpairedSurrogate(s):
                    throw TableException.Refused(TableErrorKind.InvalidInput, "ClientInvalidString",
                        Msg(index, $"Property '{name}' contains an unpaired UTF-16 surrogate; it would be stored as U+FFFD. Store such data as binary."), index);
                case byte[] b when b.Length > MaxBinaryLength:
                    throw TableException.Refused(TableErrorKind.TooLarge, "ClientPropertyValueTooLarge",
                        Msg(index, $"Property '{name}' is {b.Length} bytes of binary; Azure allows {MaxBinaryLength}."), index);
            }
        }

        var size = EntitySize(entity);
        if (size > MaxEntitySize)
        {
            throw TableException.Refused(TableErrorKind.TooLarge, "ClientEntityTooLarge",
                Msg(index, $"Entity ({Shorten(entity.PartitionKey)}, {Shorten(entity.RowKey)}) is {size} bytes by the service's size formula; Azure allows {MaxEntitySize} (1 MiB). Largest property: '{LargestProperty(entity)}'."), index);
        }
    }

    private static bool HasUnpairedSurrogate(string s)
    {
        var span = s.AsSpan();
        var i = span.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0)
        {
            return false;
        }

        for (; i < span.Length; i++)
        {
            if (char.IsHighSurrogate(span[i]) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(span[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static string LargestProperty(TableEntity entity)
    {
        string best = "";
        long bestSize = -1;
        foreach (var (name, value) in entity.Properties)
        {
            var s = ValueSize(value);
            if (s > bestSize)
            {
                (best, bestSize) = (name, s);
            }
        }

        return best;
    }

    private static string Shorten(string s) => s.Length <= 64 ? s : string.Concat(s.AsSpan(0, 64), "…");

    private static string Msg(int? index, string message) =>
        index is null ? message : string.Create(CultureInfo.InvariantCulture, $"Transaction action {index}: {message}");
}
