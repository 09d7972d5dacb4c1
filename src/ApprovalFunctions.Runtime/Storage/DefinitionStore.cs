using System.Collections.Concurrent;
using System.Globalization;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>
/// Published workflow versions in <c>{hub}Definitions</c>, partition <c>{tenant}</c>: immutable rows
/// <c>v|{workflowId}|{version:D6}</c> and one <c>head|{workflowId}</c> row holding the latest version and the
/// active flag. A publish inserts the version row and moves the head in one transaction, so two concurrent
/// publishes never get the same number (the loser retries with the next one).
/// </summary>
public sealed class DefinitionStore
{
    private readonly TableClient _table;
    private readonly IRuleEvaluator _rules;

    /// <summary>Creates the store; <paramref name="rules"/> prepares conditions when definitions are loaded.</summary>
    public DefinitionStore(StorageTables tables, IRuleEvaluator rules)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(rules);
        _table = tables.Definitions;
        _rules = rules;
    }

    /// <summary>Raised after a publish or deactivation, with the tenant id (caches invalidate on it).</summary>
    public event Action<string>? Changed;

    /// <summary>Publishes <paramref name="definition"/> as the workflow's next version (latest + 1), active. Returns it with its version.</summary>
    public async Task<WorkflowDefinition> PublishAsync(WorkflowDefinition definition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var pk = TableKey.Encode(definition.TenantId);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var head = await _table.GetAsync(pk, HeadKey(definition.Id), cancellationToken: cancellationToken).ConfigureAwait(false);
            var version = (head?.GetInt32("Version") ?? 0) + 1;
            var published = definition with { Version = version, Active = true };
            var json = WorkflowDefinitionParser.ToStorageJson(published);
            var row = new TableEntity(pk, VersionKey(definition.Id, version)) { ["WorkflowId"] = definition.Id, ["Version"] = version };
            Chunks.Write(row, "J", json);
            var newHead = new TableEntity(pk, HeadKey(definition.Id)) { ["WorkflowId"] = definition.Id, ["Version"] = version, ["Active"] = true };
            Chunks.Write(newHead, "J", json);
            var headAction = head is null ? TableTransactionAction.Add(newHead) : TableTransactionAction.Update(newHead, head.ETag!, TableUpdateMode.Replace);
            try
            {
                await _table.SubmitTransactionAsync([TableTransactionAction.Add(row), headAction], cancellationToken).ConfigureAwait(false);
                Changed?.Invoke(definition.TenantId);
                return published;
            }
            catch (TableException ex) when (ex.Kind is TableErrorKind.Conflict or TableErrorKind.PreconditionFailed)
            {
                // Another publish took this number: read the head again.
            }
        }

        throw new StorageBusyException($"Workflow {definition.Id}: concurrent publishes kept winning; retry.");
    }

    /// <summary>The latest version, or version <paramref name="version"/>; null when unknown.</summary>
    public async Task<WorkflowDefinition?> GetAsync(string tenantId, string workflowId, int? version = null, CancellationToken cancellationToken = default)
    {
        var pk = TableKey.Encode(tenantId);
        if (version is null)
        {
            var head = await _table.GetAsync(pk, HeadKey(workflowId), cancellationToken: cancellationToken).ConfigureAwait(false);
            return head is null ? null : Read(head, head.GetBoolean("Active") ?? true);
        }

        var row = await _table.GetAsync(pk, VersionKey(workflowId, version.Value), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (row is null)
        {
            return null;
        }

        var active = row.GetBoolean("Active") ?? true;
        return Read(row, active);
    }

    /// <summary>Every version of a workflow, oldest first (empty when unknown).</summary>
    public async Task<IReadOnlyList<WorkflowDefinition>> ListVersionsAsync(string tenantId, string workflowId, CancellationToken cancellationToken = default)
    {
        var pk = TableKey.Encode(tenantId);
        var result = new List<WorkflowDefinition>();
        await foreach (var row in _table.QueryAsync(TableFilter.RowKeyStartsWith(pk, "v|" + TableKey.Encode(workflowId) + "|"), cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            result.Add(Read(row, row.GetBoolean("Active") ?? true));
        }

        return result;
    }

    /// <summary>The latest version of every workflow of the tenant (active or not), by id. One range query over the head rows.</summary>
    public async Task<IReadOnlyList<WorkflowDefinition>> ListLatestAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var pk = TableKey.Encode(tenantId);
        var result = new List<WorkflowDefinition>();
        await foreach (var row in _table.QueryAsync(TableFilter.RowKeyStartsWith(pk, "head|"), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            result.Add(Read(row, row.GetBoolean("Active") ?? true));
        }

        return result;
    }

    /// <summary>The candidates for selection: the latest version of each active workflow.</summary>
    public async Task<IReadOnlyList<WorkflowDefinition>> GetActiveAsync(string tenantId, CancellationToken cancellationToken = default) =>
        [.. (await ListLatestAsync(tenantId, cancellationToken).ConfigureAwait(false)).Where(d => d.Active)];

    /// <summary>Deactivates every version of the workflow; running requests keep theirs. False when unknown.</summary>
    public async Task<bool> DeactivateAsync(string tenantId, string workflowId, CancellationToken cancellationToken = default)
    {
        var pk = TableKey.Encode(tenantId);
        var head = await _table.GetAsync(pk, HeadKey(workflowId), ["Version"], cancellationToken).ConfigureAwait(false);
        if (head is null)
        {
            return false;
        }

        var actions = new List<TableTransactionAction>
        {
            TableTransactionAction.Update(new TableEntity(pk, HeadKey(workflowId)) { ["Active"] = false }, "*", TableUpdateMode.Merge),
        };
        var latest = head.GetInt32("Version") ?? 0;
        for (var v = 1; v <= latest; v++)
        {
            actions.Add(TableTransactionAction.Update(new TableEntity(pk, VersionKey(workflowId, v)) { ["Active"] = false }, "*", TableUpdateMode.Merge));
        }

        foreach (var batch in actions.Chunk(TableLimits.MaxBatchOperations))
        {
            await _table.SubmitTransactionAsync(batch, cancellationToken).ConfigureAwait(false);
        }

        Changed?.Invoke(tenantId);
        return true;
    }

    private WorkflowDefinition Read(TableEntity row, bool active)
    {
        var json = Chunks.Read(row, "J") ?? throw new InvalidOperationException($"Definition row {row.RowKey} has no JSON.");
        var parsed = WorkflowDefinitionParser.FromStorageJson(json, _rules);
        if (parsed.Definition is null)
        {
            throw new InvalidOperationException(
                $"Stored definition {row.RowKey} no longer parses: {string.Join("; ", parsed.Errors.Select(e => e.Path + ": " + e.Message))}");
        }

        return parsed.Definition with { Active = active };
    }

    private static string HeadKey(string workflowId) => "head|" + TableKey.Encode(workflowId);

    private static string VersionKey(string workflowId, int version) =>
        "v|" + TableKey.Encode(workflowId) + "|" + version.ToString("D6", CultureInfo.InvariantCulture);
}

/// <summary>
/// Short-lived cache of the selection candidates per tenant, and a permanent cache of exact versions
/// (published versions are immutable; only the active flag changes, which a running request ignores).
/// </summary>
public sealed class DefinitionCache
{
    private readonly DefinitionStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<WorkflowDefinition> Items)> _active = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WorkflowDefinition> _versions = new(StringComparer.Ordinal);

    /// <summary>Creates the cache; it invalidates itself on the store's <see cref="DefinitionStore.Changed"/>.</summary>
    public DefinitionCache(DefinitionStore store, TimeProvider time, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _time = time;
        _ttl = ttl ?? TimeSpan.FromSeconds(10);
        store.Changed += Invalidate;
    }

    /// <summary>The latest version of each active workflow of the tenant.</summary>
    public async Task<IReadOnlyList<WorkflowDefinition>> GetActiveAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        if (_active.TryGetValue(tenantId, out var cached) && now - cached.At < _ttl)
        {
            return cached.Items;
        }

        var items = await _store.GetActiveAsync(tenantId, cancellationToken).ConfigureAwait(false);
        _active[tenantId] = (now, items);
        return items;
    }

    /// <summary>An exact version (cached for good: versions never change); null when unknown.</summary>
    public async Task<WorkflowDefinition?> GetVersionAsync(string tenantId, string workflowId, int version, CancellationToken cancellationToken = default)
    {
        var key = tenantId + "\n" + workflowId + "\n" + version.ToString(CultureInfo.InvariantCulture);
        if (_versions.TryGetValue(key, out var found))
        {
            return found;
        }

        var definition = await _store.GetAsync(tenantId, workflowId, version, cancellationToken).ConfigureAwait(false);
        if (definition is not null)
        {
            _versions[key] = definition;
        }

        return definition;
    }

    /// <summary>Drops the tenant's cached candidates.</summary>
    public void Invalidate(string tenantId) => _active.TryRemove(tenantId, out _);
}
