using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Processing;
using Azure.Core;
using Azure.Core.Pipeline;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class ProjectionJournalTests
{
    [Fact]
    public async Task AddAsync_ConcurrentCommits_ShareWritesAndAreAllListed()
    {
        var h = await Harness.CreateAsync();
        var journal = new ProjectionJournal(h.Runtime.Tables, h.Clock, "busy");

        var entries = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => journal.AddAsync(Harness.Tenant, "r" + i, "[]")));

        Assert.All(entries, Assert.NotNull);
        var listed = (await journal.ReadAllAsync()).Where(r => r.Owner == "busy").SelectMany(r => r.Entries).Select(e => e.RequestId).ToHashSet();
        Assert.Equal(Enumerable.Range(0, 60).Select(i => "r" + i).ToHashSet(), listed);
        // Group commit: commits that arrive while their slot's row is being written share the next write.
        Assert.True(journal.Writes < 30, $"{journal.Writes} writes for 60 commits");
        Assert.Equal(60, journal.Pending);
    }

    [Fact]
    public async Task Done_EveryEntry_RowIsDeletedSoonAfter()
    {
        var h = await Harness.CreateAsync();
        var journal = new ProjectionJournal(h.Runtime.Tables, h.Clock, "tidy");
        var entries = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => journal.AddAsync(Harness.Tenant, "t" + i, "[]")));
        Assert.NotEmpty(await RowsOfAsync(journal, "tidy"));

        foreach (var entry in entries)
        {
            journal.Done(entry!);
            journal.Done(entry!); // twice is harmless
        }

        var deadline = DateTime.UtcNow + ProjectionJournal.ClearDelay + TimeSpan.FromSeconds(5);
        while ((await RowsOfAsync(journal, "tidy")).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Empty(await RowsOfAsync(journal, "tidy"));
        Assert.Equal(0, journal.Pending);
    }

    [Fact]
    public async Task AddAsync_StaleKeysTooLong_NotJournaled()
    {
        var h = await Harness.CreateAsync();
        var journal = new ProjectionJournal(h.Runtime.Tables, h.Clock, "big");

        var entry = await journal.AddAsync(Harness.Tenant, "huge", new string('x', ProjectionJournal.MaxEntryChars + 1));

        Assert.Null(entry);
        Assert.Empty(await RowsOfAsync(journal, "big"));
        Assert.Equal(0, journal.Writes);
    }

    [Fact]
    public async Task AddAsync_SlotFullOfEscapedStaleKeys_RefusesInsteadOfWritingARowTooLarge()
    {
        var h = await Harness.CreateAsync();
        var journal = new ProjectionJournal(h.Runtime.Tables, h.Clock, "full");
        // Quotes are stored escaped (several characters each): the slot must count what the row will hold, not the raw length.
        var quoted = "[" + string.Join(',', Enumerable.Repeat("\"\"", (ProjectionJournal.MaxEntryChars - 2) / 3)) + "]";
        var sameSlot = Enumerable.Range(0, 100_000).Select(i => "f" + i)
            .Where(id => ProjectionJournal.SlotOf(id) == 0).Take(200);

        var taken = 0;
        foreach (var id in sameSlot)
        {
            if (await journal.AddAsync(Harness.Tenant, id, quoted) is null)
            {
                break;
            }

            taken++;
        }

        Assert.InRange(taken, 1, 199); // some fit, then the slot refuses (and the caller writes a project row)
        var row = Assert.Single(await RowsOfAsync(journal, "full"));
        Assert.Equal(taken, row.Entries.Count);
        Assert.All(row.Entries, e => Assert.Equal(quoted, e.StaleJson));
    }

    [Fact]
    public async Task RepairJournalsAsync_DeadOwnersRow_RepairedThenDeleted()
    {
        var h = await Harness.CreateAsync();
        var dead = new ProjectionJournal(h.Runtime.Tables, h.Clock, "dead");
        await dead.AddAsync(Harness.Tenant, "gone", "[]");

        // Not before the grace: a live process is still projecting it.
        Assert.Equal(0, await h.Runtime.Runner.RepairJournalsAsync(h.Clock.GetUtcNow()));
        Assert.Single(await RowsOfAsync(dead, "dead"));

        h.Clock.Advance(RequestProcessor.ProjectionGrace + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await h.Runtime.Runner.RepairJournalsAsync(h.Clock.GetUtcNow()));
        Assert.Empty(await RowsOfAsync(dead, "dead"));
        Assert.Equal(0, await h.Runtime.Runner.RepairJournalsAsync(h.Clock.GetUtcNow()));
    }

    [Fact]
    public async Task RepairJournalsAsync_LiveOwnersRow_RepairsOnlyOldEntriesAndKeepsTheRow()
    {
        var h = await Harness.CreateAsync();
        var live = new ProjectionJournal(h.Runtime.Tables, h.Clock, "live");
        // Same slot for both (the slot follows the request id's hash): find two ids that share one.
        var ids = Enumerable.Range(0, 1000).Select(i => "q" + i).GroupBy(ProjectionJournal.SlotOf)
            .First(g => g.Count() >= 2).Take(2).ToArray();
        await live.AddAsync(Harness.Tenant, ids[0], "[]");
        h.Clock.Advance(RequestProcessor.ProjectionGrace + TimeSpan.FromSeconds(1));
        await live.AddAsync(Harness.Tenant, ids[1], "[]"); // the owner writes its row again: it is alive

        Assert.Equal(1, await h.Runtime.Runner.RepairJournalsAsync(h.Clock.GetUtcNow()));
        var row = Assert.Single(await RowsOfAsync(live, "live"));
        Assert.Equal(2, row.Entries.Count);
    }

    [Fact]
    public async Task RepairJournalsAsync_OwnFinishedProjections_NotRepairedAgain()
    {
        var h = await Harness.CreateAsync();
        var journal = h.Runtime.Processor.Journal!;
        journal.ClearAfter = TimeSpan.FromMinutes(5); // the row keeps listing finished projections meanwhile
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("fine"));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "fine", Harness.Approve("manager", "bob"));
        Assert.Equal(0, journal.Pending);
        Assert.Contains("fine", (await RowsOfAsync(journal, journal.Owner)).SelectMany(r => r.Entries).Select(e => e.RequestId));

        // Listed, but finished here: not projected twice.
        h.Clock.Advance(RequestProcessor.ProjectionGrace + TimeSpan.FromSeconds(1));
        Assert.Equal(0, await h.Runtime.Runner.RepairJournalsAsync(h.Clock.GetUtcNow()));
        Assert.DoesNotContain(await DueWorkTests.DueRowKindsAsync(h), k => k == DueWorkItem.ProjectKind);
    }

    [Fact]
    public async Task ApplyAsync_ProjectionFailsAfterTheCommit_ThisProcessRepairsItAndDropsTheEntry()
    {
        var fail = new FailRequestsPolicy { PathContains = "Requesters" };
        var h = await Harness.CreateAsync(extraPolicy: fail);
        h.Runtime.Processor.ProjectionRetryDelay = TimeSpan.FromSeconds(3); // long enough to look at the unrepaired state first
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("flaky"));

        fail.Armed = true;
        await Assert.ThrowsAsync<IOException>(() => h.Runtime.Processor.ApplyAsync(Harness.Tenant, "flaky", Harness.Approve("manager", "bob")));
        fail.Armed = false;
        // Committed, but alice's list still says pending, and the journal still lists the projection.
        Assert.Equal(RequestStatus.Approved, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "flaky"))!.State.Status);
        Assert.Equal("pending", Assert.Single((await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", ListFilter.None, 10, null)).Items).Status);
        Assert.Equal(1, h.Runtime.Processor.Journal!.Pending);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (h.Runtime.Processor.Journal.Pending > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, h.Runtime.Processor.Journal.Pending);
        Assert.Equal("approved", Assert.Single((await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", ListFilter.None, 10, null)).Items).Status);
        Assert.Empty((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 10, null)).Items);
    }

    /// <summary>While armed, fails every request whose path contains <see cref="PathContains"/> as a lost connection would.</summary>
    private sealed class FailRequestsPolicy : HttpPipelinePolicy
    {
        public string PathContains { get; init; } = "\u0000";

        public bool Armed { get; set; }

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("the table client is used asynchronously");

        public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
            Armed && Uri.UnescapeDataString(message.Request.Uri.Path).Contains(PathContains, StringComparison.Ordinal)
                ? throw new IOException("injected: connection lost")
                : ProcessNextAsync(message, pipeline);
    }

    private static async Task<List<JournalRow>> RowsOfAsync(ProjectionJournal journal, string owner) =>
        [.. (await journal.ReadAllAsync()).Where(r => r.Owner == owner)];
}
