using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class ProcessorTests
{
    [Fact]
    public async Task ApplyAsync_TwoProcessesRaceOnSingleApprovalStage_ExactlyOneApprovalApplied()
    {
        var a = await Harness.CreateAsync();
        var b = await a.SecondProcessAsync();
        await a.PublishAsync("inv", Harness.OneStage("""[{"type":"user","id":"bob"},{"type":"user","id":"carol"}]"""));

        for (var round = 0; round < 4; round++)
        {
            var id = "race" + round;
            await a.Runtime.Processor.SubmitAsync(Harness.Submit(id));
            var results = await Task.WhenAll(
                a.Runtime.Processor.ApplyAsync(Harness.Tenant, id, Harness.Approve("manager", "bob")),
                b.Runtime.Processor.ApplyAsync(Harness.Tenant, id, Harness.Approve("manager", "carol")));

            Assert.Single(results, r => r.Status == ProcessStatus.Applied);
            Assert.Single(results, r => r.Status == ProcessStatus.Refused);
            var state = (await a.Runtime.Requests.GetAsync(Harness.Tenant, id))!.State;
            Assert.Equal(RequestStatus.Approved, state.Status);
            Assert.Single(state.Stages[0].Responses, r => r.Decision == DecisionKind.Approve);
            var ledger = await a.Runtime.Requests.GetLedgerAsync(Harness.Tenant, id);
            Assert.True(Engine.Ledger.LedgerChain.Verify(Harness.Tenant, id, ledger, state.LedgerHead).IsValid);
        }
    }

    [Fact]
    public async Task ApplyAsync_ManyConcurrentEventsAcrossProcesses_AllCommentsLandOnce()
    {
        var a = await Harness.CreateAsync();
        var b = await a.SecondProcessAsync();
        await a.PublishAsync("inv", Harness.OneStage());
        await a.Runtime.Processor.SubmitAsync(Harness.Submit("busy"));

        var tasks = Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? a : b).Runtime.Processor.ApplyAsync(Harness.Tenant, "busy", new Engine.Events.Decided
        {
            EventId = "comment-" + i, StageId = "manager", Actor = new Engine.Events.Actor("bob"), Decision = DecisionKind.Comment, Comment = "c" + i,
        })).ToList();
        // The same event delivered twice, to the other process: still applied once.
        tasks.Add(b.Runtime.Processor.ApplyAsync(Harness.Tenant, "busy", new Engine.Events.Decided
        {
            EventId = "comment-0", StageId = "manager", Actor = new Engine.Events.Actor("bob"), Decision = DecisionKind.Comment, Comment = "c0",
        }));
        await Task.WhenAll(tasks);

        var state = (await a.Runtime.Requests.GetAsync(Harness.Tenant, "busy"))!.State;
        Assert.Equal(12, state.Stages[0].Responses.Count(r => r.Decision == DecisionKind.Comment));
        Assert.Equal(0, a.Runtime.Processor.LockCount);
    }

    [Fact]
    public async Task ApplyAsync_UnknownRequestOrOtherTenant_NotFound()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("mine"));

        Assert.Equal(ProcessStatus.NotFound, (await h.Runtime.Processor.ApplyAsync("other-tenant", "mine", Harness.Approve("manager", "bob"))).Status);
        Assert.Equal(ProcessStatus.NotFound, (await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "nope", Harness.Approve("manager", "bob"))).Status);
    }

    [Fact]
    public async Task SubmitAsync_SameRequestIdTwice_SecondIsDuplicateWithStoredState()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        var first = await h.Runtime.Processor.SubmitAsync(Harness.Submit("dup"));
        var second = await h.Runtime.Processor.SubmitAsync(Harness.Submit("dup"));

        Assert.Equal(ProcessStatus.Applied, first.Status);
        Assert.Equal(ProcessStatus.Duplicate, second.Status);
        Assert.Equal(first.State!.LedgerHead, second.State!.LedgerHead);
    }

    [Fact]
    public async Task ApplyAsync_RefusedDecision_WritesNothing()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("r"));
        var before = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "r"))!;

        var result = await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "r", Harness.Approve("manager", "mallory"));

        Assert.Equal(ProcessStatus.Refused, result.Status);
        Assert.Equal(RefusalCode.NotAnApprover, result.Refusal!.Code);
        Assert.Equal(before.ETag, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "r"))!.ETag);
    }

    [Fact]
    public async Task ApplyAsync_CopyBehindAnotherProcess_CommitFromItLosesAndTheEventIsDecidedOnTheStoredState()
    {
        var a = await Harness.CreateAsync();
        var b = await a.SecondProcessAsync();
        await a.PublishAsync("inv", Harness.OneStage("""[{"type":"user","id":"bob"},{"type":"user","id":"carol"}]"""));
        await a.Runtime.Processor.SubmitAsync(Harness.Submit("behind")); // a now holds a copy of the pending request
        Assert.Equal(ProcessStatus.Applied, (await b.Runtime.Processor.ApplyAsync(Harness.Tenant, "behind", Harness.Approve("manager", "carol", "e-carol"))).Status);
        var key = Harness.Tenant + "\n" + "behind";
        Assert.True(a.Runtime.Processor.RecentStates.TryGet(key, out var staleCopy));
        Assert.NotEqual((await a.Runtime.Requests.GetAsync(Harness.Tenant, "behind"))!.ETag, staleCopy.ETag);

        // In a's stale copy the stage is still open and carol's event unseen, so the engine accepts it again; the commit
        // (If-Match the copy's ETag, and a ledger row that now exists) fails and a decides on what storage holds. Bob's
        // approval then starts from the copy that read left: the request is closed there and in storage.
        var again = await a.Runtime.Processor.ApplyAsync(Harness.Tenant, "behind", Harness.Approve("manager", "carol", "e-carol"));
        var late = await a.Runtime.Processor.ApplyAsync(Harness.Tenant, "behind", Harness.Approve("manager", "bob"));

        Assert.Equal(ProcessStatus.Duplicate, again.Status);
        Assert.Equal(ProcessStatus.Refused, late.Status);
        Assert.Equal(RefusalCode.RequestClosed, late.Refusal!.Code);
        var stored = (await a.Runtime.Requests.GetAsync(Harness.Tenant, "behind"))!;
        Assert.Equal(RequestStatus.Approved, stored.State.Status);
        Assert.Equal(["carol"], stored.State.Stages[0].Responses.Where(r => r.Decision == DecisionKind.Approve).Select(r => r.User));
        var ledger = await a.Runtime.Requests.GetLedgerAsync(Harness.Tenant, "behind");
        Assert.True(Engine.Ledger.LedgerChain.Verify(Harness.Tenant, "behind", ledger, stored.State.LedgerHead).IsValid);
        Assert.True(a.Runtime.Processor.RecentStates.TryGet(key, out var copy));
        Assert.Equal(stored.ETag, copy.ETag); // the read that settled it replaced the stale copy
    }

    [Fact]
    public async Task ApplyAsync_RefusalFromAStaleCopy_IsCheckedAgainstStorageAndTheEventApplies()
    {
        var a = await Harness.CreateAsync();
        var b = await a.SecondProcessAsync();
        await a.PublishAsync("inv", """
            {"name":"Invoice","model":"account.move","event":"create",
             "stages":[{"id":"manager","order":1,"approvers":[{"type":"user","id":"bob"}]},
                       {"id":"cfo","order":2,"approvers":[{"type":"user","id":"carol"}]}]}
            """);
        await a.Runtime.Processor.SubmitAsync(Harness.Submit("two"));
        await b.Runtime.Processor.ApplyAsync(Harness.Tenant, "two", Harness.Approve("manager", "bob"));
        Assert.True(a.Runtime.Processor.RecentStates.TryGet(Harness.Tenant + "\n" + "two", out var staleCopy));
        Assert.Equal(RequestStatus.Pending, staleCopy.State.Status);
        Assert.Equal(StageStatus.Waiting, staleCopy.State.Stages[1].Status);

        // a's copy still has the cfo stage waiting, where carol's approval is refused; storage has it active.
        var result = await a.Runtime.Processor.ApplyAsync(Harness.Tenant, "two", Harness.Approve("cfo", "carol"));

        Assert.Equal(ProcessStatus.Applied, result.Status);
        Assert.Equal(RequestStatus.Approved, (await a.Runtime.Requests.GetAsync(Harness.Tenant, "two"))!.State.Status);
    }

    [Fact]
    public async Task Lifecycle_OneStageOneApproverWithCallback_StorageRequestsStaySmall()
    {
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(_ => 200);
        await h.PublishAsync("inv", Harness.OneStage(callback: $$""" "callback":{"url":"{{target.Url}}","events":["approved"],"secret":"s"},"""));
        await h.Runtime.DefinitionCache.GetActiveAsync(Harness.Tenant); // warm caches: selection data is cached in a host
        await h.Runtime.DirectoryCache.GetAsync(Harness.Tenant);
        await h.Runtime.Subscriptions.GetMatchingAsync(Harness.Tenant, "approval.created");
        await h.Runtime.DefinitionCache.GetVersionAsync(Harness.Tenant, "inv", 1);
        h.Counter.Reset();

        await h.Runtime.Processor.SubmitAsync(Harness.Submit("cost"));
        var submit = h.Counter.Count;
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "cost", Harness.Approve("manager", "bob"));
        var decide = h.Counter.Count - submit;
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "cost");
        await h.Runtime.Runner.RunOnceAsync(shard, h.Clock.GetUtcNow());
        var deliver = h.Counter.Count - submit - decide;
        await h.Runtime.DueWork.FlushDeletesAsync(); // the three done due rows (two repairs, the delivery): one transaction
        var total = h.Counter.Count;

        var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "cost"))!.State;
        Assert.Equal(CallbackStatus.Delivered, state.Callback.Status);
        Assert.Single(target.Received);
        // Figures for docs/decisions/007: submit, decision, delivery (one shard poll included).
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "storage-requests.txt"),
            $"submit={submit} decide={decide} deliver={deliver} deletes={total - submit - decide - deliver} total={total}\n");
        // Submit: intent row, commit, requester, record and inbox rows. Decision: intent batch, commit, the inbox
        // partition's transaction (pending row out, decided row in), requester; no read, since the submit left this
        // process a copy of the state. The repair rows' deletes are batched.
        Assert.True(submit <= 5, $"submit took {submit} storage requests");
        Assert.True(decide <= 4, $"decision took {decide} storage requests");
        // Delivery found by a poll: the poll, point reads of the state and outbox rows, the commit (4); an offered one
        // skips the poll and the reads. The done due rows are deleted in one transaction.
        Assert.True(total <= 14, $"lifecycle took {total} storage requests (submit {submit}, decide {decide}, deliver {deliver}, deletes {total - submit - decide - deliver})");
    }
}
