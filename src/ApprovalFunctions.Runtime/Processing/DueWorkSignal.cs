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
    private readonly Lock _gate = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates a signal with nothing pending.</summary>
    public DueWorkSignal() => Array.Fill(_earliest, long.MaxValue);

    /// <summary>Work in <paramref name="shard"/> falls due at <paramref name="dueAt"/> (called after it is committed).</summary>
    public void Notify(int shard, DateTimeOffset dueAt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, _earliest.Length);
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (dueAt.UtcTicks >= _earliest[shard])
            {
                return;
            }

            _earliest[shard] = dueAt.UtcTicks;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

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
