namespace ApprovalFunctions.Runtime.Processing;

/// <summary>
/// In-process wake-up for the due-work poller: after a commit the processor tells it which shard has new work and
/// when it falls due, so this process carries out its own deliveries at once instead of on its next poll, and the
/// poller can poll rarely while nothing happens. Only a hint: the due-work rows stay the durable truth, and work
/// committed by another process is still found by polling.
/// </summary>
public sealed class DueWorkSignal
{
    /// <summary>At most this many offered deliveries wait for the poller; more are left to its polls.</summary>
    internal const int MaxOffers = 1024;

    private readonly long[] _earliest = new long[Storage.DueWorkStore.ShardCount];
    private readonly System.Collections.Concurrent.ConcurrentQueue<OfferedDelivery> _offers = new();
    private int _offerCount;
    private int _pollers;
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
    /// once if it holds the shard's lease (no shard query, no re-read), and otherwise leaves it to the shard's owner, which
    /// finds the due-work row by polling. Only a shortcut: that row, committed first, still guarantees the delivery; a full
    /// queue drops the offer.
    /// </summary>
    internal void Offer(OfferedDelivery offer)
    {
        if (!PollerAttached)
        {
            // Nobody takes offers in this process (tests, a host without a poller): a plain hint, as before.
            Notify(offer.Item.Shard, offer.Item.DueAt);
            return;
        }

        if (Volatile.Read(ref _starter) is { } start)
        {
            // The poller starts it from here, without waiting for its loop to come round (which, under load, may be
            // busy polling other shards); false means already in flight, so a poll re-reads the row.
            if (!start(offer))
            {
                Notify(offer.Item.Shard, offer.Item.DueAt);
            }

            return;
        }

        if (Interlocked.Increment(ref _offerCount) > MaxOffers)
        {
            Interlocked.Decrement(ref _offerCount);
            Notify(offer.Item.Shard, offer.Item.DueAt);
            return;
        }

        _offers.Enqueue(offer);
        Wake();
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

    /// <summary>True while a poller runs in this process and takes offers (<see cref="DueWorkPoller.RunAsync"/>).</summary>
    internal bool PollerAttached => Volatile.Read(ref _pollers) > 0;

    /// <summary>
    /// A poller starts taking offers; with <paramref name="starter"/>, each is handed to it on the committing thread (it
    /// returns false when the delivery is already in flight), otherwise they wait in a queue for the poller's loop.
    /// </summary>
    internal void AttachPoller(Func<OfferedDelivery, bool>? starter = null)
    {
        Interlocked.Increment(ref _pollers);
        if (starter is not null)
        {
            Volatile.Write(ref _starter, starter);
        }
    }

    /// <summary>A poller stops; when it was the last, waiting offers are dropped (their due rows remain).</summary>
    internal void DetachPoller(Func<OfferedDelivery, bool>? starter = null)
    {
        if (starter is not null)
        {
            Interlocked.CompareExchange(ref _starter, null, starter);
        }

        if (Interlocked.Decrement(ref _pollers) == 0)
        {
            while (TryTakeOffer(out _))
            {
            }
        }
    }

    /// <summary>Takes one offered delivery; false when none waits.</summary>
    internal bool TryTakeOffer(out OfferedDelivery offer)
    {
        if (_offers.TryDequeue(out offer!))
        {
            Interlocked.Decrement(ref _offerCount);
            return true;
        }

        return false;
    }

    /// <summary>Completes at the next <see cref="Notify"/> that asks for an earlier time than was pending, or the next <see cref="Offer"/>.</summary>
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
