using ApprovalFunctions.Engine.Ledger;

namespace ApprovalFunctions.Engine.Tests;

public sealed class LedgerChainTests
{
    private static List<LedgerEntry> Chain(int count, string comment = "ok")
    {
        var entries = new List<LedgerEntry>();
        var previous = LedgerChain.Genesis("t1", "r1");
        for (var i = 1; i <= count; i++)
        {
            var entry = LedgerChain.Append(previous, i, Kit.T0.AddMinutes(i), "user" + i, i == 2 ? "principal" : null, "approve", "s", comment, "{\"n\":" + i + "}", 1);
            entries.Add(entry);
            previous = entry.Hash;
        }

        return entries;
    }

    [Fact]
    public void Verify_UntouchedChain_IsValidAndReportsTheHead()
    {
        var entries = Chain(5);
        var verification = LedgerChain.Verify("t1", "r1", entries, entries[^1].Hash);
        Assert.True(verification.IsValid);
        Assert.Equal(5, verification.Length);
        Assert.Equal(entries[^1].Hash, verification.Head);
        Assert.Null(verification.FirstBadSequence);
    }

    [Fact]
    public void Append_SameInputs_SameHash_AndHashIsLowerHexSha256()
    {
        Assert.Equal(Chain(3)[2].Hash, Chain(3)[2].Hash);
        Assert.Matches("^[0-9a-f]{64}$", Chain(1)[0].Hash);
    }

    public static TheoryData<string> Edits => ["actor", "onBehalfOf", "action", "stage", "comment", "detail", "iteration", "at", "hash"];

    [Theory]
    [MemberData(nameof(Edits))]
    public void Verify_EditedField_ReportsTheEditedSequence(string field)
    {
        var entries = Chain(5);
        var e = entries[2];
        entries[2] = field switch
        {
            "actor" => e with { Actor = "mallory" },
            "onBehalfOf" => e with { OnBehalfOf = "x" },
            "action" => e with { Action = "reject" },
            "stage" => e with { StageId = "other" },
            "comment" => e with { Comment = "changed" },
            "detail" => e with { Detail = null },
            "iteration" => e with { Iteration = 2 },
            "at" => e with { At = e.At.AddSeconds(1) },
            _ => e with { Hash = new string('0', 64) },
        };
        var verification = LedgerChain.Verify("t1", "r1", entries, entries[^1].Hash);
        Assert.False(verification.IsValid);
        Assert.Equal(3, verification.FirstBadSequence);
    }

    [Fact]
    public void Verify_SameInstantInAnotherOffset_StillVerifies()
    {
        var entries = Chain(2);
        entries[0] = entries[0] with { At = entries[0].At.ToOffset(TimeSpan.FromHours(2)) };
        Assert.True(LedgerChain.Verify("t1", "r1", entries).IsValid);
    }

    [Fact]
    public void Verify_DeletedEntry_ReportsTheGap()
    {
        var entries = Chain(5);
        entries.RemoveAt(1);
        var verification = LedgerChain.Verify("t1", "r1", entries);
        Assert.False(verification.IsValid);
        Assert.Equal(2, verification.FirstBadSequence);
        Assert.Contains("deleted", verification.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_DeletedAndRenumbered_IsStillDetected()
    {
        var entries = Chain(4);
        entries.RemoveAt(1);
        entries[1] = entries[1] with { Sequence = 2 };
        entries[2] = entries[2] with { Sequence = 3 };
        var verification = LedgerChain.Verify("t1", "r1", entries);
        Assert.False(verification.IsValid);
        Assert.Equal(2, verification.FirstBadSequence);
    }

    [Fact]
    public void Verify_Reordered_IsDetected()
    {
        var entries = Chain(4);
        (entries[1], entries[2]) = (entries[2], entries[1]);
        Assert.Equal(2, LedgerChain.Verify("t1", "r1", entries).FirstBadSequence);
    }

    [Fact]
    public void Verify_TruncatedTail_IsDetectedOnlyAgainstTheHead()
    {
        var entries = Chain(5);
        var head = entries[^1].Hash;
        entries.RemoveAt(4);
        Assert.True(LedgerChain.Verify("t1", "r1", entries).IsValid);
        var verification = LedgerChain.Verify("t1", "r1", entries, head);
        Assert.False(verification.IsValid);
        Assert.Equal(5, verification.FirstBadSequence);
        Assert.Contains("truncation", verification.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_ChainOfAnotherRequest_Fails()
    {
        Assert.Equal(1, LedgerChain.Verify("t1", "r2", Chain(2)).FirstBadSequence);
        Assert.Equal(1, LedgerChain.Verify("t2", "r1", Chain(2)).FirstBadSequence);
    }

    [Fact]
    public void Append_LongUnicodeComment_HashesAndVerifies()
    {
        var entries = Chain(3, new string('é', 5000) + "🚀");
        Assert.True(LedgerChain.Verify("t1", "r1", entries, entries[^1].Hash).IsValid);
        entries[1] = entries[1] with { Comment = new string('é', 5000) + "🚀!" };
        Assert.Equal(2, LedgerChain.Verify("t1", "r1", entries).FirstBadSequence);
    }

    [Fact]
    public void Genesis_NullAndEmptyFields_AreDistinguished()
    {
        var g = LedgerChain.Genesis("t1", "r1");
        var withNull = LedgerChain.Append(g, 1, Kit.T0, "a", null, "x", null, null, null, 1);
        var withEmpty = LedgerChain.Append(g, 1, Kit.T0, "a", "", "x", null, null, null, 1);
        Assert.NotEqual(withNull.Hash, withEmpty.Hash);
        Assert.NotEqual(LedgerChain.Genesis("t1", "r1x"), LedgerChain.Genesis("t1r", "1x"));
    }
}
