using System.Net;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Lists: pendingMyApprovals=true|false, requestedByMe=true, status and model filters, continuation tokens.</summary>
public sealed class ListTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task PendingMyApprovals_TrueThenFalseAfterDeciding()
    {
        var t = await factory.CreateTenantAsync(approvers: 2);
        var a = await t.SubmitIdAsync();
        var b = await t.SubmitIdAsync();

        var pending = await Ids(t.As("a1"), "pendingMyApprovals=true");
        Assert.Equal([a, b], pending.Order());
        Assert.Empty(await Ids(t.As("a1"), "pendingMyApprovals=false"));
        Assert.Empty(await Ids(t.As("outsider"), "pendingMyApprovals=true"));

        await (await t.As("a1").PostJsonAsync($"/api/v1/approvals/{a}/stages/s1/approve", new { })).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal([b], await Ids(t.As("a1"), "pendingMyApprovals=true"));
        Assert.Equal([a], await Ids(t.As("a1"), "pendingMyApprovals=false"));

        // a2 did not decide a, but a is no longer waiting on a2 either.
        Assert.Equal([b], await Ids(t.As("a2"), "pendingMyApprovals=true"));
    }

    [Fact]
    public async Task RequestedByMe_WithStatusAndModelFilters()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        await (await t.Admin.PutAsync("/api/v1/workflows/other", TestApi.Json(TestApi.WorkflowJson(model: "other.model")))).ExpectAsync(HttpStatusCode.Created);
        var first = await t.SubmitIdAsync();
        var second = await t.SubmitIdAsync();
        var other = (await (await t.Requester.PostJsonAsync("/api/v1/approvals", new { model = "other.model", recordId = "O1", record = new { } }))
            .ExpectAsync(HttpStatusCode.Created)).GetProperty("id").GetString()!;
        await (await t.Requester.PostJsonAsync($"/api/v1/approvals/{first}/cancel", new { })).ExpectAsync(HttpStatusCode.OK);

        Assert.Equal(new[] { first, second, other }.Order(), (await Ids(t.Requester, "requestedByMe=true")).Order());
        Assert.Equal([first], await Ids(t.Requester, "requestedByMe=true&status=cancelled"));
        Assert.Equal(new[] { second, other }.Order(), (await Ids(t.Requester, "requestedByMe=true&status=pending")).Order());
        Assert.Equal([other], await Ids(t.Requester, "requestedByMe=true&model=other.model"));
        Assert.Empty(await Ids(t.As("a1"), "requestedByMe=true"));
    }

    [Fact]
    public async Task Paging_MoreThanPageSize_ContinuationTokensVisitEachOnce()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var submitted = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            submitted.Add(await t.SubmitIdAsync());
        }

        foreach (var list in new[] { "pendingMyApprovals=true", "requestedByMe=true" })
        {
            var client = list.StartsWith("pending", StringComparison.Ordinal) ? t.As("a1") : t.Requester;
            var seen = new List<string>();
            string? token = null;
            var pages = 0;
            do
            {
                var url = $"/api/v1/approvals?{list}&top=3" + (token is null ? "" : "&continuationToken=" + Uri.EscapeDataString(token));
                var page = await (await client.GetAsync(url)).ExpectAsync(HttpStatusCode.OK);
                var items = page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToList();
                Assert.True(items.Count <= 3);
                seen.AddRange(items);
                token = page.GetProperty("continuationToken").GetString();
                pages++;
            }
            while (token is not null && pages < 10);

            Assert.True(pages >= 3, $"{list}: {pages} pages");
            Assert.Equal(submitted.Order(), seen.Order());
        }
    }

    [Theory]
    [InlineData("", "pendingMyApprovals")]
    [InlineData("?pendingMyApprovals=maybe", "pendingMyApprovals")]
    [InlineData("?requestedByMe=yes", "requestedByMe")]
    [InlineData("?pendingMyApprovals=true&top=0", "top")]
    [InlineData("?pendingMyApprovals=true&top=201", "top")]
    [InlineData("?pendingMyApprovals=true&top=x", "top")]
    [InlineData("?pendingMyApprovals=true&status=1", "status")]
    [InlineData("?requestedByMe=true&status=bogus", "status")]
    [InlineData("?pendingMyApprovals=true&continuationToken=not-a-token", "continuationToken")]
    [InlineData("?requestedByMe=true&continuationToken=%00%01%02", "continuationToken")]
    [InlineData("?requestedByMe=true&continuationToken=eyJ4IjoxfQ", "continuationToken")]
    public async Task List_BadQuery_400WithFieldPath(string query, string field)
    {
        var client = factory.Client(TestApi.NewTenant(), "u", "requester");
        var problem = await (await client.GetAsync("/api/v1/approvals" + query)).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains(field, TestApi.ErrorPaths(problem));
    }

    [Theory]
    [InlineData("null-payload")]
    [InlineData("empty-object")]
    [InlineData("other-list")]
    [InlineData("tampered-row-key-control")]
    [InlineData("tampered-row-key-huge")]
    [InlineData("tampered-partition")]
    [InlineData("huge-token")]
    public async Task List_HostileContinuationToken_400NeverAnotherListsData(string kind)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        for (var i = 0; i < 3; i++)
        {
            await t.SubmitIdAsync();
        }

        var first = await (await t.As("a1").GetAsync("/api/v1/approvals?pendingMyApprovals=true&top=1")).ExpectAsync(HttpStatusCode.OK);
        var real = first.GetProperty("continuationToken").GetString()!;
        var payload = System.Text.Json.Nodes.JsonNode.Parse(Decode(real))!.AsObject();
        string Tamper(string key, string value)
        {
            var copy = System.Text.Json.Nodes.JsonNode.Parse(payload.ToJsonString())!.AsObject();
            copy[key] = value;
            return Encode(copy.ToJsonString());
        }

        var token = kind switch
        {
            "null-payload" => Encode("null"),
            "empty-object" => Encode("{}"),
            "other-list" => real, // a1's inbox token used on the requester's list
            "tampered-row-key-control" => Tamper(payload.Select(p => p.Key).Last(), "\u0001\u0002'\"#/?"),
            "tampered-row-key-huge" => Tamper(payload.Select(p => p.Key).Last(), new string('r', 5000)),
            "tampered-partition" => Tamper(payload.Select(p => p.Key).ElementAt(1), "someone-else"),
            _ => new string('A', 40_000),
        };
        var client = kind == "other-list" ? t.Requester : t.As("a1");
        var list = kind == "other-list" ? "requestedByMe=true" : "pendingMyApprovals=true";
        var response = await client.GetAsync($"/api/v1/approvals?{list}&continuationToken={Uri.EscapeDataString(token)}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode < 500, $"{kind}: {(int)response.StatusCode} {text}");
        TestApi.AssertNoLeak(text);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            await response.ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        }
        else
        {
            // A token may only ever page the caller's own list: everything on it is a1's.
            var ids = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("items").EnumerateArray().Count();
            Assert.True(ids <= 3);
        }
    }

    [Fact]
    public async Task List_ModelFilterInjection_MatchesNothing()
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        await t.SubmitIdAsync();
        var page = await (await t.Requester.GetAsync("/api/v1/approvals?requestedByMe=true&model=" +
            Uri.EscapeDataString("x' or Model ne 'x"))).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal(0, page.GetProperty("items").GetArrayLength());
    }

    private static string Encode(string json) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Decode(string token)
    {
        var base64 = token.Replace('-', '+').Replace('_', '/');
        return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=')));
    }

    private static async Task<List<string>> Ids(HttpClient client, string query)
    {
        var page = await (await client.GetAsync("/api/v1/approvals?" + query + "&top=200")).ExpectAsync(HttpStatusCode.OK);
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];
    }
}
