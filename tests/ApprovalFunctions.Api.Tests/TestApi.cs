using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Api.Auth;

namespace ApprovalFunctions.Api.Tests;

/// <summary>
/// The one shared helper: tokens per (tenant, user, roles), clients, a small tenant (directory + workflow) built
/// through the API itself, and the problem-details assertions every test uses.
/// </summary>
public static class TestApi
{
    /// <summary>The model of the small workflow.</summary>
    public const string Model = "purchase.order";

    /// <summary>Mints a development token signed with the factory's key.</summary>
    public static string Token(string tenant, string user, params string[] roles) =>
        DevTokens.Mint(ApiFactory.SigningKey, tenant, user, roles, DateTimeOffset.UtcNow);

    /// <summary>A client authenticated as (tenant, user, roles).</summary>
    public static HttpClient Client(this ApiFactory factory, string tenant, string user, params string[] roles)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(tenant, user, roles));
        return client;
    }

    /// <summary>A client with a raw Authorization header value (or none).</summary>
    public static HttpClient RawClient(this ApiFactory factory, string? bearer)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var client = factory.CreateClient();
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
        }

        return client;
    }

    /// <summary>A JSON body from an object or a raw string.</summary>
    public static StringContent Json(object body) =>
        new(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    /// <summary>POSTs JSON (an object, or a raw string sent as is).</summary>
    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string url, object body, string? idempotencyKey = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = Json(body) };
        if (idempotencyKey is not null)
        {
            message.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return client.SendAsync(message);
    }

    /// <summary>PUTs JSON.</summary>
    public static Task<HttpResponseMessage> PutJsonAsync(this HttpClient client, string url, object body)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.PutAsync(url, Json(body));
    }

    /// <summary>Reads the body as JSON, asserting the status first (with the body in the message when it differs).</summary>
    public static async Task<JsonElement> ExpectAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status} but got {(int)response.StatusCode}: {text}");
        AssertNoLeak(text);
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// Asserts an RFC 9457 problem: the status, <c>application/problem+json</c>, the stable type
    /// <c>urn:approvals:problem:{slug}</c>, and no stack trace. Returns the problem.
    /// </summary>
    public static async Task<JsonElement> ExpectProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string slug)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {(int)status} {slug} but got {(int)response.StatusCode}: {text}");
        AssertNoLeak(text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal("urn:approvals:problem:" + slug, problem.GetProperty("type").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    /// <summary>No 500-style leak: no stack frames, no exception type names of the framework.</summary>
    public static void AssertNoLeak(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
    }

    /// <summary>The paths of the field errors of a validation problem.</summary>
    public static IReadOnlyList<string> ErrorPaths(JsonElement problem) =>
        problem.TryGetProperty("errors", out var errors) ? [.. errors.EnumerateObject().Select(e => e.Name)] : [];

    /// <summary>A fresh tenant id, unique per test.</summary>
    public static string NewTenant() => "ten" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>
    /// Builds a tenant through the API: users <c>req</c> (requester, manager <c>boss</c>), <c>boss</c>, <c>outsider</c>, and
    /// <c>a1..aN</c> in group <c>approvers</c>; publishes workflow <c>wf</c> on <see cref="Model"/> with one stage <c>s1</c>
    /// (group <c>approvers</c>, consensus any).
    /// </summary>
    public static async Task<TestTenant> CreateTenantAsync(this ApiFactory factory, int approvers = 3, string consensus = "{\"mode\":\"any\"}")
    {
        var tenant = NewTenant();
        var admin = factory.Client(tenant, "admin", "admin");
        var names = Enumerable.Range(1, approvers).Select(i => "a" + i).ToArray();
        var users = new List<object>
        {
            new { id = "req", name = "Requester", manager = "boss" },
            new { id = "boss", name = "Boss" },
            new { id = "outsider", name = "Outsider" },
            new { id = "admin", name = "Admin" },
        };
        users.AddRange(names.Select(n => (object)new { id = n, name = n, groups = new[] { "approvers" } }));
        await (await admin.PostJsonAsync("/api/v1/directory/import", new
        {
            users,
            groups = new[] { new { id = "approvers", name = "Approvers", members = names } },
        })).ExpectAsync(HttpStatusCode.OK);
        await (await admin.PutJsonAsync("/api/v1/workflows/wf", WorkflowJson(consensus))).ExpectAsync(HttpStatusCode.Created);
        return new TestTenant(factory, tenant, admin, names);
    }

    /// <summary>The small workflow's JSON.</summary>
    public static string WorkflowJson(string consensus = "{\"mode\":\"any\"}", string model = Model) => $$"""
        {"name": "Purchase orders", "model": "{{model}}", "event": "create", "priority": 1,
         "stages": [{"id": "s1", "name": "Approvers", "order": 1,
                     "approvers": [{"type": "group", "id": "approvers"}], "consensus": {{consensus}}}]}
        """;
}

/// <summary>A tenant built by <see cref="TestApi.CreateTenantAsync"/>.</summary>
public sealed record TestTenant(ApiFactory Factory, string Id, HttpClient Admin, IReadOnlyList<string> Approvers)
{
    /// <summary>A client of this tenant.</summary>
    public HttpClient As(string user, params string[] roles) => Factory.Client(Id, user, roles.Length == 0 ? ["requester", "approver"] : roles);

    /// <summary>The requester's client.</summary>
    public HttpClient Requester => As("req", "requester");

    /// <summary>Submits a request as <c>req</c> and returns its JSON (201 expected).</summary>
    public async Task<JsonElement> SubmitAsync(string? recordId = null, object? record = null)
    {
        var response = await Requester.PostJsonAsync("/api/v1/approvals", new
        {
            model = TestApi.Model,
            recordId = recordId ?? "PO-" + Guid.NewGuid().ToString("N")[..8],
            title = "Chairs",
            record = record ?? new { amount = 100 },
        });
        return await response.ExpectAsync(HttpStatusCode.Created);
    }

    /// <summary>Submits and returns the new request's id.</summary>
    public async Task<string> SubmitIdAsync(string? recordId = null) => (await SubmitAsync(recordId)).GetProperty("id").GetString()!;
}
