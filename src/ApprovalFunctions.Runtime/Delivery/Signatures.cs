using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalFunctions.Runtime.Delivery;

/// <summary>
/// HMAC-SHA256 signatures over <c>timestamp + "." + body</c> (API.md), for webhooks in and callbacks and events
/// out: <c>X-Approvals-Signature: sha256=&lt;hex&gt;</c>, <c>X-Approvals-Timestamp: &lt;unix seconds&gt;</c>.
/// </summary>
public static class Signatures
{
    /// <summary>The signature header.</summary>
    public const string SignatureHeader = "X-Approvals-Signature";

    /// <summary>The unix-seconds timestamp header.</summary>
    public const string TimestampHeader = "X-Approvals-Timestamp";

    /// <summary>The integration id header (webhooks in).</summary>
    public const string IntegrationHeader = "X-Approvals-Integration";

    /// <summary>The stable idempotency header on deliveries.</summary>
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>The event name header on subscription deliveries.</summary>
    public const string EventHeader = "X-Approvals-Event";

    /// <summary>How far a signed timestamp may be from now.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>Computes the header value <c>sha256=&lt;lower-case hex&gt;</c>.</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    /// <summary>
    /// Verifies a signature in constant time and that the timestamp is within <see cref="Window"/> of
    /// <paramref name="now"/>. Returns null when valid, else the reason.
    /// </summary>
    public static string? Verify(string secret, string? timestampHeader, string? signatureHeader, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (string.IsNullOrEmpty(timestampHeader)
            || !long.TryParse(timestampHeader, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
        {
            return $"{TimestampHeader} must be unix seconds.";
        }

        var age = now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(timestamp, 0, 253402300799));
        if (age > Window || age < -Window)
        {
            return $"{TimestampHeader} is outside the {Window.TotalMinutes:0}-minute window.";
        }

        if (string.IsNullOrEmpty(signatureHeader) || !signatureHeader.StartsWith("sha256=", StringComparison.Ordinal))
        {
            return $"{SignatureHeader} must be 'sha256=<hex>'.";
        }

        var expected = Encoding.ASCII.GetBytes(Sign(secret, timestamp, body));
        var actual = Encoding.ASCII.GetBytes(signatureHeader);
        return CryptographicOperations.FixedTimeEquals(expected, actual) ? null : "The signature does not match.";
    }
}
