using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalFunctions.Engine.Ledger;

/// <summary>The result of verifying a request's ledger chain.</summary>
/// <param name="IsValid">True when every entry verifies and, if an expected head was given, the chain ends there.</param>
/// <param name="Length">The number of entries examined.</param>
/// <param name="Head">The hash of the last entry (the genesis hash for an empty ledger).</param>
/// <param name="FirstBadSequence">The first sequence number that does not verify, or null.</param>
/// <param name="Reason">Why it does not verify, or null.</param>
public sealed record LedgerVerification(bool IsValid, long Length, LedgerHash Head, long? FirstBadSequence, string? Reason);

/// <summary>
/// The SHA-256 hash chain over a request's ledger. Each entry's hash covers a canonical,
/// length-prefixed encoding of every field plus the previous entry's hash; the first entry
/// chains to <see cref="Genesis"/>, which binds the chain to its tenant and request, so entries
/// cannot be moved between requests either.
/// </summary>
/// <remarks>
/// Canonical form (version tag <c>AFL1</c>): the previous hash, then sequence (int64 big-endian),
/// <see cref="LedgerEntry.At"/> as UTC ticks (int64 big-endian), actor, on-behalf-of, action,
/// stage id, comment, detail (each a UTF-8 string prefixed with its int32 big-endian byte length,
/// -1 for null) and iteration (int32 big-endian). The offset of <see cref="LedgerEntry.At"/> is not
/// hashed, so storing times in UTC does not break the chain.
/// </remarks>
public static class LedgerChain
{
    private const int StackLimit = 1024;
    private static readonly byte[] EntryTag = "AFL1"u8.ToArray();
    private static readonly byte[] GenesisTag = "AFL1-GENESIS"u8.ToArray();

    /// <summary>The hash the first entry of a request's ledger chains to.</summary>
    public static LedgerHash Genesis(string tenantId, string requestId)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(requestId);
        var size = GenesisTag.Length + StringSize(tenantId) + StringSize(requestId);
        byte[]? rented = null;
        var buffer = size <= StackLimit ? stackalloc byte[size] : (rented = ArrayPool<byte>.Shared.Rent(size));
        try
        {
            GenesisTag.CopyTo(buffer);
            var at = GenesisTag.Length;
            at += WriteString(buffer[at..], tenantId);
            at += WriteString(buffer[at..], requestId);
            return Hash(buffer[..at]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Creates the entry at <paramref name="sequence"/> chained to <paramref name="previousHash"/>.</summary>
    public static LedgerEntry Append(
        LedgerHash previousHash,
        long sequence,
        DateTimeOffset at,
        string actor,
        string? onBehalfOf,
        string action,
        string? stageId,
        string? comment,
        string? detail,
        int iteration)
    {
        ArgumentNullException.ThrowIfNull(previousHash);
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(action);
        var hash = ComputeHash(previousHash, sequence, at, actor, onBehalfOf, action, stageId, comment, detail, iteration);
        return new LedgerEntry(sequence, at, actor, onBehalfOf, action, stageId, comment, detail, iteration, previousHash, hash);
    }

    /// <summary>Recomputes the hash an entry should carry.</summary>
    public static LedgerHash ComputeHash(LedgerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return ComputeHash(entry.PreviousHash, entry.Sequence, entry.At, entry.Actor, entry.OnBehalfOf, entry.Action,
            entry.StageId, entry.Comment, entry.Detail, entry.Iteration);
    }

    /// <summary>
    /// Verifies a request's ledger, oldest first. Reports the first bad sequence and why: an edited
    /// entry (hash mismatch), a deletion or reordering (sequence gap or broken previous-hash link),
    /// or a truncation (the chain does not end at <paramref name="expectedHead"/>, the head recorded in the state).
    /// </summary>
    public static LedgerVerification Verify(string tenantId, string requestId, IReadOnlyList<LedgerEntry> entries, LedgerHash? expectedHead = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var previous = Genesis(tenantId, requestId);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var expectedSequence = i + 1L;
            if (entry.Sequence != expectedSequence)
            {
                return Bad(i, previous, expectedSequence,
                    FormattableString.Invariant($"expected sequence {expectedSequence} but found {entry.Sequence}: an entry was deleted, inserted or reordered"));
            }

            if (entry.PreviousHash != previous)
            {
                return Bad(i, previous, expectedSequence,
                    FormattableString.Invariant($"entry {expectedSequence} does not chain to the previous entry: an entry was deleted, replaced or reordered"));
            }

            if (ComputeHash(entry) != entry.Hash)
            {
                return Bad(i, previous, expectedSequence,
                    FormattableString.Invariant($"entry {expectedSequence} was modified: its content does not match its hash"));
            }

            previous = entry.Hash;
        }

        if (expectedHead is not null && expectedHead != previous)
        {
            return Bad(entries.Count, previous, entries.Count + 1L,
                "the chain does not end at the recorded head: entries were removed from the end (truncation) or the head was altered");
        }

        return new LedgerVerification(true, entries.Count, previous, null, null);
    }

    private static LedgerVerification Bad(int length, LedgerHash head, long sequence, string reason) =>
        new(false, length, head, sequence, reason);

    private static LedgerHash ComputeHash(
        LedgerHash previousHash, long sequence, DateTimeOffset at, string actor, string? onBehalfOf,
        string action, string? stageId, string? comment, string? detail, int iteration)
    {
        var size = EntryTag.Length + 4 + previousHash.Utf8Length + 8 + 8 + StringSize(actor) + StringSize(onBehalfOf)
            + StringSize(action) + StringSize(stageId) + StringSize(comment) + StringSize(detail) + 4;
        byte[]? rented = null;
        var buffer = size <= StackLimit ? stackalloc byte[size] : (rented = ArrayPool<byte>.Shared.Rent(size));
        try
        {
            EntryTag.CopyTo(buffer);
            var n = EntryTag.Length;
            var previousLength = previousHash.WriteUtf8(buffer[(n + 4)..]);
            BinaryPrimitives.WriteInt32BigEndian(buffer[n..], previousLength);
            n += 4 + previousLength;
            BinaryPrimitives.WriteInt64BigEndian(buffer[n..], sequence);
            n += 8;
            BinaryPrimitives.WriteInt64BigEndian(buffer[n..], at.UtcTicks);
            n += 8;
            n += WriteString(buffer[n..], actor);
            n += WriteString(buffer[n..], onBehalfOf);
            n += WriteString(buffer[n..], action);
            n += WriteString(buffer[n..], stageId);
            n += WriteString(buffer[n..], comment);
            n += WriteString(buffer[n..], detail);
            BinaryPrimitives.WriteInt32BigEndian(buffer[n..], iteration);
            n += 4;
            return Hash(buffer[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // Upper bound (max UTF-8 bytes) so the buffer is sized without a second pass over the text.
    private static int StringSize(string? value) => 4 + (value is null ? 0 : Encoding.UTF8.GetMaxByteCount(value.Length));

    private static int WriteString(Span<byte> destination, string? value)
    {
        if (value is null)
        {
            BinaryPrimitives.WriteInt32BigEndian(destination, -1);
            return 4;
        }

        var written = Encoding.UTF8.GetBytes(value, destination[4..]);
        BinaryPrimitives.WriteInt32BigEndian(destination, written);
        return 4 + written;
    }

    private static LedgerHash Hash(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Sha256.HashData(data, hash);
        return LedgerHash.FromBytes(hash);
    }
}
