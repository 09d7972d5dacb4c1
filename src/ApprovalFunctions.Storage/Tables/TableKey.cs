using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Turns arbitrary ids (tenant ids, user-supplied ids) into safe PartitionKey/RowKey values, plus
/// ordering helpers for row keys.
/// </summary>
/// <remarks>
/// <para><see cref="Encode"/> escapes every character Azure forbids in keys (<c>/ \ # ?</c>, U+0000–U+001F,
/// U+007F–U+009F), plus <c>%</c> (historically mishandled in key URLs), <c>'</c> (the OData quote) and the
/// escape character <c>~</c> itself, as <c>~XX</c> (two upper-case hex digits). Unpaired surrogates, which
/// cannot travel as UTF-8/JSON, become <c>~uXXXX</c>. Because <c>~</c> is always escaped the mapping is
/// injective and <see cref="Decode"/> reverses it exactly. Ordinal order among ids without escaped characters is preserved.</para>
/// <para>When the escaped form would exceed <see cref="MaxEncodedLength"/> characters, the result is the first
/// <see cref="HashedPrefixLength"/> characters of the escaped form, then <c>~~</c>, then the lower-case hex SHA-256
/// of the original UTF-16 code units. That form is <b>not reversible</b> (<see cref="TryDecode"/> returns false)
/// but still injective up to SHA-256 collisions; <c>~~</c> never occurs in a short encoding, so the two forms
/// cannot collide. Callers that need the original long id must store it in a property.</para>
/// </remarks>
public static class TableKey
{
    /// <summary>Longest output of <see cref="Encode"/>: a quarter of the key limit, so composite keys fit.</summary>
    public const int MaxEncodedLength = 128;

    /// <summary>How much of the escaped form survives in front of the hash in a hashed key.</summary>
    public const int HashedPrefixLength = MaxEncodedLength - 2 - 64;

    private const string HashMarker = "~~";

    /// <summary>Encodes an id for use as (part of) a key. Never returns a string containing forbidden characters.</summary>
    public static string Encode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!NeedsEscaping(value) && value.Length <= MaxEncodedLength)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 16);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                sb.Append(c).Append(value[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                sb.Append("~u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
            else if (IsEscaped(c))
            {
                sb.Append('~').Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        if (sb.Length <= MaxEncodedLength)
        {
            return sb.ToString();
        }

        var cut = HashedPrefixLength;
        // Do not split an escape sequence or a surrogate pair: back up to a clean boundary.
        var tildeAt = sb.ToString(Math.Max(0, cut - 5), Math.Min(5, cut)).LastIndexOf('~');
        if (tildeAt >= 0)
        {
            var abs = Math.Max(0, cut - 5) + tildeAt;
            var seqLen = abs + 1 < sb.Length && sb[abs + 1] == 'u' ? 6 : 3;
            if (abs + seqLen > cut)
            {
                cut = abs;
            }
        }

        if (cut > 0 && char.IsHighSurrogate(sb[cut - 1]))
        {
            cut--;
        }

        var hash = SHA256.HashData(MemoryMarshal.AsBytes(value.AsSpan()));
        return string.Concat(sb.ToString(0, cut), HashMarker, Convert.ToHexStringLower(hash));
    }

    /// <summary>Reverses <see cref="Encode"/>; throws <see cref="FormatException"/> for a hashed or malformed key.</summary>
    public static string Decode(string key) =>
        TryDecode(key, out var value) ? value : throw new FormatException("The key is hashed (over-long id) or not produced by TableKey.Encode; it cannot be decoded.");

    /// <summary>Reverses <see cref="Encode"/>; false for a hashed (over-long) key or a malformed one.</summary>
    public static bool TryDecode(string key, out string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        value = key;
        if (!key.Contains('~', StringComparison.Ordinal))
        {
            return true;
        }

        if (key.Contains(HashMarker, StringComparison.Ordinal))
        {
            return false;
        }

        var sb = new StringBuilder(key.Length);
        for (var i = 0; i < key.Length; i++)
        {
            if (key[i] != '~')
            {
                sb.Append(key[i]);
                continue;
            }

            var wide = i + 1 < key.Length && key[i + 1] == 'u';
            var start = wide ? i + 2 : i + 1;
            var len = wide ? 4 : 2;
            if (start + len > key.Length ||
                !int.TryParse(key.AsSpan(start, len), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
            {
                return false;
            }

            sb.Append((char)code);
            i = start + len - 1;
        }

        value = sb.ToString();
        return true;
    }

    /// <summary>Row key that sorts newest first: 19-digit (DateTime.MaxValue.Ticks − ticks).</summary>
    public static string InvertedTicks(DateTimeOffset time) =>
        (DateTime.MaxValue.Ticks - time.UtcTicks).ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>Row key that sorts oldest first: 19-digit UTC ticks.</summary>
    public static string Ticks(DateTimeOffset time) =>
        time.UtcTicks.ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>Zero-padded 19-digit number so that string order equals numeric order (non-negative only).</summary>
    public static string Padded(long value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return value.ToString("D19", CultureInfo.InvariantCulture);
    }

    /// <summary>19-digit (long.MaxValue − value) so that larger numbers sort first (non-negative only).</summary>
    public static string PaddedDescending(long value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return (long.MaxValue - value).ToString("D19", CultureInfo.InvariantCulture);
    }

    private static bool NeedsEscaping(string value)
    {
        foreach (var c in value)
        {
            if (IsEscaped(c) || char.IsSurrogate(c))
            {
                // Surrogates are usually paired and fine; the slow path sorts that out.
                return true;
            }
        }

        return false;
    }

    private static bool IsEscaped(char c) =>
        c is '/' or '\\' or '#' or '?' or '%' or '\'' or '~' || c <= '\u001F' || c is >= '\u007F' and <= '\u009F';
}
