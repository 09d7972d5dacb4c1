using System.Net;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Workflows: publish a version, get (latest and by version), versions, list, deactivate, preview.</summary>
public sealed class WorkflowRouteTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Publish_TwiceThenRead_VersionsAreImmutableAndListed()
    {
        var tenant = TestApi.NewTenant();
        var admin = factory.Client(tenant, "admin", "admin");

        var v1 = await (await admin.PutJsonAsync("/api/v1/workflows/orders", TestApi.WorkflowJson())).ExpectAsync(HttpStatusCode.Created);
        var v2 = await (await admin.PutJsonAsync("/api/v1/workflows/orders", TestApi.WorkflowJson("{\"mode\":\"all\"}")))
            .ExpectAsync(HttpStatusCode.Created);
        Assert.Equal(1, v1.GetProperty("version").GetInt32());
        Assert.Equal(2, v2.GetProperty("version").GetInt32());

        var latest = await (await admin.GetAsync("/api/v1/workflows/orders")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(2, latest.GetProperty("version").GetInt32());
        var first = await (await admin.GetAsync("/api/v1/workflows/orders?version=1")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(1, first.GetProperty("version").GetInt32());
        Assert.Equal("any", first.GetProperty("stages")[0].GetProperty("consensus").GetProperty("mode").GetString());

        var versions = await (await admin.GetAsync("/api/v1/workflows/orders/versions")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(2, versions.GetProperty("items").GetArrayLength());

        var list = await (await factory.Client(tenant, "someone", "requester").GetAsync("/api/v1/workflows")).ExpectAsync(HttpStatusCode.OK);
        var item = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal("orders", item.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Publish_WithCallbackSecret_SecretNeverReturned()
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var body = """
            {"name":"cb","model":"m","event":"create","stages":[{"id":"s1","order":1,"approvers":[{"type":"user","id":"u1"}]}],
             "callback":{"url":"https://erp.example/cb","events":["approved"],"secret":"super-secret-value-123"}}
            """;
        var response = await admin.PutAsync("/api/v1/workflows/cb", TestApi.Json(body));
        Assert.DoesNotContain("super-secret-value-123", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await response.ExpectAsync(HttpStatusCode.Created);
        var read = await admin.GetStringAsync("/api/v1/workflows/cb");
        Assert.DoesNotContain("super-secret-value-123", read, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deactivate_ThenSubmit_NotRequiredAndRunningKeepsVersion()
    {
        var t = await factory.CreateTenantAsync();
        var running = await t.SubmitIdAsync();
        var deleted = await t.Admin.DeleteAsync("/api/v1/workflows/wf");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        var latest = await (await t.Admin.GetAsync("/api/v1/workflows/wf")).ExpectAsync(HttpStatusCode.OK);
        Assert.False(latest.GetProperty("active").GetBoolean());

        var submit = await t.Requester.PostJsonAsync("/api/v1/approvals", new { model = TestApi.Model, recordId = "after", record = new { amount = 1 } });
        var notRequired = await submit.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("notRequired", notRequired.GetProperty("status").GetString());

        var kept = await (await t.Admin.GetAsync($"/api/v1/approvals/{running}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", kept.GetProperty("status").GetString());
        Assert.Equal(1, kept.GetProperty("workflow").GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task Preview_MatchingRecord_ShowsStagesAndApproversAndWritesNothing()
    {
        var t = await factory.CreateTenantAsync(approvers: 2);
        var preview = await (await t.Requester.PostJsonAsync("/api/v1/workflows/preview",
            new { model = TestApi.Model, record = new { amount = 5 } })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("wf", preview.GetProperty("workflow").GetProperty("id").GetString());
        var stage = Assert.Single(preview.GetProperty("stages").EnumerateArray());
        Assert.Equal("a1,a2", string.Join(",", stage.GetProperty("approvers").EnumerateArray().Select(a => a.GetString()).Order()));

        var mine = await (await t.Requester.GetAsync("/api/v1/approvals?requestedByMe=true")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, mine.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Preview_ForAnotherRequester_AdminOnly()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var body = new { model = TestApi.Model, record = new { amount = 5 }, requester = "boss" };
        await (await t.Requester.PostJsonAsync("/api/v1/workflows/preview", body)).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await t.Requester.PostJsonAsync("/api/v1/workflows/preview", new { model = TestApi.Model, record = new { }, requester = "req" }))
            .ExpectAsync(HttpStatusCode.OK);
        var preview = await (await t.Admin.PostJsonAsync("/api/v1/workflows/preview", body)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("wf", preview.GetProperty("workflow").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Publish_InvalidDefinition_400WithFieldPaths()
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var problem = await (await admin.PutJsonAsync("/api/v1/workflows/bad",
                """{"name":"x","model":"m","stages":[{"id":"s1","order":1,"approvers":[{"type":"nope"}],"consensus":{"mode":"count"}}],"bogus":1}"""))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        var paths = TestApi.ErrorPaths(problem);
        Assert.NotEmpty(paths);
        Assert.Contains(paths, p => p.StartsWith("stages[0]", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("PUT", "/api/v1/workflows/wf2", "admin-required")]
    [InlineData("DELETE", "/api/v1/workflows/wf", "admin-required")]
    public async Task AdminRoutes_AsRequester_403(string method, string url, string slug)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var message = new HttpRequestMessage(new HttpMethod(method), url) { Content = TestApi.Json(TestApi.WorkflowJson()) };
        await (await t.Requester.SendAsync(message)).ExpectProblemAsync(HttpStatusCode.Forbidden, slug);
    }

    [Theory]
    [InlineData("GET", "/api/v1/workflows/missing")]
    [InlineData("GET", "/api/v1/workflows/wf?version=99")]
    [InlineData("GET", "/api/v1/workflows/missing/versions")]
    [InlineData("DELETE", "/api/v1/workflows/missing")]
    public async Task Unknown_Workflow_404(string method, string url)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        await (await t.Admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), url))).ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData("/api/v1/workflows/wf?version=abc", "version")]
    [InlineData("/api/v1/workflows/wf?version=0", "version")]
    public async Task Get_BadVersion_400(string url, string field)
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var problem = await (await admin.GetAsync(url)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(field, TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task Preview_MissingRecord_400WithPath()
    {
        var client = factory.Client(TestApi.NewTenant(), "u", "requester");
        var problem = await (await client.PostJsonAsync("/api/v1/workflows/preview", new { model = "m" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("record", TestApi.ErrorPaths(problem));
    }
}
