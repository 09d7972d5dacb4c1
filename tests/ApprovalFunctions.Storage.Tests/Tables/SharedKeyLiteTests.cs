using System.Security.Cryptography;
using System.Text;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class SharedKeyLiteTests
{
    private const string Date = "Sun, 11 Oct 2009 19:52:39 GMT";

    [Theory]
    [InlineData("https://acc.table.core.windows.net/Tables", "/acc/Tables")]
    [InlineData("https://acc.table.core.windows.net/", "/acc/")]
    [InlineData("https://acc.table.core.windows.net/t1(PartitionKey='a',RowKey='b')", "/acc/t1(PartitionKey='a',RowKey='b')")]
    [InlineData("https://acc.table.core.windows.net/t1()?$filter=x&NextPartitionKey=1", "/acc/t1()")]
    [InlineData("https://acc.table.core.windows.net/?restype=service&comp=properties", "/acc/?comp=properties")]
    [InlineData("http://127.0.0.1:10002/acc/Tables", "/acc/acc/Tables")]
    [InlineData("https://acc.table.core.windows.net/t1(PartitionKey='a%2Fb',RowKey='c')", "/acc/t1(PartitionKey='a%2Fb',RowKey='c')")]
    public void StringToSign_IsDateThenCanonicalizedResource(string uri, string resource)
    {
        Assert.Equal(Date + "\n" + resource, SharedKeyLitePolicy.StringToSign(Date, "acc", new Uri(uri)));
    }

    [Fact]
    public void Sign_IsBase64HmacSha256OfUtf8()
    {
        var key = RandomNumberGenerator.GetBytes(64);
        var text = Date + "\n/acc/Tables";

        var expected = Convert.ToBase64String(new HMACSHA256(key).ComputeHash(Encoding.UTF8.GetBytes(text)));

        Assert.Equal(expected, SharedKeyLitePolicy.Sign(key, text));
    }
}
