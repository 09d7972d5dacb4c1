namespace ApprovalFunctions.Runtime.Processing;

/// <summary>
/// In-process wake-up for the due-work poller: after a commit the processor tells it which shard has new work and
/// when it falls due, so this process carries out its own deliveries at once instead of on its next poll, and the
/// poller can poll rarely while nothing happens. Only a hint: the due-work rows stay the durable truth, and work
/// committed by another process is still found by polling.
/// </summary>
public sealed class DueWorkSignal
{
    private readonly long[] _earliest = new long[Storage.DueWorkStore.ShardCount];
    private Func<OfferedDelivery, bool>? _starter;
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates a signal with nothing pending.</summary>
    public DueWorkSignal() => Array.Fill(_earliest, long.MaxValue);

    /// <summary>Work in <paramref name="shard"/> falls due at <paramref name="dueAt"/> (called after it is committed).</summary>
    public void Notify(int shard, DateTimeOffset dueAt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, _earliest.Length);
        lock (_gate)
        {
            if (dueAt.UtcTicks >= _earliest[shard])
            {
                return;
            }

            _earliest[shard] = dueAt.UtcTicks;
        }

        Wake();
    }

    /// <summary>
    /// A delivery this process just committed, with the committed state and outbox row in hand: the poller starts it at
    /// once, on this thread, if it holds the shard's lease (no shard query, no re-read, no wait for its loop, which under
    /// load may be busy polling other shards), and otherwise leaves it to the shard's owner, which finds the due-work row
    /// by polling. Only a shortcut: that row, committed first, still guarantees the delivery. With no poller here (tests,
    /// a host without one), or when the poller did not start it (already in flight), it is a plain hint.
    /// </summary>
    internal void Offer(OfferedDelivery offer)
    {
        if (Volatile.Read(ref _starter) is not { } start || !start(offer))
        {
            Notify(offer.Item.Shard, offer.Item.DueAt);
        }
    }

    /// <summary>Completes the current <see cref="Changed"/> task (after the news it announces is in place) and starts the next.</summary>
    private void Wake()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>
    /// A poller takes the offers of this process's commits: <paramref name="starter"/> is handed each on the committing
    /// thread and returns false when it did not start one it should have (already in flight), so a poll re-reads the row.
    /// </summary>
    internal void AttachPoller(Func<OfferedDelivery, bool> starter)
    {
        ArgumentNullException.ThrowIfNull(starter);
        Volatile.Write(ref _starter, starter);
    }

    /// <summary>The poller that attached <paramref name="starter"/> stops taking offers; later ones are plain hints.</summary>
    internal void DetachPoller(Func<OfferedDelivery, bool> starter) => Interlocked.CompareExchange(ref _starter, null, starter);

    /// <summary>Completes at the next <see cref="Notify"/> that asks for an earlier time than was pending.</summary>
    public Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>Takes the earliest time asked for <paramref name="shard"/> since the last take; null when none.</summary>
    public DateTimeOffset? Take(int shard)
    {
        lock (_gate)
        {
            var ticks = _earliest[shard];
            _earliest[shard] = long.MaxValue;
            return ticks == long.MaxValue ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }
}

/// <summary>A committed delivery handed to the poller: its due-work row, the state as committed, and the outbox row.</summary>
internal sealed record OfferedDelivery(Storage.DueWorkItem Item, Storage.StoredRequest Stored, Storage.OutboxItem Outbox);
