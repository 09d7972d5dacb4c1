using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Signs each attempt (it runs per retry, so a retried request gets a fresh date) with SharedKeyLite
/// for the Table service — the scheme Azure.Data.Tables uses: the string to sign is
/// <c>x-ms-date + "\n" + CanonicalizedResource</c>, where CanonicalizedResource is
/// <c>"/" + account + URI path (as escaped on the wire)</c> plus <c>?comp=…</c> if present. With a
/// path-style endpoint (Azurite: http://host:port/account) the path already starts with the account, so
/// the account appears twice; that is what the service expects.
/// </summary>
internal sealed class SharedKeyLitePolicy : HttpPipelineSynchronousPolicy
{
    private readonly string _account;
    private readonly byte[] _key;
    private readonly TimeProvider _time;

    public SharedKeyLitePolicy(string account, string base64Key, TimeProvider time)
    {
        _account = account;
        _key = Convert.FromBase64String(base64Key);
        _time = time;
    }

    public override void OnSendingRequest(HttpMessage message)
    {
        var date = _time.GetUtcNow().ToString("r", CultureInfo.InvariantCulture);
        message.Request.Headers.SetValue("x-ms-date", date);
        var uri = message.Request.Uri.ToUri();
        var toSign = StringToSign(date, _account, uri);
        message.Request.Headers.SetValue("Authorization", "SharedKeyLite " + _account + ":" + Sign(_key, toSign));
    }

    internal static string StringToSign(string date, string account, Uri uri)
    {
        var sb = new StringBuilder(date.Length + account.Length + uri.AbsolutePath.Length + 16);
        sb.Append(date).Append('\n').Append('/').Append(account);
        sb.Append(uri.AbsolutePath.Length > 0 ? uri.AbsolutePath : "/");
        var query = uri.Query;
        var comp = query.IndexOf("comp=", StringComparison.Ordinal);
        if (comp > 0 && (query[comp - 1] == '?' || query[comp - 1] == '&'))
        {
            var end = query.IndexOf('&', comp);
            sb.Append('?').Append(Uri.UnescapeDataString(end < 0 ? query[comp..] : query[comp..end]));
        }

        return sb.ToString();
    }

    internal static string Sign(byte[] key, string stringToSign) =>
        Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
}
