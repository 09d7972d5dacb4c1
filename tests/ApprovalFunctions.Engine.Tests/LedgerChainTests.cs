using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.State;

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
        Assert.Matches("^[0-9a-f]{64}$", Chain(1)[0].Hash.ToString());
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
            _ => e with { Hash = LedgerHash.Parse(new string('0', 64)) },
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

    /// <summary>
    /// The canonical form written out by hand from the documented layout and hashed with the BCL:
    /// ledgers stored before hashes became <see cref="LedgerHash"/> values and before the native
    /// SHA-256 path must still verify, so neither may change a single byte.
    /// </summary>
    [Fact]
    public void Append_MatchesTheDocumentedCanonicalForm_HashedByTheBcl()
    {
        static byte[] Field(string? value)
        {
            var prefix = new byte[4];
            if (value is null)
            {
                BinaryPrimitives.WriteInt32BigEndian(prefix, -1);
                return prefix;
            }

            var utf8 = Encoding.UTF8.GetBytes(value);
            BinaryPrimitives.WriteInt32BigEndian(prefix, utf8.Length);
            return [.. prefix, .. utf8];
        }

        static byte[] Int64(long value)
        {
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(bytes, value);
            return bytes;
        }

        var genesis = Convert.ToHexStringLower(SHA256.HashData([.. "AFL1-GENESIS"u8, .. Field("t1"), .. Field("r1")]));
        Assert.Equal(genesis, LedgerChain.Genesis("t1", "r1").ToString());

        var at = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.FromHours(1));
        var iteration = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(iteration, 2);
        byte[] canonical =
        [
            .. "AFL1"u8, .. Field(genesis), .. Int64(7), .. Int64(at.UtcTicks), .. Field("erin"), .. Field("bob"),
            .. Field("approve"), .. Field("finance"), .. Field("ok, é 🚀"), .. Field(null), .. iteration,
        ];
        var entry = LedgerChain.Append(LedgerChain.Genesis("t1", "r1"), 7, at, "erin", "bob", "approve", "finance", "ok, é 🚀", null, 2);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(canonical)), entry.Hash.ToString());
    }

    [Fact]
    public void Sha256_AgreesWithTheBcl_AtEveryLengthAcrossBlockBoundaries()
    {
        var data = new byte[700];
        new Random(7).NextBytes(data);
        Span<byte> ours = stackalloc byte[32];
        for (var length = 0; length <= data.Length; length++)
        {
            Sha256.HashData(data.AsSpan(0, length), ours);
            Assert.True(ours.SequenceEqual(SHA256.HashData(data.AsSpan(0, length))), $"length {length}");
        }
    }

    [Fact]
    public void Sha256_WhereOpenSslExportsIt_UsesOpenSslDirectly()
    {
        // The fast path must be taken wherever it can be (Linux with an OpenSSL that still exports SHA256_*), and only there.
        var available = OperatingSystem.IsLinux()
            && System.Runtime.InteropServices.NativeLibrary.TryLoad("libcrypto.so.3", out var handle)
            && System.Runtime.InteropServices.NativeLibrary.TryGetExport(handle, "SHA256_Init", out _);
        Assert.Equal(available, Sha256.UsesNative);
    }

    [Fact]
    public void Verify_StoredHashThatIsJsonNull_ReportsModifiedInsteadOfThrowing()
    {
        var entries = Chain(3);
        var json = StateJson.SerializeLedgerEntry(entries[1]).Replace("\"" + entries[1].PreviousHash + "\"", "null", StringComparison.Ordinal);
        entries[1] = StateJson.DeserializeLedgerEntry(json);

        Assert.Equal(LedgerHash.None, entries[1].PreviousHash);
        var verification = LedgerChain.Verify("t1", "r1", entries, entries[^1].Hash);
        Assert.False(verification.IsValid);
        Assert.Equal(2, verification.FirstBadSequence);
        Assert.NotNull(LedgerChain.ComputeHash(entries[1]));
    }

    [Fact]
    public void Append_AfterAPreviousHashThatIsText_HashesTheTextAsItWasStored()
    {
        // A head read back as text (an edited row) still chains: its text goes into the canonical form unchanged.
        var text = LedgerHash.Parse("not a hash");
        var entry = LedgerChain.Append(text, 1, Kit.T0, "a", null, "x", null, null, null, 1);
        var again = LedgerChain.Append(LedgerHash.Parse("not a hash"), 1, Kit.T0, "a", null, "x", null, null, null, 1);
        var other = LedgerChain.Append(LedgerHash.Parse("not a hasH"), 1, Kit.T0, "a", null, "x", null, null, null, 1);

        Assert.Equal(entry.Hash, again.Hash);
        Assert.NotEqual(entry.Hash, other.Hash);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a hash")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg")]
    public void Verify_StoredHashThatIsNotAHash_ReportsModifiedAndRoundTripsItsText(string stored)
    {
        var entries = Chain(3);
        var json = StateJson.SerializeLedgerEntry(entries[1]).Replace(entries[1].Hash.ToString(), stored, StringComparison.Ordinal);
        entries[1] = StateJson.DeserializeLedgerEntry(json);

        Assert.False(entries[1].Hash.IsHash);
        Assert.Equal(json, StateJson.SerializeLedgerEntry(entries[1]));
        var verification = LedgerChain.Verify("t1", "r1", entries, entries[^1].Hash);
        Assert.False(verification.IsValid);
        Assert.Equal(2, verification.FirstBadSequence);
        Assert.Contains("modified", verification.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void LedgerHash_ParsesItsOwnText_AndComparesByValue()
    {
        var hash = Chain(1)[0].Hash;
        var parsed = LedgerHash.Parse(hash.ToString());

        Assert.True(parsed.IsHash);
        Assert.Equal(hash, parsed);
        Assert.True(hash == parsed);
        Assert.Equal(hash.GetHashCode(), parsed.GetHashCode());
        Assert.NotEqual(hash, Chain(2)[1].Hash);
        Assert.Equal("\"" + hash + "\"", System.Text.Json.JsonSerializer.Serialize(hash));
        Assert.Equal(LedgerHash.None, LedgerHash.Parse(""));
        Assert.Equal("", LedgerHash.None.ToString());
    }
}
