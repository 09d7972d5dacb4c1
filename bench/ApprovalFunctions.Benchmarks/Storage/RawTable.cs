using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Benchmarks.Storage;

/// <summary>
/// The floor: one HttpClient, SharedKeyLite signed by hand, pre-serialized bodies, JsonDocument for the read.
/// No retries, no logging, no validation.
/// </summary>
internal sealed class RawTable : IDisposable
{
    public const string Variable = "APPROVALS_BENCH_STORAGE";

    private readonly HttpClient _http = new(new SocketsHttpHandler());
    private readonly string _account;
    private readonly byte[] _key;
    private readonly string _endpoint;
    private readonly string _table;

    public RawTable(TableConnectionString cs, string table)
    {
        _account = cs.AccountName;
        _key = Convert.FromBase64String(cs.AccountKey);
        _endpoint = cs.TableEndpoint.AbsoluteUri.TrimEnd('/');
        _table = table;
    }

    public async Task<long> GetAmountAsync(string pk, string rk)
    {
        using var request = Request(HttpMethod.Get, $"{_endpoint}/{_table}(PartitionKey='{pk}',RowKey='{rk}')");
        using var response = await _http.SendAsync(request).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        using var doc = JsonDocument.Parse(bytes);
        return long.Parse(doc.RootElement.GetProperty("Amount").GetString()!, CultureInfo.InvariantCulture);
    }

    public async Task<string> ReplaceAsync(string pk, string rk, byte[] json, string etag)
    {
        using var request = Request(HttpMethod.Put, $"{_endpoint}/{_table}(PartitionKey='{pk}',RowKey='{rk}')");
        request.Headers.TryAddWithoutValidation("If-Match", etag);
        request.Content = new ByteArrayContent(json);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _http.SendAsync(request).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        return response.Headers.ETag!.ToString();
    }

    public async Task BatchUpsert2Async(string pk, byte[] entityJson)
    {
        var boundary = "batch_" + Guid.NewGuid().ToString("N");
        var changeset = "changeset_" + Guid.NewGuid().ToString("N");
        var json = Encoding.UTF8.GetString(entityJson).Replace("\"PartitionKey\":\"p\"", $"\"PartitionKey\":\"{pk}\"", StringComparison.Ordinal);
        var sb = new StringBuilder();
        sb.Append("--").Append(boundary).Append("\r\nContent-Type: multipart/mixed; boundary=").Append(changeset).Append("\r\n\r\n");
        foreach (var rk in new[] { "1", "2" })
        {
            sb.Append("--").Append(changeset).Append("\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n");
            sb.Append("PUT ").Append(_endpoint).Append('/').Append(_table).Append("(PartitionKey='").Append(pk).Append("',RowKey='").Append(rk).Append("') HTTP/1.1\r\n");
            sb.Append("Accept: application/json;odata=minimalmetadata\r\nDataServiceVersion: 3.0\r\nContent-Type: application/json\r\n\r\n");
            sb.Append(json.Replace("\"RowKey\":\"q\"", $"\"RowKey\":\"{rk}\"", StringComparison.Ordinal)).Append("\r\n");
        }

        sb.Append("--").Append(changeset).Append("--\r\n\r\n--").Append(boundary).Append("--\r\n");
        using var request = Request(HttpMethod.Post, $"{_endpoint}/$batch");
        request.Content = new StringContent(sb.ToString(), Encoding.UTF8);
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/mixed; boundary=" + boundary);
        using var response = await _http.SendAsync(request).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        if ((int)response.StatusCode != 202 || !text.Contains("HTTP/1.1 204", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("Raw batch failed: " + text);
        }
    }

    public void Dispose() => _http.Dispose();

    private HttpRequestMessage Request(HttpMethod method, string url)
    {
        var uri = new Uri(url);
        var request = new HttpRequestMessage(method, uri);
        var date = DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture);
        var toSign = date + "\n/" + _account + uri.AbsolutePath;
        var signature = Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(toSign)));
        request.Headers.TryAddWithoutValidation("x-ms-date", date);
        request.Headers.TryAddWithoutValidation("x-ms-version", "2019-02-02");
        request.Headers.TryAddWithoutValidation("DataServiceVersion", "3.0");
        request.Headers.TryAddWithoutValidation("Accept", "application/json;odata=minimalmetadata");
        request.Headers.TryAddWithoutValidation("Authorization", "SharedKeyLite " + _account + ":" + signature);
        return request;
    }
}
