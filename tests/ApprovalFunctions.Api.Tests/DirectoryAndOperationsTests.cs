using System.Net;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Directory (users, groups, departments, bulk import), delegations, subscriptions, callbacks view.</summary>
public sealed class DirectoryAndOperationsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task PutUserGroupDepartment_ThenList()
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var user = await (await admin.PutJsonAsync("/api/v1/directory/users/jo@x.example",
            new { name = "Jo", email = "jo@x.example", groups = new[] { "g1" }, manager = "boss", department = "d1" })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("jo@x.example", user.GetProperty("id").GetString());
        await (await admin.PutJsonAsync("/api/v1/directory/groups/g1", new { name = "G", members = new[] { "jo@x.example" } })).ExpectAsync(HttpStatusCode.OK);
        await (await admin.PutJsonAsync("/api/v1/directory/departments/d1", new { name = "D", manager = "boss" })).ExpectAsync(HttpStatusCode.OK);

        var users = await (await admin.GetAsync("/api/v1/directory/users")).ExpectAsync(HttpStatusCode.OK);
        var listed = Assert.Single(users.GetProperty("items").EnumerateArray());
        Assert.Equal("boss", listed.GetProperty("manager").GetString());
        var groups = await (await admin.GetAsync("/api/v1/directory/groups")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("g1", Assert.Single(groups.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Import_Counts_AndInvalidItems400WithIndexedPaths()
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var counts = await (await admin.PostJsonAsync("/api/v1/directory/import", new
        {
            users = new object[] { new { id = "u1" }, new { id = "u2", manager = "u1" } },
            groups = new object[] { new { id = "g", members = new[] { "u1", "u2" } } },
            departments = new object[] { new { id = "d", manager = "u1" } },
        })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(2, counts.GetProperty("users").GetInt32());
        Assert.Equal(1, counts.GetProperty("groups").GetInt32());
        Assert.Equal(1, counts.GetProperty("departments").GetInt32());

        var problem = await (await admin.PostJsonAsync("/api/v1/directory/import", """
            {"users":[{"id":"ok"},{"name":"no id"},{"id":"self","manager":"self"},5,{"id":"x","groups":[1]}],"groups":"nope","bogus":[]}
            """)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        var paths = TestApi.ErrorPaths(problem);
        Assert.Contains("users[1].id", paths);
        Assert.Contains("users[2].manager", paths);
        Assert.Contains("users[3]", paths);
        Assert.Contains("users[4].groups[0]", paths);
        Assert.Contains("groups", paths);
        Assert.Contains("bogus", paths);
    }

    [Theory]
    [InlineData("/api/v1/directory/users/u1", """{"name":"x","manager":"u1"}""", "manager")]
    [InlineData("/api/v1/directory/users/u1", """{"name":5}""", "name")]
    [InlineData("/api/v1/directory/users/u1", """{"groups":"g"}""", "groups")]
    [InlineData("/api/v1/directory/users/u1", """{"nickname":"x"}""", "nickname")]
    [InlineData("/api/v1/directory/users/bad%20id", """{"name":"x"}""", "id")]
    [InlineData("/api/v1/directory/groups/g1", """{"members":[""]}""", "members[0]")]
    [InlineData("/api/v1/directory/departments/d1", """{"manager":["x"]}""", "manager")]
    public async Task Put_Invalid_400WithPath(string url, string body, string field)
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var problem = await (await admin.PutAsync(url, TestApi.Json(body))).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(field, TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task Delegation_InEffect_DelegateSeesAndDecidesOnBehalf()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var id = await t.SubmitIdAsync();
        var created = await (await t.As("a1").PostJsonAsync("/api/v1/delegations",
            new { to = "boss", startsAt = DateTimeOffset.UtcNow.AddMinutes(-1), endsAt = DateTimeOffset.UtcNow.AddDays(2) })).ExpectAsync(HttpStatusCode.Created);
        Assert.Equal("a1", created.GetProperty("from").GetString());

        var mine = await (await t.As("boss").GetAsync("/api/v1/delegations")).ExpectAsync(HttpStatusCode.OK);
        Assert.Single(mine.GetProperty("items").EnumerateArray());
        var others = await (await t.As("outsider").GetAsync("/api/v1/delegations")).ExpectAsync(HttpStatusCode.OK);
        Assert.Empty(others.GetProperty("items").EnumerateArray());

        var inbox = await WaitForInboxAsync(t.As("boss"), id);
        Assert.True(inbox, "the delegate's inbox never showed the request");
        var approved = await (await t.As("boss").PostJsonAsync($"/api/v1/approvals/{id}/stages/s1/approve", new { })).ExpectAsync(HttpStatusCode.OK);
        var response = approved.GetProperty("stages")[0].GetProperty("responses")[0];
        Assert.Equal("boss", response.GetProperty("user").GetString());
        Assert.Equal("a1", response.GetProperty("onBehalfOf").GetString());
    }

    [Theory]
    [InlineData("""{"to":"b"}""", "endsAt")]
    [InlineData("""{"endsAt":"2099-01-01T00:00:00Z"}""", "to")]
    [InlineData("""{"to":"a1","endsAt":"2099-01-01T00:00:00Z"}""", "to")]
    [InlineData("""{"to":"b","startsAt":"2099-01-02T00:00:00Z","endsAt":"2099-01-01T00:00:00Z"}""", "endsAt")]
    [InlineData("""{"to":"b","endsAt":"tomorrow"}""", "endsAt")]
    [InlineData("""{"to":"b","endsAt":"2099-01-01T00:00:00Z","user":"x"}""", "user")]
    public async Task Delegation_Invalid_400WithPath(string body, string field)
    {
        var client = factory.Client(TestApi.NewTenant(), "a1", "approver");
        var problem = await (await client.PostJsonAsync("/api/v1/delegations", body)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(field, TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task Delegation_ForAnotherUser_OnlyAdmin()
    {
        var tenant = TestApi.NewTenant();
        var body = new { from = "x", to = "y", endsAt = DateTimeOffset.UtcNow.AddDays(1) };
        await (await factory.Client(tenant, "a1", "approver").PostJsonAsync("/api/v1/delegations", body)).ExpectProblemAsync(HttpStatusCode.Forbidden, "forbidden");
        await (await factory.Client(tenant, "admin", "admin").PostJsonAsync("/api/v1/delegations", body)).ExpectAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Subscriptions_CreateListDelete_SecretNeverReturned()
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var created = await (await admin.PostJsonAsync("/api/v1/subscriptions",
            new { url = "https://hooks.example/x", events = new[] { "stage.activated", "approval.approved" }, secret = "sub-secret-0123456789" }))
            .ExpectAsync(HttpStatusCode.Created);
        Assert.DoesNotContain("sub-secret", created.GetRawText(), StringComparison.Ordinal);
        var id = created.GetProperty("id").GetString();
        var list = await (await admin.GetAsync("/api/v1/subscriptions")).ExpectAsync(HttpStatusCode.OK);
        Assert.DoesNotContain("sub-secret", list.GetRawText(), StringComparison.Ordinal);
        Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/subscriptions/{id}")).StatusCode);
        await (await admin.DeleteAsync($"/api/v1/subscriptions/{id}")).ExpectProblemAsync(HttpStatusCode.NotFound, "not-found");
    }

    [Theory]
    [InlineData("""{"url":"ftp://x","events":["approval.created"],"secret":"0123456789abcdef"}""", "url")]
    [InlineData("""{"url":"not a url","events":["approval.created"],"secret":"0123456789abcdef"}""", "url")]
    [InlineData("""{"url":"https://x.example","events":["nope"],"secret":"0123456789abcdef"}""", "events[0]")]
    [InlineData("""{"url":"https://x.example","events":[],"secret":"0123456789abcdef"}""", "events")]
    [InlineData("""{"url":"https://x.example","events":["approval.created"],"secret":"short"}""", "secret")]
    [InlineData("""{"url":"https://x.example","events":["approval.created"]}""", "secret")]
    public async Task Subscription_Invalid_400WithPath(string body, string field)
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var problem = await (await admin.PostJsonAsync("/api/v1/subscriptions", body)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(field, TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task Callbacks_FailedList_AndOtherStatus400()
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");
        var page = await (await admin.GetAsync("/api/v1/callbacks?status=failed")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, page.GetProperty("items").GetArrayLength());
        var problem = await (await admin.GetAsync("/api/v1/callbacks?status=delivered")).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("status", TestApi.ErrorPaths(problem));
    }

    private static async Task<bool> WaitForInboxAsync(HttpClient client, string id)
    {
        for (var i = 0; i < 50; i++)
        {
            var page = await (await client.GetAsync("/api/v1/approvals?pendingMyApprovals=true")).ExpectAsync(HttpStatusCode.OK);
            if (page.GetProperty("items").EnumerateArray().Any(x => x.GetProperty("id").GetString() == id))
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }
}
