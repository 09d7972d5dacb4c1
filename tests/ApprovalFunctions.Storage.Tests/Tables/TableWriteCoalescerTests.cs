using ApprovalFunctions.Storage.Tables;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class TableWriteCoalescerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ApplyAsync_ManyCallersOnOnePartition_ShareTransactionsAndEveryRowLands()
    {
        var (table, sent) = await CountedTableAsync();
        var coalescer = new TableWriteCoalescer();

        // The first caller's transaction is in flight while the other 39 arrive: they wait and share the next one.
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => coalescer.ApplyAsync(table,
            [Upsert("p", $"a{i:D2}", i), Upsert("p", $"b{i:D2}", i)])));

        Assert.InRange(sent.Count, 2, 3);
        Assert.True(coalescer.SharedWrites >= 20, $"{coalescer.SharedWrites} callers shared a transaction");
        var rows = await table.QueryAsync("PartitionKey eq 'p'").ToListAsync();
        Assert.Equal(80, rows.Count);
        Assert.All(rows, r => Assert.Equal(int.Parse(r.RowKey[1..], System.Globalization.CultureInfo.InvariantCulture), r.GetInt32("V")));
    }

    [Fact]
    public async Task ApplyAsync_OneCallerAlone_SentAsApplyAsyncWouldSendIt()
    {
        var (table, sent) = await CountedTableAsync();
        var coalescer = new TableWriteCoalescer();

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
        var table = await azurite.CreateTableAsync();
        var coalescer = new TableWriteCoalescer();
        var first = coalescer.ApplyAsync(table, [Upsert("p", "first", 0)]);
        // These wait together; one deletes a row that does not exist, which fails the shared transaction as a whole.
        var gone = coalescer.ApplyAsync(table, [TableTransactionAction.Delete("p", "never-written"), Upsert("p", "x", 1)]);
        var others = Enumerable.Range(0, 5).Select(i => coalescer.ApplyAsync(table, [Upsert("p", $"y{i}", i)])).ToList();

        await first;
        await gone;
        await Task.WhenAll(others);

        // The shared transaction applied nothing (no caller counts as shared); every caller's writes went on their own.
        Assert.Equal(0, coalescer.SharedWrites);
        Assert.NotNull(await table.GetAsync("p", "x"));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i, (await table.GetAsync("p", $"y{i}"))!.GetInt32("V"));
        }
    }

    [Fact]
    public async Task ApplyAsync_WaitingWritesToTheSameRow_AppliedInCallOrder()
    {
        var table = await azurite.CreateTableAsync();
        var coalescer = new TableWriteCoalescer();
        var writes = new List<Task>
        {
            coalescer.ApplyAsync(table, [Upsert("p", "other", 0)]),
            coalescer.ApplyAsync(table, [Upsert("p", "row", 1)]),
            coalescer.ApplyAsync(table, [Upsert("p", "unrelated", 1)]),
            coalescer.ApplyAsync(table, [Upsert("p", "row", 2)]),
            coalescer.ApplyAsync(table, [Upsert("p", "row", 3), Upsert("p", "unrelated", 2)]),
        };

        await Task.WhenAll(writes);

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

    private async Task<(TableClient Table, System.Collections.Concurrent.ConcurrentQueue<string> Sent)> CountedTableAsync()
    {
        var name = AzuriteFixture.UniqueTableName();
        await azurite.Service.GetTableClient(name).CreateIfNotExistsAsync();
        var counter = new Counter();
        var options = new TableClientOptions();
        options.AddPolicy(counter, HttpPipelinePosition.PerCall);
        return (new TableServiceClient(azurite.ConnectionString, options).GetTableClient(name), counter.Sent);
    }

    private sealed class Counter : HttpPipelineSynchronousPolicy
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Sent { get; } = new();

        public override void OnSendingRequest(HttpMessage message) => Sent.Enqueue(message.Request.Method + " " + message.Request.Uri.Path);
    }
}
