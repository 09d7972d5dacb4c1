using System.Net;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Every route taking an id: tenant B's token gets 404 (never 403, never data) for tenant A's ids, and A's data is untouched.</summary>
public sealed class CrossTenantTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task EveryIdRoute_OtherTenant_404AndNoData()
    {
        var a = await factory.CreateTenantAsync(approvers: 2);
        var id = await a.SubmitIdAsync("SECRET-REC");
        await (await a.Admin.PutAsync("/api/v1/workflows/a-only", TestApi.Json(TestApi.WorkflowJson(model: "a.model")))).ExpectAsync(HttpStatusCode.Created);
        var subscription = (await (await a.Admin.PostJsonAsync("/api/v1/subscriptions",
                new { url = "https://hooks.example/a", events = new[] { "approval.created" }, secret = "0123456789abcdef-secret" }))
            .ExpectAsync(HttpStatusCode.Created)).GetProperty("id").GetString();

        // Tenant B: same user names (an admin, and "a1" who is an approver in A), its own data.
        var b = TestApi.NewTenant();
        var clients = new[] { factory.Client(b, "admin", "admin"), factory.Client(b, "a1", "approver", "requester"), factory.Client(b, "req", "requester") };
        var probes = new (string Method, string Url, object? Body)[]
        {
            ("GET", $"/api/v1/approvals/{id}", null),
            ("GET", $"/api/v1/approvals/{id}/history", null),
            ("GET", $"/api/v1/approvals/record/{TestApi.Model}/SECRET-REC", null),
            ("POST", $"/api/v1/approvals/{id}/stages/s1/approve", new { }),
            ("POST", $"/api/v1/approvals/{id}/stages/s1/reject", new { comment = "x" }),
            ("POST", $"/api/v1/approvals/{id}/stages/s1/request-changes", new { comment = "x" }),
            ("POST", $"/api/v1/approvals/{id}/stages/s1/comment", new { comment = "x" }),
            ("POST", $"/api/v1/approvals/{id}/stages/s1/reassign", new { from = "a1", to = "a2" }),
            ("POST", $"/api/v1/approvals/{id}/cancel", new { }),
            ("POST", $"/api/v1/approvals/{id}/resubmit", new { record = new { amount = 1 } }),
            ("POST", $"/api/v1/approvals/{id}/retry", null),
            ("GET", "/api/v1/workflows/a-only", null),
            ("GET", "/api/v1/workflows/a-only?version=1", null),
            ("GET", "/api/v1/workflows/a-only/versions", null),
            ("DELETE", "/api/v1/workflows/a-only", null),
            ("DELETE", $"/api/v1/subscriptions/{subscription}", null),
        };

        foreach (var client in clients)
        {
            foreach (var (method, url, body) in probes)
            {
                var message = new HttpRequestMessage(new HttpMethod(method), url);
                if (body is not null)
                {
                    message.Content = TestApi.Json(body);
                }

                var response = await client.SendAsync(message);
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.Forbidden)
                {
                    // Only the role check may answer first (a non-admin on an admin route), and it reveals nothing about A.
                    Assert.Contains("urn:approvals:problem:admin-required", text, StringComparison.Ordinal);
                    continue;
                }

                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {url}: {(int)response.StatusCode} {text}");
                Assert.Contains("urn:approvals:problem:not-found", text, StringComparison.Ordinal);
                Assert.DoesNotContain("SECRET-REC\"", text.Replace("/SECRET-REC", "", StringComparison.Ordinal), StringComparison.Ordinal);
            }

            // B's lists and directory show nothing of A.
            foreach (var list in new[] { "/api/v1/approvals?pendingMyApprovals=true", "/api/v1/approvals?pendingMyApprovals=false",
                         "/api/v1/approvals?requestedByMe=true", "/api/v1/workflows", "/api/v1/directory/users", "/api/v1/directory/groups",
                         "/api/v1/delegations" })
            {
                var page = await (await client.GetAsync(list)).ExpectAsync(HttpStatusCode.OK);
                Assert.Equal(0, page.GetProperty("items").GetArrayLength());
            }
        }

        var bAdmin = clients[0];
        foreach (var list in new[] { "/api/v1/subscriptions", "/api/v1/integrations", "/api/v1/callbacks?status=failed" })
        {
            var page = await (await bAdmin.GetAsync(list)).ExpectAsync(HttpStatusCode.OK);
            Assert.Equal(0, page.GetProperty("items").GetArrayLength());
        }

        // A is untouched: still pending, no responses, the workflow active, the subscription listed.
        var state = await (await a.Admin.GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", state.GetProperty("status").GetString());
        Assert.Equal(0, state.GetProperty("stages")[0].GetProperty("responses").GetArrayLength());
        var workflow = await (await a.Admin.GetAsync("/api/v1/workflows/a-only")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(workflow.GetProperty("active").GetBoolean());
        var subscriptions = await (await a.Admin.GetAsync("/api/v1/subscriptions")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(1, subscriptions.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Delegation_OtherTenantUser_DoesNotSeeMyRequests()
    {
        var a = await factory.CreateTenantAsync(approvers: 1);
        var id = await a.SubmitIdAsync();
        var b = TestApi.NewTenant();
        await (await factory.Client(b, "a1", "approver").PostJsonAsync("/api/v1/delegations",
            new { to = "thief", endsAt = DateTimeOffset.UtcNow.AddDays(1) })).ExpectAsync(HttpStatusCode.Created);
        var thief = await (await factory.Client(b, "thief", "approver").GetAsync("/api/v1/approvals?pendingMyApprovals=true")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, thief.GetProperty("items").GetArrayLength());
        await (await factory.Client(b, "thief", "approver").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { }))
            .ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
    }
}
