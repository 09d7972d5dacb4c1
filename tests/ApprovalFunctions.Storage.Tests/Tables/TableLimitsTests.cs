using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

/// <summary>Each limit: the largest legal value is stored, one step over is refused before any request, naming the property.</summary>
public sealed class TableLimitsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Insert_StringAtLimit_Stored_OneOver_RefusedNamingProperty()
    {
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(new TableEntity("p", "ok") { ["Body"] = new string('x', TableLimits.MaxStringLength) });

        var ex = await Assert.ThrowsAsync<TableException>(() =>
            table.InsertAsync(new TableEntity("p", "big") { ["Body"] = new string('x', TableLimits.MaxStringLength + 1) }));

        Assert.Equal(TableLimits.MaxStringLength, (await table.GetAsync("p", "ok"))!.GetString("Body")!.Length);
        AssertRefused(ex, TableErrorKind.TooLarge, "'Body'");
        Assert.Null(await table.GetAsync("p", "big"));
    }

    [Fact]
    public async Task Insert_BinaryAtLimit_Stored_OneOver_RefusedNamingProperty()
    {
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(new TableEntity("p", "ok") { ["Blob"] = new byte[TableLimits.MaxBinaryLength] });

        var ex = await Assert.ThrowsAsync<TableException>(() =>
            table.InsertAsync(new TableEntity("p", "big") { ["Blob"] = new byte[TableLimits.MaxBinaryLength + 1] }));

        Assert.Equal(TableLimits.MaxBinaryLength, (await table.GetAsync("p", "ok"))!.GetBinary("Blob")!.Length);
        AssertRefused(ex, TableErrorKind.TooLarge, "'Blob'");
    }

    [Fact]
    public async Task Insert_252Properties_Stored_253_Refused()
    {
        // Azurite stores 253; Azure refuses it.
        var table = await azurite.CreateTableAsync();
        await table.InsertAsync(WithProperties("ok", TableLimits.MaxCustomProperties));

        var ex = await Assert.ThrowsAsync<TableException>(() => table.InsertAsync(WithProperties("big", TableLimits.MaxCustomProperties + 1)));

        Assert.Equal(TableLimits.MaxCustomProperties, (await table.GetAsync("p", "ok"))!.Count);
        AssertRefused(ex, TableErrorKind.InvalidInput, "253 custom properties");
    }

    [Fact]
    public async Task Upsert_EntityOver1MiB_RefusedNamingLargestProperty()
    {
        // 17 strings of 32K chars = 17 × 64 KiB of UTF-16 ≈ 1.06 MiB: every property is legal, the entity is not. Azurite stores it.
        var table = await azurite.CreateTableAsync();
        var entity = new TableEntity("p", "big");
        for (var i = 0; i < 17; i++)
        {
            entity["S" + i] = new string('x', i == 5 ? TableLimits.MaxStringLength : TableLimits.MaxStringLength - 10);
        }

        var ex = await Assert.ThrowsAsync<TableException>(() => table.UpsertAsync(entity));

        Assert.True(TableLimits.EntitySize(entity) > TableLimits.MaxEntitySize);
        AssertRefused(ex, TableErrorKind.TooLarge, "'S5'");
        Assert.Null(await table.GetAsync("p", "big"));
    }

    [Fact]
    public async Task Insert_EntityJustUnder1MiB_Stored()
    {
        var table = await azurite.CreateTableAsync();
        var entity = new TableEntity("p", "r");
        for (var i = 0; i < 15; i++)
        {
            entity["S" + i] = new string('x', TableLimits.MaxStringLength);
        }

        Assert.True(TableLimits.EntitySize(entity) <= TableLimits.MaxEntitySize);
        await table.InsertAsync(entity);

        Assert.Equal(15, (await table.GetAsync("p", "r"))!.Count);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("a#b")]
    [InlineData("a?b")]
    [InlineData("a\u0001b")]
    [InlineData("a\u0085b")]
    public async Task Insert_ForbiddenKeyCharacter_RefusedBeforeSending(string key)
    {
        var table = await azurite.CreateTableAsync();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.InsertAsync(new TableEntity("p", key)));

        AssertRefused(ex, TableErrorKind.InvalidInput, "RowKey");
    }

    [Fact]
    public async Task Insert_KeyOver1KiB_Refused()
    {
        var table = await azurite.CreateTableAsync();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.InsertAsync(new TableEntity(new string('k', TableLimits.MaxKeyLength + 1), "r")));

        AssertRefused(ex, TableErrorKind.TooLarge, "PartitionKey");
    }

    [Fact]
    public async Task Insert_StringWithUnpairedSurrogate_RefusedInsteadOfSilentlyReplaced()
    {
        var table = await azurite.CreateTableAsync();

        var ex = await Assert.ThrowsAsync<TableException>(() => table.InsertAsync(new TableEntity("p", "r") { ["Note"] = "bad \ud800 text" }));
        await table.InsertAsync(new TableEntity("p", "ok") { ["Note"] = "fine 😀 text" });

        AssertRefused(ex, TableErrorKind.InvalidInput, "'Note'");
        Assert.Equal("fine 😀 text", (await table.GetAsync("p", "ok"))!.GetString("Note"));
    }

    [Fact]
    public void EntitySize_FollowsServiceFormula()
    {
        var entity = new TableEntity("pk", "rk") { ["S"] = "abc", ["L"] = 1L, ["I"] = 1, ["B"] = true, ["G"] = Guid.Empty, ["X"] = new byte[10] };

        // 4 + 2·4 (keys) + 6 × (8 + 2·1 name) + values 4+6, 8, 4, 1, 16, 4+10
        Assert.Equal(4 + 8 + (6 * 10) + 10 + 8 + 4 + 1 + 16 + 14, TableLimits.EntitySize(entity));
    }

    private static TableEntity WithProperties(string rowKey, int count)
    {
        var e = new TableEntity("p", rowKey);
        for (var i = 0; i < count; i++)
        {
            e["P" + i] = i;
        }

        return e;
    }

    private static void AssertRefused(TableException ex, TableErrorKind kind, string mentioned)
    {
        Assert.True(ex.IsClientSide, ex.Message);
        Assert.Equal(kind, ex.Kind);
        Assert.Contains(mentioned, ex.Message, StringComparison.Ordinal);
    }
}
