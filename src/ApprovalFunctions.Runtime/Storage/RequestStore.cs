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

    /// <summary>Rows of its own the manifest occupies: 0 while it rides in the state row (it moves out when a stage has thousands of approvers).</summary>
    internal int ManifestParts { get; init; }

    /// <summary>The version that wrote the manifest's own rows (when <see cref="ManifestParts"/> &gt; 0).</summary>
    internal long ManifestVersion { get; init; }

    /// <summary>Characters of JSON the state and its manifest take (what holding this copy in memory costs, roughly).</summary>
    internal long Size { get; init; }

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
/// <param name="Round">The callback's round (admin retries before it, <see cref="CallbackState.Round"/>); 0 for events.</param>
public sealed record OutboxItem(string RowKey, string Kind, string IdempotencyKey, string? Target, string EventType, string Body, long Cycle, int Attempts,
    string? WorkflowId = null, int WorkflowVersion = 0, int Round = 0)
{
    /// <summary>
    /// The row's ETag as read or written (null for an item not yet committed). Deletes and attempt records match it, so an
    /// admin retry that rewrote the row (same key, next round) is never undone by work on the row it replaced.
    /// </summary>
    public string? ETag { get; init; }

    /// <summary>
    /// The If-Match for deleting or counting an attempt on this row: a callback's ETag (its row is rewritten under the same
    /// key by an admin retry), any version for an event (its key names one emission, so its row is never rewritten).
    /// </summary>
    /// <exception cref="InvalidOperationException">A callback item that was not read or written with its ETag.</exception>
    internal string IfMatch => Kind != CallbackKind
        ? "*"
        : ETag ?? throw new InvalidOperationException($"Outbox row {RowKey}: a callback row is only changed with the ETag it was read or written with.");

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
/// The request partition (<c>{tenant}|{requestId}</c> in <c>{hub}Requests</c>): the state row <c>{requestId}|state</c>
/// (ETag-guarded, chunked over <c>D0..Dn</c>, spilling to <c>{requestId}|state|001…</c> rows past ~900 KB) that also
/// carries the projection manifest (<c>M0..Mn</c>) while both fit one row, one row per ledger entry
/// (<c>{requestId}|ledger|…</c>) and pending outbox rows. Create and commit are each ONE entity-group transaction, and
/// the read a commit needs is one point read (plus one for the outbox row a delivery settles).
/// </summary>
/// <remarks>
/// Every row key starts with the request id although the partition key already names the request: storage
/// emulators (Azurite) find a row through a row-key index first, so row keys shared by every request (<c>state</c>)
/// made each point read cost time in proportion to the number of requests there. Layout 2; see
/// docs/decisions/011-request-row-keys.md.
/// </remarks>
public sealed class RequestStore
{
    /// <summary>The largest state JSON accepted, in characters (a commit must fit one 4 MiB transaction).</summary>
    public const int MaxStateChars = 1_500_000;

    /// <summary>The layout of the request partition this build reads and writes (see <see cref="StorageTables"/>).</summary>
    public const int Layout = 2;

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
    /// Reads the state and its ETag (one point read; one range read more only when the state or its manifest spilled);
    /// null when the request does not exist. It does not load outbox rows.
    /// </summary>
    public Task<StoredRequest?> GetAsync(string tenantId, string requestId, CancellationToken cancellationToken = default) =>
        LoadAsync(tenantId, requestId, null, cancellationToken);

    /// <summary>
    /// Reads what a commit needs — state with ETag and the projection manifest — with one point read of the state row,
    /// plus a point read of <paramref name="outboxRowKey"/> when given (the delivery a commit settles); null when the
    /// request does not exist. A state or manifest too large for one row is read with one range query instead.
    /// </summary>
    /// <remarks>
    /// The outbox row is read first. The commit that adds an outbox row also moves the state on (its callback becomes
    /// pending), so a state read after the row was seen is at least that new. Read the other way round, a commit landing
    /// between the two reads pairs the new row with the old state: the delivery is sent, the engine finds no pending
    /// callback in the old state, answers with a no-op, and the settled row is deleted while the state never records the
    /// delivery. A row settled between the two reads instead leaves a newer state whose callback is no longer pending (or
    /// whose ETag the commit's If-Match rejects), so nothing is lost that way round.
    /// </remarks>
    internal async Task<StoredRequest?> LoadAsync(string tenantId, string requestId, string? outboxRowKey = null, CancellationToken cancellationToken = default)
    {
        var pk = Keys.Request(tenantId, requestId);
        var prefix = Prefix(requestId);
        var outbox = outboxRowKey is null ? null : await _table.GetAsync(pk, outboxRowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        var state = await _table.GetAsync(pk, prefix + StateRow, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (state is null)
        {
            return null;
        }

        var spilled = (state.GetInt32("Parts") ?? 1) > 1;
        var stored = spilled || (state.GetInt32("ManifestParts") ?? 0) > 0
            ? await LoadSpilledAsync(pk, prefix, requestId, cancellationToken).ConfigureAwait(false)
            : null;
        if (stored is null)
        {
            if (spilled)
            {
                return null; // deleted between the two reads
            }

            // The common case: state and manifest in the state row just read.
            stored = FromStateRow(state);
        }

        return outbox is null
            ? stored
            : stored with { Outbox = new Dictionary<string, OutboxItem>(StringComparer.Ordinal) { [outbox.RowKey] = ReadOutbox(outbox) } };
    }

    /// <summary>A request whose state and manifest are both in its state row.</summary>
    private static StoredRequest FromStateRow(TableEntity state)
    {
        var manifestJson = Chunks.Read(state, "M");
        var json = Chunks.Read(state, "D") ?? "";
        return new StoredRequest(StateJson.Deserialize(json), state.ETag!, state.GetInt64("V") ?? 0)
        {
            Manifest = manifestJson is null ? null : RuntimeJson.Deserialize<List<ManifestRow>>(manifestJson),
            Size = json.Length + (manifestJson?.Length ?? 0),
        };
    }

    /// <summary>The rare shape: state spilled over several rows, or a manifest in rows of its own. One range query reads them all (not the outbox).</summary>
    private async Task<StoredRequest?> LoadSpilledAsync(string pk, string prefix, string requestId, CancellationToken cancellationToken)
    {
        // "{id}|manifest" < "{id}|manifest|…" < "{id}|state" < "{id}|state|…" < "{id}|statf".
        var filter = TableFilter.Format($"PartitionKey eq {pk} and RowKey ge {prefix + ManifestRowKey} and RowKey lt {prefix + "statf"}");
        for (var attempt = 0; ; attempt++)
        {
            var rows = new List<TableEntity>();
            await foreach (var row in _table.QueryAsync(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                rows.Add(row);
            }

            var state = rows.Find(r => r.RowKey == prefix + StateRow);
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
                var spill = rows.Find(r => r.RowKey == SpillKey(prefix, i));
                consistent = spill is not null && spill.GetInt64("V") == version;
                if (consistent)
                {
                    Chunks.Append(sb, spill!, "D");
                }
            }

            string? manifestJson = Chunks.Read(state, "M");
            var manifestParts = state.GetInt32("ManifestParts") ?? 0;
            var manifestVersion = state.GetInt64("ManifestV"); // no version matches no row
            if (consistent && manifestParts > 0)
            {
                var msb = new StringBuilder();
                for (var i = 0; i < manifestParts && consistent; i++)
                {
                    var row = rows.Find(r => r.RowKey == ManifestKey(prefix, i));
                    consistent = row is not null && row.GetInt64("V") == manifestVersion;
                    if (consistent)
                    {
                        Chunks.Append(msb, row!, "M");
                    }
                }

                manifestJson = msb.ToString();
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

            return new StoredRequest(StateJson.Deserialize(sb.ToString()), state.ETag!, version)
            {
                Parts = parts,
                Manifest = manifestJson is null ? null : RuntimeJson.Deserialize<List<ManifestRow>>(manifestJson),
                ManifestParts = manifestParts,
                ManifestVersion = manifestVersion ?? 0,
                Size = sb.Length + (manifestJson?.Length ?? 0),
            };
        }
    }

    /// <summary>The ledger, oldest first (row keys sort by zero-padded sequence).</summary>
    public async Task<IReadOnlyList<LedgerEntry>> GetLedgerAsync(string tenantId, string requestId, CancellationToken cancellationToken = default)
    {
        var pk = Keys.Request(tenantId, requestId);
        var entries = new List<LedgerEntry>();
        await foreach (var row in _table.QueryAsync(TableFilter.RowKeyStartsWith(pk, Prefix(requestId) + LedgerPrefix), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            // A row holds the entries of one commit as an array; rows written before that hold one entry each.
            var json = Chunks.Read(row, "L") ?? "null";
            if (json.StartsWith('['))
            {
                entries.AddRange(StateJson.DeserializeLedgerEntries(json));
            }
            else
            {
                entries.Add(StateJson.DeserializeLedgerEntry(json));
            }
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

    /// <summary>
    /// Records one more delivery attempt on an outbox row, merged into the version read (a callback's If-Match its
    /// <see cref="OutboxItem.ETag"/>). Nothing is recorded when the row is gone (delivered or removed meanwhile) or a
    /// callback's row was changed since (another attempt recorded first, or an admin retry started the next round with its own count).
    /// </summary>
    public async Task RecordAttemptAsync(string tenantId, string requestId, OutboxItem item, int attempts, string? lastError, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        var entity = new TableEntity(Keys.Request(tenantId, requestId), item.RowKey)
        {
            ["Attempts"] = attempts,
            ["LastError"] = lastError is null ? null : (lastError.Length > 1000 ? lastError[..1000] : lastError),
        };
        try
        {
            await _table.UpdateAsync(entity, item.IfMatch, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
        }
        catch (TableException ex) when (ex.Kind is TableErrorKind.NotFound or TableErrorKind.PreconditionFailed)
        {
            // Nothing to record on a row that is gone or no longer the one this attempt was made for.
        }
    }

    /// <summary>Reads one outbox row; null when gone.</summary>
    public async Task<OutboxItem?> GetOutboxAsync(string tenantId, string requestId, string outboxRowKey, CancellationToken cancellationToken = default)
    {
        var row = await _table.GetAsync(Keys.Request(tenantId, requestId), outboxRowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return row is null ? null : ReadOutbox(row);
    }

    /// <summary>
    /// Deletes an outbox row as it was read (a callback's If-Match its <see cref="OutboxItem.ETag"/>). Missing is fine; false
    /// when a callback's row was changed since (an attempt counted, or an admin retry's next round under the same key), which
    /// is left alone.
    /// </summary>
    public async Task<bool> DeleteOutboxAsync(string tenantId, string requestId, OutboxItem item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        try
        {
            await _table.DeleteAsync(Keys.Request(tenantId, requestId), item.RowKey, item.IfMatch, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.PreconditionFailed)
        {
            return false;
        }
    }

    internal async Task<StoredRequest> WriteAsync(StoredRequest? current, ApprovalState state, IReadOnlyList<LedgerEntry> ledger,
        IReadOnlyList<OutboxItem> addOutbox, IReadOnlyList<string> removeOutbox, IReadOnlyList<ManifestRow>? manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(addOutbox);
        ArgumentNullException.ThrowIfNull(removeOutbox);
        var pk = Keys.Request(state.TenantId, state.Id);
        var prefix = Prefix(state.Id);
        var json = StateJson.Serialize(state);
        if (json.Length > MaxStateChars)
        {
            throw new StateTooLargeException(
                $"Request {state.Id}: the state is {json.Length} characters of JSON; the limit is {MaxStateChars} (one atomic commit must stay under 4 MiB). Reduce the record size.");
        }

        var version = (current?.Version ?? 0) + 1;
        var chunks = Chunks.CountFor(json.Length);
        var parts = (chunks + Chunks.MaxPerEntity - 1) / Chunks.MaxPerEntity;

        // The manifest rides in the state row while both fit one row (so one point read gets both); the state row is
        // replaced on every commit, so an unchanged manifest is written again with it. Otherwise it has rows of its own.
        var effectiveManifest = manifest ?? current?.Manifest;
        var manifestJson = effectiveManifest is null ? null : RuntimeJson.Serialize(effectiveManifest.ToList());
        var embed = manifestJson is not null && parts == 1 && chunks + Chunks.CountFor(manifestJson.Length) <= Chunks.MaxPerEntity;
        var oldManifestParts = current?.ManifestParts ?? 0;
        var manifestParts = 0;
        var manifestVersion = 0L;
        var actions = new List<TableTransactionAction>();
        if (manifestJson is not null && !embed)
        {
            if (manifest is not null || oldManifestParts == 0)
            {
                manifestParts = (Chunks.CountFor(manifestJson.Length) + Chunks.MaxPerEntity - 1) / Chunks.MaxPerEntity;
                manifestVersion = version;
                for (var part = 0; part < manifestParts; part++)
                {
                    var entity = new TableEntity(pk, ManifestKey(prefix, part)) { ["V"] = version };
                    Chunks.Write(entity, "M", manifestJson, part * Chunks.MaxPerEntity, partial: true);
                    actions.Add(TableTransactionAction.Upsert(entity, TableUpdateMode.Replace));
                }
            }
            else
            {
                // Unchanged and already in rows of its own: leave them.
                manifestParts = oldManifestParts;
                manifestVersion = current!.ManifestVersion;
            }
        }

        for (var part = manifestParts; part < oldManifestParts; part++)
        {
            actions.Add(TableTransactionAction.Delete(pk, ManifestKey(prefix, part)));
        }

        for (var part = 0; part < parts; part++)
        {
            var entity = new TableEntity(pk, part == 0 ? prefix + StateRow : SpillKey(prefix, part)) { ["V"] = version };
            if (part == 0)
            {
                entity["Parts"] = parts;
                entity["Status"] = ApprovalFunctions.Engine.ApprovalEngine.StatusName(state.Status);
                if (embed)
                {
                    Chunks.Write(entity, "M", manifestJson!);
                }
                else if (manifestParts > 0)
                {
                    entity["ManifestParts"] = manifestParts;
                    entity["ManifestV"] = manifestVersion;
                }
            }

            Chunks.Write(entity, "D", json, part * Chunks.MaxPerEntity, partial: true);
            // The state row goes first: its ETag is the commit's result.
            actions.Insert(part == 0 ? 0 : actions.Count, current is null
                ? TableTransactionAction.Add(entity)
                : part == 0
                    ? TableTransactionAction.Update(entity, current.ETag, TableUpdateMode.Replace)
                    : TableTransactionAction.Upsert(entity, TableUpdateMode.Replace));
        }

        for (var part = parts; current is not null && part < current.Parts; part++)
        {
            actions.Add(TableTransactionAction.Delete(pk, SpillKey(prefix, part)));
        }

        foreach (var (first, entries) in LedgerRows(ledger))
        {
            var entity = new TableEntity(pk, LedgerKey(prefix, first));
            Chunks.Write(entity, "L", entries);
            actions.Add(TableTransactionAction.Add(entity));
        }

        var removed = new HashSet<string>(removeOutbox, StringComparer.Ordinal);
        var firstOutbox = actions.Count;
        foreach (var item in addOutbox)
        {
            removed.Remove(item.RowKey);
            actions.Add(TableTransactionAction.Upsert(WriteOutbox(pk, item), TableUpdateMode.Replace));
        }

        foreach (var rowKey in removed)
        {
            // Only rows known to exist (a delete of a missing row fails the whole transaction), and only the version read:
            // a row rewritten since (an admin retry's next round) fails the commit with 412, and the caller reads again.
            if (current is not null && current.Outbox.TryGetValue(rowKey, out var read))
            {
                actions.Add(TableTransactionAction.Delete(pk, rowKey, read.IfMatch));
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

        for (var i = 0; i < addOutbox.Count; i++)
        {
            outbox[addOutbox[i].RowKey] = addOutbox[i] with { ETag = etags[firstOutbox + i] };
        }

        return new StoredRequest(state, etags[0]!, version)
        {
            Parts = parts,
            Manifest = effectiveManifest,
            ManifestParts = manifestParts,
            ManifestVersion = manifestVersion,
            Size = json.Length + (manifestJson?.Length ?? 0),
            Outbox = outbox,
        };
    }

    /// <summary>What every row key of the request's partition starts with (outbox keys start with its idempotency keys, which start with the id).</summary>
    private static string Prefix(string requestId) => TableKey.Encode(requestId) + "|";

    private static string SpillKey(string prefix, int part) => prefix + StateRow + "|" + part.ToString("D3", CultureInfo.InvariantCulture);

    private static string ManifestKey(string prefix, int part) =>
        prefix + ManifestRowKey + (part == 0 ? "" : "|" + part.ToString("D3", CultureInfo.InvariantCulture));

    /// <summary>
    /// The ledger rows of one commit: its entries (consecutive sequences) as JSON arrays, as many to a row as fit one
    /// entity, each row keyed by its first sequence. A decision's three or so entries then cost one row operation in the
    /// commit's transaction, not three; the rows are still only ever added, and a racing commit from the same state
    /// collides on the first row's key (409).
    /// </summary>
    internal static IEnumerable<(long First, string Json)> LedgerRows(IReadOnlyList<LedgerEntry> ledger)
    {
        var row = new StringBuilder();
        long first = 0;
        foreach (var entry in ledger)
        {
            var json = StateJson.SerializeLedgerEntry(entry);
            if (row.Length > 0 && row.Length + 1 + json.Length + 1 > Chunks.MaxCharsPerEntity)
            {
                yield return (first, row.Append(']').ToString());
                row.Clear();
            }

            if (row.Length == 0)
            {
                first = entry.Sequence;
                row.Append('[');
            }
            else
            {
                row.Append(',');
            }

            row.Append(json);
        }

        if (row.Length > 0)
        {
            yield return (first, row.Append(']').ToString());
        }
    }

    private static string LedgerKey(string prefix, long sequence) => prefix + LedgerPrefix + sequence.ToString("D12", CultureInfo.InvariantCulture);

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
            ["Round"] = item.Round,
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
        row.GetInt32("WorkflowVersion") ?? 0,
        row.GetInt32("Round") ?? 0)
    {
        ETag = row.ETag,
    };
}
