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

        using var small = System.Text.Json.JsonDocument.Parse("""{"blob":"small"}""");
        var shrunk = await h.Runtime.Requests.CommitAsync(stored, stored.State with { Record = small.RootElement.Clone() }, [], [], []);
        Assert.Equal(1, shrunk.Parts);
        var spill = await h.Runtime.Tables.Requests.GetAsync(Keys.Request(Harness.Tenant, "big"), "state|001");
        Assert.Null(spill);
        Assert.Equal("small", (await h.Runtime.Requests.GetAsync(Harness.Tenant, "big"))!.State.Record.GetProperty("blob").GetString());
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
}
