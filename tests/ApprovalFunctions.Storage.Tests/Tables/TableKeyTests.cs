using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests.Tables;

public sealed class TableKeyTests
{
    public static readonly string[] Ids =
    [
        "plain",
        "",
        "a/b",
        "a\\b",
        "a#b",
        "a?b",
        "tenant~1",
        "~41",
        "100%",
        "o'brien",
        "tab\there",
        "nul\0char",
        "del\u007f c1\u0080\u009f",
        "emoji 😀 ok",
        "lone \ud800 high",
        "lone \udc00 low",
        "ünïcödé",
        new string('/', 40),
    ];

    public static TheoryData<string> NastyIds => new(Ids);

    [Theory]
    [MemberData(nameof(NastyIds))]
    public void Encode_AnyShortId_RoundTripsAndContainsNoForbiddenCharacter(string id)
    {
        var key = TableKey.Encode(id);

        Assert.Equal(id, TableKey.Decode(key));
        Assert.DoesNotContain(key, c => c is '/' or '\\' or '#' or '?' || c <= '\u001f' || c is >= '\u007f' and <= '\u009f');
        Assert.DoesNotContain("~~", key, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_DistinctIds_GiveDistinctKeys()
    {
        var ids = Ids.ToList();
        ids.AddRange(["a~2Fb", "a~2fb", "a%2Fb", "~7E"]);
        var keys = ids.Select(TableKey.Encode).ToList();

        Assert.Equal(ids.Distinct(StringComparer.Ordinal).Count(), keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [InlineData(129, 'a')]
    [InlineData(5000, 'a')]
    [InlineData(100, '/')]
    public void Encode_OverLongId_IsHashedBoundedAndNotDecodable(int length, char fill)
    {
        var id = new string(fill, length);

        var key = TableKey.Encode(id);

        Assert.True(key.Length <= TableKey.MaxEncodedLength);
        Assert.Contains("~~", key, StringComparison.Ordinal);
        Assert.False(TableKey.TryDecode(key, out _));
        Assert.Throws<FormatException>(() => TableKey.Decode(key));
    }

    [Fact]
    public void Encode_LongIdsSharingPrefix_DoNotCollide()
    {
        var a = new string('x', 300) + "a";
        var b = new string('x', 300) + "b";

        Assert.NotEqual(TableKey.Encode(a), TableKey.Encode(b));
        Assert.Equal(TableKey.Encode(a), TableKey.Encode(a));
    }

    [Fact]
    public void Encode_CutThroughEscapeSequence_BacksUpToBoundary()
    {
        // Escapes straddle the hash cut at every offset; the prefix must never end in half an escape.
        for (var pad = 0; pad < 6; pad++)
        {
            var id = new string('a', pad) + new string('/', 60);
            var key = TableKey.Encode(id);
            var prefix = key[..key.IndexOf("~~", StringComparison.Ordinal)];
            Assert.True(TableKey.TryDecode(prefix, out var decoded), prefix);
            Assert.StartsWith(decoded, id, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void InvertedTicks_LaterTime_SortsFirst()
    {
        var earlier = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var later = earlier.AddMilliseconds(1);

        Assert.True(string.CompareOrdinal(TableKey.InvertedTicks(later), TableKey.InvertedTicks(earlier)) < 0);
        Assert.True(string.CompareOrdinal(TableKey.Ticks(earlier), TableKey.Ticks(later)) < 0);
        Assert.Equal(19, TableKey.InvertedTicks(later).Length);
    }

    [Theory]
    [InlineData(9, 10)]
    [InlineData(0, 1)]
    [InlineData(999, 1000000)]
    public void Padded_StringOrder_MatchesNumericOrder(long small, long large)
    {
        Assert.True(string.CompareOrdinal(TableKey.Padded(small), TableKey.Padded(large)) < 0);
        Assert.True(string.CompareOrdinal(TableKey.PaddedDescending(large), TableKey.PaddedDescending(small)) < 0);
    }
}
