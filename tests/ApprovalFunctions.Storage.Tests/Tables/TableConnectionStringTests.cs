using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class TableConnectionStringTests
{
    [Fact]
    public void Parse_DevelopmentStorage_GivesAzuriteEndpointAndKey()
    {
        var cs = TableConnectionString.Parse("UseDevelopmentStorage=true");

        Assert.Equal(new Uri("http://127.0.0.1:10002/devstoreaccount1"), cs.TableEndpoint);
        Assert.Equal("devstoreaccount1", cs.AccountName);
        Assert.Equal(TableConnectionString.DevelopmentAccountKey, cs.AccountKey);
    }

    [Fact]
    public void Parse_ExplicitTableEndpoint_UsesIt()
    {
        var cs = TableConnectionString.Parse("DefaultEndpointsProtocol=http;AccountName=acc;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:5555/acc/;");

        Assert.Equal(new Uri("http://127.0.0.1:5555/acc"), cs.TableEndpoint);
        Assert.Equal("acc", cs.AccountName);
        Assert.Equal("a2V5", cs.AccountKey);
    }

    [Theory]
    [InlineData("DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn", "https://acc.table.core.chinacloudapi.cn/")]
    [InlineData("AccountName=acc;AccountKey=a2V5", "https://acc.table.core.windows.net/")]
    [InlineData("accountname=acc; accountkey=a2V5; defaultendpointsprotocol=http", "http://acc.table.core.windows.net/")]
    public void Parse_WithoutTableEndpoint_BuildsFromSuffix(string connectionString, string expected)
    {
        Assert.Equal(new Uri(expected), TableConnectionString.Parse(connectionString).TableEndpoint);
    }

    [Theory]
    [InlineData("AccountName=acc")]
    [InlineData("AccountKey=a2V5")]
    [InlineData("AccountName=acc;AccountKey=not base64!")]
    [InlineData("garbage")]
    public void Parse_Incomplete_ThrowsFormatException(string connectionString)
    {
        Assert.Throws<FormatException>(() => TableConnectionString.Parse(connectionString));
    }

    [Fact]
    public void ToString_NeverShowsKey()
    {
        var cs = TableConnectionString.Parse("UseDevelopmentStorage=true");

        Assert.DoesNotContain(TableConnectionString.DevelopmentAccountKey, cs.ToString(), StringComparison.Ordinal);
    }
}
