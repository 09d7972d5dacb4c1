namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Group commit for <see cref="TableClient.ApplyAsync"/> writes (unconditional upserts and deletes that are safe to repeat
/// and to see half done): while a transaction to a partition is in flight, the writes other callers bring to the same
/// partition wait for it and then share the next transaction (up to 100 actions). A caller that finds the partition
/// quiet is sent at once, exactly as <see cref="TableClient.ApplyAsync"/> would send it, so nothing waits without a
/// reason. A shared transaction that fails (a row to delete already gone, a storage error) is retried caller by caller
/// through <see cref="TableClient.ApplyAsync"/>, so each caller sees only its own outcome.
/// </summary>
/// <remarks>
/// Callers' writes keep their order: a write that touches a row an earlier waiting write also touches is never taken
/// ahead of it (a transaction stops before the first such write). A caller's actions are never split across
/// transactions. A caller sent alone is sent with its own cancellation token; cancelling a caller whose write waits or
/// shares a transaction stops its wait, not the write, which may still be applied (as a write whose outcome is unknown
/// may be: these writes are safe to repeat and to see half done).
/// </remarks>
public sealed class TableWriteCoalescer
{
    /// <summary>The most entity bytes a shared transaction carries (a transaction's body may be 4 MiB).</summary>
    public const long MaxSharedBytes = 2_000_000;

    private readonly Lock _gate = new();
    private readonly Action<int>? _shared;

    // A partition has an entry while a flush for it runs; the queue holds the writes waiting for its next transaction.
    private readonly Dictionary<(TableClient Table, string PartitionKey), Queue<Pending>> _waiting = [];
    private long _sharedCount;

    /// <summary>A coalescer; <paramref name="shared"/> is told how many callers each shared transaction carried (for metrics).</summary>
    public TableWriteCoalescer(Action<int>? shared = null) => _shared = shared;

    /// <summary>Callers whose writes went in a transaction shared with another caller's.</summary>
    public long SharedWrites => Interlocked.Read(ref _sharedCount);

    /// <summary>
    /// Applies <paramref name="actions"/> (unconditional upserts and deletes of one partition, at most 100) as
    /// <see cref="TableClient.ApplyAsync"/> does, sharing a transaction with concurrent callers of the same partition.
    /// </summary>
    public Task ApplyAsync(TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(actions);
        TableClient.EnsureUnconditional(actions);
        if (actions.Count == 0)
        {
            return Task.CompletedTask;
        }

        var partitionKey = actions[0].Entity.PartitionKey;
        if (actions.Count > TableLimits.MaxBatchOperations || actions.Any(a => !string.Equals(a.Entity.PartitionKey, partitionKey, StringComparison.Ordinal)))
        {
            throw new ArgumentException($"Coalesced writes are at most {TableLimits.MaxBatchOperations} actions on one partition.", nameof(actions));
        }

        var pending = new Pending(actions, cancellationToken);
        var key = (table, partitionKey);
        bool lead;
        lock (_gate)
        {
            lead = !_waiting.TryGetValue(key, out var queue);
            if (lead)
            {
                _waiting[key] = new Queue<Pending>();
            }
            else
            {
                queue!.Enqueue(pending);
            }
        }

        return lead ? LeadAsync(table, key, pending) : pending.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The caller that found the partition quiet: sends its own writes and is answered directly; the writes that queued
    /// meanwhile go on in the background.
    /// </summary>
    private async Task LeadAsync(TableClient table, (TableClient, string) key, Pending pending)
    {
        List<Pending>? waiting;
        try
        {
            await SendAsync(table, [pending]).ConfigureAwait(false);
            waiting = Next(key);
        }
        catch (Exception ex)
        {
            Abandon(key, [pending], ex);
            throw;
        }

        if (waiting is not null)
        {
            _ = FlushAsync(table, key, waiting);
        }

        await pending.Done.Task.ConfigureAwait(false); // already complete: its outcome, without another hop
    }

    /// <summary>The next transaction's writes for the partition, or null (and the partition is quiet again) when none wait.</summary>
    private List<Pending>? Next((TableClient, string) key)
    {
        lock (_gate)
        {
            var queue = _waiting[key];
            if (queue.Count == 0)
            {
                _waiting.Remove(key);
                return null;
            }

            return Take(queue);
        }
    }

    private async Task FlushAsync(TableClient table, (TableClient, string) key, List<Pending> group)
    {
        try
        {
            for (List<Pending>? next = group; next is not null; next = Next(key))
            {
                group = next;
                await SendAsync(table, group).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Abandon(key, group, ex);
        }
    }

    /// <summary>
    /// Not expected (<see cref="SendAsync"/> completes every caller itself), but a partition left marked busy would hang
    /// every later writer of it: fails <paramref name="group"/> and whatever waits, and marks the partition quiet.
    /// </summary>
    private void Abandon((TableClient, string) key, List<Pending> group, Exception ex)
    {
        List<Pending> stranded;
        lock (_gate)
        {
            stranded = [.. group, .. _waiting.TryGetValue(key, out var queue) ? queue : []];
            _waiting.Remove(key);
        }

        foreach (var pending in stranded)
        {
            pending.Done.TrySetException(ex);
        }
    }

    /// <summary>The waiting writes at the head of <paramref name="queue"/> that fit one transaction without touching a row twice.</summary>
    private static List<Pending> Take(Queue<Pending> queue)
    {
        var group = new List<Pending> { queue.Dequeue() };
        var count = group[0].Actions.Count;
        var bytes = group[0].Bytes;
        var rows = new HashSet<string>(group[0].Actions.Select(a => a.Entity.RowKey), StringComparer.Ordinal);
        while (queue.TryPeek(out var next) && count + next.Actions.Count <= TableLimits.MaxBatchOperations && bytes + next.Bytes <= MaxSharedBytes
            && next.Actions.All(a => !rows.Contains(a.Entity.RowKey)))
        {
            queue.Dequeue();
            group.Add(next);
            count += next.Actions.Count;
            bytes += next.Bytes;
            rows.UnionWith(next.Actions.Select(a => a.Entity.RowKey));
        }

        return group;
    }

    private async Task SendAsync(TableClient table, List<Pending> group)
    {
        if (group.Count > 1)
        {
            var applied = false;
            try
            {
                await table.SubmitTransactionAsync([.. group.SelectMany(p => p.Actions)], CancellationToken.None).ConfigureAwait(false);
                applied = true;
            }
            catch (Exception)
            {
                // A refused transaction applied nothing (one whose answer was lost may still land: these writes are safe
                // to repeat): each caller's writes go on their own, with ApplyAsync's own fallback.
            }

            if (applied)
            {
                foreach (var pending in group)
                {
                    pending.Done.TrySetResult();
                }

                Interlocked.Add(ref _sharedCount, group.Count);
                _shared?.Invoke(group.Count);
                return;
            }
        }

        await Task.WhenAll(group.Select(async pending =>
        {
            try
            {
                // A caller sent alone is sent with its own token; one whose shared transaction failed goes on regardless.
                await table.ApplyAsync(pending.Actions, group.Count == 1 ? pending.Token : CancellationToken.None).ConfigureAwait(false);
                pending.Done.TrySetResult();
            }
            catch (Exception ex)
            {
                pending.Done.TrySetException(ex);
            }
        })).ConfigureAwait(false);
    }

    private sealed class Pending(IReadOnlyList<TableTransactionAction> actions, CancellationToken token)
    {
        public IReadOnlyList<TableTransactionAction> Actions { get; } = actions;

        public CancellationToken Token { get; } = token;

        public long Bytes { get; } = actions.Sum(a => TableLimits.EntitySize(a.Entity));

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
