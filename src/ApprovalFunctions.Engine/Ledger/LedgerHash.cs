using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApprovalFunctions.Engine.Ledger;

/// <summary>
/// A ledger chain hash: 32 bytes of SHA-256, written as 64 lowercase hex characters wherever it
/// leaves the process (JSON, the canonical form the next entry hashes, the API). Kept as bytes in
/// memory so a decision does not allocate a 64-character string per ledger entry, and so hashes
/// compare by value.
/// </summary>
/// <remarks>
/// Text that is not 64 hex characters (an empty head, or a stored hash someone edited) still
/// parses: it is kept as that text, never equals a computed hash, and is written back unchanged.
/// That way a tampered ledger row verifies as "modified" instead of failing to load.
/// </remarks>
[JsonConverter(typeof(LedgerHashJsonConverter))]
public sealed class LedgerHash : IEquatable<LedgerHash>
{
    /// <summary>The number of hex characters of a hash.</summary>
    public const int HexLength = 64;

    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    /// <summary>Set only for text that is not a hash; null for a real hash.</summary>
    private readonly string? _text;

    private LedgerHash(ReadOnlySpan<byte> hash)
    {
        _a = BinaryPrimitives.ReadUInt64BigEndian(hash);
        _b = BinaryPrimitives.ReadUInt64BigEndian(hash[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(hash[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(hash[24..]);
    }

    private LedgerHash(string text) => _text = text;

    /// <summary>No hash: the head of a state that was never submitted (written as <c>""</c>).</summary>
    public static LedgerHash None { get; } = new(string.Empty);

    /// <summary>True for a 32-byte hash; false for <see cref="None"/> or text that is not a hash.</summary>
    public bool IsHash => _text is null;

    /// <summary>Wraps 32 bytes of SHA-256.</summary>
    public static LedgerHash FromBytes(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != 32)
        {
            throw new ArgumentException("a ledger hash is 32 bytes", nameof(hash));
        }

        return new LedgerHash(hash);
    }

    /// <summary>
    /// Reads 64 lowercase hex characters, the form this service writes. Any other text is kept as
    /// it is and never equals a computed hash (see the remarks on the type).
    /// </summary>
    public static LedgerHash Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return None;
        }

        Span<byte> bytes = stackalloc byte[32];
        return text.Length == HexLength
            && Convert.FromHexString(text, bytes, out _, out var written) == System.Buffers.OperationStatus.Done
            && written == 32
            && IsLowercaseHex(text)
                ? new LedgerHash(bytes)
                : new LedgerHash(text);
    }

    /// <summary>
    /// Writes the lowercase hex form (or the kept text) as UTF-8 into <paramref name="destination"/>;
    /// returns the bytes written. <paramref name="destination"/> must hold <see cref="Utf8Length"/> bytes.
    /// </summary>
    public int WriteUtf8(Span<byte> destination)
    {
        if (_text is not null)
        {
            return System.Text.Encoding.UTF8.GetBytes(_text, destination);
        }

        Span<byte> bytes = stackalloc byte[32];
        CopyTo(bytes);
        return Convert.TryToHexStringLower(bytes, destination, out var written)
            ? written
            : throw new ArgumentException("the destination is shorter than " + HexLength + " bytes", nameof(destination));
    }

    /// <summary>The maximum number of UTF-8 bytes <see cref="WriteUtf8"/> writes.</summary>
    public int Utf8Length => _text is null ? HexLength : System.Text.Encoding.UTF8.GetMaxByteCount(_text.Length);

    /// <summary>The 32 bytes; only for <see cref="IsHash"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        if (_text is not null)
        {
            throw new InvalidOperationException("not a hash: " + _text);
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    /// <summary>The 64 lowercase hex characters (or the kept text).</summary>
    public override string ToString()
    {
        if (_text is not null)
        {
            return _text;
        }

        Span<byte> bytes = stackalloc byte[32];
        CopyTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <inheritdoc/>
    public bool Equals(LedgerHash? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (_text is null
                ? other._text is null && _a == other._a && _b == other._b && _c == other._c && _d == other._d
                : string.Equals(_text, other._text, StringComparison.Ordinal)));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as LedgerHash);

    /// <inheritdoc/>
    public override int GetHashCode() => _text?.GetHashCode(StringComparison.Ordinal) ?? HashCode.Combine(_a, _b, _c, _d);

    /// <summary>Value equality.</summary>
    public static bool operator ==(LedgerHash? left, LedgerHash? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(LedgerHash? left, LedgerHash? right) => !(left == right);

    // Stored hashes are lowercase; an uppercase one was not written by this service, so it stays text.
    private static bool IsLowercaseHex(string text)
    {
        foreach (var c in text)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// Reads and writes <see cref="LedgerHash"/> as its hex string. A JSON <c>null</c> (never written by this service;
/// an edited row) reads as <see cref="LedgerHash.None"/>, so it verifies as "modified" instead of failing later.
/// </summary>
public sealed class LedgerHashJsonConverter : JsonConverter<LedgerHash>
{
    /// <inheritdoc/>
    public override bool HandleNull => true;

    /// <inheritdoc/>
    public override LedgerHash Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.String => LedgerHash.Parse(reader.GetString()!),
        JsonTokenType.Null => LedgerHash.None,
        _ => throw new JsonException("a ledger hash is a string"),
    };

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, LedgerHash value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is null)
        {
            writer.WriteNullValue();
            return;
        }

        if (!value.IsHash)
        {
            writer.WriteStringValue(value.ToString());
            return;
        }

        Span<byte> utf8 = stackalloc byte[LedgerHash.HexLength];
        value.WriteUtf8(utf8);
        writer.WriteStringValue(utf8);
    }
}
