using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Diagnostics;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApprovalFunctions.Runtime.Processing;

/// <summary>How processing an event ended.</summary>
public enum ProcessStatus
{
    /// <summary>The engine changed the state and it was committed.</summary>
    Applied,

    /// <summary>The event id was already applied; nothing happened.</summary>
    Duplicate,

    /// <summary>Accepted but nothing changed (e.g. a stale timer).</summary>
    Unchanged,

    /// <summary>The engine refused the event; nothing was written.</summary>
    Refused,

    /// <summary>No such request in that tenant.</summary>
    NotFound,
}

/// <summary>The answer to one event.</summary>
/// <param name="Status">How it ended.</param>
/// <param name="Result">The engine's result (null when not found).</param>
/// <param name="State">The committed (or current) state; null when not found.</param>
public sealed record ProcessResult(ProcessStatus Status, EngineResult? Result, ApprovalState? State)
{
    /// <summary>The request does not exist in the tenant.</summary>
    public static readonly ProcessResult NotFound = new(ProcessStatus.NotFound, null, null);

    /// <summary>The refusal, when refused.</summary>
    public Refusal? Refusal => Result?.Refusal;

    internal static ProcessResult From(EngineResult result, ApprovalState state) => new(
        result.Refusal is not null ? ProcessStatus.Refused
            : result.Duplicate ? ProcessStatus.Duplicate
            : result.Changed ? ProcessStatus.Applied
            : ProcessStatus.Unchanged,
        result, state);
}

/// <summary>
/// The heart of the local runner, usable by any host: load a request, run the engine, write the intents
/// (due-work rows) first, commit state + ledger + outbox in one ETag-guarded transaction, then project the
/// indexes from the committed state (docs/decisions/007-storage-layout.md). Events for one request are
/// serialised in-process by a keyed lock and across processes by the state row's ETag: a lost race re-reads and
/// re-decides, so an event is never applied twice.
/// </summary>
public sealed partial class RequestProcessor
{
    /// <summary>How many times a lost ETag race is retried before <see cref="StorageBusyException"/>.</summary>
    public const int MaxCommitAttempts = 8;

    /// <summary>
    /// How long after a commit the <c>project</c> due-work row becomes due: the normal path deletes it well before;
    /// only a crash between commit and projection leaves it for the runner to repair.
    /// </summary>
    public static readonly TimeSpan ProjectionGrace = TimeSpan.FromSeconds(30);

    /// <summary>Largest delivery body stored in an outbox row (characters); a row holds ~450K.</summary>
    internal const int MaxInlineBody = 400_000;

    private readonly RequestStore _requests;
    private readonly IndexStore _index;
    private readonly DueWorkStore _dueWork;
    private readonly DefinitionCache _definitions;
    private readonly DirectoryCache _directory;
    private readonly SubscriptionStore _subscriptions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DueWorkSignal? _signal;
    private readonly KeyedLock _locks = new();
    private readonly RecentStates _recent;

    /// <summary>
    /// Default for the copies of recently committed states a processor keeps (total characters of their JSON): about
    /// 2,000 typical requests, some tens of MB of heap at most.
    /// </summary>
    public const long DefaultRecentStateBudget = 4_000_000;

    /// <summary>
    /// Creates the processor. <c>recentStateBudget</c> is the characters of state JSON it may hold as copies of the
    /// requests it committed or read last, so the next event on one of them commits without reading it first (0: no copies).
    /// With a <c>journal</c>, a commit's projection intent is a share of a journal row's write instead of a due row.
    /// </summary>
    public RequestProcessor(RequestStore requests, IndexStore index, DueWorkStore dueWork, DefinitionCache definitions, DirectoryCache directory,
        SubscriptionStore subscriptions, TimeProvider time, ILogger<RequestProcessor>? logger = null, DueWorkSignal? signal = null,
        long recentStateBudget = DefaultRecentStateBudget, ProjectionJournal? journal = null)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(dueWork);
        ArgumentNullException.ThrowIfNull(definitions);
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(subscriptions);
        ArgumentNullException.ThrowIfNull(time);
        _requests = requests;
        _index = index;
        _dueWork = dueWork;
        _definitions = definitions;
        _directory = directory;
        _subscriptions = subscriptions;
        _time = time;
        _logger = logger ?? NullLogger<RequestProcessor>.Instance;
        _signal = signal;
        _recent = new RecentStates(recentStateBudget);
        Journal = journal;
    }

    /// <summary>
    /// Where this process journals its projections in flight (null: each commit writes a <c>project</c> due row of its own,
    /// as it still does for a projection too large for the journal).
    /// </summary>
    public ProjectionJournal? Journal { get; }

    /// <summary>The copies of recently committed states (for tests).</summary>
    internal RecentStates RecentStates => _recent;

    /// <summary>Test hook: commit without projecting, as if the process died right after the commit.</summary>
    internal bool SimulateCrashAfterCommit { get; set; }

    /// <summary>Keys currently locked (for tests: the lock table empties when idle).</summary>
    internal int LockCount => _locks.Count;

    /// <summary>
    /// Submits a new request: selects the workflow among the tenant's active definitions and creates the request.
    /// A second submit of the same request id returns the stored request as <see cref="ProcessStatus.Duplicate"/>.
    /// </summary>
    public async Task<ProcessResult> SubmitAsync(Submitted evt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(evt);
        using var activity = RuntimeTelemetry.Source.StartActivity("approvals.submit");
        activity?.SetTag("approvals.request_id", evt.RequestId);
        using var held = await _locks.AcquireAsync(LockKey(evt.TenantId, evt.RequestId), cancellationToken).ConfigureAwait(false);
        var candidates = await _definitions.GetActiveAsync(evt.TenantId, cancellationToken).ConfigureAwait(false);
        var directory = await _directory.GetAsync(evt.TenantId, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var result = ApprovalEngine.Submit(evt, candidates, directory, now);
        if (result.Refusal is not null)
        {
            return ProcessResult.From(result, result.State);
        }

        WorkflowDefinition? definition = null;
        if (result.State.Workflow is { } wf)
        {
            definition = candidates.FirstOrDefault(d => d.Id == wf.Id && d.Version == wf.Version);
        }

        var plan = await PlanAsync(null, result, definition, directory, now, null, cancellationToken).ConfigureAwait(false);
        plan = await WriteIntentsAsync(plan, result.State, cancellationToken).ConfigureAwait(false);
        StoredRequest stored;
        try
        {
            stored = await _requests.WriteAsync(null, result.State, result.Ledger, plan.AddOutbox, [], plan.Manifest, cancellationToken).ConfigureAwait(false);
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.Conflict)
        {
            // Same request id submitted before (a retry): answer with what is stored. Our due rows are orphans the runner drops.
            Forget(plan);
            var existing = await _requests.LoadAsync(evt.TenantId, evt.RequestId, cancellationToken: cancellationToken).ConfigureAwait(false);
            return existing is null
                ? throw new StorageBusyException($"Request {evt.RequestId} exists but could not be read.", ex)
                : new ProcessResult(ProcessStatus.Duplicate, new EngineResult(existing.State, [], [], null, Duplicate: true), existing.State);
        }
        catch
        {
            RepairSoon(plan); // the outcome is unknown (a timeout may still have committed)
            throw;
        }

        Remember(LockKey(evt.TenantId, evt.RequestId), stored);
        Committed(evt, result, plan, stored);
        await ProjectAsync(plan, cancellationToken).ConfigureAwait(false);
        return ProcessResult.From(result, result.State);
    }

    /// <summary>Applies an event to a request of the tenant; <see cref="ProcessResult.NotFound"/> when there is none.</summary>
    public Task<ProcessResult> ApplyAsync(string tenantId, string requestId, ApprovalEvent evt, CancellationToken cancellationToken = default) =>
        ApplyAsync(tenantId, requestId, evt, null, null, cancellationToken);

    /// <summary>
    /// Applies an event that settles the delivery in outbox row <paramref name="outboxRowKey"/> (the callback acknowledged,
    /// or given up) and removes that row in the same commit, so no crash can leave a settled row behind or a row lost
    /// after an admin retry rewrote it. When the event changes nothing (settled elsewhere already) the row is deleted
    /// as this call read it, unless it holds another <paramref name="round"/> of the callback than the one settled.
    /// </summary>
    public Task<ProcessResult> SettleAsync(string tenantId, string requestId, ApprovalEvent evt, string outboxRowKey, int? round = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(outboxRowKey);
        return ApplyAsync(tenantId, requestId, evt, new OutboxRef(outboxRowKey, round), null, cancellationToken);
    }

    /// <summary>
    /// Re-projects a request's indexes from its committed state (the repair a <c>project</c> due-work row asks for):
    /// writes every index row the state implies and deletes <paramref name="staleJson"/>'s rows it no longer implies.
    /// </summary>
    public async Task ReprojectAsync(string tenantId, string requestId, string? staleJson, CancellationToken cancellationToken = default)
    {
        using var held = await _locks.AcquireAsync(LockKey(tenantId, requestId), cancellationToken).ConfigureAwait(false);
        var stale = string.IsNullOrEmpty(staleJson) ? [] : RuntimeJson.Deserialize<List<ManifestRow>>(staleJson);
        var current = await _requests.LoadAsync(tenantId, requestId, cancellationToken: cancellationToken).ConfigureAwait(false);
        var desired = current is null
            ? []
            : IndexProjection.Compute(current.State, await _directory.GetAsync(tenantId, cancellationToken).ConfigureAwait(false), _time.GetUtcNow());
        var keep = desired.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var deletes = stale.Concat(current?.Manifest ?? []).Where(m => !keep.Contains(m.T + "\n" + m.Pk + "\n" + m.Rk))
            .DistinctBy(m => m.T + "\n" + m.Pk + "\n" + m.Rk).ToList();
        await WriteIndexAsync(desired, deletes, cancellationToken).ConfigureAwait(false);
        LogReprojected(requestId, desired.Count, deletes.Count);
    }

    /// <summary>
    /// Applies <paramref name="evt"/>; when it settles a delivery, <paramref name="settles"/> names the outbox row (and the
    /// round the deliverer worked on, if known) that goes with the commit. <paramref name="preloaded"/> stands in for the first read.
    /// </summary>
    internal async Task<ProcessResult> ApplyAsync(string tenantId, string requestId, ApprovalEvent evt, OutboxRef? settles, StoredRequest? preloaded,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(evt);
        var removeOutboxRowKey = settles?.RowKey;
        using var activity = RuntimeTelemetry.Source.StartActivity("approvals.apply");
        activity?.SetTag("approvals.request_id", requestId);
        activity?.SetTag("approvals.event", evt.GetType().Name);
        var key = LockKey(tenantId, requestId);
        using var held = await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false);
        // The copy this process holds of the request's last committed state stands in for the read, except where the
        // event settles a delivery (that read also fetches the outbox row). The commit's If-Match is the copy's ETag.
        var mayUseCopy = removeOutboxRowKey is null && preloaded is null;
        var next = preloaded;
        for (var attempt = 1; ; )
        {
            var fromCopy = false;
            StoredRequest? current;
            if (next is not null)
            {
                current = next;
                next = null;
            }
            else if (mayUseCopy && _recent.TryGet(key, out var copy))
            {
                current = copy;
                fromCopy = true;
            }
            else
            {
                current = await _requests.LoadAsync(tenantId, requestId, removeOutboxRowKey, cancellationToken).ConfigureAwait(false);
                Remember(key, current);
            }

            if (current is null)
            {
                return ProcessResult.NotFound;
            }

            var state = current.State;
            if (state.Workflow is not { } wf)
            {
                if (fromCopy)
                {
                    RuntimeTelemetry.StateCopies.Add(1, new KeyValuePair<string, object?>("outcome", "rechecked"));
                    mayUseCopy = false; // answer from storage, not from a copy that may be stale
                    continue;
                }

                var refused = new EngineResult(state, [], [], new Refusal(RefusalCode.RequestClosed, "the request has no workflow (" + ApprovalEngine.StatusName(state.Status) + ")"));
                return ProcessResult.From(refused, state);
            }

            var definition = await _definitions.GetVersionAsync(tenantId, wf.Id, wf.Version, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Request {requestId} runs workflow {wf.Id} v{wf.Version}, which is not stored.");
            var directory = await _directory.GetAsync(tenantId, cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var result = ApprovalEngine.Apply(state, evt, definition, directory, now);
            if (!result.Changed && fromCopy)
            {
                // A refusal, duplicate or no-op is never answered from the copy: another process may have moved the
                // request on (a commit would have said so with 412; an answer without a commit cannot). Read and decide again.
                RuntimeTelemetry.StateCopies.Add(1, new KeyValuePair<string, object?>("outcome", "rechecked"));
                mayUseCopy = false;
                continue;
            }

            if (!result.Changed)
            {
                if (settles is { } done && current.Outbox.TryGetValue(done.RowKey, out var read))
                {
                    await DropSettledAsync(tenantId, requestId, done, read, cancellationToken).ConfigureAwait(false);
                }

                return ProcessResult.From(result, state);
            }

            var plan = await PlanAsync(current, result, definition, directory, now, removeOutboxRowKey, cancellationToken).ConfigureAwait(false);
            plan = await WriteIntentsAsync(plan, result.State, cancellationToken).ConfigureAwait(false);
            StoredRequest stored;
            try
            {
                stored = await _requests.WriteAsync(current, result.State, result.Ledger, plan.AddOutbox, plan.RemoveOutbox, plan.Manifest, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (TableException ex) when (ex.Kind is TableErrorKind.PreconditionFailed or TableErrorKind.Conflict)
            {
                _recent.Remove(key);
                Forget(plan); // nothing committed: the next attempt journals its own projection
                if (fromCopy)
                {
                    // The copy was stale (another process committed since): not a race lost, so not counted as one.
                    RuntimeTelemetry.StateCopies.Add(1, new KeyValuePair<string, object?>("outcome", "stale"));
                    continue;
                }

                RuntimeTelemetry.ConcurrencyRetries.Add(1);
                LogRaceLost(requestId, attempt);
                if (attempt >= MaxCommitAttempts)
                {
                    throw new StorageBusyException($"Request {requestId}: other writers kept winning the commit race ({attempt} attempts).", ex);
                }

                attempt++;
                continue;
            }
            catch
            {
                _recent.Remove(key); // the outcome is unknown (a timeout may still have committed): read next time
                RepairSoon(plan);
                throw;
            }

            if (fromCopy)
            {
                RuntimeTelemetry.StateCopies.Add(1, new KeyValuePair<string, object?>("outcome", "used"));
            }

            Remember(key, stored);
            Committed(evt, result, plan, stored);
            await ProjectAsync(plan, cancellationToken).ConfigureAwait(false);
            return ProcessResult.From(result, result.State);
        }
    }

    /// <summary>Keeps <paramref name="stored"/> as the request's latest known state (or forgets the request when it is gone).</summary>
    private void Remember(string key, StoredRequest? stored)
    {
        if (stored is null)
        {
            _recent.Remove(key);
        }
        else
        {
            _recent.Set(key, stored);
        }
    }

    private void Committed(ApprovalEvent evt, EngineResult result, Plan plan, StoredRequest stored)
    {
        if (_signal is not null)
        {
            // The rows are committed now (they were written before the commit): a poller in this process may act on them.
            // New deliveries go with what they need, so a poller holding the shard starts them without reading anything.
            foreach (var row in plan.DueRows)
            {
                // The committed outbox item carries the ETag the commit gave its row (deletes and attempt counts match it).
                if (row.Kind == DueWorkItem.OutboxKind && !SimulateCrashAfterCommit && stored.Outbox.TryGetValue(row.Key, out var outbox))
                {
                    _signal.Offer(new OfferedDelivery(row, stored, outbox));
                }
                else if (row.Kind != DueWorkItem.ProjectKind)
                {
                    _signal.Notify(row.Shard, row.DueAt);
                }
            }
        }

        var name = evt.GetType().Name;
        RuntimeTelemetry.EventsApplied.Add(1, new KeyValuePair<string, object?>("event", name));
        if (evt is Decided decided)
        {
            RuntimeTelemetry.DecisionsApplied.Add(1, new KeyValuePair<string, object?>("decision", decided.Decision.ToString()));
        }

        foreach (var intent in result.Intents)
        {
            if (intent is Notify notify)
            {
                LogNotify(notify.Kind, result.State.TenantId, result.State.Id, notify.StageId, string.Join(',', notify.Users));
            }
        }

        LogCommitted(name, result.State.Id, ApprovalEngine.StatusName(result.State.Status), result.Ledger.Count);
    }

    private async Task<Plan> PlanAsync(StoredRequest? current, EngineResult result, WorkflowDefinition? definition, DirectorySnapshot directory,
        DateTimeOffset now, string? removeOutboxRowKey, CancellationToken cancellationToken)
    {
        var state = result.State;
        var version = (current?.Version ?? 0) + 1;
        var dueRows = new List<DueWorkItem>();
        var outbox = new List<OutboxItem>();
        foreach (var intent in result.Intents)
        {
            switch (intent)
            {
                case ScheduleTimer timer:
                    dueRows.Add(DueWorkItem.Create(state.TenantId, state.Id, DueWorkItem.TimerKind, timer.Timer.ToString(), timer.Timer.DueAt,
                        StateJson.SerializeTimer(timer.Timer)));
                    break;
                case DeliverCallback callback when definition?.Callback is not null:
                    // A body too large for its own row (a huge record) is built from the committed state at delivery instead.
                    var body = CallbackBody(state, callback.Outcome);
                    outbox.Add(new OutboxItem(OutboxItem.CallbackRowKey(callback.IdempotencyKey), OutboxItem.CallbackKind, callback.IdempotencyKey, null,
                        callback.Outcome, body.Length > MaxInlineBody ? "" : body, now.UtcTicks, 0, definition.Id, definition.Version, callback.Round));
                    break;
                case EmitEvent emit:
                    string? emitKey = null; // formatted once, and only when a subscription wants the event
                    foreach (var subscription in await _subscriptions.GetMatchingAsync(state.TenantId, emit.EventType, cancellationToken).ConfigureAwait(false))
                    {
                        emitKey ??= emit.IdempotencyKey;
                        outbox.Add(new OutboxItem(OutboxItem.EventRowKey(emitKey, subscription.Id), OutboxItem.EventKind, emitKey,
                            subscription.Id, emit.EventType, EventBody(state, emit, now) is { Length: <= MaxInlineBody } full ? full : EventBody(state, emit, now, includeRecord: false),
                            now.UtcTicks, 0));
                    }

                    break;
            }
        }

        foreach (var item in outbox)
        {
            dueRows.Add(DueWorkItem.Create(state.TenantId, state.Id, DueWorkItem.OutboxKind, item.RowKey, now));
        }

        var desired = IndexProjection.Compute(state, directory, now);
        var old = (current?.Manifest ?? []).ToDictionary(m => m.T + "\n" + m.Pk + "\n" + m.Rk, StringComparer.Ordinal);
        var changed = desired.Where(r => !old.TryGetValue(r.Id, out var m) || m.H != r.Hash).ToList();
        var keep = desired.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var stale = old.Where(kv => !keep.Contains(kv.Key)).Select(kv => kv.Value).ToList();
        IReadOnlyList<ManifestRow>? manifest = null;
        IReadOnlyList<DueWorkItem> project = [];
        string? journal = null;
        if (changed.Count > 0 || stale.Count > 0)
        {
            manifest = [.. desired.Select(r => r.ToManifest())];
            // The journal when the event writes no other due row: one that does (a timer, a delivery) already sends a
            // transaction to its shard, which carries the project row at no extra request, and the row's delete goes
            // with theirs.
            var staleJson = Journal is null || dueRows.Count > 0 ? null : RuntimeJson.Serialize(stale);
            if (staleJson is { Length: <= ProjectionJournal.MaxEntryChars })
            {
                journal = staleJson; // the intent goes in the journal (WriteIntentsAsync)
            }
            else
            {
                project = ProjectRows(state, version, stale, now);
                dueRows.AddRange(project);
            }
        }

        var remove = removeOutboxRowKey is null ? Array.Empty<string>() : [removeOutboxRowKey];
        return new Plan(dueRows, outbox, remove, manifest, changed, stale, project, version, now, journal, null);
    }

    /// <summary>The <c>project</c> due rows of a projection: each carries a slice of the stale keys small enough for one row and repairs fully on its own.</summary>
    private static List<DueWorkItem> ProjectRows(ApprovalState state, long version, List<ManifestRow> stale, DateTimeOffset now)
    {
        var project = new List<DueWorkItem>();
        var part = 0;
        foreach (var slice in Slices(stale))
        {
            var key = version.ToString(CultureInfo.InvariantCulture) + (part == 0 ? "" : "-" + part.ToString(CultureInfo.InvariantCulture));
            project.Add(DueWorkItem.Create(state.TenantId, state.Id, DueWorkItem.ProjectKind, key, now + ProjectionGrace, RuntimeJson.Serialize(slice)));
            part++;
        }

        return project;
    }

    /// <summary>
    /// Step 2 of a commit, the intents: the plan's due rows, or (an event that writes none) its projection in the journal.
    /// A projection the journal cannot take (its slot is full) gets its <c>project</c> rows after all. Returns the plan
    /// with the journal entry or those rows.
    /// </summary>
    private async Task<Plan> WriteIntentsAsync(Plan plan, ApprovalState state, CancellationToken cancellationToken)
    {
        if (plan.JournalStale is not { } staleJson || Journal is not { } journal)
        {
            await _dueWork.AddAsync(plan.DueRows, cancellationToken).ConfigureAwait(false);
            return plan;
        }

        if (await journal.AddAsync(state.TenantId, state.Id, staleJson, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            return plan with { Entry = entry };
        }

        var rows = ProjectRows(state, plan.Version, [.. plan.Stale], plan.Now);
        await _dueWork.AddAsync(rows, cancellationToken).ConfigureAwait(false);
        return plan with { DueRows = rows, Project = rows };
    }

    /// <summary>How long this process waits before it repairs a projection of its own that failed (tests shorten it).</summary>
    internal TimeSpan ProjectionRetryDelay { get; set; } = ProjectionGrace;

    /// <summary>The longest wait between two attempts at repairing a projection of this process's own.</summary>
    public static readonly TimeSpan MaxProjectionRetryDelay = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A journaled projection whose commit or projection failed or was abandoned (the outcome may be unknown): the entry
    /// stays listed, so a crash is still covered, and this process re-projects it from what storage holds a little later
    /// and then drops it, so it does not stay listed (and re-projected by other processes' scans) while the process lives.
    /// </summary>
    private void RepairSoon(Plan plan)
    {
        if (plan.Entry is { } entry)
        {
            _ = RepairLaterAsync(entry);
        }
    }

    /// <summary>
    /// Re-projects a journaled projection, then drops it from the journal; retried further apart each time (at most
    /// <see cref="MaxProjectionRetryDelay"/>) until it succeeds, the entry staying listed meanwhile.
    /// </summary>
    private async Task RepairLaterAsync(JournalEntry entry)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Task.Delay(TimeSpan.FromTicks(Math.Min(ProjectionRetryDelay.Ticks * attempt, MaxProjectionRetryDelay.Ticks)), _time)
                    .ConfigureAwait(false);
                await ReprojectAsync(entry.TenantId, entry.RequestId, entry.Data.S).ConfigureAwait(false);
                Journal?.Done(entry);
                return;
            }
            catch (Exception ex)
            {
                LogRepairFailed(ex, entry.RequestId, attempt);
            }
        }
    }

    /// <summary>The plan's commit lost (nothing of it committed): its journal entry is not needed.</summary>
    private void Forget(Plan plan)
    {
        if (plan.Entry is { } entry)
        {
            Journal?.Done(entry);
        }
    }

    private async Task ProjectAsync(Plan plan, CancellationToken cancellationToken)
    {
        if ((plan.Changed.Count == 0 && plan.Stale.Count == 0) || SimulateCrashAfterCommit)
        {
            return;
        }

        try
        {
            await WriteIndexAsync(plan.Changed, plan.Stale, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            RepairSoon(plan); // committed, not projected (a storage error, or the caller gave up)
            throw;
        }

        Forget(plan); // projected: the journal's next write leaves it out
        // Done: the repair rows go with the shard's next batched delete, off the caller's path (a lost delete only
        // means a harmless re-projection when the row comes due).
        _dueWork.DeleteSoon(plan.Project);
    }

    private static IEnumerable<List<ManifestRow>> Slices(List<ManifestRow> stale)
    {
        const int Budget = 300_000; // characters of JSON per project row (a row holds ~450K)
        var slice = new List<ManifestRow>();
        var size = 0;
        foreach (var row in stale)
        {
            var rowSize = row.T.Length + row.Pk.Length + row.Rk.Length + row.H.Length + 40;
            if (slice.Count > 0 && size + rowSize > Budget)
            {
                yield return slice;
                slice = [];
                size = 0;
            }

            slice.Add(row);
            size += rowSize;
        }

        yield return slice;
    }

    private async Task WriteIndexAsync(IReadOnlyList<ProjectedRow> writes, IReadOnlyList<ManifestRow> deletes, CancellationToken cancellationToken)
    {
        // One transaction per partition of a table (a decision removes the approver's pending row and adds the decided
        // one in the same partition), the partitions in parallel, each shared with concurrent projections into the same
        // partition (group commit); a stale row already gone (a repair or another projection removed it) makes ApplyAsync
        // write that partition's rows one by one.
        var groups = writes.Select(w => (w.Table, Action: TableTransactionAction.Upsert(w.Entity, TableUpdateMode.Replace)))
            .Concat(deletes.Select(d => (Table: d.T, Action: TableTransactionAction.Delete(d.Pk, d.Rk))))
            .GroupBy(x => (x.Table, x.Action.Entity.PartitionKey))
            .SelectMany(g => g.Select(x => x.Action).Chunk(TableLimits.MaxBatchOperations).Select(actions => (g.Key.Table, Actions: actions)))
            .ToList();
        if (groups.Count == 1)
        {
            await _index.ApplyAsync(groups[0].Table, groups[0].Actions, cancellationToken).ConfigureAwait(false);
            return;
        }

        await Parallel.ForEachAsync(groups, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (group, ct) => await _index.ApplyAsync(group.Table, group.Actions, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// A settling event found nothing to settle (another process did): drop the row, as read (its ETag). A row of another
    /// round (an admin retry rewrote it under the same key) is not this delivery's to drop; a row changed since but of the
    /// same round (an attempt counted elsewhere) is read again and dropped, so no settled row outlives its due row.
    /// </summary>
    private async Task DropSettledAsync(string tenantId, string requestId, OutboxRef done, OutboxItem? read, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxCommitAttempts && read is not null && (done.Round is null || done.Round == read.Round); attempt++)
        {
            if (await _requests.DeleteOutboxAsync(tenantId, requestId, read, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            read = await _requests.GetOutboxAsync(tenantId, requestId, done.RowKey, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The callback body of API.md: <c>{"approvalId","model","recordId","outcome","record","decidedAt","ledgerHead"}</c>.</summary>
    internal static string CallbackBody(ApprovalState state, string outcome) => Json(w =>
    {
        w.WriteString("approvalId", state.Id);
        w.WriteString("model", state.Model);
        w.WriteString("recordId", state.RecordId);
        w.WriteString("outcome", outcome);
        w.WritePropertyName("record");
        WriteRecord(w, state.Record);
        if (state.DecidedAt is { } decided)
        {
            w.WriteString("decidedAt", decided.ToUniversalTime());
        }
        else
        {
            w.WriteNull("decidedAt");
        }

        w.WriteString("ledgerHead", state.LedgerHead.ToString());
    });

    /// <summary>A subscription event body: the callback fields plus <c>event</c>, <c>status</c>, <c>stageId</c>, <c>users</c>, <c>at</c>.</summary>
    internal static string EventBody(ApprovalState state, EmitEvent emit, DateTimeOffset now, bool includeRecord = true) => Json(w =>
    {
        w.WriteString("event", emit.EventType);
        w.WriteString("approvalId", state.Id);
        w.WriteString("model", state.Model);
        w.WriteString("recordId", state.RecordId);
        w.WriteString("status", ApprovalEngine.StatusName(state.Status));
        if (state.IsClosed && state.Status is not RequestStatus.ChangesRequested)
        {
            w.WriteString("outcome", ApprovalEngine.StatusName(state.Status));
        }

        w.WriteString("stageId", emit.StageId);
        w.WriteStartArray("users");
        foreach (var user in emit.Users)
        {
            w.WriteStringValue(user);
        }

        w.WriteEndArray();
        w.WritePropertyName("record");
        if (includeRecord)
        {
            WriteRecord(w, state.Record);
        }
        else
        {
            // Too large to queue per subscriber: the receiver reads it with GET /api/v1/approvals/{id}.
            w.WriteNullValue();
            w.WriteBoolean("recordOmitted", true);
        }
        if (state.DecidedAt is { } decided)
        {
            w.WriteString("decidedAt", decided.ToUniversalTime());
        }
        else
        {
            w.WriteNull("decidedAt");
        }

        w.WriteString("ledgerHead", state.LedgerHead.ToString());
        w.WriteString("at", now.ToUniversalTime());
    });

    private static void WriteRecord(Utf8JsonWriter w, JsonElement record)
    {
        if (record.ValueKind == JsonValueKind.Undefined)
        {
            w.WriteNullValue();
        }
        else
        {
            record.WriteTo(w);
        }
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string LockKey(string tenantId, string requestId) => tenantId + "\n" + requestId;

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Committed {Event} to request {RequestId}: status {Status}, {LedgerEntries} ledger entries")]
    private partial void LogCommitted(string @event, string requestId, string status, int ledgerEntries);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Notify {Kind} (tenant {TenantId}, request {RequestId}, stage {StageId}): {Users}")]
    private partial void LogNotify(NotificationKind kind, string tenantId, string requestId, string? stageId, string users);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Request {RequestId}: lost the commit race (attempt {Attempt}); re-reading")]
    private partial void LogRaceLost(string requestId, int attempt);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Re-projecting request {RequestId}, whose commit or projection failed or was abandoned, failed (attempt {Attempt}); retrying later")]
    private partial void LogRepairFailed(Exception ex, string requestId, int attempt);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Re-projected request {RequestId}: {Rows} rows written, {Deleted} stale rows deleted")]
    private partial void LogReprojected(string requestId, int rows, int deleted);

    private sealed record Plan(
        IReadOnlyList<DueWorkItem> DueRows,
        IReadOnlyList<OutboxItem> AddOutbox,
        IReadOnlyList<string> RemoveOutbox,
        IReadOnlyList<ManifestRow>? Manifest,
        IReadOnlyList<ProjectedRow> Changed,
        IReadOnlyList<ManifestRow> Stale,
        IReadOnlyList<DueWorkItem> Project,
        long Version,
        DateTimeOffset Now,
        string? JournalStale,
        JournalEntry? Entry);
}

/// <summary>An outbox row an event settles: its key, and the callback round the deliverer worked on (null: any round).</summary>
internal readonly record struct OutboxRef(string RowKey, int? Round);
