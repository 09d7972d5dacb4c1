using System.Net;
using System.Text;
using ApprovalFunctions.Runtime.Delivery;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Integrations and signed decision webhooks in: HMAC over timestamp + "." + body, 5-minute window, eventId replay guard.</summary>
public sealed class WebhookTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Url = "/api/v1/webhooks/decisions";

    [Fact]
    public async Task CreateIntegration_AdminGetsSecretOnce_ListHidesIt_NonAdmin403()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var (id, secret) = await CreateIntegrationAsync(t);
        Assert.True(secret.Length >= 32);
        var list = await (await t.Admin.GetAsync("/api/v1/integrations")).ExpectAsync(HttpStatusCode.OK);
        Assert.Contains(list.GetProperty("items").EnumerateArray(), i => i.GetProperty("id").GetString() == id);
        Assert.DoesNotContain(secret, list.GetRawText(), StringComparison.Ordinal);
        await (await t.Requester.PostJsonAsync("/api/v1/integrations", new { name = "x" })).ExpectProblemAsync(HttpStatusCode.Forbidden, "admin-required");
        await (await t.Requester.GetAsync("/api/v1/integrations")).ExpectProblemAsync(HttpStatusCode.Forbidden, "admin-required");
        var problem = await (await t.Admin.PostJsonAsync("/api/v1/integrations", new { name = 5 })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("name", TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task SignedDecision_Applied_WithTheNamedActor()
    {
        var t = await factory.CreateTenantAsync(approvers: 2);
        var (integration, secret) = await CreateIntegrationAsync(t);
        var approval = await t.SubmitIdAsync();
        var body = Body(approval, "a2", "approve", "evt-1");
        var approved = await (await SendAsync(integration, secret, body, Now())).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("approved", approved.GetProperty("status").GetString());
        Assert.Equal("a2", approved.GetProperty("stages")[0].GetProperty("responses")[0].GetProperty("user").GetString());
    }

    [Fact]
    public async Task Replay_SameEventId_409()
    {
        var t = await factory.CreateTenantAsync(approvers: 2, consensus: "{\"mode\":\"all\"}");
        var (integration, secret) = await CreateIntegrationAsync(t);
        var approval = await t.SubmitIdAsync();
        await (await SendAsync(integration, secret, Body(approval, "a1", "approve", "evt-r"), Now())).ExpectAsync(HttpStatusCode.OK);
        await (await SendAsync(integration, secret, Body(approval, "a2", "approve", "evt-r"), Now()))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "webhook-replay");
        var state = await (await t.Admin.GetAsync($"/api/v1/approvals/{approval}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Single(state.GetProperty("stages")[0].GetProperty("responses").EnumerateArray());
    }

    [Theory]
    [InlineData("forged")]
    [InlineData("stale")]
    [InlineData("future")]
    [InlineData("unknown-integration")]
    [InlineData("no-integration-header")]
    [InlineData("no-signature")]
    [InlineData("bad-timestamp")]
    [InlineData("body-changed")]
    [InlineData("uppercase-hex")]
    public async Task BadSignatureOrTimestamp_401_AndNothingApplied(string scenario)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var (integration, secret) = await CreateIntegrationAsync(t);
        var approval = await t.SubmitIdAsync();
        var body = Body(approval, "a1", "approve", "evt-" + scenario);
        var timestamp = scenario switch
        {
            "stale" => Now() - 301,
            // From the next whole second: Now() truncates, so Now() + 301 was only 300.x s ahead of the moment it was sent and
            // fell inside the window whenever the fraction plus the request's own time passed a second (a flaky 200).
            "future" => NextWholeSecond() + 301,
            _ => Now(),
        };
        var signature = Signatures.Sign(scenario == "forged" ? "not-the-secret" : secret, timestamp, Encoding.UTF8.GetBytes(body));
        var message = new HttpRequestMessage(HttpMethod.Post, Url)
        {
            Content = TestApi.Json(scenario == "body-changed" ? body.Replace("approve", "reject", StringComparison.Ordinal) : body),
        };
        if (scenario != "no-integration-header")
        {
            message.Headers.Add(Signatures.IntegrationHeader, scenario == "unknown-integration" ? "nope" + integration : integration);
        }

        message.Headers.Add(Signatures.TimestampHeader, scenario == "bad-timestamp" ? "yesterday" : timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (scenario != "no-signature")
        {
            message.Headers.Add(Signatures.SignatureHeader, scenario == "uppercase-hex" ? signature.ToUpperInvariant() : signature);
        }

        await (await factory.CreateClient().SendAsync(message)).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        var state = await (await t.Admin.GetAsync($"/api/v1/approvals/{approval}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", state.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-400)]
    [InlineData(-100_000_000)]
    public async Task UnknownIntegration_AnswersExactlyLikeAWrongSignature(long skew)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var (integration, _) = await CreateIntegrationAsync(t);
        var approval = await t.SubmitIdAsync();
        var body = Body(approval, "a1", "approve", "evt-probe");
        var known = await SendAsync(integration, "wrong-secret-wrong-secret", body, Now() + skew);
        var unknown = await SendAsync("no-such-integration", "wrong-secret-wrong-secret", body, Now() + skew);
        var knownProblem = await known.ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        var unknownProblem = await unknown.ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");

        // Same title and detail: an integration id cannot be told apart from a wrong one.
        Assert.Equal(knownProblem.GetProperty("detail").GetString(), unknownProblem.GetProperty("detail").GetString());
        Assert.Equal(knownProblem.GetProperty("title").GetString(), unknownProblem.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("req", "approve", HttpStatusCode.UnprocessableEntity, "self-approval")]
    [InlineData("outsider", "approve", HttpStatusCode.Forbidden, "not-an-approver")]
    [InlineData("admin", "approve", HttpStatusCode.Forbidden, "not-an-approver")]
    public async Task Actor_StillBoundByEngineRules(string actor, string decision, HttpStatusCode status, string slug)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var (integration, secret) = await CreateIntegrationAsync(t);
        var approval = await t.SubmitIdAsync();
        if (actor == "req")
        {
            await (await t.Admin.PutJsonAsync("/api/v1/directory/groups/approvers", new { members = new[] { "a1", "req" } })).ExpectAsync(HttpStatusCode.OK);
        }

        await (await SendAsync(integration, secret, Body(approval, actor, decision, "evt-" + actor), Now())).ExpectProblemAsync(status, slug);
    }

    [Fact]
    public async Task SignedButInvalidBody_400WithPaths_AndReject_RequiresComment()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var (integration, secret) = await CreateIntegrationAsync(t);
        var problem = await (await SendAsync(integration, secret, """{"eventId":"e","decision":"maybe","extra":1}""", Now()))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        var paths = TestApi.ErrorPaths(problem);
        Assert.Contains("approvalId", paths);
        Assert.Contains("decision", paths);
        Assert.Contains("actor", paths);
        Assert.Contains("extra", paths);

        var approval = await t.SubmitIdAsync();
        var reject = $$"""{"eventId":"e2","approvalId":"{{approval}}","stageId":"s1","decision":"reject","actor":"a1"}""";
        var rejectProblem = await (await SendAsync(integration, secret, reject, Now())).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("comment", TestApi.ErrorPaths(rejectProblem));
    }

    [Fact]
    public async Task OtherTenantsIntegration_OnMyApproval_404()
    {
        var a = await factory.CreateTenantAsync(approvers: 1);
        var b = await factory.CreateTenantAsync(approvers: 1);
        var (bIntegration, bSecret) = await CreateIntegrationAsync(b);
        var approval = await a.SubmitIdAsync();
        await (await SendAsync(bIntegration, bSecret, Body(approval, "a1", "approve", "evt-x"), Now()))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
        var state = await (await a.Admin.GetAsync($"/api/v1/approvals/{approval}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", state.GetProperty("status").GetString());
    }

    internal static async Task<(string Id, string Secret)> CreateIntegrationAsync(TestTenant t)
    {
        var created = await (await t.Admin.PostJsonAsync("/api/v1/integrations", new { name = "erp" })).ExpectAsync(HttpStatusCode.Created);
        return (created.GetProperty("id").GetString()!, created.GetProperty("secret").GetString()!);
    }

    internal static string Body(string approvalId, string actor, string decision, string eventId) =>
        $$"""{"eventId":"{{eventId}}","approvalId":"{{approvalId}}","stageId":"s1","decision":"{{decision}}","actor":"{{actor}}","comment":"via erp"}""";

    internal static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>Unix seconds rounded up: a timestamp that is at least this far ahead of the present.</summary>
    private static long NextWholeSecond() => (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 999) / 1000;

    internal Task<HttpResponseMessage> SendAsync(string integration, string secret, string body, long timestamp) =>
        SendAsync(factory, integration, secret, body, timestamp);

    internal static Task<HttpResponseMessage> SendAsync(ApiFactory factory, string integration, string secret, string body, long timestamp)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, Url) { Content = TestApi.Json(body) };
        message.Headers.Add(Signatures.IntegrationHeader, integration);
        message.Headers.Add(Signatures.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        message.Headers.Add(Signatures.SignatureHeader, Signatures.Sign(secret, timestamp, Encoding.UTF8.GetBytes(body)));
        return factory.CreateClient().SendAsync(message);
    }
}
