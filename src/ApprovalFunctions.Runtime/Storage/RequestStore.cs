using System.Globalization;
using System.Text;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>A request's committed state as read, with the ETag a commit must match.</summary>
/// <param name="State">The engine state.</param>
/// <param name="ETag">The state row's ETag.</param>
/// <param name="Version">How many commits the request has had (1 after create).</param>
public sealed record StoredRequest(ApprovalState State, string ETag, long Version)
{
    /// <summary>Rows the state occupies (1 unless it spilled).</summary>
    internal int Parts { get; init; } = 1;

    /// <summary>The index rows last projected (null when none recorded).</summary>
    internal IReadOnlyList<ManifestRow>? Manifest { get; init; }

    /// <summary>Rows the manifest occupies (it spills like the state when a stage has thousands of approvers).</summary>
    internal int ManifestParts { get; init; }

    /// <summary>Pending outbox rows, by row key (loaded for commits, not by <see cref="RequestStore.GetAsync"/>).</summary>
    internal IReadOnlyDictionary<string, OutboxItem> Outbox { get; init; } = new Dictionary<string, OutboxItem>(StringComparer.Ordinal);
}

/// <summary>
/// A pending delivery in the request partition, committed with the state that created it.
/// </summary>
/// <param name="RowKey">The row key (<c>outbox|c|{key}</c> for the callback, <c>outbox|e|{key}|{subscription}</c> for an event).</param>
/// <param name="Kind"><see cref="CallbackKind"/> or <see cref="EventKind"/>.</param>
/// <param name="IdempotencyKey">Sent as <c>Idempotency-Key</c>; stable across retries.</param>
/// <param name="Target">The subscription id for events; null for the callback.</param>
/// <param name="EventType">The outbound event name (events) or the outcome (callback).</param>
/// <param name="Body">The JSON body, fixed when the row was committed; empty for a callback too large to store twice, built from the state at delivery.</param>
/// <param name="Cycle">Distinguishes an admin retry's attempts from the earlier ones (ticks at creation).</param>
/// <param name="Attempts">Attempts made so far.</param>
/// <param name="WorkflowId">The callback's workflow (its URL, secret and retry policy), for callbacks.</param>
/// <param name="WorkflowVersion">The callback's workflow version.</param>
public sealed record OutboxItem(string RowKey, string Kind, string IdempotencyKey, string? Target, string EventType, string Body, long Cycle, int Attempts,
    string? WorkflowId = null, int WorkflowVersion = 0)
{
    /// <summary>The outcome callback.</summary>
    public const string CallbackKind = "callback";

    /// <summary>An outbound event to one subscription.</summary>
    public const string EventKind = "event";

    /// <summary>The row key for the callback with <paramref name="idempotencyKey"/>.</summary>
    public static string CallbackRowKey(string idempotencyKey) => "outbox|c|" + TableKey.Encode(idempotencyKey);

    /// <summary>The row key for an event delivery to one subscription.</summary>
    public static string EventRowKey(string idempotencyKey, string subscriptionId) =>
        "outbox|e|" + TableKey.Encode(idempotencyKey) + "|" + TableKey.Encode(subscriptionId);
}

/// <summary>
/// The request partition (<c>{tenant}|{requestId}</c> in <c>{hub}Requests</c>): the state row (ETag-guarded,
/// chunked over <c>D0..Dn</c>, spilling to <c>state|001…</c> rows past ~900 KB), one row per ledger entry,
/// pending outbox rows and the projection manifest. Create and commit are each ONE entity-group transaction.
/// </summary>
public sealed class RequestStore
{
    /// <summary>The largest state JSON accepted, in characters (a commit must fit one 4 MiB transaction).</summary>
    public const int MaxStateChars = 1_500_000;

    private const string StateRow = "state";
    private const string ManifestRowKey = "manifest";
    private const string LedgerPrefix = "ledger|";
    private readonly TableClient _table;

    /// <summary>Creates the store.</summary>
    public RequestStore(StorageTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        _table = tables.Requests;
    }

    /// <summary>
    /// Reads the state and its ETag (one point read; one more range read only when the state spilled); null when the
    /// request does not exist. For display: it does not load the outbox or the projection manifest.
    /// </summary>
    public async Task<StoredRequest?> GetAsync(string tenantId, string requestId, CancellationToken cancellationToken = default)
    {
        var pk = Keys.Request(tenantId, requestId);
        for (var attempt = 0; ; attempt++)
        {
            var state = await _table.GetAsync(pk, StateRow, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (state is null)
            {
                return null;
            }

            var version = state.GetInt64("V") ?? 0;
            var parts = state.GetInt32("Parts") ?? 1;
            var sb = new StringBuilder();
            Chunks.Append(sb, state, "D");
            var consistent = true;
            if (parts > 1)
            {
                var spills = new List<TableEntity>();
                await foreach (var row in _table.QueryAsync(TableFilter.RowKeyStartsWith(pk, StateRow + "|"), cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    spills.Add(row);
                }

                for (var i = 1; i < parts && consistent; i++)
                {
                    var spill = spills.Find(r => r.RowKey == SpillKey(i));
                    consistent = spill is not null && spill.GetInt64("V") == version;
                    if (consistent)
                    {
                        Chunks.Append(sb, spill!, "D");
                    }
                }
            }

            if (consistent)
            {
                return new StoredRequest(StateJson.Deserialize(sb.ToString()), state.ETag!, version) { Parts = parts };
            }

            if (attempt >= 3)
            {
                throw new StorageBusyException($"Request {requestId}: state rows kept changing while being read.");
            }
        }
    }

    /// <summary>
    /// Reads everything a commit needs — state with ETag, pending outbox rows and the projection manifest — in one
    /// range query; null when the request does not exist.
    /// </summary>
    internal async Task<StoredRequest?> LoadAsync(string tenantId, string requestId, CancellationToken cancellationToken = default)
    {
        var pk = Keys.Request(tenantId, requestId);
        // "manifest" < "outbox|…" < "state" < "state|…" < "statf": one query reads everything but the ledger.
        var filter = TableFilter.Format($"PartitionKey eq {pk} and RowKey ge {ManifestRowKey} and RowKey lt {"statf"}");
        for (var attempt = 0; ; attempt++)
        {
            var rows = new List<TableEntity>();
            await foreach (var row in _table.QueryAsync(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                rows.Add(row);
            }

            var state = rows.Find(r => r.RowKey == StateRow);
            if (state is null)
            {
                return null;
            }

            var version = state.GetInt64("V") ?? 0;
            var parts = state.GetInt32("Parts") ?? 1;
            var sb = new StringBuilder();
            Chunks.Append(sb, state, "D");
            var consistent = true;
            for (var i = 1; i < parts && consistent; i++)
            {
                var spill = rows.Find(r => r.RowKey == SpillKey(i));
                consistent = spill is not null && spill.GetInt64("V") == version;
                if (consistent)
                {
                    Chunks.Append(sb, spill!, "D");
                }
            }

            if (!consistent)
            {
                // A commit landed between the pages of the query; read again.
                if (attempt >= 3)
                {
                    throw new StorageBusyException($"Request {requestId}: state rows kept changing while being read.");
                }

                continue;
            }

            var manifestRow = rows.Find(r => r.RowKey == ManifestRowKey);
            string? manifestJson = null;
            var manifestParts = 0;
            if (manifestRow is not null && manifestRow.GetInt64("V") is { } manifestVersion)
            {
                manifestParts = manifestRow.GetInt32("Parts") ?? 1;
                var msb = new StringBuilder();
                Chunks.Append(msb, manifestRow, "M");
                for (var i = 1; i < manifestParts && manifestJson is null; i++)
                {
                    var spill = rows.Find(r => r.RowKey == ManifestRowKey + "|" + i.ToString("D3", CultureInfo.InvariantCulture));
                    if (spill is null || spill.GetInt64("V") != manifestVersion)
                    {
                        consistent = false;
                        break;
                    }

                    Chunks.Append(msb, spill, "M");
                }

                manifestJson = msb.ToString();
            }

            if (!consistent)
            {
                if (attempt >= 3)
                {
                    throw new StorageBusyException($"Request {requestId}: manifest rows kept changing while being read.");
                }

                continue;
            }

            var outbox = new Dictionary<string, OutboxItem>(StringComparer.Ordinal);
            foreach (var row in rows)
            {
                if (row.RowKey.StartsWith("outbox|", StringComparison.Ordinal))
                {
                    outbox[row.RowKey] = ReadOutbox(row);
                }
            }

            return new StoredRequest(StateJson.Deserialize(sb.ToString()), state.ETag!, version)
            {
                Parts = parts,
                Manifest = manifestJson is null ? null : RuntimeJson.Deserialize<List<ManifestRow>>(manifestJson),
                ManifestParts = manifestParts,
                Outbox = outbox,
            };
        }
    }

    /// <summary>The ledger, oldest first (row keys sort by zero-padded sequence).</summary>
    public async Task<IReadOnlyList<LedgerEntry>> GetLedgerAsync(string tenantId, string requestId, CancellationToken cancellationToken = default)
    {
        var pk = Keys.Request(tenantId, requestId);
        var entries = new List<LedgerEntry>();
        await foreach (var row in _table.QueryAsync(TableFilter.RowKeyStartsWith(pk, LedgerPrefix), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            entries.Add(StateJson.DeserializeLedgerEntry(Chunks.Read(row, "L") ?? "null"));
        }

        return entries;
    }

    /// <summary>
    /// Creates the request: state, ledger and outbox rows in one transaction.
    /// <see cref="TableErrorKind.Conflict"/> when the request already exists.
    /// </summary>
    public Task<StoredRequest> CreateAsync(ApprovalState state, IReadOnlyList<LedgerEntry> ledger, IReadOnlyList<OutboxItem> outbox, CancellationToken cancellationToken = default) =>
        WriteAsync(null, state, ledger, outbox, [], null, cancellationToken);

    /// <summary>
    /// Commits a new state over <paramref name="current"/> (If-Match its ETag), appends ledger rows, adds and
    /// removes outbox rows: one transaction. <see cref="TableErrorKind.PreconditionFailed"/> (or Conflict on a
    /// ledger row) when another writer won; re-read and re-decide.
    /// </summary>
    public Task<StoredRequest> CommitAsync(StoredRequest current, ApprovalState state, IReadOnlyList<LedgerEntry> ledger,
        IReadOnlyList<OutboxItem> addOutbox, IReadOnlyList<string> removeOutbox, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(current);
        return WriteAsync(current, state, ledger, addOutbox, removeOutbox, null, cancellationToken);
    }

    /// <summary>Records one more delivery attempt on an outbox row (unconditional merge).</summary>
    public async Task RecordAttemptAsync(string tenantId, string requestId, string outboxRowKey, int attempts, string? lastError, CancellationToken cancellationToken = default)
    {
        var entity = new TableEntity(Keys.Request(tenantId, requestId), outboxRowKey)
        {
            ["Attempts"] = attempts,
            ["LastError"] = lastError is null ? null : (lastError.Length > 1000 ? lastError[..1000] : lastError),
        };
        try
        {
            await _table.UpdateAsync(entity, "*", TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.NotFound)
        {
            // Delivered or removed meanwhile: nothing to record.
        }
    }

    /// <summary>Reads one outbox row; null when gone.</summary>
    public async Task<OutboxItem?> GetOutboxAsync(string tenantId, string requestId, string outboxRowKey, CancellationToken cancellationToken = default)
    {
        var row = await _table.GetAsync(Keys.Request(tenantId, requestId), outboxRowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return row is null ? null : ReadOutbox(row);
    }

    /// <summary>Deletes one outbox row (missing is fine).</summary>
    public Task DeleteOutboxAsync(string tenantId, string requestId, string outboxRowKey, CancellationToken cancellationToken = default) =>
        _table.DeleteAsync(Keys.Request(tenantId, requestId), outboxRowKey, "*", cancellationToken);

    internal async Task<StoredRequest> WriteAsync(StoredRequest? current, ApprovalState state, IReadOnlyList<LedgerEntry> ledger,
        IReadOnlyList<OutboxItem> addOutbox, IReadOnlyList<string> removeOutbox, IReadOnlyList<ManifestRow>? manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(addOutbox);
        ArgumentNullException.ThrowIfNull(removeOutbox);
        var pk = Keys.Request(state.TenantId, state.Id);
        var json = StateJson.Serialize(state);
        if (json.Length > MaxStateChars)
        {
            throw new StateTooLargeException(
                $"Request {state.Id}: the state is {json.Length} characters of JSON; the limit is {MaxStateChars} (one atomic commit must stay under 4 MiB). Reduce the record size.");
        }

        var version = (current?.Version ?? 0) + 1;
        var chunks = Chunks.CountFor(json.Length);
        var parts = (chunks + Chunks.MaxPerEntity - 1) / Chunks.MaxPerEntity;
        var actions = new List<TableTransactionAction>();
        for (var part = 0; part < parts; part++)
        {
            var entity = new TableEntity(pk, part == 0 ? StateRow : SpillKey(part)) { ["V"] = version };
            if (part == 0)
            {
                entity["Parts"] = parts;
                entity["Status"] = ApprovalFunctions.Engine.ApprovalEngine.StatusName(state.Status);
            }

            Chunks.Write(entity, "D", json, part * Chunks.MaxPerEntity, partial: true);
            actions.Add(current is null
                ? TableTransactionAction.Add(entity)
                : part == 0
                    ? TableTransactionAction.Update(entity, current.ETag, TableUpdateMode.Replace)
                    : TableTransactionAction.Upsert(entity, TableUpdateMode.Replace));
        }

        for (var part = parts; current is not null && part < current.Parts; part++)
        {
            actions.Add(TableTransactionAction.Delete(pk, SpillKey(part)));
        }

        var manifestParts = current?.ManifestParts ?? 0;
        if (manifest is not null)
        {
            var manifestJson = RuntimeJson.Serialize(manifest.ToList());
            var newParts = (Chunks.CountFor(manifestJson.Length) + Chunks.MaxPerEntity - 1) / Chunks.MaxPerEntity;
            for (var part = 0; part < newParts; part++)
            {
                var entity = new TableEntity(pk, part == 0 ? ManifestRowKey : ManifestRowKey + "|" + part.ToString("D3", CultureInfo.InvariantCulture))
                {
                    ["V"] = version,
                };
                if (part == 0)
                {
                    entity["Parts"] = newParts;
                }

                Chunks.Write(entity, "M", manifestJson, part * Chunks.MaxPerEntity, partial: true);
                actions.Add(TableTransactionAction.Upsert(entity, TableUpdateMode.Replace));
            }

            for (var part = Math.Max(newParts, 1); part < (current?.ManifestParts ?? 0); part++)
            {
                actions.Add(TableTransactionAction.Delete(pk, ManifestRowKey + "|" + part.ToString("D3", CultureInfo.InvariantCulture)));
            }

            manifestParts = newParts;
        }

        foreach (var entry in ledger)
        {
            var entity = new TableEntity(pk, LedgerKey(entry.Sequence));
            Chunks.Write(entity, "L", StateJson.SerializeLedgerEntry(entry));
            actions.Add(TableTransactionAction.Add(entity));
        }

        var removed = new HashSet<string>(removeOutbox, StringComparer.Ordinal);
        foreach (var item in addOutbox)
        {
            removed.Remove(item.RowKey);
            actions.Add(TableTransactionAction.Upsert(WriteOutbox(pk, item), TableUpdateMode.Replace));
        }

        foreach (var rowKey in removed)
        {
            // Only rows known to exist: a delete of a missing row fails the whole transaction.
            if (current is not null && current.Outbox.ContainsKey(rowKey))
            {
                actions.Add(TableTransactionAction.Delete(pk, rowKey));
            }
        }

        if (actions.Count > TableLimits.MaxBatchOperations)
        {
            throw new StateTooLargeException(
                $"Request {state.Id}: one commit needs {actions.Count} row operations; a transaction allows {TableLimits.MaxBatchOperations}.");
        }

        IReadOnlyList<string?> etags;
        try
        {
            etags = await _table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.TooLarge)
        {
            throw new StateTooLargeException($"Request {state.Id}: the commit is over a storage limit: {ex.Message}", ex);
        }

        var outbox = new Dictionary<string, OutboxItem>(current?.Outbox ?? new Dictionary<string, OutboxItem>(), StringComparer.Ordinal);
        foreach (var key in removed)
        {
            outbox.Remove(key);
        }

        foreach (var item in addOutbox)
        {
            outbox[item.RowKey] = item;
        }

        return new StoredRequest(state, etags[0]!, version)
        {
            Parts = parts,
            Manifest = manifest ?? current?.Manifest,
            ManifestParts = manifestParts,
            Outbox = outbox,
        };
    }

    private static string SpillKey(int part) => "state|" + part.ToString("D3", CultureInfo.InvariantCulture);

    private static string LedgerKey(long sequence) => LedgerPrefix + sequence.ToString("D12", CultureInfo.InvariantCulture);

    private static TableEntity WriteOutbox(string pk, OutboxItem item)
    {
        var entity = new TableEntity(pk, item.RowKey)
        {
            ["Kind"] = item.Kind,
            ["Key"] = item.IdempotencyKey,
            ["Target"] = item.Target,
            ["EventType"] = item.EventType,
            ["Cycle"] = item.Cycle,
            ["Attempts"] = item.Attempts,
            ["WorkflowId"] = item.WorkflowId,
            ["WorkflowVersion"] = item.WorkflowVersion,
        };
        Chunks.Write(entity, "B", item.Body);
        return entity;
    }

    private static OutboxItem ReadOutbox(TableEntity row) => new(
        row.RowKey,
        row.GetString("Kind") ?? OutboxItem.EventKind,
        row.GetString("Key") ?? "",
        row.GetString("Target"),
        row.GetString("EventType") ?? "",
        Chunks.Read(row, "B") ?? "{}",
        row.GetInt64("Cycle") ?? 0,
        row.GetInt32("Attempts") ?? 0,
        row.GetString("WorkflowId"),
        row.GetInt32("WorkflowVersion") ?? 0);
}
