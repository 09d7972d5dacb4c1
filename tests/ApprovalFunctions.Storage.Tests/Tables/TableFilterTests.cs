using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class TableFilterTests
{
    [Fact]
    public void Format_StringWithQuote_DoublesQuote()
    {
        var hostile = "x' or PartitionKey ne '";

        var filter = TableFilter.Format($"PartitionKey eq {hostile}");

        Assert.Equal("PartitionKey eq 'x'' or PartitionKey ne '''", filter);
    }

    public static TheoryData<object, string> Literals => new()
    {
        { 42, "42" },
        { 42L, "42L" },
        { -7L, "-7L" },
        { 1.5, "1.5" },
        { 2.0, "2.0" },
        { true, "true" },
        { false, "false" },
        { new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.FromHours(2)), "datetime'2025-03-04T03:06:07.0000000Z'" },
        { new Guid("0f8fad5b-d9cb-469f-a165-70867728950e"), "guid'0f8fad5b-d9cb-469f-a165-70867728950e'" },
        { new byte[] { 0x0a, 0xff }, "X'0aff'" },
        { "plain", "'plain'" },
    };

    [Theory]
    [MemberData(nameof(Literals))]
    public void Literal_EachType_UsesODataSyntax(object value, string expected)
    {
        Assert.Equal(expected, TableFilter.Literal(value));
    }

    [Fact]
    public void Literal_Null_Throws()
    {
        Assert.Throws<ArgumentException>(() => TableFilter.Literal(null));
    }

    [Fact]
    public void RowKeyStartsWith_BuildsHalfOpenRange()
    {
        Assert.Equal("PartitionKey eq 'p' and RowKey ge 'ab' and RowKey lt 'ac'", TableFilter.RowKeyStartsWith("p", "ab"));
    }
}
