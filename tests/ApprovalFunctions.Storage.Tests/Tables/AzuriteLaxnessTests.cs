using System.Buffers;
using System.Globalization;
using System.Net;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

/// <summary>
/// Why the client enforces Azure's limits itself: sent raw (bypassing the client's checks), Azurite accepts
/// each of these, where Azure answers 400/413. The matching client refusals are in TableLimitsTests and
/// TableTransactionTests. If one of these starts failing, Azurite became stricter; the client rules stay.
/// </summary>
public sealed class AzuriteLaxnessTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Azurite_Accepts253CustomProperties()
    {
        var table = await azurite.CreateTableAsync();
        var entity = new TableEntity("p", "r");
        for (var i = 0; i < TableLimits.MaxCustomProperties + 1; i++)
        {
            entity["P" + i.ToString(CultureInfo.InvariantCulture)] = i;
        }

        var status = await RawInsertAsync(table.Name, entity);

        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.NoContent, status.ToString());
        Assert.Equal(253, (await table.GetAsync("p", "r"))!.Count);
    }

    [Fact]
    public async Task Azurite_AcceptsEntityOver1MiBCountedInUtf16()
    {
        var table = await azurite.CreateTableAsync();
        var entity = new TableEntity("p", "r");
        for (var i = 0; i < 17; i++)
        {
            entity["S" + i.ToString(CultureInfo.InvariantCulture)] = new string('x', TableLimits.MaxStringLength);
        }

        var status = await RawInsertAsync(table.Name, entity);

        Assert.True(TableLimits.EntitySize(entity) > TableLimits.MaxEntitySize);
        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.NoContent, status.ToString());
    }

    [Fact]
    public async Task Azurite_AcceptsBatchSpanningTwoPartitions()
    {
        var table = await azurite.CreateTableAsync();
        var endpoint = TableConnectionString.Parse(azurite.ConnectionString).TableEndpoint.AbsoluteUri.TrimEnd('/');
        var body = TableBatch.Build(endpoint + "/" + table.Name,
            [TableTransactionAction.Add(new TableEntity("p1", "r")), TableTransactionAction.Add(new TableEntity("p2", "r"))],
            (pk, rk) => $"{endpoint}/{table.Name}(PartitionKey='{pk}',RowKey='{rk}')", out var boundary);

        var (status, text) = await SendRawAsync(HttpMethod.Post, "/$batch", body.WrittenMemory.ToArray(), "multipart/mixed; boundary=" + boundary);

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.DoesNotContain("HTTP/1.1 4", text, StringComparison.Ordinal);
        Assert.Equal(2, (await table.QueryAsync().ToListAsync()).Count);
    }

    private async Task<HttpStatusCode> RawInsertAsync(string tableName, TableEntity entity)
    {
        var body = new ArrayBufferWriter<byte>();
        TableJson.WriteEntity(body, entity);
        return (await SendRawAsync(HttpMethod.Post, "/" + tableName, body.WrittenMemory.ToArray(), "application/json")).Status;
    }

    private async Task<(HttpStatusCode Status, string Text)> SendRawAsync(HttpMethod method, string path, byte[] body, string contentType)
    {
        var cs = TableConnectionString.Parse(azurite.ConnectionString);
        var uri = new Uri(cs.TableEndpoint.AbsoluteUri.TrimEnd('/') + path);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, uri) { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        var date = DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture);
        request.Headers.TryAddWithoutValidation("x-ms-date", date);
        request.Headers.TryAddWithoutValidation("x-ms-version", "2019-02-02");
        request.Headers.TryAddWithoutValidation("DataServiceVersion", "3.0");
        request.Headers.TryAddWithoutValidation("Accept", "application/json;odata=minimalmetadata");
        request.Headers.TryAddWithoutValidation("Prefer", "return-no-content");
        request.Headers.TryAddWithoutValidation("Authorization",
            "SharedKeyLite " + cs.AccountName + ":" + SharedKeyLitePolicy.Sign(Convert.FromBase64String(cs.AccountKey), SharedKeyLitePolicy.StringToSign(date, cs.AccountName, uri)));
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
