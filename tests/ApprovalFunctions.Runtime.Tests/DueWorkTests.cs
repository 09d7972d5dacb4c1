using System.Globalization;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class DueWorkTests
{
    internal static string CallbackJson(Uri url, int maxAttempts = 8) =>
        $$""" "callback":{"url":"{{url}}","events":["approved","rejected"],"secret":"top-secret","maxAttempts":{{maxAttempts}},"initialBackoff":"PT10S","maxBackoff":"PT1M"},""";

    [Fact]
    public async Task RunOnceAsync_ReminderThenEscalationDue_FiresIntoEngineOnce()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","reminderEvery":"PT1H","escalation":[{"after":"PT2H","approvers":[{"type":"user","id":"erin"}]}]"""));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("timed"));
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "timed");

        Assert.Equal(0, await h.Runtime.Runner.RunOnceAsync(shard, h.Clock.GetUtcNow()));
        h.Clock.Advance(TimeSpan.FromMinutes(61));
        Assert.True(await h.Runtime.Runner.RunOnceAsync(shard, h.Clock.GetUtcNow()) >= 1);
        var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "timed"))!.State;
        Assert.Equal(1, state.Stages[0].RemindersSent);

        h.Clock.Advance(TimeSpan.FromMinutes(61));
        await h.Runtime.Runner.RunOnceAsync(shard, h.Clock.GetUtcNow());
        state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "timed"))!.State;
        Assert.Equal(1, state.Stages[0].EscalationLevel);
        Assert.Contains("erin", state.Stages[0].Approvers);
        Assert.Single((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "erin", true, ListFilter.None, 10, null)).Items);

        // Firing the same timer again (a redelivered row) changes nothing.
        var timer = new TimerKey(TimerKind.Escalation, "manager", 1, 1, state.Stages[0].ActivatedAt!.Value.AddHours(2));
        var again = await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "timed", new TimerFired { EventId = "timer:" + timer, Timer = timer });
        Assert.NotEqual(ProcessStatus.Applied, again.Status);
    }

    [Fact]
    public async Task PollAsync_TimerWithinTheLookAhead_ReturnedThenStartedFromMemoryAndSkippedByLaterPolls()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","timeout":{"after":"PT10S","action":"reject"}"""));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("soon"));
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "soon");
        var runner = h.Runtime.Runner;

        // 9 s in: the timeout is 1 s away, inside a 2 s look-ahead. Nothing is due yet.
        h.Clock.Advance(TimeSpan.FromSeconds(9));
        var seen = await runner.PollAsync(shard, h.Clock.GetUtcNow(), TimeSpan.FromSeconds(2));
        Assert.Equal(0, seen.Handled);
        Assert.True(seen.Complete);
        var timer = Assert.Single(seen.Timers, t => t.RequestId == "soon");
        Assert.Null(seen.NextDue); // the timer is not a reason to poll again: it is started from memory
        Assert.False(runner.StartTimer(timer with { Kind = DueWorkItem.ProjectKind }, CancellationToken.None)); // timers only

        h.Clock.Advance(TimeSpan.FromSeconds(1));
        h.Counter.Reset();
        Assert.True(runner.StartTimer(timer, CancellationToken.None));
        Assert.False(runner.StartTimer(timer, CancellationToken.None)); // already running
        await runner.DrainAsync();

        Assert.Equal(RequestStatus.Rejected, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "soon"))!.State.Status);
        Assert.DoesNotContain(h.Counter.Sent, r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains("DueWork()", StringComparison.Ordinal));
        // Done and waiting for the batched delete: a poll neither runs it again nor hands it back as coming.
        var after = await runner.PollAsync(shard, h.Clock.GetUtcNow(), TimeSpan.FromSeconds(2));
        Assert.Equal(0, after.Handled);
        Assert.DoesNotContain(after.Timers, t => t.RequestId == "soon");
        Assert.False(runner.StartTimer(timer, CancellationToken.None));
    }

    [Fact]
    public async Task PollAsync_RowsDoneHereLeadThePage_PageMakesRoomAndTheWorkBehindThemRuns()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","timeout":{"after":"PT10S","action":"reject"}"""));
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "crowd0");
        var ids = Harness.IdsInShard("crowd", shard).Take(3).ToList();
        foreach (var id in ids)
        {
            await h.Runtime.Processor.SubmitAsync(Harness.Submit(id, "INV-" + id));
        }

        h.Clock.Advance(TimeSpan.FromSeconds(11));
        var now = h.Clock.GetUtcNow();
        var timers = (await h.Runtime.DueWork.QueryDueAsync(shard, now, 10)).Where(r => r.Kind == DueWorkItem.TimerKind).ToList();
        Assert.Equal(3, timers.Count);
        h.Runtime.DueWork.DeleteSoon(timers.Take(2)); // as if done here: the first two rows of the page wait for their delete
        var runner = new DueWorkRunner(h.Runtime.Processor, h.Runtime.Requests, h.Runtime.DueWork, h.Runtime.DefinitionCache, h.Runtime.Subscriptions,
            new HttpDeliverySender(Harness.Http, h.Clock, () => 0.5), h.Clock, () => 0.5, options: new DueWorkRunnerOptions { BatchSize = 1 });

        var result = await runner.PollAsync(shard, now, TimeSpan.Zero);

        Assert.Equal(1, result.Handled); // a one-row page would have held only a skipped row
        Assert.Equal(RequestStatus.Rejected, (await h.Runtime.Requests.GetAsync(Harness.Tenant, timers[2].RequestId))!.State.Status);
    }

    [Fact]
    public async Task RunOnceAsync_CallbackToLocalTarget_DeliveredWithValidSignatureAndMarkedDelivered()
    {
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(_ => 200);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("cb"));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "cb", Harness.Approve("manager", "bob"));

        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());

        var got = Assert.Single(target.Received);
        Assert.Null(Signatures.Verify("top-secret", got.Timestamp, got.Signature, Encoding.UTF8.GetBytes(got.Body), h.Clock.GetUtcNow()));
        using var body = JsonDocument.Parse(got.Body);
        var state = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "cb"))!;
        Assert.Equal("cb", body.RootElement.GetProperty("approvalId").GetString());
        Assert.Equal("approved", body.RootElement.GetProperty("outcome").GetString());
        Assert.Equal(25000, body.RootElement.GetProperty("record").GetProperty("amount").GetInt32());
        // The callback carries the chain head as of the final decision: an entry of the ledger, before the delivery's own.
        var ledger = await h.Runtime.Requests.GetLedgerAsync(Harness.Tenant, "cb");
        var head = body.RootElement.GetProperty("ledgerHead").GetString();
        var headEntry = Assert.Single(ledger, e => e.Hash.ToString() == head);
        Assert.Equal("approval.approved", headEntry.Action);
        Assert.Equal(state.State.Callback.IdempotencyKey, got.IdempotencyKey);
        Assert.Equal(CallbackStatus.Delivered, state.State.Callback.Status);
        Assert.Empty(await OutboxRowsAsync(h, "cb"));
        Assert.Equal(0, await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow().AddHours(1)));
    }

    [Fact]
    public async Task RunOnceAsync_CallbackWithHugeRecord_DeliveredWholeFromTheCommittedState()
    {
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(_ => 200);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        var blob = new string('z', 700_000);
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("huge", recordJson: $$"""{"blob":"{{blob}}"}"""));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "huge", Harness.Approve("manager", "bob"));

        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());

        var got = Assert.Single(target.Received);
        Assert.Null(Signatures.Verify("top-secret", got.Timestamp, got.Signature, Encoding.UTF8.GetBytes(got.Body), h.Clock.GetUtcNow()));
        using var body = JsonDocument.Parse(got.Body);
        Assert.Equal(blob.Length, body.RootElement.GetProperty("record").GetProperty("blob").GetString()!.Length);
        Assert.Equal(CallbackStatus.Delivered, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "huge"))!.State.Callback.Status);
    }

    [Fact]
    public async Task RunOnceAsync_TargetDownThenUp_RetriesWithBackoffThenDelivers()
    {
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(n => n <= 2 ? 503 : 204);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("flaky"));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "flaky", Harness.Approve("manager", "bob"));

        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());
        Assert.Single(target.Received);
        // Not due again until the backoff has passed.
        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow().AddSeconds(5));
        Assert.Single(target.Received);
        var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "flaky"))!.State;
        Assert.Equal((CallbackStatus.Pending, 1), (state.Callback.Status, state.Callback.Attempts));

        for (var i = 0; i < 3; i++)
        {
            h.Clock.Advance(TimeSpan.FromMinutes(1));
            await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());
        }

        state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "flaky"))!.State;
        Assert.Equal(3, target.Received.Count);
        Assert.Single(target.Received.Select(r => r.IdempotencyKey).Distinct());
        Assert.Equal((CallbackStatus.Delivered, 3), (state.Callback.Status, state.Callback.Attempts));
    }

    [Fact]
    public async Task RunOnceAsync_TargetDownPastPolicy_FailedListedThenAdminRetryDelivers()
    {
        var h = await Harness.CreateAsync();
        var up = false;
        using var target = new TestReceiver(_ => Volatile.Read(ref up) ? 200 : 500);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url, maxAttempts: 2)));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("down"));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "down", Harness.Approve("manager", "bob"));

        for (var i = 0; i < 4; i++)
        {
            await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());
            h.Clock.Advance(TimeSpan.FromMinutes(2));
        }

        var state = (await h.Runtime.Requests.LoadAsync(Harness.Tenant, "down"))!;
        Assert.Equal(2, target.Received.Count);
        Assert.Equal(CallbackStatus.Failed, state.State.Callback.Status);
        Assert.Empty(await OutboxRowsAsync(h, "down"));
        var failed = Assert.Single(await h.Runtime.Index.ListFailedCallbacksAsync(Harness.Tenant, 10));
        Assert.Equal(("down", 2), (failed.Id, failed.Attempts));

        Volatile.Write(ref up, true);
        var retry = await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "down", new CallbackRetryRequested { EventId = "retry-1", Actor = new Actor("admin", IsAdmin: true) });
        Assert.Equal(ProcessStatus.Applied, retry.Status);
        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());

        state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "down"))!;
        Assert.Equal(3, target.Received.Count);
        Assert.Equal(CallbackStatus.Delivered, state.State.Callback.Status);
        Assert.Empty(await h.Runtime.Index.ListFailedCallbacksAsync(Harness.Tenant, 10));
    }

    [Fact]
    public async Task RunAllOnceAsync_SecondHostGivesUpOnTheRoundBeforeAnAdminRetry_RetriedRoundKeepsItsRowAndIsDelivered()
    {
        // Attempts 1 and 2 fail (one per host), the third succeeds; every workflow attempt budget is 1.
        using var target = new TestReceiver(n => n <= 2 ? 500 : 200);
        var a = await Harness.CreateAsync();
        await a.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url, maxAttempts: 1)));
        await a.Runtime.Processor.SubmitAsync(Harness.Submit("late"));
        await a.Runtime.Processor.ApplyAsync(Harness.Tenant, "late", Harness.Approve("manager", "bob"));
        var rowKey = OutboxItem.CallbackRowKey("late:1:approved");

        // Host B starts delivering round 0: right after it read the outbox row, host A makes its own attempt, gives up,
        // and an admin retries (round 1, rewritten under the same key). Then B's attempt fails and gives up too.
        var between = new BetweenRequestsPolicy { When = "outbox" };
        var b = await Harness.CreateAsync(a.Hub, a.Clock, between);
        between.Then = async () =>
        {
            await a.Runtime.Runner.RunAllOnceAsync(a.Clock.GetUtcNow());
            Assert.Equal(CallbackStatus.Failed, (await a.Runtime.Requests.GetAsync(Harness.Tenant, "late"))!.State.Callback.Status);
            a.Clock.Advance(TimeSpan.FromSeconds(1)); // the retry's due row is its own (a due row's key holds its due time)
            var retry = await a.Runtime.Processor.ApplyAsync(Harness.Tenant, "late", new CallbackRetryRequested { EventId = "retry-1", Actor = new Actor("admin", IsAdmin: true) });
            Assert.Equal(ProcessStatus.Applied, retry.Status);
        };
        await b.Runtime.Runner.RunAllOnceAsync(a.Clock.GetUtcNow());

        Assert.True(between.Fired);
        Assert.Equal(2, target.Received.Count);
        var state = (await a.Runtime.Requests.GetAsync(Harness.Tenant, "late"))!.State;
        Assert.Equal((CallbackStatus.Pending, 1), (state.Callback.Status, state.Callback.Round));
        Assert.Equal(1, (await a.Runtime.Requests.GetOutboxAsync(Harness.Tenant, "late", rowKey))!.Round);

        await a.Runtime.Runner.RunAllOnceAsync(a.Clock.GetUtcNow());
        Assert.Equal(CallbackStatus.Delivered, (await a.Runtime.Requests.GetAsync(Harness.Tenant, "late"))!.State.Callback.Status);
        Assert.Equal(3, target.Received.Count);
        Assert.Empty(await OutboxRowsAsync(a, "late"));
    }

    [Fact]
    public async Task RunOnceAsync_CrashBetweenCommitAndProjection_ProjectRowRepairsIndexes()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("crash"));
        Assert.Single((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 10, null)).Items);

        h.Runtime.Processor.SimulateCrashAfterCommit = true;
        var applied = await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "crash", Harness.Approve("manager", "bob"));
        h.Runtime.Processor.SimulateCrashAfterCommit = false;
        Assert.Equal(ProcessStatus.Applied, applied.Status);
        // Committed but not projected: the inbox still shows the stale pending entry.
        Assert.Single((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 10, null)).Items);
        Assert.Empty((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", false, ListFilter.None, 10, null)).Items);
        // The decision wrote no due row of its own (no timer, no delivery): its intent is in the process's journal row.
        Assert.DoesNotContain(await DueRowKindsAsync(h), k => k == DueWorkItem.ProjectKind);
        var listed = (await h.Runtime.Processor.Journal!.ReadAllAsync()).Where(r => r.Owner == h.Runtime.Processor.Journal.Owner)
            .SelectMany(r => r.Entries).Select(e => e.RequestId);
        Assert.Contains("crash", listed);

        // A restarted process (fresh caches and locks) finds the journal entry once the grace has passed and its owner is silent.
        var restarted = await h.SecondProcessAsync();
        h.Clock.Advance(RequestProcessor.ProjectionGrace + TimeSpan.FromSeconds(1));
        await restarted.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());

        Assert.Empty((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", true, ListFilter.None, 10, null)).Items);
        var decided = Assert.Single((await h.Runtime.Index.ListInboxAsync(Harness.Tenant, "bob", false, ListFilter.None, 10, null)).Items);
        Assert.Equal("approved", decided.Status);
        Assert.Equal("approved", Assert.Single((await h.Runtime.Index.ListRequestedAsync(Harness.Tenant, "alice", ListFilter.None, 10, null)).Items).Status);
        Assert.Equal(0, await restarted.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow().AddMinutes(5)));
    }

    [Fact]
    public async Task RunOnceAsync_SubscriptionEvents_DeliveredSignedWithSubscriptionSecret()
    {
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(_ => 200);
        await h.Runtime.Subscriptions.CreateAsync(Harness.Tenant, target.Url, ["stage.activated"], "sub-secret", h.Clock.GetUtcNow());
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("ev"));

        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());

        var got = Assert.Single(target.Received);
        Assert.Null(Signatures.Verify("sub-secret", got.Timestamp, got.Signature, Encoding.UTF8.GetBytes(got.Body), h.Clock.GetUtcNow()));
        using var body = JsonDocument.Parse(got.Body);
        Assert.Equal("stage.activated", body.RootElement.GetProperty("event").GetString());
        Assert.Equal(["bob"], body.RootElement.GetProperty("users").EnumerateArray().Select(u => u.GetString()));
        Assert.Empty(await OutboxRowsAsync(h, "ev"));
    }

    [Fact]
    public async Task RunOnceAsync_OrphanRows_DeletedWithoutEffect()
    {
        var h = await Harness.CreateAsync();
        var now = h.Clock.GetUtcNow();
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "ghost");
        var timer = new TimerKey(TimerKind.Reminder, "manager", 1, 1, now);
        await h.Runtime.DueWork.AddAsync([
            DueWorkItem.Create(Harness.Tenant, "ghost", DueWorkItem.TimerKind, timer.ToString(), now, StateJson.SerializeTimer(timer)),
            DueWorkItem.Create(Harness.Tenant, "ghost", DueWorkItem.OutboxKind, "outbox|c|missing", now),
            DueWorkItem.Create(Harness.Tenant, "ghost", DueWorkItem.ProjectKind, "1", now, "[]"),
        ]);

        Assert.Equal(3, await h.Runtime.Runner.RunAllOnceAsync(now));

        // The timer and projection rows are done at once (deleted with the shard's next batched delete, and skipped by
        // polls until then); the outbox row (which may be racing its commit) is kept for the grace period, looked at
        // twice, then dropped.
        Assert.Equal(0, await h.Runtime.Runner.RunAllOnceAsync(now));
        await h.Runtime.DueWork.FlushDeletesAsync();
        var kept = Assert.Single(await h.Runtime.DueWork.QueryDueAsync(shard, now.AddDays(1), 10));
        Assert.Equal(DueWorkItem.OutboxKind, kept.Kind);
        Assert.Equal(now + DueWorkRunner.OrphanRecheck, kept.DueAt);
        h.Clock.Advance(DueWorkRunner.OrphanRecheck);
        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());
        Assert.Equal(now + DueWorkRunner.OrphanGrace, Assert.Single(await h.Runtime.DueWork.QueryDueAsync(shard, now.AddDays(1), 10)).DueAt);
        h.Clock.Advance(DueWorkRunner.OrphanGrace);
        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());

        Assert.Empty(await h.Runtime.DueWork.QueryDueAsync(shard, now.AddDays(1), 10));
        Assert.Null(await h.Runtime.Requests.GetAsync(Harness.Tenant, "ghost"));
    }

    /// <summary>Three due <c>project</c> rows of one request (so one shard), stored.</summary>
    private static async Task<(Harness H, DateTimeOffset Now, int Shard, List<DueWorkItem> Rows)> ThreeRepairRowsAsync(string requestId)
    {
        var h = await Harness.CreateAsync();
        var now = h.Clock.GetUtcNow();
        var rows = Enumerable.Range(1, 3)
            .Select(i => DueWorkItem.Create(Harness.Tenant, requestId, DueWorkItem.ProjectKind, i.ToString(CultureInfo.InvariantCulture), now, "[]")).ToList();
        await h.Runtime.DueWork.AddAsync(rows);
        return (h, now, DueWorkStore.ShardOf(Harness.Tenant, requestId), rows);
    }

    [Fact]
    public async Task DeleteSoon_RowsOfAShard_SkippedByPollsThenDeletedInOneTransaction()
    {
        var (h, now, shard, rows) = await ThreeRepairRowsAsync("done");

        h.Runtime.DueWork.DeleteSoon(rows);
        Assert.All(rows, r => Assert.True(h.Runtime.DueWork.IsDeleting(r)));
        Assert.True(h.Runtime.Runner.IsBusy(shard)); // its lease is not handed over with deletes pending
        Assert.Equal(0, await h.Runtime.Runner.RunOnceAsync(shard, now)); // done rows are not work again
        Assert.Equal(3, (await h.Runtime.DueWork.QueryDueAsync(shard, now, 10)).Count);

        h.Counter.Reset();
        await h.Runtime.DueWork.FlushDeletesAsync();
        Assert.Equal(["POST /devstoreaccount1/$batch"], h.Counter.Sent);
        Assert.Empty(await h.Runtime.DueWork.QueryDueAsync(shard, now, 10));
        Assert.False(h.Runtime.DueWork.IsDeleting(rows[0]));
        Assert.False(h.Runtime.Runner.IsBusy(shard));
    }

    [Fact]
    public async Task DeleteSoon_OneRowAlreadyGone_TheOthersAreStillDeleted()
    {
        // A transaction fails as a whole on a missing row (another process ran it): the store falls back to single deletes.
        var (h, now, shard, rows) = await ThreeRepairRowsAsync("gone");
        await h.Runtime.DueWork.DeleteAsync(rows[1]);

        h.Runtime.DueWork.DeleteSoon(rows);
        await h.Runtime.DueWork.FlushDeletesAsync();

        Assert.Empty(await h.Runtime.DueWork.QueryDueAsync(shard, now, 10));
        Assert.All(rows, r => Assert.False(h.Runtime.DueWork.IsDeleting(r)));
    }

    [Fact]
    public async Task DeleteSoon_WithoutAFlush_DeletesOnItsOwnWithinTheDelay()
    {
        var h = await Harness.CreateAsync();
        var now = h.Clock.GetUtcNow();
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "later");
        var row = DueWorkItem.Create(Harness.Tenant, "later", DueWorkItem.ProjectKind, "1", now, "[]");
        await h.Runtime.DueWork.AddAsync([row]);

        h.Runtime.DueWork.DeleteSoon([row]);
        var deadline = DateTime.UtcNow + DueWorkStore.DeleteDelay + TimeSpan.FromSeconds(10);
        while (h.Runtime.DueWork.IsDeleting(row) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.False(h.Runtime.DueWork.IsDeleting(row));
        Assert.Empty(await h.Runtime.DueWork.QueryDueAsync(shard, now, 10));
    }

    [Fact]
    public async Task RunOnceAsync_OutboxRowSeenBeforeItsCommit_KeptAndDeliveredAfterTheCommit()
    {
        // The processor writes due rows before the commit that adds the outbox row; a poll in between must not lose it.
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(_ => 200);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("race"));
        var now = h.Clock.GetUtcNow();
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "race");
        var early = DueWorkItem.Create(Harness.Tenant, "race", DueWorkItem.OutboxKind, OutboxItem.CallbackRowKey("race:1:approved"), now);
        await h.Runtime.DueWork.AddAsync([early]);

        await h.Runtime.Runner.RunOnceAsync(shard, now); // polled before the commit
        Assert.Empty(target.Received);

        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "race", Harness.Approve("manager", "bob"));
        await h.Runtime.DueWork.DeleteAsync(early); // the commit's own due row (same time, same key): only the moved one is left
        Assert.Empty(await h.Runtime.DueWork.QueryDueAsync(shard, now, 10));

        h.Clock.Advance(DueWorkRunner.OrphanRecheck);
        await h.Runtime.Runner.RunOnceAsync(shard, h.Clock.GetUtcNow());

        var got = Assert.Single(target.Received);
        Assert.Equal("race:1:approved", got.IdempotencyKey);
        Assert.Equal(CallbackStatus.Delivered, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "race"))!.State.Callback!.Status);
        await h.Runtime.DueWork.FlushDeletesAsync();
        Assert.Empty(await h.Runtime.DueWork.QueryDueAsync(shard, now.AddDays(1), 10));
    }

    [Fact]
    public async Task RunOnceAsync_PoisonRow_PushedBackSoLaterRowsStillRun()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","reminderEvery":"PT1H" """));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("ok"));
        var now = h.Clock.GetUtcNow();
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "ok");
        var poison = DueWorkItem.Create(Harness.Tenant, "ok", DueWorkItem.TimerKind, "bad", now, "not json");
        await h.Runtime.DueWork.AddAsync([poison]);

        h.Clock.Advance(TimeSpan.FromMinutes(61));
        await h.Runtime.Runner.RunOnceAsync(shard, h.Clock.GetUtcNow());

        Assert.Equal(1, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "ok"))!.State.Stages[0].RemindersSent);
        var left = await h.Runtime.DueWork.QueryDueAsync(shard, h.Clock.GetUtcNow().AddDays(1), 100);
        var moved = Assert.Single(left, i => i.Key == "bad");
        Assert.True(moved.DueAt > h.Clock.GetUtcNow());
    }

    [Fact]
    public void DeliveryBackoff_GrowsExponentiallyWithJitterAndCaps()
    {
        var initial = TimeSpan.FromSeconds(2);
        var max = TimeSpan.FromMinutes(1);
        Assert.Equal(TimeSpan.FromSeconds(2), DeliveryBackoff.Next(1, initial, max, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(8), DeliveryBackoff.Next(3, initial, max, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(1.6), DeliveryBackoff.Next(1, initial, max, 0));
        Assert.Equal(max, DeliveryBackoff.Next(20, initial, max, 1));
    }

    /// <summary>The outbox rows left in the request's partition (delivered rows are deleted).</summary>
    /// <summary>The kinds of every row in the due-work shards (journal rows are not due rows).</summary>
    internal static async Task<List<string>> DueRowKindsAsync(Harness h)
    {
        var kinds = new List<string>();
        await foreach (var e in h.Runtime.Tables.DueWork.QueryAsync(TableFilter.Format($"PartitionKey ne {ProjectionJournal.Partition}")))
        {
            kinds.Add(e.GetString("Kind") ?? "");
        }

        return kinds;
    }

    private static async Task<List<string>> OutboxRowsAsync(Harness h, string requestId)
    {
        var keys = new List<string>();
        await foreach (var row in h.Runtime.Tables.Requests.QueryAsync(TableFilter.RowKeyStartsWith(Keys.Request(Harness.Tenant, requestId), "outbox|")))
        {
            keys.Add(row.RowKey);
        }

        return keys;
    }
}
