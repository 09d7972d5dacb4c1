using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Runtime.Storage;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class IndexTests
{
    [Fact]
    public async Task ListInboxAsync_PagesWithContinuation_EveryPendingStageOnceThenMovesToDecided()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        for (var i = 0; i < 5; i++)
        {
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("req" + i, "INV-" + i));
            h.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", pending: true, ListFilter.None, 2, token);
            Assert.True(page.Items.Count <= 2);
            seen.AddRange(page.Items.Select(i => i.Id));
            token = page.ContinuationToken;
            pages++;
        }
        while (token is not null);

        Assert.Equal(5, seen.Distinct().Count());
        Assert.Equal(5, seen.Count);
        Assert.True(pages >= 3);

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "req2", Harness.Approve("manager", "bob"));
        var pending = await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 50, null);
        var decided = await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", false, ListFilter.None, 50, null);
        Assert.Equal(4, pending.Items.Count);
        Assert.DoesNotContain(pending.Items, i => i.Id == "req2");
        var row = Assert.Single(decided.Items);
        Assert.Equal(("req2", "approve", "approved"), (row.Id, row.Decision, row.Status));
    }

    [Fact]
    public async Task ListInboxAsync_Pending_OldestWaitingFirst()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        foreach (var id in new[] { "zulu", "mike", "alpha" }) // ids in the reverse of their waiting order
        {
            await h.Runtime.Processor.SubmitAsync(Harness.Submit(id, "INV-" + id));
            h.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        var page = await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 50, null);

        Assert.Equal(["zulu", "mike", "alpha"], page.Items.Select(i => i.Id));
    }

    [Fact]
    public async Task Decision_PendingRowAlreadyGone_DecidedRowStillWritten()
    {
        // The approver's pending row leaves and the decided row arrives in one transaction of their partition; when the
        // pending row is already gone (a repair removed it) the transaction fails as a whole, and the rows are written singly.
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("req1", "INV-1"));
        var pendingRow = Assert.Single(await h.Runtime.Tables.Inbox.QueryAsync().ToListAsync());
        await h.Runtime.Tables.Inbox.DeleteAsync(pendingRow.PartitionKey, pendingRow.RowKey);

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "req1", Harness.Approve("manager", "bob"));

        Assert.Empty((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 50, null)).Items);
        var decided = Assert.Single((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", false, ListFilter.None, 50, null)).Items);
        Assert.Equal(("req1", "approve"), (decided.Id, decided.Decision));
    }

    [Fact]
    public async Task Projection_ListRows_CarryWorkflowStageProgressAndOutcomeTime()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("req1", "INV-1"));

        var pending = Assert.Single((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 10, null)).Items);
        Assert.Equal(("inv", 1, 1, 1), (pending.WorkflowId, pending.WorkflowVersion, pending.Required, pending.Remaining));
        Assert.NotNull(pending.ActivatedAt);
        var open = Assert.Single((await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", ListFilter.None, 10, null)).Items);
        Assert.Null(open.DecidedAt);

        h.Clock.Advance(TimeSpan.FromMinutes(5));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "req1", Harness.Approve("manager", "bob"));

        var decided = Assert.Single((await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", ListFilter.None, 10, null)).Items);
        Assert.Equal("approved", decided.Status);
        Assert.Equal(h.Clock.GetUtcNow(), decided.DecidedAt);
    }

    [Fact]
    public async Task Projection_ThousandsOfApprovers_ManifestSpillsThenShrinksAndRowsFollow()
    {
        var h = await Harness.CreateAsync();
        var users = Enumerable.Range(0, 2800).Select(i => new DirectoryUser { Id = "user-" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture) + new string('x', 120), Groups = ["everyone"] }).ToList();
        await h.Runtime.Directory.ImportAsync(Harness.Tenant, users, [], []);
        await h.PublishAsync("inv", Harness.OneStage("""[{"type":"group","id":"everyone"}]"""));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("wide"));

        var stored = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "wide"))!;
        Assert.True(stored.ManifestParts >= 2, $"manifest parts: {stored.ManifestParts}");
        Assert.Equal(2802, stored.Manifest!.Count);
        Assert.NotNull(await h.Runtime.Tables.Requests.GetAsync(Keys.Request(Harness.Tenant, "wide"), "wide|manifest|001"));
        Assert.Single((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, users[1234].Id, true, ListFilter.None, 10, null)).Items);

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "wide", Harness.Approve("manager", users[0].Id));

        stored = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "wide"))!;
        Assert.Equal(0, stored.ManifestParts); // small again: back in the state row
        Assert.NotEmpty(stored.Manifest!);
        Assert.Null(await h.Runtime.Tables.Requests.GetAsync(Keys.Request(Harness.Tenant, "wide"), "wide|manifest"));
        Assert.Null(await h.Runtime.Tables.Requests.GetAsync(Keys.Request(Harness.Tenant, "wide"), "wide|manifest|001"));
        Assert.Empty((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, users[1234].Id, true, ListFilter.None, 10, null)).Items);
    }

    [Fact]
    public async Task ListRequestedAsync_StatusAndModelFilters_NewestFirst()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        for (var i = 0; i < 3; i++)
        {
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("q" + i, "INV-" + i));
            h.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "q1", Harness.Approve("manager", "bob"));

        var all = await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", ListFilter.None, 10, null);
        Assert.Equal(["q2", "q1", "q0"], all.Items.Select(i => i.Id));
        var approved = await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", new ListFilter("Approved", null), 10, null);
        Assert.Equal(["q1"], approved.Items.Select(i => i.Id));
        var pending = await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", new ListFilter("pending", "account.move"), 10, null);
        Assert.Equal(["q2", "q0"], pending.Items.Select(i => i.Id));
        Assert.Empty((await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", new ListFilter(null, "hr.leave"), 10, null)).Items);
        Assert.Equal(["q1"], await h.Runtime.Index.ListRecordAsync(Harness.Tenant, "account.move", "INV-1", 10));
    }

    [Fact]
    public async Task ListInboxAsync_TokenFromAnotherUsersList_Refused()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        for (var i = 0; i < 3; i++)
        {
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("t" + i, "INV-" + i));
        }

        var page = await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 1, null);
        Assert.NotNull(page.ContinuationToken);
        await Assert.ThrowsAsync<FormatException>(() => h.Runtime.Index.ListInboxAsync(Harness.Tenant, "carol", true, ListFilter.None, 1, page.ContinuationToken));
        await Assert.ThrowsAsync<FormatException>(() => h.Runtime.Index.ListInboxAsync("globex", "bob", true, ListFilter.None, 1, page.ContinuationToken));
        await Assert.ThrowsAsync<FormatException>(() => h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 1, "not-a-token!"));
    }

    [Fact]
    public async Task Projection_DelegateInEffect_GetsInboxEntryOnBehalfOfPrincipal()
    {
        var h = await Harness.CreateAsync();
        var now = h.Clock.GetUtcNow();
        await h.Runtime.Directory.PutDelegationAsync(Harness.Tenant,
            new Delegation { Id = "ooo", From = "bob", To = "erin", StartsAt = now.AddHours(-1), EndsAt = now.AddDays(2) });
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("del"));

        var erin = await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "erin", true, ListFilter.None, 10, null);
        var item = Assert.Single(erin.Items);
        Assert.Equal(("del", "bob", "manager"), (item.Id, item.OnBehalfOf, item.StageId));

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "del", Harness.Approve("manager", "bob"));
        Assert.Empty((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "erin", true, ListFilter.None, 10, null)).Items);
    }
}
