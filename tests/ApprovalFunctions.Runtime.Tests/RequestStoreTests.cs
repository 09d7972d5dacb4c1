using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class RequestStoreTests
{
    [Fact]
    public async Task CommitAsync_StaleETag_FailsWithPreconditionAndWritesNothing()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        var submitted = await h.Runtime.Processor.SubmitAsync(Harness.Submit("r1"));
        Assert.Equal(ProcessStatus.Applied, submitted.Status);

        var first = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "r1"))!;
        var second = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "r1"))!;
        var changed = first.State with { Title = "first writer" };
        await h.Runtime.Requests.CommitAsync(first, changed, [], [], []);

        var ex = await Assert.ThrowsAsync<TableException>(() =>
            h.Runtime.Requests.CommitAsync(second, second.State with { Title = "second writer" }, [], [], []));
        Assert.Equal(TableErrorKind.PreconditionFailed, ex.Kind);
        var stored = await h.Runtime.Requests.GetAsync(Harness.Tenant, "r1");
        Assert.Equal("first writer", stored!.State.Title);
        Assert.Equal(first.Version + 1, stored.Version);
    }

    [Fact]
    public async Task LoadAsync_CommitAddingTheOutboxRowLandsBetweenTheReads_RowNeverPairedWithTheOlderState()
    {
        // Two processes: the second approves (adding the callback's outbox row) while the first is between its two reads
        // of a delivery load. A row paired with the state from before that commit made the delivery's settling commit a
        // no-op that deleted the row, and the request never recorded the delivery (seen in TwoHostTests).
        using var target = new TestReceiver(_ => 200);
        var other = await Harness.CreateAsync();
        await other.PublishAsync("inv", Harness.OneStage(callback: DueWorkTests.CallbackJson(target.Url)));
        Assert.Equal(ProcessStatus.Applied, (await other.Runtime.Processor.SubmitAsync(Harness.Submit("r1"))).Status);
        var between = new BetweenRequestsPolicy();
        var h = await Harness.CreateAsync(other.Hub, other.Clock, between);
        var rowKey = OutboxItem.CallbackRowKey("r1:1:approved");
        between.When = "GET ";
        between.Then = async () => Assert.Equal(ProcessStatus.Applied,
            (await other.Runtime.Processor.ApplyAsync(Harness.Tenant, "r1", Harness.Approve("manager", "bob"))).Status);

        var loaded = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "r1", rowKey))!;

        Assert.True(between.Fired);
        var callback = loaded.State.Callback;
        if (loaded.Outbox.ContainsKey(rowKey))
        {
            Assert.Equal(Engine.State.CallbackStatus.Pending, callback.Status);
            Assert.Equal("r1:1:approved", callback.IdempotencyKey);
        }

        // Whatever the load saw, the delivery then settles: read again (as the runner's next poll does), the pair is
        // consistent and the settling commit records the delivery.
        var again = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "r1", rowKey))!;
        Assert.True(again.Outbox.ContainsKey(rowKey));
        var settled = await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "r1",
            new CallbackDelivered { EventId = "cb:r1:1:approved:1:1:ok", Attempt = 1, IdempotencyKey = "r1:1:approved" }, new OutboxRef(rowKey, null), again, default);
        Assert.Equal(ProcessStatus.Applied, settled.Status);
        Assert.Equal(Engine.State.CallbackStatus.Delivered, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "r1"))!.State.Callback.Status);
    }

    [Fact]
    public async Task DeleteOutboxAsync_RowRewrittenSinceItWasRead_LeftInPlaceAndAttemptNotRecordedOnIt()
    {
        // An admin retry rewrites a callback's outbox row under the same key; work on the version read before must not
        // delete the new one or count its attempts.
        using var target = new TestReceiver(_ => 200);
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage(callback: DueWorkTests.CallbackJson(target.Url)));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("r1"));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "r1", Harness.Approve("manager", "bob"));
        var rowKey = OutboxItem.CallbackRowKey("r1:1:approved");
        var before = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "r1", rowKey))!;
        var old = before.Outbox[rowKey];
        Assert.NotNull(old.ETag);

        var rewritten = await h.Runtime.Requests.CommitAsync(before, before.State, [], [old with { Round = 1, Attempts = 0 }], []);
        var current = rewritten.Outbox[rowKey];
        Assert.NotEqual(old.ETag, current.ETag);

        await h.Runtime.Requests.RecordAttemptAsync(Harness.Tenant, "r1", old, 5, "stale");
        Assert.False(await h.Runtime.Requests.DeleteOutboxAsync(Harness.Tenant, "r1", old));
        var kept = await h.Runtime.Requests.GetOutboxAsync(Harness.Tenant, "r1", rowKey);
        Assert.Equal((1, 0, current.ETag), (kept!.Round, kept.Attempts, kept.ETag));

        // A commit that would remove the row as first read fails (412) rather than delete the rewritten one.
        var readBefore = rewritten with { Outbox = new Dictionary<string, OutboxItem>(StringComparer.Ordinal) { [rowKey] = old } };
        var stale = await Assert.ThrowsAsync<TableException>(() => h.Runtime.Requests.CommitAsync(readBefore, rewritten.State, [], [], [rowKey]));
        Assert.Equal(TableErrorKind.PreconditionFailed, stale.Kind);

        // The version written is the one the commit reported: work on it applies.
        await h.Runtime.Requests.RecordAttemptAsync(Harness.Tenant, "r1", current, 1, "503");
        var counted = (await h.Runtime.Requests.GetOutboxAsync(Harness.Tenant, "r1", rowKey))!;
        Assert.Equal(1, counted.Attempts);
        Assert.True(await h.Runtime.Requests.DeleteOutboxAsync(Harness.Tenant, "r1", counted));
        Assert.Null(await h.Runtime.Requests.GetOutboxAsync(Harness.Tenant, "r1", rowKey));
    }

    [Fact]
    public async Task CreateAsync_BigRecord_SpillsToExtraRowsAndShrinksBack()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        var big = new string('x', 1_100_000);
        var result = await h.Runtime.Processor.SubmitAsync(Harness.Submit("big", recordJson: $$"""{"blob":"{{big}}"}"""));
        Assert.Equal(ProcessStatus.Applied, result.Status);

        var stored = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "big"))!;
        Assert.True(stored.Parts >= 3, $"expected spill rows, got {stored.Parts} part(s)");
        Assert.Equal(big, stored.State.Record.GetProperty("blob").GetString());

        // A state that spills cannot carry the manifest as well: it has a row of its own meanwhile.
        var pk = Keys.Request(Harness.Tenant, "big");
        Assert.NotNull(await h.Runtime.Tables.Requests.GetAsync(pk, "big|state|001"));
        Assert.NotNull(await h.Runtime.Tables.Requests.GetAsync(pk, "big|manifest"));
        Assert.Equal(1, stored.ManifestParts);
        var manifest = stored.Manifest!.Select(m => m.Rk).ToList();
        Assert.NotEmpty(manifest);

        using var small = System.Text.Json.JsonDocument.Parse("""{"blob":"small"}""");
        var shrunk = await h.Runtime.Requests.CommitAsync(stored, stored.State with { Record = small.RootElement.Clone() }, [], [], []);
        Assert.Equal(1, shrunk.Parts);
        Assert.Null(await h.Runtime.Tables.Requests.GetAsync(pk, "big|state|001"));
        // Small again: the unchanged manifest moved back into the state row, and its own row is gone.
        Assert.Null(await h.Runtime.Tables.Requests.GetAsync(pk, "big|manifest"));
        var reread = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "big"))!;
        Assert.Equal("small", reread.State.Record.GetProperty("blob").GetString());
        Assert.Equal(0, reread.ManifestParts);
        Assert.Equal(manifest, reread.Manifest!.Select(m => m.Rk));
    }

    [Fact]
    public async Task SubmitAsync_StateOverLimit_RefusedWithClearErrorAndNothingStored()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        var huge = new string('y', RequestStore.MaxStateChars + 10);
        var ex = await Assert.ThrowsAsync<StateTooLargeException>(() =>
            h.Runtime.Processor.SubmitAsync(Harness.Submit("huge", recordJson: $$"""{"blob":"{{huge}}"}""")));
        Assert.Contains("limit", ex.Message, StringComparison.Ordinal);
        Assert.Null(await h.Runtime.Requests.GetAsync(Harness.Tenant, "huge"));
    }

    [Fact]
    public async Task GetLedgerAsync_AfterSeveralEvents_ReturnsEntriesInOrderAndChainVerifies()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage("""[{"type":"user","id":"bob"},{"type":"user","id":"carol"}]""", ""","consensus":{"mode":"all"}"""));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("r1"));
        for (var i = 0; i < 3; i++)
        {
            await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "r1", new Engine.Events.Decided
            {
                EventId = "c" + i, StageId = "manager", Actor = new Engine.Events.Actor("bob"), Decision = Engine.State.DecisionKind.Comment, Comment = "note " + i,
            });
        }

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "r1", Harness.Approve("manager", "bob"));
        var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "r1"))!.State;
        var ledger = await h.Runtime.Requests.GetLedgerAsync(Harness.Tenant, "r1");

        Assert.Equal(state.LedgerLength, ledger.Count);
        Assert.Equal(Enumerable.Range(1, ledger.Count).Select(i => (long)i), ledger.Select(e => e.Sequence));
        Assert.True(LedgerChain.Verify(Harness.Tenant, "r1", ledger, state.LedgerHead).IsValid);
    }

    [Fact]
    public async Task GetLedgerAsync_RowsOfOneEntryFromEarlierVersionsBesideRowsOfACommit_ReadInOrderAndVerify()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("mixed"));
        var pk = Keys.Request(Harness.Tenant, "mixed");
        var submitted = await h.Runtime.Requests.GetLedgerAsync(Harness.Tenant, "mixed");
        Assert.Equal(2, submitted.Count);

        // Rewrite the submit's row as an earlier version stored it: one entry per row.
        await h.Runtime.Tables.Requests.DeleteAsync(pk, "mixed|ledger|000000000001");
        foreach (var entry in submitted)
        {
            var row = new TableEntity(pk, "mixed|ledger|" + entry.Sequence.ToString("D12", System.Globalization.CultureInfo.InvariantCulture));
            Chunks.Write(row, "L", Engine.State.StateJson.SerializeLedgerEntry(entry));
            await h.Runtime.Tables.Requests.InsertAsync(row);
        }

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "mixed", Harness.Approve("manager", "bob"));
        var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "mixed"))!.State;
        var ledger = await h.Runtime.Requests.GetLedgerAsync(Harness.Tenant, "mixed");

        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i), ledger.Select(e => e.Sequence));
        Assert.Equal(submitted, ledger.Take(2));
        Assert.True(LedgerChain.Verify(Harness.Tenant, "mixed", ledger, state.LedgerHead).IsValid);
    }

    [Fact]
    public void LedgerRows_EntriesPastOneEntitysSize_SplitIntoRowsKeyedByTheirFirstSequence()
    {
        var comment = new string('c', 200_000);
        var entries = new List<LedgerEntry>();
        var previous = LedgerChain.Genesis("t", "r");
        for (var i = 1; i <= 5; i++)
        {
            var entry = LedgerChain.Append(previous, i, DateTimeOffset.UnixEpoch, "u", null, "comment", null, comment, null, 1);
            entries.Add(entry);
            previous = entry.Hash;
        }

        var rows = RequestStore.LedgerRows(entries).ToList();

        Assert.Equal([1L, 3L, 5L], rows.Select(r => r.First));
        Assert.All(rows, r => Assert.True(r.Json.Length <= Chunks.MaxCharsPerEntity, $"row of {r.Json.Length} chars"));
        Assert.Equal(entries, rows.SelectMany(r => Engine.State.StateJson.DeserializeLedgerEntries(r.Json)));
    }

    [Fact]
    public async Task Layout_EveryRowKeyOfARequestStartsWithItsId_AndACommitReadsOneRow()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("r-keys"));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "r-keys", Harness.Approve("manager", "bob"));

        var pk = Keys.Request(Harness.Tenant, "r-keys");
        var keys = new List<string>();
        await foreach (var row in h.Runtime.Tables.Requests.QueryAsync(TableFilter.PartitionKeyEquals(pk)))
        {
            keys.Add(row.RowKey);
        }

        Assert.Contains("r-keys|state", keys);
        // One ledger row per commit: the submit's entries (1, 2) and the approval's (3 to 5).
        Assert.Equal(["r-keys|ledger|000000000001", "r-keys|ledger|000000000003"], keys.Where(k => k.Contains("|ledger|", StringComparison.Ordinal)));
        Assert.DoesNotContain("r-keys|manifest", keys); // the manifest rides in the state row
        Assert.All(keys, k => Assert.StartsWith("r-keys|", k, StringComparison.Ordinal));

        var loaded = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "r-keys"))!;
        Assert.NotEmpty(loaded.Manifest!);
        Assert.Equal(0, loaded.ManifestParts);

        // Loading for a commit is one storage request: a point read of the state row.
        var before = h.Counter.Count;
        await h.Runtime.Requests.LoadAsync(Harness.Tenant, "r-keys");
        Assert.Equal(1, h.Counter.Count - before);
    }

    [Fact]
    public async Task EnsureCreated_TableOfAnEarlierLayout_StopsWithWhatToDo()
    {
        var h = await Harness.CreateAsync();
        var marker = (await h.Runtime.Tables.Requests.GetAsync("!layout", "!layout"))!;
        Assert.Equal(RequestStore.Layout, marker.GetInt32("Layout"));

        // A table an earlier build filled: request rows, no marker.
        var old = await Harness.CreateAsync();
        await old.Runtime.Tables.Requests.DeleteAsync("!layout", "!layout", "*");
        await old.Runtime.Tables.Requests.UpsertAsync(new TableEntity(Keys.Request(Harness.Tenant, "r0"), "state") { ["V"] = 1L });
        var fresh = new StorageTables(old.Runtime.Tables.Service, old.Hub);
        var ex = await Assert.ThrowsAsync<StorageLayoutException>(() => fresh.EnsureCreatedAsync());
        Assert.Contains("layout 1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Approvals:HubName", ex.Message, StringComparison.Ordinal);

        // A marker from another layout.
        await old.Runtime.Tables.Requests.UpsertAsync(new TableEntity("!layout", "!layout") { ["Layout"] = 3 }, TableUpdateMode.Replace);
        ex = await Assert.ThrowsAsync<StorageLayoutException>(() => new StorageTables(old.Runtime.Tables.Service, old.Hub).EnsureCreatedAsync());
        Assert.Contains("layout 3", ex.Message, StringComparison.Ordinal);
    }
}
