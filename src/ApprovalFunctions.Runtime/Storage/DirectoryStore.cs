using System.Collections.Concurrent;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>
/// The tenant directory in <c>{hub}Directory</c>, partition <c>{tenant}</c>, rows <c>user|{id}</c>,
/// <c>group|{id}</c>, <c>dept|{id}</c>, <c>delegation|{id}</c> holding JSON. A snapshot is one partition query.
/// </summary>
public sealed class DirectoryStore
{
    private readonly TableClient _table;

    /// <summary>Creates the store.</summary>
    public DirectoryStore(StorageTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        _table = tables.Directory;
    }

    /// <summary>Raised after a write, with the tenant id (caches invalidate on it).</summary>
    public event Action<string>? Changed;

    /// <summary>Creates or replaces a user.</summary>
    public Task PutUserAsync(string tenantId, DirectoryUser user, CancellationToken cancellationToken = default) =>
        PutAsync(tenantId, Row(tenantId, "user", user.Id, RuntimeJson.Serialize(user)), cancellationToken);

    /// <summary>Creates or replaces a group.</summary>
    public Task PutGroupAsync(string tenantId, DirectoryGroup group, CancellationToken cancellationToken = default) =>
        PutAsync(tenantId, Row(tenantId, "group", group.Id, RuntimeJson.Serialize(group)), cancellationToken);

    /// <summary>Creates or replaces a department.</summary>
    public Task PutDepartmentAsync(string tenantId, DirectoryDepartment department, CancellationToken cancellationToken = default) =>
        PutAsync(tenantId, Row(tenantId, "dept", department.Id, RuntimeJson.Serialize(department)), cancellationToken);

    /// <summary>Creates or replaces a delegation.</summary>
    public Task PutDelegationAsync(string tenantId, Delegation delegation, CancellationToken cancellationToken = default) =>
        PutAsync(tenantId, Row(tenantId, "delegation", delegation.Id, RuntimeJson.Serialize(delegation)), cancellationToken);

    /// <summary>Deletes a delegation (missing is fine).</summary>
    public async Task DeleteDelegationAsync(string tenantId, string delegationId, CancellationToken cancellationToken = default)
    {
        await _table.DeleteAsync(TableKey.Encode(tenantId), "delegation|" + TableKey.Encode(delegationId), "*", cancellationToken).ConfigureAwait(false);
        Changed?.Invoke(tenantId);
    }

    /// <summary>Bulk upsert in transactions of at most 100 rows (and well under 4 MiB) each.</summary>
    public async Task ImportAsync(string tenantId, IReadOnlyList<DirectoryUser> users, IReadOnlyList<DirectoryGroup> groups,
        IReadOnlyList<DirectoryDepartment> departments, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(departments);
        var rows = users.Select(u => Row(tenantId, "user", u.Id, RuntimeJson.Serialize(u)))
            .Concat(groups.Select(g => Row(tenantId, "group", g.Id, RuntimeJson.Serialize(g))))
            .Concat(departments.Select(d => Row(tenantId, "dept", d.Id, RuntimeJson.Serialize(d))))
            .GroupBy(r => r.RowKey, StringComparer.Ordinal).Select(g => g.Last()); // one action per entity
        var batch = new List<TableTransactionAction>();
        long size = 0;
        foreach (var row in rows)
        {
            var rowSize = TableLimits.EntitySize(row);
            if (batch.Count == TableLimits.MaxBatchOperations || size + rowSize > 2_000_000)
            {
                await _table.SubmitTransactionAsync(batch, cancellationToken).ConfigureAwait(false);
                batch = [];
                size = 0;
            }

            batch.Add(TableTransactionAction.Upsert(row, TableUpdateMode.Replace));
            size += rowSize;
        }

        if (batch.Count > 0)
        {
            await _table.SubmitTransactionAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        Changed?.Invoke(tenantId);
    }

    /// <summary>A user, or null.</summary>
    public async Task<DirectoryUser?> GetUserAsync(string tenantId, string userId, CancellationToken cancellationToken = default)
    {
        var row = await _table.GetAsync(TableKey.Encode(tenantId), "user|" + TableKey.Encode(userId), cancellationToken: cancellationToken).ConfigureAwait(false);
        return row is null ? null : RuntimeJson.Deserialize<DirectoryUser>(Chunks.Read(row, "J")!);
    }

    /// <summary>Every group, by id.</summary>
    public async Task<IReadOnlyList<DirectoryGroup>> ListGroupsAsync(string tenantId, CancellationToken cancellationToken = default) =>
        await ListAsync<DirectoryGroup>(tenantId, "group|", cancellationToken).ConfigureAwait(false);

    /// <summary>Every user, by id.</summary>
    public async Task<IReadOnlyList<DirectoryUser>> ListUsersAsync(string tenantId, CancellationToken cancellationToken = default) =>
        await ListAsync<DirectoryUser>(tenantId, "user|", cancellationToken).ConfigureAwait(false);

    /// <summary>Every department, by id.</summary>
    public async Task<IReadOnlyList<DirectoryDepartment>> ListDepartmentsAsync(string tenantId, CancellationToken cancellationToken = default) =>
        await ListAsync<DirectoryDepartment>(tenantId, "dept|", cancellationToken).ConfigureAwait(false);

    /// <summary>Every delegation, by id.</summary>
    public async Task<IReadOnlyList<Delegation>> ListDelegationsAsync(string tenantId, CancellationToken cancellationToken = default) =>
        await ListAsync<Delegation>(tenantId, "delegation|", cancellationToken).ConfigureAwait(false);

    /// <summary>The whole tenant directory as the engine's snapshot: one partition query.</summary>
    public async Task<DirectorySnapshot> LoadSnapshotAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var users = new List<DirectoryUser>();
        var groups = new List<DirectoryGroup>();
        var departments = new List<DirectoryDepartment>();
        var delegations = new List<Delegation>();
        await foreach (var row in _table.QueryAsync(TableFilter.PartitionKeyEquals(TableKey.Encode(tenantId)), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var json = Chunks.Read(row, "J");
            if (json is null)
            {
                continue;
            }

            switch (row.GetString("Kind"))
            {
                case "user": users.Add(RuntimeJson.Deserialize<DirectoryUser>(json)); break;
                case "group": groups.Add(RuntimeJson.Deserialize<DirectoryGroup>(json)); break;
                case "dept": departments.Add(RuntimeJson.Deserialize<DirectoryDepartment>(json)); break;
                case "delegation": delegations.Add(RuntimeJson.Deserialize<Delegation>(json)); break;
            }
        }

        return new DirectorySnapshot(users, groups, departments, delegations);
    }

    private async Task<IReadOnlyList<T>> ListAsync<T>(string tenantId, string prefix, CancellationToken cancellationToken)
    {
        var result = new List<T>();
        await foreach (var row in _table.QueryAsync(TableFilter.RowKeyStartsWith(TableKey.Encode(tenantId), prefix), cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            result.Add(RuntimeJson.Deserialize<T>(Chunks.Read(row, "J")!));
        }

        return result;
    }

    private async Task PutAsync(string tenantId, TableEntity row, CancellationToken cancellationToken)
    {
        await _table.UpsertAsync(row, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        Changed?.Invoke(tenantId);
    }

    private static TableEntity Row(string tenantId, string kind, string id, string json)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var row = new TableEntity(TableKey.Encode(tenantId), kind + "|" + TableKey.Encode(id)) { ["Kind"] = kind };
        Chunks.Write(row, "J", json);
        return row;
    }
}

/// <summary>Short-lived per-tenant cache of <see cref="DirectorySnapshot"/>; invalidated on every write through the store.</summary>
public sealed class DirectoryCache
{
    private readonly DirectoryStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, DirectorySnapshot Snapshot)> _cache = new(StringComparer.Ordinal);

    /// <summary>Creates the cache; it invalidates itself on the store's <see cref="DirectoryStore.Changed"/>.</summary>
    public DirectoryCache(DirectoryStore store, TimeProvider time, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _time = time;
        _ttl = ttl ?? TimeSpan.FromSeconds(10);
        store.Changed += Invalidate;
    }

    /// <summary>The tenant's directory, at most the TTL old (other processes' writes show within it).</summary>
    public async Task<DirectorySnapshot> GetAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(tenantId, out var cached) && now - cached.At < _ttl)
        {
            return cached.Snapshot;
        }

        var snapshot = await _store.LoadSnapshotAsync(tenantId, cancellationToken).ConfigureAwait(false);
        _cache[tenantId] = (now, snapshot);
        return snapshot;
    }

    /// <summary>Drops the tenant's snapshot.</summary>
    public void Invalidate(string tenantId) => _cache.TryRemove(tenantId, out _);
}
