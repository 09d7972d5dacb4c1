using System.Net;
using System.Text;
using ApprovalFunctions.Storage.Tables;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ApprovalFunctions.Storage.Tests.Tables;

/// <summary>
/// Pipeline behaviour that Azurite cannot show: bearer tokens (Azure.Core refuses them over plain http),
/// and which statuses are retried. A stub HttpMessageHandler is the outbound seam.
/// </summary>
public sealed class TablePipelineTests
{
    private const string EntityJson = """{"odata.etag":"W/\"datetime'2025-01-01T00%3A00%3A00Z'\"","PartitionKey":"p","RowKey":"r","Timestamp":"2025-01-01T00:00:00Z","N@odata.type":"Edm.Int64","N":"5"}""";

    [Fact]
    public async Task TokenCredential_SendsBearerTokenForStorageScope()
    {
        var handler = new StubHandler(_ => Json(HttpStatusCode.OK, EntityJson));
        var credential = new StubCredential();
        var service = new TableServiceClient(new Uri("https://acc.table.core.windows.net/"), credential, Options(handler));

        var entity = await service.GetTableClient("orders").GetAsync("p", "r");

        var request = Assert.Single(handler.Requests);
        Assert.Equal("Bearer token-1", request.Authorization);
        Assert.Equal(["https://storage.azure.com/.default"], credential.Scopes);
        Assert.Equal("https://acc.table.core.windows.net/orders(PartitionKey='p',RowKey='r')", request.Uri);
        Assert.Equal("2019-02-02", request.Version);
        Assert.Equal(5L, entity!.GetInt64("N"));
        Assert.Equal("acc", service.AccountName);
    }

    [Fact]
    public async Task SharedKey_SignsWithSharedKeyLiteAndAccountName()
    {
        var handler = new StubHandler(_ => Json(HttpStatusCode.OK, EntityJson));
        var service = new TableServiceClient("AccountName=acc;AccountKey=a2V5;DefaultEndpointsProtocol=https", Options(handler));

        await service.GetTableClient("orders").GetAsync("p", "r");

        var request = Assert.Single(handler.Requests);
        Assert.StartsWith("SharedKeyLite acc:", request.Authorization, StringComparison.Ordinal);
        var expected = SharedKeyLitePolicy.Sign(Convert.FromBase64String("a2V5"), request.Date + "\n/acc/orders(PartitionKey='p',RowKey='r')");
        Assert.Equal("SharedKeyLite acc:" + expected, request.Authorization);
    }

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.RequestTimeout)]
    public async Task TransientStatus_IsRetriedThenSucceeds(HttpStatusCode transient)
    {
        var calls = 0;
        var handler = new StubHandler(_ => ++calls == 1 ? Json(transient, """{"odata.error":{"code":"ServerBusy","message":{"value":"busy"}}}""") : Json(HttpStatusCode.OK, EntityJson));
        var table = new TableServiceClient("AccountName=acc;AccountKey=a2V5", Options(handler)).GetTableClient("orders");

        var entity = await table.GetAsync("p", "r");

        Assert.NotNull(entity);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Theory]
    [InlineData(HttpStatusCode.PreconditionFailed, "UpdateConditionNotSatisfied", TableErrorKind.PreconditionFailed)]
    [InlineData(HttpStatusCode.Conflict, "EntityAlreadyExists", TableErrorKind.Conflict)]
    [InlineData(HttpStatusCode.Forbidden, "AuthenticationFailed", TableErrorKind.Unauthorized)]
    [InlineData(HttpStatusCode.RequestEntityTooLarge, "RequestBodyTooLarge", TableErrorKind.TooLarge)]
    [InlineData(HttpStatusCode.BadRequest, "EntityTooLarge", TableErrorKind.TooLarge)]
    public async Task AnswerStatus_IsNotRetried_AndTyped(HttpStatusCode status, string code, TableErrorKind kind)
    {
        var handler = new StubHandler(_ => Json(status, "{\"odata.error\":{\"code\":\"" + code + "\",\"message\":{\"lang\":\"en-US\",\"value\":\"nope\"}}}"));
        var table = new TableServiceClient("AccountName=acc;AccountKey=a2V5", Options(handler)).GetTableClient("orders");

        var ex = await Assert.ThrowsAsync<TableException>(() => table.UpdateAsync(new TableEntity("p", "r"), "W/\"x\""));

        Assert.Single(handler.Requests);
        Assert.Equal(kind, ex.Kind);
        Assert.Equal((int)status, ex.Status);
        Assert.Equal(code, ex.ErrorCode);
    }

    [Fact]
    public async Task ServerBusyForever_ThrowsThrottledAfterRetries()
    {
        var handler = new StubHandler(_ => Json(HttpStatusCode.ServiceUnavailable, """{"odata.error":{"code":"ServerBusy","message":{"value":"busy"}}}"""));
        var options = Options(handler);
        options.Retry.MaxRetries = 2;
        var table = new TableServiceClient("AccountName=acc;AccountKey=a2V5", options).GetTableClient("orders");

        var ex = await Assert.ThrowsAsync<TableException>(() => table.InsertAsync(new TableEntity("p", "r")));

        Assert.Equal(TableErrorKind.Throttled, ex.Kind);
        Assert.Equal(3, handler.Requests.Count);
    }

    private static TableClientOptions Options(StubHandler handler)
    {
        var options = new TableClientOptions { Transport = new HttpClientTransport(new HttpClient(handler)) };
        options.Retry.Delay = TimeSpan.FromMilliseconds(1);
        options.Retry.MaxDelay = TimeSpan.FromMilliseconds(2);
        return options;
    }

    private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private sealed record Seen(string Uri, string? Authorization, string? Date, string? Version);

    private sealed class StubHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        public List<Seen> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(new Seen(
                request.RequestUri!.OriginalString,
                request.Headers.TryGetValues("Authorization", out var a) ? a.Single() : null,
                request.Headers.TryGetValues("x-ms-date", out var d) ? d.Single() : null,
                request.Headers.TryGetValues("x-ms-version", out var v) ? v.Single() : null));
            return Task.FromResult(respond(request));
        }
    }

    private sealed class StubCredential : TokenCredential
    {
        public List<string> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            Scopes.AddRange(requestContext.Scopes);
            return new AccessToken("token-1", DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
