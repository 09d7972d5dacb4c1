using ApprovalFunctions.Runtime.Storage;

namespace ApprovalFunctions.Runtime.Processing;

/// <summary>
/// The last committed (or read) state of the requests this process touched most recently, so the next event on one of
/// them can skip the point read before its commit. A copy is only ever a guess: the commit that uses it carries the copy's
/// ETag, so a copy another process has moved past loses with 412 and the processor re-reads, and any answer other than
/// "applied" that came from a copy is re-checked against storage before it is given (see <see cref="RequestProcessor"/>).
/// Bounded by the size of the states held (their JSON length), oldest first out.
/// </summary>
internal sealed class RecentStates
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _order = new(); // oldest first
    private static readonly IReadOnlyDictionary<string, OutboxItem> NoOutbox = new Dictionary<string, OutboxItem>(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _size;

    /// <summary>Creates the cache; <paramref name="budget"/> is the total JSON characters of the states held (0 turns it off).</summary>
    public RecentStates(long budget)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(budget);
        Budget = budget;
    }

    /// <summary>The total JSON characters of the states held at most.</summary>
    public long Budget { get; }

    /// <summary>How many states are held.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The JSON characters of the states held.</summary>
    public long Size
    {
        get
        {
            lock (_gate)
            {
                return _size;
            }
        }
    }

    /// <summary>The copy held for the request, if any.</summary>
    public bool TryGet(string key, out StoredRequest stored)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                stored = entry.Stored;
                return true;
            }
        }

        stored = null!;
        return false;
    }

    /// <summary>
    /// Holds <paramref name="stored"/> as the request's latest known state, without outbox rows (a copy stands in for a read
    /// that loads none); a state larger than a quarter of the budget is not held.
    /// </summary>
    public void Set(string key, StoredRequest stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (Budget == 0)
        {
            return; // copies off: nothing is ever held
        }

        if (stored.Outbox.Count > 0)
        {
            stored = stored with { Outbox = NoOutbox };
        }

        var size = Math.Max(stored.Size, 1);
        lock (_gate)
        {
            RemoveLocked(key);
            if (size > Budget / 4)
            {
                return;
            }

            _entries[key] = new Entry(stored, size, _order.AddLast(key));
            _size += size;
            while (_size > Budget && _order.First is { } oldest)
            {
                RemoveLocked(oldest.Value);
            }
        }
    }

    /// <summary>Forgets the request's copy (it proved stale).</summary>
    public void Remove(string key)
    {
        lock (_gate)
        {
            RemoveLocked(key);
        }
    }

    private void RemoveLocked(string key)
    {
        if (_entries.Remove(key, out var entry))
        {
            _order.Remove(entry.Node);
            _size -= entry.Size;
        }
    }

    private sealed record Entry(StoredRequest Stored, long Size, LinkedListNode<string> Node);
}
