using System.Net;
using System.Text;

namespace ApprovalFunctions.Api.Tests;

/// <summary>
/// Hostile inputs on every body-taking route: each answers a stable 4xx problem, never a 500, never a stack trace.
/// One tenant (with one pending request) is shared by the rows: they only read or are refused.
/// </summary>
public sealed class HostileInputTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static readonly SemaphoreSlim Gate = new(1);
    private static readonly Dictionary<string, (TestTenant Tenant, string Id)> Shared = [];

    public static TheoryData<string> BodyRoutes => new()
    {
        "POST /api/v1/approvals",
        "POST /api/v1/approvals/{id}/stages/s1/approve",
        "POST /api/v1/approvals/{id}/stages/s1/reject",
        "POST /api/v1/approvals/{id}/stages/s1/request-changes",
        "POST /api/v1/approvals/{id}/stages/s1/comment",
        "POST /api/v1/approvals/{id}/stages/s1/reassign",
        "POST /api/v1/approvals/{id}/cancel",
        "POST /api/v1/approvals/{id}/resubmit",
        "PUT /api/v1/workflows/wf2",
        "POST /api/v1/workflows/preview",
        "PUT /api/v1/directory/users/u9",
        "PUT /api/v1/directory/groups/g9",
        "PUT /api/v1/directory/departments/d9",
        "POST /api/v1/directory/import",
        "POST /api/v1/delegations",
        "POST /api/v1/integrations",
        "POST /api/v1/subscriptions",
        "POST /api/v1/dev/token",
    };

    public static TheoryData<string, string> RoutesAndBodies()
    {
        var data = new TheoryData<string, string>();
        foreach (var route in BodyRoutes)
        {
            foreach (var body in new[] { "duplicate-property", "malformed", "array", "string", "deep", "unknown-property", "wrong-types", "huge-string", "null-bytes", "too-large", "text-plain" })
            {
                data.Add(route, body);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RoutesAndBodies))]
    public async Task HostileBody_StableProblemNever500(string route, string kind)
    {
        var (tenant, id) = await SharedAsync();
        var parts = route.Split(' ');
        var url = parts[1].Replace("{id}", id, StringComparison.Ordinal);
        var (content, status, slug) = kind switch
        {
            "malformed" => (Json("{\"model\": \"m\", "), HttpStatusCode.BadRequest, "malformed-body"),
            "duplicate-property" => (Json("{\"comment\": \"a\", \"comment\": \"b\"}"), HttpStatusCode.BadRequest, "malformed-body"),
            "array" => (Json("[1,2,3]"), HttpStatusCode.BadRequest, "malformed-body"),
            "string" => (Json("\"hello\""), HttpStatusCode.BadRequest, "malformed-body"),
            "deep" => (Json(new string('[', 100) + new string(']', 100)), HttpStatusCode.BadRequest, "malformed-body"),
            "unknown-property" => (Json("{\"zzzUnknown\": 1}"), HttpStatusCode.BadRequest, "validation"),
            "wrong-types" => (Json("""{"model":1,"recordId":true,"record":"x","comment":5,"from":[],"to":{},"name":7,"members":"m","users":1,"url":2,"events":"e","secret":3,"endsAt":4,"userId":5,"stages":"s","event":9}"""),
                HttpStatusCode.BadRequest, "validation"),
            "huge-string" => (Json("{\"comment\":\"" + new string('x', 200_000) + "\",\"name\":\"" + new string('y', 40_000) + "\"}"), HttpStatusCode.BadRequest, "validation"),
            "null-bytes" => (Json("{\"comment\":\"a\\u0000b\",\"name\":\"\\u0007\",\"model\":\"m\\u0000\",\"to\":\"x\\u0000\"}"), HttpStatusCode.BadRequest, "validation"),
            "too-large" => (Json("{\"comment\":\"" + new string('x', 300 * 1024) + "\"}"), HttpStatusCode.RequestEntityTooLarge, "too-large"),
            _ => (new StringContent("{}", Encoding.UTF8, "text/plain"), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type"),
        };

        // The dev token route needs no token; everything else runs as the tenant's admin, so no role check answers first.
        var client = tenant.Admin;
        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(parts[0]), url) { Content = content });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode < 500, $"{route} {kind}: {(int)response.StatusCode} {text}");
        TestApi.AssertNoLeak(text);
        await response.ExpectProblemAsync(status, slug);
    }

    public static TheoryData<string, string> BadIds => new()
    {
        { "GET", "/api/v1/approvals/{bad}" },
        { "GET", "/api/v1/approvals/{bad}/history" },
        { "GET", "/api/v1/approvals/record/{bad}/{bad}" },
        { "POST", "/api/v1/approvals/{bad}/stages/s1/approve" },
        { "POST", "/api/v1/approvals/{id}/stages/{bad}/approve" },
        { "POST", "/api/v1/approvals/{id}/stages/{bad}/reassign" },
        { "POST", "/api/v1/approvals/{bad}/cancel" },
        { "POST", "/api/v1/approvals/{bad}/resubmit" },
        { "POST", "/api/v1/approvals/{bad}/retry" },
        { "GET", "/api/v1/workflows/{bad}" },
        { "GET", "/api/v1/workflows/{bad}/versions" },
        { "DELETE", "/api/v1/workflows/{bad}" },
        { "PUT", "/api/v1/workflows/{bad}" },
        { "PUT", "/api/v1/directory/users/{bad}" },
        { "PUT", "/api/v1/directory/groups/{bad}" },
        { "PUT", "/api/v1/directory/departments/{bad}" },
        { "DELETE", "/api/v1/subscriptions/{bad}" },
    };

    public static TheoryData<string, string, string> RoutesAndBadIds()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var row in BadIds)
        {
            foreach (var bad in new[] { "a%2Fb", "a%5Cb", "a%23b", "a%3Fb", "a%01b", "a%0Ab", "%7F", "..", "%E2%80%AE", new string('x', 1500) })
            {
                data.Add((string)row[0], (string)row[1], bad);
            }
        }

        return data;
    }

    // %00 is not in the table: TestServer (like Kestrel, which answers 400 itself) refuses a NUL in the path before the app runs.
    [Theory]
    [MemberData(nameof(RoutesAndBadIds))]
    public async Task BadIdInRoute_404Or400Never500(string method, string template, string bad)
    {
        var (tenant, id) = await SharedAsync();
        var url = template.Replace("{id}", id, StringComparison.Ordinal).Replace("{bad}", bad, StringComparison.Ordinal);
        var body = template.Contains("reassign", StringComparison.Ordinal) ? "{\"from\":\"a1\",\"to\":\"boss\"}"
            : template.Contains("resubmit", StringComparison.Ordinal) ? "{\"record\":{}}"
            : template.Contains("workflows", StringComparison.Ordinal) ? TestApi.WorkflowJson()
            : "{}";
        var message = new HttpRequestMessage(new HttpMethod(method), url);
        if (method is "POST" or "PUT")
        {
            message.Content = Json(body);
        }

        var response = await tenant.Admin.SendAsync(message);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed,
            $"{method} {url}: {(int)response.StatusCode} {text}");
        TestApi.AssertNoLeak(text);
        if (text.Length > 0)
        {
            Assert.StartsWith("urn:approvals:problem:", System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("type").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task BadIds_StoredNothing_RequestStillPending()
    {
        var (tenant, id) = await SharedAsync();
        var state = await (await tenant.Admin.GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", state.GetProperty("status").GetString());
    }

    [Fact]
    public async Task UnknownRoute_404ProblemAndWrongMethod405()
    {
        var (tenant, _) = await SharedAsync();
        await (await tenant.Admin.GetAsync("/api/v1/nothing-here")).ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await tenant.Admin.PatchAsync("/api/v1/approvals", TestApi.Json("{}"))).ExpectProblemAsync(HttpStatusCode.MethodNotAllowed, "method-not-allowed");
    }

    [Theory]
    [InlineData("/api/v1/approvals")]
    [InlineData("/api/v1/webhooks/decisions")]
    [InlineData("/api/v1/directory/import")]
    public async Task ChunkedBodyOverLimit_413(string url)
    {
        var (tenant, _) = await SharedAsync();
        var bytes = Encoding.UTF8.GetBytes("{\"comment\":\"" + new string('x', 300 * 1024) + "\"}");
        var content = new StreamContent(new UnknownLengthStream(bytes));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        message.Headers.TransferEncodingChunked = true;
        message.Headers.Add("X-Approvals-Integration", "whatever");
        await (await tenant.Admin.SendAsync(message)).ExpectProblemAsync(HttpStatusCode.RequestEntityTooLarge, "too-large");
    }

    [Theory]
    [InlineData(250_000)]
    [InlineData(120_000)]
    public async Task Submit_LargeRecordWithinBodyLimit_AcceptedOrRefusedNever500(int size)
    {
        var (tenant, _) = await SharedAsync();
        var response = await tenant.Requester.PostJsonAsync("/api/v1/approvals",
            new { model = TestApi.Model, recordId = "BIG-" + size, record = new { blob = new string('b', size), many = Enumerable.Range(0, 50).ToArray() } });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode} {text[..Math.Min(400, text.Length)]}");
        if (response.StatusCode == HttpStatusCode.Created)
        {
            var id = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("id").GetString();
            var read = await (await tenant.Admin.GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(id, read.GetProperty("id").GetString());
            var approved = await (await tenant.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { })).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal("approved", approved.GetProperty("status").GetString());
        }
    }

    [Theory]
    [InlineData("subjects", 101)]
    [InlineData("title", 513)]
    [InlineData("description", 8193)]
    [InlineData("recordId", 257)]
    public async Task Submit_OverFieldLimits_400WithPath(string field, int size)
    {
        var (tenant, _) = await SharedAsync();
        var body = new Dictionary<string, object> { ["model"] = TestApi.Model, ["recordId"] = "R", ["record"] = new { } };
        body[field] = field == "subjects" ? Enumerable.Range(0, size).Select(i => "s" + i).ToArray() : new string('x', size);
        var problem = await (await tenant.Requester.PostJsonAsync("/api/v1/approvals", body)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(field, TestApi.ErrorPaths(problem));
    }

    /// <summary>A forward-only stream, so the client cannot send a Content-Length.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private async Task<(TestTenant Tenant, string Id)> SharedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (!Shared.TryGetValue(factory.HubName, out var shared))
            {
                var tenant = await factory.CreateTenantAsync(approvers: 1);
                shared = Shared[factory.HubName] = (tenant, await tenant.SubmitIdAsync());
            }

            return shared;
        }
        finally
        {
            Gate.Release();
        }
    }
}
