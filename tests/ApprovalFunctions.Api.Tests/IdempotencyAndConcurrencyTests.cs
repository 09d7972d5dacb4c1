using System.Net;
using System.Text.Json;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Idempotency-Key replays and refusals; concurrent decisions on a single-approver stage.</summary>
public sealed class IdempotencyAndConcurrencyTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Submit_SameKeySameBody_ReplaysFirstAnswer_OneRequest()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var body = new { model = TestApi.Model, recordId = "IDEM-1", record = new { amount = 3 } };
        var first = await t.Requester.PostJsonAsync("/api/v1/approvals", body, "key-1");
        var firstText = await first.Content.ReadAsStringAsync();
        var second = await t.Requester.PostJsonAsync("/api/v1/approvals", body, "key-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(first.StatusCode, second.StatusCode);
        Assert.Equal(firstText, await second.Content.ReadAsStringAsync());

        var mine = await (await t.Requester.GetAsync("/api/v1/approvals?requestedByMe=true")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(1, mine.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Submit_SameKeyTenTimesInParallel_OneRequest()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var body = new { model = TestApi.Model, recordId = "PAR-1", record = new { amount = 3 } };
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            var response = await t.Requester.PostJsonAsync("/api/v1/approvals", body, "par-submit");
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));
        Assert.All(results, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{(int)r.StatusCode}: {r.Body}"));
        Assert.Single(results.Where(r => r.StatusCode == HttpStatusCode.Created).Select(r => r.Body).Distinct());
        var mine = await (await t.Requester.GetAsync("/api/v1/approvals?requestedByMe=true")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(1, mine.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Decide_RefusalIsReplayedForTheSameKey()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        var first = await t.As("outsider").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { }, "refused-key");
        var firstText = await first.Content.ReadAsStringAsync();
        await first.ExpectProblemAsync(HttpStatusCode.Forbidden, "not-an-approver");
        var second = await t.As("outsider").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { }, "refused-key");
        Assert.Equal(HttpStatusCode.Forbidden, second.StatusCode);
        Assert.Equal(firstText, await second.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("a/b\\c#d?e")]
    [InlineData("..")]
    [InlineData("'; drop table --")]
    public async Task Submit_KeyWithTableKeyCharacters_ReplaysNormally(string key)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var body = new { model = TestApi.Model, recordId = "K", record = new { } };
        var first = await t.Requester.PostJsonAsync("/api/v1/approvals", body, key);
        var firstText = await first.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var second = await t.Requester.PostJsonAsync("/api/v1/approvals", body, key);
        Assert.Equal(firstText, await second.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Submit_SameKeySameUserNameInAnotherTenant_NeverReplaysTheOtherTenantsAnswer()
    {
        var a = await factory.CreateTenantAsync(approvers: 1);
        var b = await factory.CreateTenantAsync(approvers: 1);
        var body = new { model = TestApi.Model, recordId = "SHARED", record = new { amount = 1 } };
        var fromA = await (await a.Requester.PostJsonAsync("/api/v1/approvals", body, "shared-key")).ExpectAsync(HttpStatusCode.Created);
        var fromB = await (await b.Requester.PostJsonAsync("/api/v1/approvals", body, "shared-key")).ExpectAsync(HttpStatusCode.Created);
        Assert.NotEqual(fromA.GetProperty("id").GetString(), fromB.GetProperty("id").GetString());
        await (await b.Requester.GetAsync($"/api/v1/approvals/{fromA.GetProperty("id").GetString()}")).ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await b.Requester.GetAsync($"/api/v1/approvals/{fromB.GetProperty("id").GetString()}")).ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Submit_SameKeyDifferentBody_422()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        await (await t.Requester.PostJsonAsync("/api/v1/approvals", new { model = TestApi.Model, recordId = "A", record = new { } }, "key-2"))
            .ExpectAsync(HttpStatusCode.Created);
        await (await t.Requester.PostJsonAsync("/api/v1/approvals", new { model = TestApi.Model, recordId = "B", record = new { } }, "key-2"))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");
    }

    [Fact]
    public async Task Decide_SameKeySameBody_ReplayedAndAppliedOnce_DifferentBody422()
    {
        var t = await factory.CreateTenantAsync(approvers: 2, consensus: "{\"mode\":\"all\"}");
        var id = await t.SubmitIdAsync();
        var url = $"/api/v1/approvals/{id}/stages/s1/comment";
        var first = await t.As("a1").PostJsonAsync(url, new { comment = "one" }, "dk");
        var second = await t.As("a1").PostJsonAsync(url, new { comment = "one" }, "dk");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await second.Content.ReadAsStringAsync());
        Assert.Equal(1, await ApprovalRouteTests.CountAsync(t.As("a1"), id, await ActionOf(t, id, "one")));

        await (await t.As("a1").PostJsonAsync(url, new { comment = "two" }, "dk"))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");

        // The same key on another route is a different request too.
        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { comment = "one" }, "dk"))
            .ExpectProblemAsync(HttpStatusCode.UnprocessableEntity, "idempotency-key-reused");

        // Keys are per user: a2 may use the same key for its own request.
        await (await t.As("a2").PostJsonAsync(url, new { comment = "one" }, "dk")).ExpectAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Decide_KeyTooLong_400()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        var problem = await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { }, new string('k', 201)))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("Idempotency-Key", TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task Approve_TwentyApproversInParallel_ExactlyOneWins()
    {
        var t = await factory.CreateTenantAsync(approvers: 20);
        var id = await t.SubmitIdAsync();
        var clients = t.Approvers.Select(a => t.As(a)).ToList();
        using var start = new SemaphoreSlim(0);
        var tasks = clients.Select(async c =>
        {
            await start.WaitAsync();
            var response = await c.PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { });
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }).ToList();
        start.Release(clients.Count);
        var results = await Task.WhenAll(tasks);

        Assert.DoesNotContain(results, r => (int)r.StatusCode >= 500);
        var winner = Assert.Single(results, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal("approved", JsonDocument.Parse(winner.Body).RootElement.GetProperty("status").GetString());
        foreach (var loser in results.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            Assert.Equal(HttpStatusCode.Conflict, loser.StatusCode);
            var type = JsonDocument.Parse(loser.Body).RootElement.GetProperty("type").GetString();
            Assert.True(type is "urn:approvals:problem:request-closed" or "urn:approvals:problem:stage-not-active", type);
        }

        var approval = await (await t.Admin.GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Single(approval.GetProperty("stages")[0].GetProperty("responses").EnumerateArray());
        var approveAction = approval.GetProperty("stages")[0].GetProperty("responses")[0].GetProperty("decision").GetString();
        Assert.Equal("approve", approveAction);
        var history = await (await t.Admin.GetAsync($"/api/v1/approvals/{id}/history")).ExpectAsync(HttpStatusCode.OK);
        Assert.True(history.GetProperty("chainVerified").GetBoolean());
        Assert.Single(history.GetProperty("entries").EnumerateArray(), e => e.GetProperty("actor").GetString()!.StartsWith('a')
            && e.GetProperty("stageId").GetString() == "s1" && t.Approvers.Contains(e.GetProperty("actor").GetString()!));
    }

    [Fact]
    public async Task Approve_SameApproverTenTimesInParallel_AppliedOnce()
    {
        var t = await factory.CreateTenantAsync(approvers: 2, consensus: "{\"mode\":\"all\"}");
        var id = await t.SubmitIdAsync();
        var client = t.As("a1");
        using var start = new SemaphoreSlim(0);
        var tasks = Enumerable.Range(0, 10).Select(async _ =>
        {
            await start.WaitAsync();
            var response = await client.PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { });
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }).ToList();
        start.Release(10);
        var results = await Task.WhenAll(tasks);

        Assert.Single(results, r => r.StatusCode == HttpStatusCode.OK);
        foreach (var other in results.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
            Assert.Equal("urn:approvals:problem:duplicate-vote", JsonDocument.Parse(other.Body).RootElement.GetProperty("type").GetString());
        }

        var approval = await (await t.Admin.GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("pending", approval.GetProperty("status").GetString());
        Assert.Single(approval.GetProperty("stages")[0].GetProperty("responses").EnumerateArray());
    }

    [Fact]
    public async Task Approve_SameKeyTenTimesInParallel_OneAppliedRestReplayedOrInProgress()
    {
        var t = await factory.CreateTenantAsync(approvers: 2, consensus: "{\"mode\":\"all\"}");
        var id = await t.SubmitIdAsync();
        var client = t.As("a1");
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            var response = await client.PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { }, "par-key");
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));
        Assert.All(results, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, $"{(int)r.StatusCode}: {r.Body}"));
        Assert.Contains(results, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(results.Where(r => r.StatusCode == HttpStatusCode.Conflict),
            r => Assert.Contains("urn:approvals:problem:idempotency-in-progress", r.Body, StringComparison.Ordinal));
        var approval = await (await t.Admin.GetAsync($"/api/v1/approvals/{id}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Single(approval.GetProperty("stages")[0].GetProperty("responses").EnumerateArray());
    }

    private static async Task<string> ActionOf(TestTenant t, string id, string comment)
    {
        var history = await (await t.Admin.GetAsync($"/api/v1/approvals/{id}/history")).ExpectAsync(HttpStatusCode.OK);
        return history.GetProperty("entries").EnumerateArray().First(e => e.GetProperty("comment").GetString() == comment).GetProperty("action").GetString()!;
    }
}
