using System.Security.Cryptography;
using System.Text;

namespace ApprovalFunctions.Api.Webhooks;

/// <summary>
/// HMAC-SHA256 signatures over <c>timestamp + "." + body</c>, as in API.md, for webhooks in and
/// callbacks out: <c>X-Approvals-Signature: sha256=&lt;hex&gt;</c>.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The signature header.</summary>
    public const string SignatureHeader = "X-Approvals-Signature";

    /// <summary>The unix-seconds timestamp header.</summary>
    public const string TimestampHeader = "X-Approvals-Timestamp";

    /// <summary>The integration id header (webhooks in).</summary>
    public const string IntegrationHeader = "X-Approvals-Integration";

    /// <summary>How old a signed webhook may be.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>Computes the header value <c>sha256=&lt;hex&gt;</c>.</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message);
        return "sha256=" + Convert.ToHexStringLower(mac);
    }

    /// <summary>
    /// Verifies a signature header in constant time, and that the timestamp is within
    /// <see cref="Window"/> of <paramref name="now"/>. Returns null when valid, else the reason.
    /// </summary>
    public static string? Verify(string secret, string? timestampHeader, string? signatureHeader, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(timestampHeader) || !long.TryParse(timestampHeader, System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var timestamp))
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
