using System.Globalization;
using System.Text;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>One unit of due work: a timer, an outbox delivery or a projection repair.</summary>
/// <param name="Shard">0..15, from a stable hash of tenant and request.</param>
/// <param name="RowKey"><c>{dueTicks:D19}|{tenant}|{requestId}|{kind}|{key}</c>.</param>
/// <param name="DueAt">When it is due.</param>
/// <param name="TenantId">The tenant.</param>
/// <param name="RequestId">The request.</param>
/// <param name="Kind"><see cref="TimerKind"/>, <see cref="OutboxKind"/> or <see cref="ProjectKind"/>.</param>
/// <param name="Key">The timer key string, the outbox row key, or the projection's version.</param>
/// <param name="Payload">Timer JSON, nothing, or the index rows the projection must delete (JSON).</param>
public sealed record DueWorkItem(int Shard, string RowKey, DateTimeOffset DueAt, string TenantId, string RequestId, string Kind, string Key, string? Payload)
{
    /// <summary>A durable timer.</summary>
    public const string TimerKind = "timer";

    /// <summary>An outbox delivery.</summary>
    public const string OutboxKind = "outbox";

    /// <summary>Re-project a request's indexes (written before a commit; deleted after the projection).</summary>
    public const string ProjectKind = "project";

    /// <summary>Builds an item with its shard and row key.</summary>
    public static DueWorkItem Create(string tenantId, string requestId, string kind, string key, DateTimeOffset dueAt, string? payload = null)
    {
        var rowKey = string.Join('|', TableKey.Ticks(dueAt), TableKey.Encode(tenantId), TableKey.Encode(requestId), kind, TableKey.Encode(key));
        return new DueWorkItem(DueWorkStore.ShardOf(tenantId, requestId), rowKey, dueAt, tenantId, requestId, kind, key, payload);
    }
}

/// <summary>
/// Due work in <c>{hub}DueWork</c>, partition <c>shard{00..15}</c>, rows in due order. All rows of one request
/// land in one shard, so the rows an event creates are written in one transaction.
/// </summary>
public sealed class DueWorkStore
{
    /// <summary>The number of shards.</summary>
    public const int ShardCount = 16;

    /// <summary>How long <see cref="DeleteSoon"/> collects rows before deleting them, one transaction per shard.</summary>
    public static readonly TimeSpan DeleteDelay = TimeSpan.FromSeconds(1);

    private readonly TableClient _table;

    // Rows done with and waiting for a batched delete (DeleteSoon): the queue says what to delete, the set lets a
    // poll skip them meanwhile. One flush runs at a time, so a row is never deleted twice at once.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Shard, string RowKey), DueWorkItem> _deleting = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<DueWorkItem> _deleteQueue = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private readonly TableWriteCoalescer _writes;
    private int _flushScheduled;

    /// <summary>Creates the store.</summary>
    public DueWorkStore(StorageTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        _table = tables.DueWork;
        _writes = tables.Writes;
    }

    /// <summary>
    /// The shard of a request: FNV-1a (32-bit) over the UTF-8 of <c>tenant|requestId</c>, the same in every process
    /// and every .NET version (string.GetHashCode is randomised per process).
    /// </summary>
    public static int ShardOf(string tenantId, string requestId)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(tenantId + "|" + requestId))
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return (int)(hash % ShardCount);
    }

    /// <summary>The partition key of a shard.</summary>
    public static string ShardKey(int shard) => "shard" + shard.ToString("D2", CultureInfo.InvariantCulture);

    /// <summary>Writes items (upsert: a replay of the same intent is harmless), one transaction per shard and 100 rows.</summary>
    public async Task AddAsync(IReadOnlyList<DueWorkItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var shard in items.GroupBy(i => i.Shard))
        {
            var rows = shard.GroupBy(i => i.RowKey, StringComparer.Ordinal).Select(g => g.Last()).Select(Row).ToList();
            foreach (var batch in Batches(rows))
            {
                // Shared with the due rows other commits write to this shard meanwhile (group commit).
                await _writes.ApplyAsync(_table, [.. batch.Select(r => TableTransactionAction.Upsert(r, TableUpdateMode.Replace))], cancellationToken)
                    .ConfigureAwait(false);
            }
        }
    }

    /// <summary>Items of a shard due at or before <paramref name="now"/>, oldest first, at most <paramref name="top"/>.</summary>
    public async Task<IReadOnlyList<DueWorkItem>> QueryDueAsync(int shard, DateTimeOffset now, int top, CancellationToken cancellationToken = default) =>
        (await QueryDuePageAsync(shard, now, top, cancellationToken).ConfigureAwait(false)).Items;

    /// <summary>
    /// <see cref="QueryDueAsync"/> with whether rows may follow the page (it is full, or the service returned a continuation,
    /// which Azure may do with a short page).
    /// </summary>
    internal async Task<(IReadOnlyList<DueWorkItem> Items, bool More)> QueryDuePageAsync(int shard, DateTimeOffset now, int top,
        CancellationToken cancellationToken = default)
    {
        var pk = ShardKey(shard);
        var upper = TableKey.Padded(now.UtcTicks + 1);
        top = Math.Clamp(top, 1, 1000);
        var page = await _table.QueryPageAsync(TableFilter.Format($"PartitionKey eq {pk} and RowKey lt {upper}"), null, top, null,
            cancellationToken).ConfigureAwait(false);
        return ([.. page.Entities.Select(e => Read(shard, e))], page.Entities.Count >= top || page.Continuation is not null);
    }

    /// <summary>Rows of the shard waiting for the batched delete (a poll reads past them).</summary>
    internal int DeletingCount(int shard) => _deleting.IsEmpty ? 0 : _deleting.Keys.Count(k => k.Shard == shard);

    /// <summary>Deletes an item (missing is fine).</summary>
    public Task DeleteAsync(DueWorkItem item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        return _table.DeleteAsync(ShardKey(item.Shard), item.RowKey, "*", cancellationToken);
    }

    /// <summary>
    /// Deletes rows whose work is done within <see cref="DeleteDelay"/>, together with the other rows of their shard
    /// done meanwhile: one transaction per shard instead of one request per row, and nothing on the caller's path.
    /// Until then <see cref="IsDeleting"/> is true for them, so a poll skips them. A row whose delete is lost (the
    /// process died, storage failed) is simply found again when due, exactly as after a crash just before a delete:
    /// every kind of due work is safe to run twice.
    /// </summary>
    public void DeleteSoon(IEnumerable<DueWorkItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var item in items)
        {
            if (_deleting.TryAdd((item.Shard, item.RowKey), item))
            {
                _deleteQueue.Enqueue(item);
            }
        }

        if (!_deleteQueue.IsEmpty && Interlocked.Exchange(ref _flushScheduled, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                await Task.Delay(DeleteDelay).ConfigureAwait(false);
                // Rows queued from here on are taken by this flush (it dequeues after this) or schedule the next one.
                Volatile.Write(ref _flushScheduled, 0);
                await FlushDeletesAsync().ConfigureAwait(false);
            });
        }
    }

    /// <summary>True while <paramref name="item"/> waits for its delete from <see cref="DeleteSoon"/>.</summary>
    public bool IsDeleting(DueWorkItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return _deleting.ContainsKey((item.Shard, item.RowKey));
    }

    /// <summary>True while rows of <paramref name="shard"/> wait for their delete from <see cref="DeleteSoon"/>.</summary>
    public bool HasDeletesPending(int shard) => !_deleting.IsEmpty && _deleting.Keys.Any(k => k.Shard == shard);

    /// <summary>
    /// Deletes every row <see cref="DeleteSoon"/> has collected now (waiting for a flush already running); a host calls
    /// it when it stops. Never throws for storage: rows it could not delete are left to be found when due.
    /// </summary>
    public async Task FlushDeletesAsync(CancellationToken cancellationToken = default)
    {
        await _flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var items = new List<DueWorkItem>();
            while (_deleteQueue.TryDequeue(out var item))
            {
                items.Add(item);
            }

            foreach (var shard in items.GroupBy(i => i.Shard))
            {
                foreach (var chunk in shard.Chunk(TableLimits.MaxBatchOperations))
                {
                    try
                    {
                        // One transaction; row by row when one is already gone (another process ran it).
                        await _table.ApplyAsync([.. chunk.Select(i => TableTransactionAction.Delete(ShardKey(shard.Key), i.RowKey))], cancellationToken)
                            .ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        // Storage failed (whatever the error, this is clean-up): these rows stay and are run again when due,
                        // which every kind of due work tolerates.
                    }
                    finally
                    {
                        foreach (var item in chunk)
                        {
                            _deleting.TryRemove((item.Shard, item.RowKey), out _);
                        }
                    }
                }
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>Moves an item to a later time (one transaction: add the new row, delete the old).</summary>
    public async Task<DueWorkItem> RescheduleAsync(DueWorkItem item, DateTimeOffset dueAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        var moved = DueWorkItem.Create(item.TenantId, item.RequestId, item.Kind, item.Key, dueAt, item.Payload);
        if (moved.RowKey == item.RowKey)
        {
            return item;
        }

        await _table.SubmitTransactionAsync(
            [TableTransactionAction.Upsert(Row(moved), TableUpdateMode.Replace), TableTransactionAction.Delete(ShardKey(item.Shard), item.RowKey)],
            cancellationToken).ConfigureAwait(false);
        return moved;
    }

    private static IEnumerable<List<TableEntity>> Batches(List<TableEntity> rows)
    {
        var batch = new List<TableEntity>();
        long size = 0;
        foreach (var row in rows)
        {
            var rowSize = TableLimits.EntitySize(row);
            if (batch.Count > 0 && (batch.Count == TableLimits.MaxBatchOperations || size + rowSize > 2_000_000))
            {
                yield return batch;
                batch = [];
                size = 0;
            }

            batch.Add(row);
            size += rowSize;
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    private static TableEntity Row(DueWorkItem item)
    {
        var entity = new TableEntity(ShardKey(item.Shard), item.RowKey)
        {
            ["DueAt"] = item.DueAt,
            ["Tenant"] = item.TenantId,
            ["RequestId"] = item.RequestId,
            ["Kind"] = item.Kind,
            ["Key"] = item.Key,
        };
        if (item.Payload is not null)
        {
            Chunks.Write(entity, "P", item.Payload);
        }

        return entity;
    }

    private static DueWorkItem Read(int shard, TableEntity e) => new(
        shard, e.RowKey, e.GetDateTimeOffset("DueAt") ?? default, e.GetString("Tenant") ?? "", e.GetString("RequestId") ?? "",
        e.GetString("Kind") ?? "", e.GetString("Key") ?? "", Chunks.Read(e, "P"));
}

/// <summary>A held shard lease; renew before <see cref="ExpiresAt"/>.</summary>
public sealed record ShardLease(int Shard, string Owner, DateTimeOffset ExpiresAt, string ETag);

/// <summary>
/// Due-work shard leases in <c>{hub}Leases</c> (partition <c>lease</c>, row <c>shard{NN}</c>), ETag-guarded, so
/// two host processes poll disjoint shards. A lease that is not renewed expires and another process takes it. Partition
/// <c>member</c> holds one heartbeat row per live process, so each can take its fair share of the shards.
/// </summary>
public sealed class LeaseStore
{
    private const string Partition = "lease";
    private const string MemberPartition = "member";
    private readonly TableClient _table;
    private readonly TimeProvider _time;

    /// <summary>Creates the store.</summary>
    public LeaseStore(StorageTables tables, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(time);
        _table = tables.Leases;
        _time = time;
    }

    /// <summary>Takes the shard's lease when it is free, expired or already ours; null when another owner holds it.</summary>
    public async Task<ShardLease?> TryAcquireAsync(int shard, string owner, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        var key = DueWorkStore.ShardKey(shard);
        var current = await _table.GetAsync(Partition, key, cancellationToken: cancellationToken).ConfigureAwait(false);
        var entity = new TableEntity(Partition, key) { ["Owner"] = owner, ["ExpiresAt"] = now + duration };
        try
        {
            if (current is null)
            {
                var etag = await _table.InsertAsync(entity, cancellationToken).ConfigureAwait(false);
                return new ShardLease(shard, owner, now + duration, etag);
            }

            var holder = current.GetString("Owner");
            var expires = current.GetDateTimeOffset("ExpiresAt") ?? default;
            if (!string.Equals(holder, owner, StringComparison.Ordinal) && expires > now)
            {
                return null;
            }

            var newEtag = await _table.UpdateAsync(entity, current.ETag!, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            return new ShardLease(shard, owner, now + duration, newEtag);
        }
        catch (TableException ex) when (ex.Kind is TableErrorKind.Conflict or TableErrorKind.PreconditionFailed)
        {
            return null;
        }
    }

    /// <summary>
    /// Announces that <paramref name="owner"/> is alive and polling, until <paramref name="duration"/> from now (a row in
    /// partition <c>member</c>). Processes count the live members to take only their fair share of the shards.
    /// </summary>
    public Task HeartbeatAsync(string owner, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(owner);
        var entity = new TableEntity(MemberPartition, TableKey.Encode(owner)) { ["Owner"] = owner, ["ExpiresAt"] = _time.GetUtcNow() + duration };
        return _table.UpsertAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>How many processes have a live heartbeat (at least 1: the caller is expected to have sent one).</summary>
    public async Task<int> LiveMembersAsync(CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        var live = 0;
        await foreach (var row in _table.QueryAsync(TableFilter.Format($"PartitionKey eq {MemberPartition}"), cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            if (row.GetDateTimeOffset("ExpiresAt") is { } expires && expires > now)
            {
                live++;
            }
        }

        return Math.Max(1, live);
    }

    /// <summary>Withdraws <paramref name="owner"/>'s heartbeat (on shutdown; an abandoned one simply expires).</summary>
    public Task LeaveAsync(string owner, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(owner);
        return _table.DeleteAsync(MemberPartition, TableKey.Encode(owner), "*", cancellationToken);
    }

    /// <summary>Extends a held lease; null when it was lost (another process took it after it expired).</summary>
    public async Task<ShardLease?> RenewAsync(ShardLease lease, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var expires = _time.GetUtcNow() + duration;
        var entity = new TableEntity(Partition, DueWorkStore.ShardKey(lease.Shard)) { ["Owner"] = lease.Owner, ["ExpiresAt"] = expires };
        try
        {
            var etag = await _table.UpdateAsync(entity, lease.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            return lease with { ExpiresAt = expires, ETag = etag };
        }
        catch (TableException ex) when (ex.Kind is TableErrorKind.PreconditionFailed or TableErrorKind.NotFound)
        {
            return null;
        }
    }

    /// <summary>Gives a lease up (only if still ours).</summary>
    public async Task ReleaseAsync(ShardLease lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        try
        {
            await _table.DeleteAsync(Partition, DueWorkStore.ShardKey(lease.Shard), lease.ETag, cancellationToken).ConfigureAwait(false);
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.PreconditionFailed)
        {
            // Someone else holds it now.
        }
    }
}
