using ApprovalFunctions.Storage.Tables;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class TableWriteCoalescerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ApplyAsync_ManyCallersOnOnePartition_ShareTransactionsAndEveryRowLands()
    {
        var (table, sent, hold) = await CountedTableAsync();
        var told = new List<int>();
        var coalescer = new TableWriteCoalescer(told.Add);

        // The first caller's transaction is held in flight while the other 39 arrive: they wait and share the next one.
        var writes = new List<Task> { coalescer.ApplyAsync(table, [Upsert("p", "a00", 0), Upsert("p", "b00", 0)]) };
        await hold.Held;
        writes.AddRange(Enumerable.Range(1, 39).Select(i => coalescer.ApplyAsync(table, [Upsert("p", $"a{i:D2}", i), Upsert("p", $"b{i:D2}", i)])));
        hold.Release();
        await Task.WhenAll(writes);

        Assert.Equal(2, sent.Count);
        Assert.Equal(39, coalescer.SharedWrites);
        Assert.Equal([39], told); // one shared transaction, carrying 39 callers' writes
        var rows = await table.QueryAsync("PartitionKey eq 'p'").ToListAsync();
        Assert.Equal(80, rows.Count);
        Assert.All(rows, r => Assert.Equal(int.Parse(r.RowKey[1..], System.Globalization.CultureInfo.InvariantCulture), r.GetInt32("V")));
    }

    [Fact]
    public async Task ApplyAsync_OneCallerAlone_SentAsApplyAsyncWouldSendIt()
    {
        var (table, sent, hold) = await CountedTableAsync();
        var coalescer = new TableWriteCoalescer();
        hold.Release();

        await coalescer.ApplyAsync(table, [Upsert("p", "one", 1)]);
        await coalescer.ApplyAsync(table, [Upsert("p", "two", 2), TableTransactionAction.Delete("p", "one")]);

        // A single upsert is a plain PUT, two actions one transaction; nothing was shared.
        Assert.Equal(["PUT", "POST"], sent.Select(s => s.Split(' ')[0]));
        Assert.Equal(0, coalescer.SharedWrites);
        Assert.Null(await table.GetAsync("p", "one"));
        Assert.Equal(2, (await table.GetAsync("p", "two"))!.GetInt32("V"));
    }

    [Fact]
    public async Task ApplyAsync_SharedTransactionMeetsARowAlreadyGone_EachCallerStillApplied()
    {
        var (table, sent, hold) = await CountedTableAsync();
        var coalescer = new TableWriteCoalescer();
        var first = coalescer.ApplyAsync(table, [Upsert("p", "first", 0)]);
        await hold.Held;
        // These wait together; one deletes a row that does not exist, which fails the shared transaction as a whole.
        var gone = coalescer.ApplyAsync(table, [TableTransactionAction.Delete("p", "never-written"), Upsert("p", "x", 1)]);
        var others = Enumerable.Range(0, 5).Select(i => coalescer.ApplyAsync(table, [Upsert("p", $"y{i}", i)])).ToList();
        hold.Release();

        await first;
        await gone;
        await Task.WhenAll(others);

        // PUT first; the shared POST, which applied nothing (no caller counts as shared); then each caller on its own: the
        // deleting caller's own transaction fails the same way and its two actions go one by one, the others are PUTs.
        Assert.Equal(0, coalescer.SharedWrites);
        Assert.Equal(["DELETE", "POST", "POST", "PUT", "PUT", "PUT", "PUT", "PUT", "PUT", "PUT"],
            sent.Select(s => s.Split(' ')[0]).Order(StringComparer.Ordinal));
        Assert.NotNull(await table.GetAsync("p", "x"));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i, (await table.GetAsync("p", $"y{i}"))!.GetInt32("V"));
        }
    }

    [Fact]
    public async Task ApplyAsync_WaitingWritesToTheSameRow_AppliedInCallOrder()
    {
        var (table, sent, hold) = await CountedTableAsync();
        var coalescer = new TableWriteCoalescer();
        var writes = new List<Task> { coalescer.ApplyAsync(table, [Upsert("p", "other", 0)]) };
        await hold.Held;
        writes.Add(coalescer.ApplyAsync(table, [Upsert("p", "row", 1)]));
        writes.Add(coalescer.ApplyAsync(table, [Upsert("p", "unrelated", 1)]));
        writes.Add(coalescer.ApplyAsync(table, [Upsert("p", "row", 2)]));
        writes.Add(coalescer.ApplyAsync(table, [Upsert("p", "row", 3), Upsert("p", "unrelated", 2)]));
        hold.Release();

        await Task.WhenAll(writes);

        // Held PUT; then [row=1, unrelated=1] shared; [row=2] alone (row=3 touches it again); [row=3, unrelated=2] alone.
        Assert.Equal(4, sent.Count);

        Assert.Equal(3, (await table.GetAsync("p", "row"))!.GetInt32("V"));
        Assert.Equal(2, (await table.GetAsync("p", "unrelated"))!.GetInt32("V"));
    }

    [Fact]
    public async Task ApplyAsync_ConditionalOrMixedPartitions_Refused()
    {
        var table = await azurite.CreateTableAsync();
        var coalescer = new TableWriteCoalescer();

        await Assert.ThrowsAsync<ArgumentException>(() => coalescer.ApplyAsync(table, [TableTransactionAction.Add(new TableEntity("p", "r"))]));
        await Assert.ThrowsAsync<ArgumentException>(() => coalescer.ApplyAsync(table, [Upsert("p", "r", 1), Upsert("q", "r", 1)]));
        Assert.Null(await table.GetAsync("p", "r"));
    }

    private static TableTransactionAction Upsert(string pk, string rk, int value) =>
        TableTransactionAction.Upsert(new TableEntity(pk, rk) { ["V"] = value }, TableUpdateMode.Replace);

    /// <summary>A fresh table whose client counts its requests and holds the first one until <see cref="HoldFirst.Release"/>.</summary>
    private async Task<(TableClient Table, System.Collections.Concurrent.ConcurrentQueue<string> Sent, HoldFirst Hold)> CountedTableAsync()
    {
        var name = AzuriteFixture.UniqueTableName();
        await azurite.Service.GetTableClient(name).CreateIfNotExistsAsync();
        var counter = new Counter();
        var hold = new HoldFirst();
        var options = new TableClientOptions();
        options.AddPolicy(counter, HttpPipelinePosition.PerCall);
        options.AddPolicy(hold, HttpPipelinePosition.PerCall);
        return (new TableServiceClient(azurite.ConnectionString, options).GetTableClient(name), counter.Sent, hold);
    }

    /// <summary>Holds the first request (a transaction in flight) until released, so writers can be queued behind it.</summary>
    private sealed class HoldFirst : HttpPipelinePolicy
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _seen;

        public Task Held => _held.Task;

        public void Release() => _release.TrySetResult();

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("the table client is used asynchronously");

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            if (Interlocked.Exchange(ref _seen, 1) == 0)
            {
                _held.TrySetResult();
                await _release.Task.ConfigureAwait(false);
            }

            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
        }
    }

    private sealed class Counter : HttpPipelineSynchronousPolicy
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Sent { get; } = new();

        public override void OnSendingRequest(HttpMessage message) => Sent.Enqueue(message.Request.Method + " " + message.Request.Uri.Path);
    }
}
