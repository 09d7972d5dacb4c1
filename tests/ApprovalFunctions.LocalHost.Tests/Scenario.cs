using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>
/// A tenant built through the API of a host: users <c>req</c> (manager <c>boss</c>), <c>boss</c>, <c>a1..a3</c>,
/// <c>esc</c>, <c>admin</c>; one workflow <c>wf</c> on model <see cref="Model"/> with stage <c>s1</c> and a signed
/// callback. Every read and write goes through HTTP, as a client system's would.
/// </summary>
public sealed class Scenario
{
    /// <summary>The model the workflow applies to.</summary>
    public const string Model = "purchase.order";

    /// <summary>The callback secret.</summary>
    public const string Secret = "callback-secret-for-localhost-tests";

    private Scenario(string tenant) => Tenant = tenant;

    /// <summary>The tenant id.</summary>
    public string Tenant { get; }

    /// <summary>The workflow JSON: one stage <c>s1</c> with <paramref name="stageExtra"/> (JSON members) and a callback to <paramref name="callback"/>.</summary>
    public static string Workflow(Uri callback, string approvers = """[{"type":"user","id":"a1"}]""", string consensus = """{"mode":"any"}""",
        string stageExtra = "", int maxAttempts = 20, string initialBackoff = "PT0.2S", string maxBackoff = "PT0.5S") => $$"""
        {"name": "Purchase orders", "model": "{{Model}}", "event": "create", "priority": 1,
         "callback": {"url": "{{callback}}", "events": ["approved", "rejected", "expired", "cancelled"], "secret": "{{Secret}}",
                      "maxAttempts": {{maxAttempts}}, "initialBackoff": "{{initialBackoff}}", "maxBackoff": "{{maxBackoff}}"},
         "stages": [{"id": "s1", "name": "Approvers", "order": 1, "approvers": {{approvers}}, "consensus": {{consensus}}{{stageExtra}}}]}
        """;

    /// <summary>Creates a fresh tenant on <paramref name="host"/> with the directory and <paramref name="workflowJson"/> published as <c>wf</c>.</summary>
    public static async Task<Scenario> CreateAsync(LocalHostFactory host, string workflowJson)
    {
        ArgumentNullException.ThrowIfNull(host);
        var scenario = new Scenario("ten" + Guid.NewGuid().ToString("N")[..10]);
        using var admin = host.As(scenario.Tenant, "admin", "admin");
        var import = new
        {
            users = new object[]
            {
                new { id = "req", name = "Requester", manager = "boss" },
                new { id = "boss", name = "Boss" },
                new { id = "a1", name = "A1", groups = new[] { "approvers" } },
                new { id = "a2", name = "A2", groups = new[] { "approvers" } },
                new { id = "a3", name = "A3", groups = new[] { "approvers" } },
                new { id = "esc", name = "Escalation" },
                new { id = "admin", name = "Admin" },
            },
            groups = new[] { new { id = "approvers", name = "Approvers", members = new[] { "a1", "a2", "a3" } } },
        };
        await ExpectAsync(await admin.PostAsync(new Uri("/api/v1/directory/import", UriKind.Relative), Json(import)), HttpStatusCode.OK);
        await ExpectAsync(await admin.PutAsync(new Uri("/api/v1/workflows/wf", UriKind.Relative), Json(workflowJson)), HttpStatusCode.Created);
        return scenario;
    }

    /// <summary>Submits a request as <c>req</c> and returns its id.</summary>
    public async Task<string> SubmitAsync(LocalHostFactory host, string? recordId = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var client = host.As(Tenant, "req", "requester");
        var body = new { model = Model, recordId = recordId ?? "PO-" + Guid.NewGuid().ToString("N")[..8], title = "Chairs", record = new { amount = 100 } };
        var created = await ExpectAsync(await client.PostAsync(new Uri("/api/v1/approvals", UriKind.Relative), Json(body)), HttpStatusCode.Created);
        return created.GetProperty("id").GetString()!;
    }

    /// <summary>POSTs an approve by <paramref name="user"/> on stage s1.</summary>
    public async Task<HttpResponseMessage> ApproveAsync(LocalHostFactory host, string id, string user)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var client = host.As(Tenant, user);
        return await client.PostAsync(new Uri($"/api/v1/approvals/{id}/stages/s1/approve", UriKind.Relative), Json(new { comment = "ok" }));
    }

    /// <summary>The request as the admin reads it.</summary>
    public async Task<JsonElement> GetAsync(LocalHostFactory host, string id)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var admin = host.As(Tenant, "admin", "admin");
        return await ExpectAsync(await admin.GetAsync(new Uri($"/api/v1/approvals/{id}", UriKind.Relative)), HttpStatusCode.OK);
    }

    /// <summary>The request's ledger as the admin reads it.</summary>
    public async Task<JsonElement> HistoryAsync(LocalHostFactory host, string id)
    {
        ArgumentNullException.ThrowIfNull(host);
        using var admin = host.As(Tenant, "admin", "admin");
        return await ExpectAsync(await admin.GetAsync(new Uri($"/api/v1/approvals/{id}/history", UriKind.Relative)), HttpStatusCode.OK);
    }

    /// <summary>The request's callback status (none|pending|delivered|failed).</summary>
    public async Task<string?> CallbackStatusAsync(LocalHostFactory host, string id) =>
        (await GetAsync(host, id)).GetProperty("callback").GetProperty("status").GetString();

    /// <summary>A JSON body from an object or a raw JSON string.</summary>
    public static StringContent Json(object body) =>
        new(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    /// <summary>Asserts the status (with the body in the message) and returns the JSON body.</summary>
    public static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        ArgumentNullException.ThrowIfNull(response);
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"Expected {(int)status} but got {(int)response.StatusCode}: {text}");
            return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        }
    }

    /// <summary>
    /// Waits until a host on <paramref name="hub"/> has made its first due-work pass at start-up: it holds all 16 shard
    /// leases (taken one by one, each polled as it is taken), plus a moment for the last shard's poll. A host that
    /// should not carry out due work after start-up (a long poll interval, no wake-up on commit) is only so from then on.
    /// </summary>
    public static async Task FirstPassDoneAsync(string hub)
    {
        var leases = new ApprovalFunctions.Runtime.Storage.StorageTables(
            new ApprovalFunctions.Storage.Tables.TableServiceClient(LocalHostFactory.Storage), hub).Leases;
        await EventuallyAsync(async () =>
        {
            var held = 0;
            await foreach (var _ in leases.QueryAsync(ApprovalFunctions.Storage.Tables.TableFilter.Format($"PartitionKey eq {"lease"}")))
            {
                held++;
            }

            return held == ApprovalFunctions.Runtime.Storage.DueWorkStore.ShardCount;
        }, TimeSpan.FromSeconds(30), "the host's first due-work pass");
        await Task.Delay(500);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; returns the time it took.</summary>
    public static async Task<TimeSpan> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return clock.Elapsed;
            }

            Assert.True(clock.Elapsed < timeout, $"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            await Task.Delay(100);
        }
    }
}
