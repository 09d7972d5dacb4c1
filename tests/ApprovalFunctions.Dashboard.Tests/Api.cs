using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>The API calls the tests make directly (the setup around what the page does).</summary>
public static class Api
{
    /// <summary>PUT a workflow as admin; fails the test on anything but 201.</summary>
    public static async Task PublishAsync(HttpClient admin, string workflowId, JsonObject definition)
    {
        ArgumentNullException.ThrowIfNull(admin);
        using var response = await admin.PutAsJsonAsync(new Uri($"/api/v1/workflows/{workflowId}", UriKind.Relative), definition);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"publish {workflowId}: {(int)response.StatusCode} {text}");
    }

    /// <summary>Submits a record (with an Idempotency-Key, as an ERP would) and returns the new request's id.</summary>
    public static async Task<string> SubmitAsync(HttpClient requester, string model, string recordId, string title, JsonObject record)
    {
        ArgumentNullException.ThrowIfNull(requester);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/v1/approvals", UriKind.Relative))
        {
            Content = JsonContent.Create(new JsonObject
            {
                ["model"] = model,
                ["recordId"] = recordId,
                ["event"] = "create",
                ["title"] = title,
                ["record"] = record,
            }),
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await requester.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"submit: {(int)response.StatusCode} {text}");
        using var body = JsonDocument.Parse(text);
        Assert.Equal("pending", body.RootElement.GetProperty("status").GetString());
        return body.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>GET a request as JSON.</summary>
    public static async Task<JsonElement> GetAsync(HttpClient client, string id)
    {
        ArgumentNullException.ThrowIfNull(client);
        var text = await client.GetStringAsync(new Uri($"/api/v1/approvals/{id}", UriKind.Relative));
        using var body = JsonDocument.Parse(text);
        return body.RootElement.Clone();
    }

    /// <summary>Polls a request until <paramref name="done"/> holds (background work such as callback delivery).</summary>
    public static async Task<JsonElement> WaitForAsync(HttpClient client, string id, Func<JsonElement, bool> done, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(done);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var state = await GetAsync(client, id);
            if (done(state))
            {
                return state;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Request {id} did not reach the expected state in {timeout.TotalSeconds:0} s: {state}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>A two-stage purchase workflow: the requester's manager, then dave (finance), with a signed callback.</summary>
    public static JsonObject TwoStageWorkflow(string model, Uri callbackUrl, string secret, int maxAttempts = 5) => new()
    {
        ["name"] = "E2E purchase order",
        ["model"] = model,
        ["event"] = "create",
        ["priority"] = 5,
        ["expiresIn"] = "P7D",
        ["callback"] = new JsonObject
        {
            ["url"] = callbackUrl.ToString(),
            ["events"] = new JsonArray("approved", "rejected"),
            ["secret"] = secret,
            ["maxAttempts"] = maxAttempts,
            ["initialBackoff"] = "PT1S",
            ["maxBackoff"] = "PT2S",
        },
        ["stages"] = new JsonArray(
            new JsonObject
            {
                ["id"] = "manager", ["name"] = "Manager", ["order"] = 1,
                ["approvers"] = new JsonArray(new JsonObject { ["type"] = "manager", ["levels"] = 1 }),
            },
            new JsonObject
            {
                ["id"] = "finance", ["name"] = "Finance", ["order"] = 2,
                ["approvers"] = new JsonArray(new JsonObject { ["type"] = "user", ["id"] = "dave" }),
            }),
    };

    /// <summary>A fresh model name, so each test's workflow is the only one that applies to its records.</summary>
    public static string NewModel(string prefix) => $"{prefix}.{Guid.NewGuid().ToString("N")[..8]}";
}
