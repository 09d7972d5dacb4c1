using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class TableClientTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task InsertThenGet_AllPropertyTypes_RoundTrip()
    {
        var table = await azurite.CreateTableAsync();
        var when = new DateTimeOffset(2025, 6, 7, 8, 9, 10, TimeSpan.FromHours(3)).AddTicks(1234567);
        var id = Guid.NewGuid();
        var entity = new TableEntity("p", "r")
        {
            ["Text"] = "héllo 'quoted' 😀",
            ["Big"] = long.MaxValue,
            ["Small"] = -12,
            ["Ratio"] = 2.0,
            ["Odd"] = double.NaN,
            ["Flag"] = true,
            ["When"] = when,
            ["Id"] = id,
            ["Blob"] = new byte[] { 0, 1, 254, 255 },
        };

        var etag = await table.InsertAsync(entity);
        var read = await table.GetAsync("p", "r");

        Assert.NotNull(read);
        Assert.Equal(etag, read.ETag);
        Assert.NotNull(read.Timestamp);
        Assert.Equal("héllo 'quoted' 😀", read.GetString("Text"));
        Assert.Equal(long.MaxValue, read.GetInt64("Big"));
        Assert.Equal(-12, read.GetInt32("Small"));
        Assert.Equal(2.0, read.GetDouble("Ratio"));
        Assert.True(double.IsNaN(read.GetDouble("Odd")!.Value));
        Assert.True(read.GetBoolean("Flag"));
        Assert.Equal(when, read.GetDateTimeOffset("When"));
        Assert.Equal(id, read.GetGuid("Id"));
        Assert.Equal(new byte[] { 0, 1, 254, 255 }, read.GetBinary("Blob"));
        Assert.Equal(entity.Properties.Keys.Order(StringComparer.Ordinal), read.Properties.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task GetAsync_Missing_ReturnsNull()
    {
        var table = await azurite.CreateTableAsync();

        Assert.Null(await table.GetAsync("p", "nope"));
    }

    [Fact]
    public async Task GetAsync_Select_ReturnsOnlyChosenProperties()
    {
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(new TableEntity("p", "r") { ["A"] = "a", ["B"] = "b" });

        var read = await table.GetAsync("p", "r", ["A"]);

        Assert.Equal("a", read!.GetString("A"));
        Assert.Null(read["B"]);
        Assert.Equal("p", read.PartitionKey);
        Assert.Equal("r", read.RowKey);
        Assert.NotNull(read.ETag);
    }

    [Fact]
    public async Task InsertAsync_Existing_ThrowsConflict()
    {
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(new TableEntity("p", "r"));

        var ex = await Assert.ThrowsAsync<TableException>(() => table.InsertAsync(new TableEntity("p", "r")));

        Assert.Equal(TableErrorKind.Conflict, ex.Kind);
        Assert.Equal(409, ex.Status);
        Assert.Equal("EntityAlreadyExists", ex.ErrorCode);
    }

    [Fact]
    public async Task UpdateAsync_TwoWritersSameETag_OneWinsOtherGetsPreconditionFailed()
    {
        var table = await azurite.CreateTableAsync();
        var etag = await table.InsertAsync(new TableEntity("p", "r") { ["N"] = 0 });

        var results = await Task.WhenAll(
            Attempt(() => table.UpdateAsync(new TableEntity("p", "r") { ["N"] = 1 }, etag)),
            Attempt(() => table.UpdateAsync(new TableEntity("p", "r") { ["N"] = 2 }, etag)));

        Assert.Single(results, r => r.Error is null);
        var loser = Assert.Single(results, r => r.Error is not null);
        Assert.Equal(TableErrorKind.PreconditionFailed, loser.Error!.Kind);
        Assert.Equal(412, loser.Error.Status);
        var stored = await table.GetAsync("p", "r");
        Assert.Equal(results.Single(r => r.Error is null).ETag, stored!.ETag);
    }

    [Fact]
    public async Task UpdateAsync_Missing_ThrowsNotFound()
    {
        var table = await azurite.CreateTableAsync();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.UpdateAsync(new TableEntity("p", "gone"), "*"));

        Assert.Equal(TableErrorKind.NotFound, ex.Kind);
    }

    [Fact]
    public async Task UpsertAsync_MergeKeepsOtherProperties_ReplaceDropsThem()
    {
        var table = await azurite.CreateTableAsync();
        await table.UpsertAsync(new TableEntity("p", "r") { ["A"] = "a", ["B"] = "b" }, TableUpdateMode.Replace);

        await table.UpsertAsync(new TableEntity("p", "r") { ["B"] = "b2" }, TableUpdateMode.Merge);
        var merged = await table.GetAsync("p", "r");
        await table.UpsertAsync(new TableEntity("p", "r") { ["C"] = "c" }, TableUpdateMode.Replace);
        var replaced = await table.GetAsync("p", "r");

        Assert.Equal("a", merged!.GetString("A"));
        Assert.Equal("b2", merged.GetString("B"));
        Assert.Equal(["C"], replaced!.Properties.Keys.ToArray());
    }

    [Fact]
    public async Task DeleteAsync_StaleETag_ThrowsPreconditionFailed_CurrentETagDeletes()
    {
        var table = await azurite.CreateTableAsync();
        var first = await table.InsertAsync(new TableEntity("p", "r") { ["N"] = 1 });
        var second = await table.UpdateAsync(new TableEntity("p", "r") { ["N"] = 2 }, first);

        var ex = await Assert.ThrowsAsync<TableException>(() => table.DeleteAsync("p", "r", first));
        await table.DeleteAsync("p", "r", second);

        Assert.Equal(TableErrorKind.PreconditionFailed, ex.Kind);
        Assert.Null(await table.GetAsync("p", "r"));
    }

    [Fact]
    public async Task QueryAsync_MoreThanOnePage_FollowsContinuationToEveryEntity()
    {
        var table = await azurite.CreateTableAsync();
        const int count = 1234;
        for (var start = 0; start < count; start += 100)
        {
            var batch = Enumerable.Range(start, Math.Min(100, count - start))
                .Select(i => TableTransactionAction.Add(new TableEntity("p", TableKey.Padded(i)) { ["I"] = i }))
                .ToList();
            await table.SubmitTransactionAsync(batch);
        }

        var first = await table.QueryPageAsync(TableFilter.PartitionKeyEquals("p"));
        var all = await table.QueryAsync(TableFilter.PartitionKeyEquals("p")).ToListAsync();

        Assert.Equal(1000, first.Entities.Count);
        Assert.NotNull(first.Continuation);
        Assert.Equal(Enumerable.Range(0, count), all.Select(e => e.GetInt32("I")!.Value));
    }

    [Fact]
    public async Task QueryPageAsync_TopAndSelect_LimitPageAndColumns()
    {
        var table = await azurite.CreateTableAsync();
        await table.SubmitTransactionAsync(Enumerable.Range(0, 5)
            .Select(i => TableTransactionAction.Add(new TableEntity("p", TableKey.Padded(i)) { ["I"] = i, ["Other"] = "x" })).ToList());

        var page = await table.QueryPageAsync(TableFilter.Format($"PartitionKey eq {"p"} and I ge {2}"), ["I"], top: 2);

        Assert.Equal([2, 3], page.Entities.Select(e => e.GetInt32("I")!.Value));
        Assert.All(page.Entities, e => Assert.Null(e["Other"]));
        Assert.NotNull(page.Continuation);
    }

    [Fact]
    public async Task QueryAsync_HostileFilterValue_MatchesLiterally()
    {
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(new TableEntity("p", "a") { ["Name"] = "o'brien" });
        await table.InsertAsync(new TableEntity("p", "b") { ["Name"] = "other" });

        var hits = await table.QueryAsync(TableFilter.Format($"Name eq {"o'brien"}")).ToListAsync();
        var injected = await table.QueryAsync(TableFilter.Format($"Name eq {"x' or Name ne '"}")).ToListAsync();

        Assert.Equal("a", Assert.Single(hits).RowKey);
        Assert.Empty(injected);
    }

    [Fact]
    public async Task Keys_EveryNastyCharacterEncoded_RoundTripThroughStorage()
    {
        var table = await azurite.CreateTableAsync();
        var ids = TableKeyTests.Ids.Where(s => s.Length > 0).ToList();
        ids.Add(new string('#', 2000));

        foreach (var id in ids)
        {
            var pk = TableKey.Encode("tenant/" + id);
            var rk = TableKey.Encode(id);
            await table.InsertAsync(new TableEntity(pk, rk) { ["V"] = 1 });
            var read = await table.GetAsync(pk, rk);
            Assert.Equal(pk, read!.PartitionKey);
            Assert.Equal(rk, read.RowKey);
            Assert.Equal(id.Length > 100 ? rk : id, TableKey.TryDecode(read.RowKey, out var decoded) ? decoded : rk);
            await table.UpdateAsync(new TableEntity(pk, rk) { ["V"] = 2 }, read.ETag!);
            await table.DeleteAsync(pk, rk, "*");
            Assert.Null(await table.GetAsync(pk, rk));
        }
    }

    [Fact]
    public async Task Keys_SingleQuoteAndUnicodeRaw_RoundTrip()
    {
        // Quotes and non-ASCII are legal in keys unencoded; they must survive the URL key syntax.
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(new TableEntity("it's", "ünï 😀 +&=") { ["X"] = 1 });

        var read = await table.GetAsync("it's", "ünï 😀 +&=");
        var queried = await table.QueryAsync(TableFilter.Format($"PartitionKey eq {"it's"}")).ToListAsync();

        Assert.Equal(1, read!.GetInt32("X"));
        Assert.Equal("ünï 😀 +&=", Assert.Single(queried).RowKey);
    }

    [Fact]
    public async Task AnyOperation_WrongAccountKey_ThrowsUnauthorized()
    {
        var cs = TableConnectionString.Parse(azurite.ConnectionString);
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var service = new TableServiceClient($"DefaultEndpointsProtocol={cs.TableEndpoint.Scheme};AccountName={cs.AccountName};AccountKey={wrongKey};TableEndpoint={cs.TableEndpoint}");
        var table = service.GetTableClient(AzuriteFixture.UniqueTableName());

        var ex = await Assert.ThrowsAsync<TableException>(() => table.CreateIfNotExistsAsync());

        Assert.Equal(TableErrorKind.Unauthorized, ex.Kind);
        Assert.Equal(403, ex.Status);
    }

    [Fact]
    public async Task CreateIfNotExistsAsync_Twice_IsNoOp_AndDeleteTableRemovesIt()
    {
        var table = await azurite.CreateTableAsync();
        await table.CreateIfNotExistsAsync();
        await table.InsertAsync(new TableEntity("p", "r"));

        await table.DeleteTableAsync();
        var ex = await Assert.ThrowsAsync<TableException>(() => table.GetAsync("p", "r"));

        Assert.Equal(TableErrorKind.NotFound, ex.Kind);
    }

    private static async Task<(string? ETag, TableException? Error)> Attempt(Func<Task<string>> write)
    {
        try
        {
            return (await write(), null);
        }
        catch (TableException ex)
        {
            return (null, ex);
        }
    }
}
