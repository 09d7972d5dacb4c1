using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class TableTransactionTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Submit_MixedActions_AllApplyAndReturnETags()
    {
        var table = await azurite.CreateTableAsync();
        var existingETag = await table.InsertAsync(new TableEntity("p", "update") { ["V"] = 1 });
        await table.InsertAsync(new TableEntity("p", "delete"));

        var etags = await table.SubmitTransactionAsync(
        [
            TableTransactionAction.Add(new TableEntity("p", "add") { ["V"] = 1 }),
            TableTransactionAction.Upsert(new TableEntity("p", "upsert") { ["V"] = 1 }),
            TableTransactionAction.Update(new TableEntity("p", "update") { ["V"] = 2 }, existingETag),
            TableTransactionAction.Delete("p", "delete"),
        ]);

        Assert.Equal(4, etags.Count);
        Assert.All(etags.Take(3), Assert.NotNull);
        Assert.Null(etags[3]);
        Assert.Equal(etags[2], (await table.GetAsync("p", "update"))!.ETag);
        Assert.NotNull(await table.GetAsync("p", "add"));
        Assert.Null(await table.GetAsync("p", "delete"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Submit_OneActionConflicts_NothingAppliedAndIndexReported(int failing)
    {
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(new TableEntity("p", "r" + failing) { ["Original"] = true });
        var actions = Enumerable.Range(0, 3)
            .Select(i => TableTransactionAction.Add(new TableEntity("p", "r" + i) { ["New"] = true }))
            .ToList();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.SubmitTransactionAsync(actions));

        Assert.Equal(TableErrorKind.Conflict, ex.Kind);
        Assert.Equal(failing, ex.FailedIndex);
        var stored = await table.QueryAsync(TableFilter.PartitionKeyEquals("p")).ToListAsync();
        var only = Assert.Single(stored);
        Assert.Equal("r" + failing, only.RowKey);
        Assert.Null(only["New"]);
    }

    [Fact]
    public async Task Submit_StaleETagInBatch_PreconditionFailedAtThatIndex()
    {
        var table = await azurite.CreateTableAsync();
        var stale = await table.InsertAsync(new TableEntity("p", "x") { ["V"] = 1 });
        await table.UpdateAsync(new TableEntity("p", "x") { ["V"] = 2 }, stale);

        var ex = await Assert.ThrowsAsync<TableException>(() => table.SubmitTransactionAsync(
        [
            TableTransactionAction.Add(new TableEntity("p", "new")),
            TableTransactionAction.Update(new TableEntity("p", "x") { ["V"] = 3 }, stale),
        ]));

        Assert.Equal(TableErrorKind.PreconditionFailed, ex.Kind);
        Assert.Equal(1, ex.FailedIndex);
        Assert.Null(await table.GetAsync("p", "new"));
        Assert.Equal(2, (await table.GetAsync("p", "x"))!.GetInt32("V"));
    }

    [Fact]
    public async Task Submit_SpanningTwoPartitions_RefusedBeforeSending()
    {
        // Azurite accepts this batch; Azure refuses it. The client refuses it everywhere.
        var table = await azurite.CreateTableAsync();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.SubmitTransactionAsync(
        [
            TableTransactionAction.Add(new TableEntity("p1", "r")),
            TableTransactionAction.Add(new TableEntity("p2", "r")),
        ]));

        Assert.True(ex.IsClientSide);
        Assert.Equal(TableErrorKind.InvalidInput, ex.Kind);
        Assert.Equal(1, ex.FailedIndex);
        Assert.Empty(await table.QueryAsync().ToListAsync());
    }

    [Fact]
    public async Task Submit_101Actions_RefusedBeforeSending()
    {
        var table = await azurite.CreateTableAsync();
        var actions = Enumerable.Range(0, 101).Select(i => TableTransactionAction.Add(new TableEntity("p", TableKey.Padded(i)))).ToList();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.SubmitTransactionAsync(actions));
        var ok = await table.SubmitTransactionAsync(actions.Take(100).ToList());

        Assert.True(ex.IsClientSide);
        Assert.Equal("ClientBatchTooManyOperations", ex.ErrorCode);
        Assert.Equal(100, ok.Count);
    }

    [Fact]
    public async Task Submit_PayloadOver4MiB_RefusedBeforeSending()
    {
        var table = await azurite.CreateTableAsync();
        // 10 entities × 5 strings × 30,000 chars ≈ 1.5 MB each in JSON ASCII → ~1.5 MB… use 3 properties of 30K wide chars (UTF-8 3 bytes).
        var wide = new string('€', 30_000);
        var actions = Enumerable.Range(0, 20).Select(i =>
        {
            var e = new TableEntity("p", TableKey.Padded(i));
            for (var j = 0; j < 3; j++)
            {
                e["S" + j] = wide;
            }

            return TableTransactionAction.Add(e);
        }).ToList();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.SubmitTransactionAsync(actions));

        Assert.True(ex.IsClientSide);
        Assert.Equal(TableErrorKind.TooLarge, ex.Kind);
        Assert.Equal("ClientBatchTooLarge", ex.ErrorCode);
    }

    [Fact]
    public async Task Submit_SameRowTwice_RefusedBeforeSending()
    {
        var table = await azurite.CreateTableAsync();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.SubmitTransactionAsync(
            [TableTransactionAction.Add(new TableEntity("p", "r")), TableTransactionAction.Upsert(new TableEntity("p", "r"))]));

        Assert.Equal("ClientBatchDuplicateRow", ex.ErrorCode);
        Assert.Equal(1, ex.FailedIndex);
    }

    [Fact]
    public async Task ApplyAsync_DeleteOfARowAlreadyGone_StillAppliesTheOthersOneByOne()
    {
        var table = await azurite.CreateTableAsync();
        await table.UpsertAsync(new TableEntity("p", "old"), TableUpdateMode.Replace);

        await table.ApplyAsync([
            TableTransactionAction.Delete("p", "old"),
            TableTransactionAction.Delete("p", "never-there"),
            TableTransactionAction.Upsert(new TableEntity("p", "new") { ["N"] = 1 }, TableUpdateMode.Replace),
        ]);

        Assert.Null(await table.GetAsync("p", "old"));
        Assert.Equal(1, (await table.GetAsync("p", "new"))!.GetInt32("N"));
    }

    [Fact]
    public async Task ApplyAsync_ConditionalAction_Refused()
    {
        var table = await azurite.CreateTableAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => table.ApplyAsync([TableTransactionAction.Add(new TableEntity("p", "a"))]));
        await Assert.ThrowsAsync<ArgumentException>(() => table.ApplyAsync([TableTransactionAction.Delete("p", "a", "W/\"datetime'x'\"")]));
        Assert.Null(await table.GetAsync("p", "a"));
    }
}
