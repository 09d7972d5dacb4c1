using System.Net;
using System.Text.Json;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Approvals: submit, get, by record, history, decisions, cancel, resubmit, reassign, retry.</summary>
public sealed class ApprovalRouteTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Submit_MatchingWorkflow_201PendingWithResolvedApprovers()
    {
        var t = await factory.CreateTenantAsync(approvers: 2);
        var created = await t.SubmitAsync("PO-1");
        Assert.Equal("pending", created.GetProperty("status").GetString());
        Assert.Equal("req", created.GetProperty("requester").GetString());
        var stage = created.GetProperty("stages")[0];
        Assert.Equal("s1", stage.GetProperty("id").GetString());
        Assert.Equal(2, stage.GetProperty("approvers").GetArrayLength());

        var id = created.GetProperty("id").GetString();
        var read = await (await t.As("a1").GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(id, read.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Submit_NoWorkflowForModel_200NotRequired()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var response = await t.Requester.PostJsonAsync("/api/v1/approvals", new { model = "other.model", recordId = "X", record = new { } });
        var body = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("notRequired", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Approve_ByQualifiedApprover_ApprovedAndHistoryVerifies()
    {
        var t = await factory.CreateTenantAsync(approvers: 2);
        var id = await t.SubmitIdAsync();
        var approved = await (await t.As("a2").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { comment = "ok" }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("approved", approved.GetProperty("status").GetString());
        var response = approved.GetProperty("stages")[0].GetProperty("responses")[0];
        Assert.Equal("a2", response.GetProperty("user").GetString());

        var history = await (await t.Requester.GetAsync($"/api/v1/approvals/{id}/history")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(history.GetProperty("chainVerified").GetBoolean());
        var entries = history.GetProperty("entries").EnumerateArray().ToList();
        Assert.True(entries.Count >= 2);
        Assert.Equal(history.GetProperty("ledgerHead").GetString(), entries[^1].GetProperty("hash").GetString());
        for (var i = 1; i < entries.Count; i++)
        {
            Assert.Equal(entries[i - 1].GetProperty("hash").GetString(), entries[i].GetProperty("previousHash").GetString());
        }
    }

    [Fact]
    public async Task Reject_WithComment_Rejected_AndWithoutComment_400()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        var problem = await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/reject", new { }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("comment", TestApi.ErrorPaths(problem));

        var rejected = await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/reject", new { comment = "too expensive" }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("rejected", rejected.GetProperty("status").GetString());

        // A closed request accepts no more decisions.
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "request-closed");
    }

    [Fact]
    public async Task RequestChanges_ThenResubmit_NewIterationPending()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        var changes = await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/request-changes", new { comment = "add quote" }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("changesRequested", changes.GetProperty("status").GetString());

        // Only the requester may resubmit.
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/resubmit", new { record = new { amount = 90 } }))
            .ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var problem = await (await t.Requester.PostJsonAsync($"/api/v1/approvals/{id}/resubmit", new { }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("record", TestApi.ErrorPaths(problem));

        var resubmitted = await (await t.Requester.PostJsonAsync($"/api/v1/approvals/{id}/resubmit", new { record = new { amount = 90 } }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", resubmitted.GetProperty("status").GetString());
        Assert.Equal(2, resubmitted.GetProperty("iteration").GetInt32());

        // Resubmitting a pending request is a state error.
        await (await t.Requester.PostJsonAsync($"/api/v1/approvals/{id}/resubmit", new { record = new { amount = 80 } }))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "invalid-state");
    }

    [Fact]
    public async Task Comment_ByApprover_Recorded_AndRequiresComment()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/comment", new { }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        var commented = await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/comment", new { comment = "looking" }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", commented.GetProperty("status").GetString());
        var history = await (await t.As("a1").GetAsync($"/api/v1/approvals/{id}/history")).ExpectAsync(HttpStatusCode.OK);
        Assert.Contains(history.GetProperty("entries").EnumerateArray(), e => e.GetProperty("comment").GetString() == "looking");
    }

    [Theory]
    [InlineData("outsider", "approve", HttpStatusCode.Forbidden, "not-an-approver")]
    [InlineData("req", "approve", HttpStatusCode.UnprocessableEntity, "self-approval")]
    [InlineData("a1", "approve-twice", HttpStatusCode.UnprocessableEntity, "duplicate-vote")]
    [InlineData("a1", "unknown-stage", HttpStatusCode.NotFound, "unknown-stage")]
    public async Task Decide_RuleViolations_MappedToStableProblems(string user, string scenario, HttpStatusCode status, string slug)
    {
        // consensus all, so a1's first approval leaves the stage open and a second one is a duplicate vote.
        var t = await factory.CreateTenantAsync(approvers: 2, consensus: "{\"mode\":\"all\"}");
        var id = await t.SubmitIdAsync();
        var stage = scenario == "unknown-stage" ? "nope" : "s1";
        if (scenario == "approve-twice")
        {
            await (await t.As(user).PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { })).ExpectAsync(HttpStatusCode.OK);
        }

        // The requester is an approver too here, to prove self-approval is refused even for a member.
        if (user == "req")
        {
            await (await t.Admin.PutJsonAsync("/api/v1/directory/groups/approvers", new { members = new[] { "a1", "a2", "req" } }))
                .ExpectAsync(HttpStatusCode.OK);
        }

        await (await t.As(user).PostJsonAsync($"/api/v1/approvals/{id}/stages/{stage}/approve", new { }))
            .ExpectProblemAsync(status, slug);
    }

    [Fact]
    public async Task Cancel_ByRequester_Cancelled_ByOther_403_Twice_409()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/cancel", new { })).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        var cancelled = await (await t.Requester.PostJsonAsync($"/api/v1/approvals/{id}/cancel", new { reason = "dup" })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        var again = await t.Requester.PostJsonAsync($"/api/v1/approvals/{id}/cancel", new { });
        Assert.True(again.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity, $"got {(int)again.StatusCode}");
        TestApi.AssertNoLeak(await again.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Cancel_ByAdmin_Cancelled()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        var response = await t.Admin.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/api/v1/approvals/{id}/cancel"));
        var cancelled = await response.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Reassign_ByAdmin_NewApproverCanDecide_OldCannot()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/reassign", new { from = "a1", to = "boss" }))
            .ExpectProblemAsync(HttpStatusCode.Forbidden, "admin-required");
        var problem = await (await t.Admin.PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/reassign", new { from = "a1" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("to", TestApi.ErrorPaths(problem));

        var reassigned = await (await t.Admin.PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/reassign", new { from = "a1", to = "boss" }))
            .ExpectAsync(HttpStatusCode.OK);
        Assert.Contains(reassigned.GetProperty("stages")[0].GetProperty("approvers").EnumerateArray(), a => a.GetString() == "boss");
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { })).ExpectProblemAsync(HttpStatusCode.Forbidden, "not-an-approver");
        var approved = await (await t.As("boss").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("approved", approved.GetProperty("status").GetString());

        // The request is closed now.
        await (await t.Admin.PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/reassign", new { from = "boss", to = "a1" }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "request-closed");
    }

    [Fact]
    public async Task Retry_NoFailedCallback_422_NonAdmin_403_Unknown_404()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        await (await t.Requester.PostAsync($"/api/v1/approvals/{id}/retry", null)).ExpectProblemAsync(HttpStatusCode.Forbidden, "admin-required");
        await (await t.Admin.PostAsync($"/api/v1/approvals/{id}/retry", null)).ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "invalid-state");
        await (await t.Admin.PostAsync("/api/v1/approvals/nope/retry", null)).ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Retry_FailedCallback_ListedThenRetriedByAdmin()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        await (await t.Admin.PutAsync("/api/v1/workflows/cbwf", TestApi.Json("""
            {"name":"cb","model":"cb.model","event":"create",
             "callback":{"url":"http://127.0.0.1:9/callback","events":["approved"],"secret":"callback-secret-0123456789","maxAttempts":1,"initialBackoff":"PT1S","maxBackoff":"PT1S"},
             "stages":[{"id":"s1","order":1,"approvers":[{"type":"group","id":"approvers"}]}]}
            """))).ExpectAsync(HttpStatusCode.Created);
        var id = (await (await t.Requester.PostJsonAsync("/api/v1/approvals", new { model = "cb.model", recordId = "CB1", record = new { } }))
            .ExpectAsync(HttpStatusCode.Created)).GetProperty("id").GetString();
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { })).ExpectAsync(HttpStatusCode.OK);

        string? status = null;
        for (var i = 0; i < 150 && status != "failed"; i++)
        {
            await Task.Delay(200);
            var state = await (await t.Admin.GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
            status = state.GetProperty("callback").GetProperty("status").GetString();
        }

        Assert.Equal("failed", status);
        var failed = await (await t.Admin.GetAsync("/api/v1/callbacks?status=failed")).ExpectAsync(HttpStatusCode.OK);
        Assert.Contains(failed.GetProperty("items").EnumerateArray(), c => c.GetRawText().Contains(id!, StringComparison.Ordinal));

        var retried = await t.Admin.PostAsync($"/api/v1/approvals/{id}/retry", null);
        var body = await retried.Content.ReadAsStringAsync();
        Assert.True(retried.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{(int)retried.StatusCode} {body}");
        var after = System.Text.Json.JsonDocument.Parse(body).RootElement;
        Assert.NotEqual("failed", after.GetProperty("callback").GetProperty("status").GetString());
        Assert.True(await CountAsync(t.Admin, id!, (await LastActionAsync(t.Admin, id!))) >= 1);
    }

    private static async Task<string> LastActionAsync(HttpClient client, string id)
    {
        var history = await (await client.GetAsync($"/api/v1/approvals/{id}/history")).ExpectAsync(HttpStatusCode.OK);
        return history.GetProperty("entries").EnumerateArray().Last().GetProperty("action").GetString()!;
    }

    [Fact]
    public async Task ByRecord_LatestAndEarlier_AndUnknown404()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var first = await t.SubmitIdAsync("R-1");
        await (await t.Requester.PostJsonAsync($"/api/v1/approvals/{first}/cancel", new { })).ExpectAsync(HttpStatusCode.OK);
        var second = await t.SubmitIdAsync("R-1");

        var byRecord = await (await t.Requester.GetAsync($"/api/v1/approvals/record/{TestApi.Model}/R-1")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(second, byRecord.GetProperty("latest").GetProperty("id").GetString());
        Assert.Equal(first, Assert.Single(byRecord.GetProperty("earlier").EnumerateArray()).GetProperty("id").GetString());

        await (await t.Requester.GetAsync($"/api/v1/approvals/record/{TestApi.Model}/R-404")).ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData("GET", "/api/v1/approvals/{0}")]
    [InlineData("GET", "/api/v1/approvals/{0}/history")]
    [InlineData("POST", "/api/v1/approvals/{0}/stages/s1/approve")]
    [InlineData("POST", "/api/v1/approvals/{0}/cancel")]
    public async Task UnknownRequest_404(string method, string template)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var url = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, Guid.NewGuid().ToString("N"));
        var message = new HttpRequestMessage(new HttpMethod(method), url);
        if (method == "POST")
        {
            message.Content = TestApi.Json(new { });
        }

        await (await t.As("a1").SendAsync(message)).ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Submit_UserIdInBody_IgnoredRequesterIsTokenSub()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var problem = await (await t.Requester.PostJsonAsync("/api/v1/approvals",
                new { model = TestApi.Model, recordId = "X", record = new { }, requester = "a1" }))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("requester", TestApi.ErrorPaths(problem));
        var created = await t.SubmitAsync();
        Assert.Equal("req", created.GetProperty("requester").GetString());
    }

    [Fact]
    public async Task Decide_LaterStageNotStarted_403StageWaiting_ThenOpensAfterFirst()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        await (await t.Admin.PutAsync("/api/v1/workflows/two", TestApi.Json("""
            {"name":"two","model":"two.model","event":"create","stages":[
              {"id":"first","order":1,"approvers":[{"type":"manager","levels":1}]},
              {"id":"second","order":2,"approvers":[{"type":"user","id":"a1"}]}]}
            """))).ExpectAsync(HttpStatusCode.Created);
        var created = await (await t.Requester.PostJsonAsync("/api/v1/approvals", new { model = "two.model", recordId = "T1", record = new { } }))
            .ExpectAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString();
        Assert.Equal("waiting", created.GetProperty("stages")[1].GetProperty("status").GetString());
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/second/approve", new { }))
            .ExpectProblemAsync(HttpStatusCode.Forbidden, "stage-waiting");
        await (await t.As("boss").PostJsonAsync($"/api/v1/approvals/{id}/stages/first/approve", new { })).ExpectAsync(HttpStatusCode.OK);
        var done = await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/second/approve", new { })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("approved", done.GetProperty("status").GetString());
        await (await t.As("boss").PostJsonAsync($"/api/v1/approvals/{id}/stages/first/comment", new { comment = "late" }))
            .ExpectProblemAsync(HttpStatusCode.Conflict, "request-closed");
    }

    [Fact]
    public async Task Approve_NoBodyAtAll_Accepted()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        var approved = await (await t.As("a1").PostAsync($"/api/v1/approvals/{id}/stages/s1/approve", null)).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("approved", approved.GetProperty("status").GetString());
    }

    internal static async Task<int> CountAsync(HttpClient client, string id, string action)
    {
        var history = await (await client.GetAsync($"/api/v1/approvals/{id}/history")).ExpectAsync(HttpStatusCode.OK);
        return history.GetProperty("entries").EnumerateArray().Count(e => e.GetProperty("action").GetString() == action);
    }

    internal static JsonElement Stage(JsonElement approval) => approval.GetProperty("stages")[0];
}
