using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Diagnostics;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApprovalFunctions.Runtime.Processing;

/// <summary>Tuning for <see cref="DueWorkRunner"/>.</summary>
public sealed record DueWorkRunnerOptions
{
    /// <summary>Rows read per shard per poll.</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>Items carried out at once by a poll of one shard (timers started from memory: this times the shard count; deliveries have their own limit).</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>Deliveries in flight at once per process (each with its own timeout; a hanging target holds one slot).</summary>
    public int MaxDeliveries { get; init; } = 32;

    /// <summary>How far a row is pushed back when carrying it out threw (storage down, bad payload).</summary>
    public TimeSpan FailureDelay { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Carries out due work: fires timers into the engine (event id = the timer key, so duplicates are no-ops),
/// delivers outbox rows through <see cref="IDeliverySender"/> with durable backoff, applies the callback's
/// outcome to the engine, and repairs projections. Orphans (request gone, outbox row gone, stale timer) are
/// deleted without effect. Any process may run it; <see cref="LeaseStore"/> keeps two from polling one shard.
/// </summary>
public sealed partial class DueWorkRunner
{
    private static readonly CallbackDefinition EventPolicy = new() { Url = new Uri("http://localhost/"), Events = [] };
    private readonly RequestProcessor _processor;
    private readonly RequestStore _requests;
    private readonly DueWorkStore _dueWork;
    private readonly DefinitionCache _definitions;
    private readonly SubscriptionStore _subscriptions;
    private readonly IDeliverySender _sender;
    private readonly TimeProvider _time;
    private readonly Func<double> _random;
    private readonly ILogger _logger;
    private readonly DueWorkRunnerOptions _options;
    /// <summary>How long an outbox due row must have lacked its outbox row before it is dropped.</summary>
    public static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(30);

    /// <summary>How soon an outbox due row found without its outbox row is looked at again.</summary>
    public static readonly TimeSpan OrphanRecheck = TimeSpan.FromSeconds(2);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (int Shard, Task Done)> _inFlight = new(StringComparer.Ordinal);

    // Deliveries this runner finished lately (bounded): an offer that arrives after a poll already delivered its item
    // must not send it again from the commit's snapshot (a poll re-reads the outbox row; an offer does not).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _finished = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _finishedOrder = new();
    private readonly SemaphoreSlim _deliverySlots;

    // Timers a poll saw coming and the poller started from memory at their due time (DueWorkPoller): a poll skips them
    // while they run; once done they wait for the batched delete, which a poll skips too.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Shard, string RowKey), Task> _timersInFlight = new();
    private readonly SemaphoreSlim _timerSlots; // not the delivery slots: a hanging callback target must not hold a timer up

    /// <summary>Creates the runner. <paramref name="random"/> (0..1, thread-safe) drives the backoff jitter.</summary>
    public DueWorkRunner(RequestProcessor processor, RequestStore requests, DueWorkStore dueWork, DefinitionCache definitions, SubscriptionStore subscriptions,
        IDeliverySender sender, TimeProvider time, Func<double> random, ILogger<DueWorkRunner>? logger = null, DueWorkRunnerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(dueWork);
        ArgumentNullException.ThrowIfNull(definitions);
        ArgumentNullException.ThrowIfNull(subscriptions);
        ArgumentNullException.ThrowIfNull(sender);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(random);
        _processor = processor;
        _requests = requests;
        _dueWork = dueWork;
        _definitions = definitions;
        _subscriptions = subscriptions;
        _sender = sender;
        _time = time;
        _random = random;
        _logger = logger ?? NullLogger<DueWorkRunner>.Instance;
        _options = options ?? new DueWorkRunnerOptions();
        _deliverySlots = new SemaphoreSlim(_options.MaxDeliveries, _options.MaxDeliveries);
        // As many as the polls of every shard could carry out together: a burst of timers due at one moment is no
        // slower from memory than it was by polling.
        _timerSlots = new SemaphoreSlim(_options.MaxConcurrency * DueWorkStore.ShardCount, _options.MaxConcurrency * DueWorkStore.ShardCount);
    }

    /// <summary>
    /// Carries out the shard's rows due at <paramref name="now"/> and waits for the deliveries it started; returns how
    /// many were handled (a failed item is pushed back by <see cref="DueWorkRunnerOptions.FailureDelay"/>).
    /// </summary>
    public async Task<int> RunOnceAsync(int shard, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var (poll, started) = await DispatchAsync(shard, now, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(started).ConfigureAwait(false);
        return poll.Handled;
    }

    /// <summary>
    /// Like <see cref="RunOnceAsync"/>, but deliveries go on in the background: a slow or hanging target holds only
    /// its own item, never the poll loop or other deliveries. A row whose outbox item is already being delivered by
    /// this process (or a second due row for the same item) is left for a later poll, where it is found delivered and
    /// dropped, so one item is never sent twice at once.
    /// </summary>
    public async Task<int> StartOnceAsync(int shard, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        (await DispatchAsync(shard, now, TimeSpan.Zero, cancellationToken).ConfigureAwait(false)).Poll.Handled;

    /// <summary>
    /// The poller's poll: <see cref="StartOnceAsync"/>, with the same one query reaching <paramref name="lookahead"/> past
    /// <paramref name="now"/>, so the poller also learns what falls due next, whichever process committed it: the timers
    /// (which it starts from memory at their time, <see cref="StartTimer"/>, instead of querying the shard again) and the
    /// next other row (which it wakes to poll for).
    /// </summary>
    internal async Task<PollResult> PollAsync(int shard, DateTimeOffset now, TimeSpan lookahead, CancellationToken cancellationToken = default)
    {
        return (await DispatchAsync(shard, now, lookahead, cancellationToken).ConfigureAwait(false)).Poll;
    }

    /// <summary>
    /// Starts, in the background, a timer a poll returned in <see cref="PollResult.Timers"/> and whose time has come,
    /// without querying the shard again; false when it is already running or done here. The row stays the guarantee: a
    /// timer lost with the process is fired by a later poll, and firing one twice is a no-op (its event id is its key).
    /// </summary>
    internal bool StartTimer(DueWorkItem item, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (item.Kind != DueWorkItem.TimerKind || _dueWork.IsDeleting(item))
        {
            return false;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var key = (item.Shard, item.RowKey);
        if (!_timersInFlight.TryAdd(key, done.Task))
        {
            return false;
        }

        _ = FireInBackgroundAsync(item, key, done, cancellationToken);
        return true;
    }

    private async Task FireInBackgroundAsync(DueWorkItem item, (int, string) key, TaskCompletionSource done, CancellationToken ct)
    {
        try
        {
            await RunInSlotAsync(_timerSlots, item, null, ct).ConfigureAwait(false);
        }
        finally
        {
            _timersInFlight.TryRemove(key, out _); // done: the row now waits for its batched delete (IsDeleting)
            done.TrySetResult();
        }
    }

    /// <summary>
    /// Carries out <paramref name="item"/> off the caller's thread once one of <paramref name="slots"/> is free. Cancelled
    /// (shutting down) it just stops: the row stays due, and a later poll here or in another process finds it.
    /// </summary>
    private async Task RunInSlotAsync(SemaphoreSlim slots, DueWorkItem item, OfferedDelivery? offer, CancellationToken ct)
    {
        try
        {
            await Task.Yield();
            await slots.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                await RunGuardedAsync(item, ct, offer).ConfigureAwait(false);
            }
            finally
            {
                slots.Release();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Starts, in the background, a delivery its committing code handed over with the committed state and outbox row
    /// (<see cref="DueWorkSignal.Offer"/>): no shard query and no re-read. False when that item is already in flight.
    /// </summary>
    internal bool StartOffered(OfferedDelivery offer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(offer);
        // Tracked through _inFlight (DrainAsync waits for it); failures are handled inside like any delivery's.
        return TryStartDelivery(offer.Item, offer, cancellationToken) is not null;
    }

    /// <summary>
    /// Starts delivering <paramref name="item"/> in the background unless this runner already has it in flight, or (for
    /// an <paramref name="offer"/>, which does not re-read the row) has finished it lately; null when not started.
    /// </summary>
    private Task? TryStartDelivery(DueWorkItem item, OfferedDelivery? offer, CancellationToken cancellationToken)
    {
        var key = item.TenantId + "\n" + item.RequestId + "\n" + item.Key;
        if (offer is not null && _finished.ContainsKey(key))
        {
            return null;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inFlight.TryAdd(key, (item.Shard, done.Task)))
        {
            return null;
        }

        if (offer is not null && _finished.ContainsKey(key))
        {
            // Finished between the two checks (it is recorded before it leaves _inFlight).
            _inFlight.TryRemove(key, out _);
            return null;
        }

        return DeliverInBackgroundAsync(item, key, done, cancellationToken, offer);
    }

    /// <summary>Deliveries started and not yet finished (running, or waiting for a slot).</summary>
    internal int DeliveriesInFlight => _inFlight.Count;

    /// <summary>Waits for every delivery this runner has in flight (a host drains before releasing its leases).</summary>
    public Task DrainAsync() => Task.WhenAll(_inFlight.Values.Select(v => v.Done).Concat(_timersInFlight.Values).ToArray());

    /// <summary>
    /// True while a delivery from <paramref name="shard"/> is in flight, or rows of it this runner is done with still wait
    /// for their batched delete: its lease must not be handed over yet (the next owner would take them for work).
    /// </summary>
    public bool IsBusy(int shard) =>
        _inFlight.Values.Any(v => v.Shard == shard) || _timersInFlight.Keys.Any(k => k.Shard == shard) || _dueWork.HasDeletesPending(shard);

    /// <summary>Deletes now the rows this process is done with (<see cref="DueWorkStore.DeleteSoon"/>); before leases are given up.</summary>
    public Task FlushDeletesAsync(CancellationToken cancellationToken = default) => _dueWork.FlushDeletesAsync(cancellationToken);

    private async Task<(PollResult Poll, List<Task> Started)> DispatchAsync(int shard, DateTimeOffset now, TimeSpan lookahead,
        CancellationToken cancellationToken)
    {
        // Rows come in due order, so those due now lead the page and the window past now only fills what is left of it.
        // The page also makes room for the rows it will skip (done here, or timers running from memory), so they cannot
        // crowd out the work behind them.
        var skippable = _dueWork.DeletingCount(shard) + (_timersInFlight.IsEmpty ? 0 : _timersInFlight.Keys.Count(k => k.Shard == shard));
        var (rows, more) = await _dueWork.QueryDuePageAsync(shard, now + lookahead, _options.BatchSize + skippable, cancellationToken).ConfigureAwait(false);
        var due = new List<DueWorkItem>(rows.Count);
        var timers = new List<DueWorkItem>();
        DateTimeOffset? nextDue = null;
        foreach (var row in rows)
        {
            if (_dueWork.IsDeleting(row) || (row.Kind == DueWorkItem.TimerKind && _timersInFlight.ContainsKey((row.Shard, row.RowKey))))
            {
                continue; // done here and waiting for the batched delete, or a timer already running from memory
            }

            if (row.DueAt <= now)
            {
                due.Add(row);
            }
            else if (row.Kind == DueWorkItem.TimerKind)
            {
                timers.Add(row);
            }
            else if (nextDue is null || row.DueAt < nextDue)
            {
                nextDue = row.DueAt;
            }
        }

        // Rows may follow the page: the window was not seen whole, and when its last row is due now, more due rows may wait.
        var complete = !more;
        var moreDue = more && rows.Count > 0 && rows[^1].DueAt <= now;
        RuntimeTelemetry.ObserveDepth(shard, due.Count);
        var started = new List<Task>();
        if (due.Count == 0)
        {
            return (new PollResult(0, nextDue, timers, complete, moreDue), started);
        }

        var inline = new List<DueWorkItem>(due.Count);
        foreach (var item in due)
        {
            if (item.Kind == DueWorkItem.TimerKind)
            {
                // Registered as running, like a timer started from memory: the poller's timer loop, which may reach the
                // same row at the same moment, then leaves it to this poll instead of firing it a second time.
                if (_timersInFlight.TryAdd((item.Shard, item.RowKey), Task.CompletedTask))
                {
                    inline.Add(item);
                }

                continue;
            }

            if (item.Kind != DueWorkItem.OutboxKind)
            {
                inline.Add(item);
                continue;
            }

            if (TryStartDelivery(item, null, cancellationToken) is { } delivery)
            {
                started.Add(delivery);
            }
        }

        var handled = started.Count;
        await Parallel.ForEachAsync(inline, new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrency, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                try
                {
                    if (await RunGuardedAsync(item, ct).ConfigureAwait(false))
                    {
                        Interlocked.Increment(ref handled);
                    }
                }
                finally
                {
                    if (item.Kind == DueWorkItem.TimerKind)
                    {
                        _timersInFlight.TryRemove((item.Shard, item.RowKey), out _); // done: the row now waits for its batched delete
                    }
                }
            }).ConfigureAwait(false);
        return (new PollResult(handled, nextDue, timers, complete, moreDue), started);
    }

    private async Task DeliverInBackgroundAsync(DueWorkItem item, string key, TaskCompletionSource done, CancellationToken ct, OfferedDelivery? offer = null)
    {
        try
        {
            await RunInSlotAsync(_deliverySlots, item, offer, ct).ConfigureAwait(false);
        }
        finally
        {
            if (_finished.TryAdd(key, 0))
            {
                _finishedOrder.Enqueue(key);
                while (_finishedOrder.Count > 4096 && _finishedOrder.TryDequeue(out var old))
                {
                    _finished.TryRemove(old, out _);
                }
            }

            _inFlight.TryRemove(key, out _);
            done.TrySetResult();
        }
    }

    /// <summary>Carries out one row; on failure moves it back so a poison row cannot hold the head of its shard.</summary>
    private async Task<bool> RunGuardedAsync(DueWorkItem item, CancellationToken ct, OfferedDelivery? offer = null)
    {
        try
        {
            if (offer is not null)
            {
                await DeliverAsync(item, ct, offer).ConfigureAwait(false);
                return true;
            }

            await RunItemAsync(item, ct).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogItemFailed(ex, item.Kind, item.RequestId, item.Key);
            try
            {
                await _dueWork.RescheduleAsync(item, _time.GetUtcNow() + _options.FailureDelay, ct).ConfigureAwait(false);
            }
            catch (Exception again) when (again is not OperationCanceledException)
            {
                LogItemFailed(again, item.Kind, item.RequestId, item.Key);
            }

            return false;
        }
    }

    /// <summary>Runs every shard once, after repairing the projections of journal rows (tests, single-process hosts, re-drives).</summary>
    public async Task<int> RunAllOnceAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var total = await TryRepairJournalsAsync(now, cancellationToken).ConfigureAwait(false); // the shards run even when it fails
        for (var shard = 0; shard < DueWorkStore.ShardCount; shard++)
        {
            total += await RunOnceAsync(shard, now, cancellationToken).ConfigureAwait(false);
        }

        return total;
    }

    /// <summary>
    /// Repairs the projections listed in every process's journal rows (<see cref="ProjectionJournal"/>) that were added
    /// <see cref="RequestProcessor.ProjectionGrace"/> or more before <paramref name="now"/>, as a <c>project</c> due row
    /// would have been repaired when due; deletes (ETag-guarded) a row its owner has not written for as long (the owner
    /// died or finished), and finishes this process's own repaired entries. Returns how many it re-projected. A repair that
    /// fails leaves its row for the next scan.
    /// </summary>
    public async Task<int> RepairJournalsAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (_processor.Journal is not { } journal)
        {
            return 0;
        }

        var cutoff = now - RequestProcessor.ProjectionGrace;
        var repaired = 0;
        foreach (var row in await journal.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var failed = false;
            var own = row.Owner == journal.Owner;
            var repairedHere = new List<JournalEntryView>();
            // This process's own row may still list projections it finished (the row is rewritten a little later): only
            // those it still holds are repaired.
            foreach (var entry in row.Entries.Where(e => e.AddedAt <= cutoff && (!own || journal.IsPending(row.Slot, e))))
            {
                try
                {
                    await _processor.ReprojectAsync(entry.TenantId, entry.RequestId, entry.StaleJson, cancellationToken).ConfigureAwait(false);
                    repairedHere.Add(entry);
                    repaired++;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    failed = true;
                    LogItemFailed(ex, "journal", entry.RequestId, row.Owner);
                }
            }

            if (failed)
            {
                continue;
            }

            if (own)
            {
                journal.DoneListed(row.Slot, repairedHere); // only what was re-projected: an entry listed since is not finished
            }
            else if (row.WrittenAt <= cutoff)
            {
                try
                {
                    await journal.DeleteAsync(row, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogItemFailed(ex, "journal", "-", row.Owner); // repaired; the row goes at the next scan
                }
            }
        }

        return repaired;
    }

    /// <summary><see cref="RepairJournalsAsync"/> for a caller that goes on regardless: a failure is logged and repairs nothing.</summary>
    internal async Task<int> TryRepairJournalsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            return await RepairJournalsAsync(now, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogItemFailed(ex, "journal", "-", "scan");
            return 0;
        }
    }

    /// <summary>Writes this process's journal as it stands (a host calls it when it stops).</summary>
    internal Task FlushJournalAsync(CancellationToken cancellationToken) => _processor.Journal?.FlushAsync(cancellationToken) ?? Task.CompletedTask;

    private async Task RunItemAsync(DueWorkItem item, CancellationToken ct)
    {
        using var activity = RuntimeTelemetry.Source.StartActivity("approvals.duework." + item.Kind);
        activity?.SetTag("approvals.request_id", item.RequestId);
        switch (item.Kind)
        {
            case DueWorkItem.TimerKind:
                await FireTimerAsync(item, ct).ConfigureAwait(false);
                break;
            case DueWorkItem.OutboxKind:
                await DeliverAsync(item, ct).ConfigureAwait(false);
                break;
            case DueWorkItem.ProjectKind:
                await _processor.ReprojectAsync(item.TenantId, item.RequestId, item.Payload, ct).ConfigureAwait(false);
                _dueWork.DeleteSoon([item]);
                break;
            default:
                await _dueWork.DeleteAsync(item, ct).ConfigureAwait(false);
                break;
        }
    }

    private async Task FireTimerAsync(DueWorkItem item, CancellationToken ct)
    {
        var timer = StateJson.DeserializeTimer(item.Payload ?? "null");
        var result = await _processor.ApplyAsync(item.TenantId, item.RequestId, new TimerFired { EventId = "timer:" + timer, Timer = timer }, null, null, ct)
            .ConfigureAwait(false);
        RuntimeTelemetry.TimerLateness.Record(Math.Max(0, (_time.GetUtcNow() - timer.DueAt).TotalMilliseconds),
            new KeyValuePair<string, object?>("kind", timer.Kind.ToString()));
        LogTimer(timer.ToString(), item.RequestId, result.Status);
        _dueWork.DeleteSoon([item]);
    }

    private async Task DeliverAsync(DueWorkItem item, CancellationToken ct, OfferedDelivery? offer = null)
    {
        // The state and the outbox row, read by key (or handed over by the commit that created the row); the processor
        // reuses the state for the commit (a stale copy just costs a 412 and a re-read).
        var stored = offer?.Stored ?? await _requests.LoadAsync(item.TenantId, item.RequestId, item.Key, ct).ConfigureAwait(false);
        OutboxItem? outbox = offer?.Outbox;
        if (stored is null || (outbox is null && !stored.Outbox.TryGetValue(item.Key, out outbox)))
        {
            await DropOrRecheckAsync(item, ct).ConfigureAwait(false);
            return;
        }

        DeliveryRequest request;
        CallbackDefinition policy;
        if (outbox.Kind == OutboxItem.CallbackKind)
        {
            var definition = outbox.WorkflowId is null
                ? null
                : await _definitions.GetVersionAsync(item.TenantId, outbox.WorkflowId, outbox.WorkflowVersion, ct).ConfigureAwait(false);
            if (definition?.Callback is not { } callback)
            {
                await DropAsync(item, outbox, ct).ConfigureAwait(false);
                return;
            }

            policy = callback;
            var body = outbox.Body.Length > 0 ? outbox.Body : RequestProcessor.CallbackBody(stored.State, outbox.EventType);
            request = new DeliveryRequest(callback.Url, body, callback.Secret, outbox.IdempotencyKey, null);
        }
        else
        {
            var subscription = outbox.Target is null ? null : await _subscriptions.GetAsync(item.TenantId, outbox.Target, ct).ConfigureAwait(false);
            if (subscription is null)
            {
                await DropAsync(item, outbox, ct).ConfigureAwait(false);
                return;
            }

            policy = EventPolicy;
            request = new DeliveryRequest(subscription.Url, outbox.Body, subscription.Secret, outbox.IdempotencyKey, outbox.EventType);
        }

        var attempt = outbox.Attempts + 1;
        var result = await _sender.SendAsync(request, ct).ConfigureAwait(false);
        var isCallback = outbox.Kind == OutboxItem.CallbackKind;
        var eventBase = $"cb:{outbox.IdempotencyKey}:{outbox.Cycle}:{attempt}";
        if (result.Delivered)
        {
            RuntimeTelemetry.Deliveries.Add(1, new("kind", outbox.Kind), new("outcome", "ok"));
            LogDelivered(outbox.Kind, item.RequestId, attempt, result.StatusCode);
            if (isCallback)
            {
                await _processor.ApplyAsync(item.TenantId, item.RequestId,
                    new CallbackDelivered { EventId = eventBase + ":ok", Attempt = attempt, IdempotencyKey = outbox.IdempotencyKey }, Ref(outbox), stored, ct)
                    .ConfigureAwait(false);
            }
            else
            {
                await _requests.DeleteOutboxAsync(item.TenantId, item.RequestId, outbox, ct).ConfigureAwait(false);
            }

            _dueWork.DeleteSoon([item]);
            return;
        }

        var gaveUp = attempt >= Math.Max(1, policy.MaxAttempts);
        RuntimeTelemetry.Deliveries.Add(1, new("kind", outbox.Kind), new("outcome", gaveUp ? "gaveUp" : "failed"));
        LogDeliveryFailed(outbox.Kind, item.RequestId, attempt, result.Error, gaveUp);
        var error = result.Error ?? "failed";
        if (isCallback)
        {
            await _processor.ApplyAsync(item.TenantId, item.RequestId,
                new CallbackAttemptFailed
                {
                    EventId = eventBase + ":fail", Attempt = attempt, IdempotencyKey = outbox.IdempotencyKey, Error = error, GaveUp = gaveUp, Round = outbox.Round,
                },
                gaveUp ? Ref(outbox) : null, stored, ct).ConfigureAwait(false);
        }

        if (gaveUp)
        {
            if (!isCallback)
            {
                await _requests.DeleteOutboxAsync(item.TenantId, item.RequestId, outbox, ct).ConfigureAwait(false);
            }

            await _dueWork.DeleteAsync(item, ct).ConfigureAwait(false);
            return;
        }

        await _requests.RecordAttemptAsync(item.TenantId, item.RequestId, outbox, attempt, error, ct).ConfigureAwait(false);
        var delay = DeliveryBackoff.Next(attempt, policy.InitialBackoff, policy.MaxBackoff, _random());
        await _dueWork.RescheduleAsync(item, _time.GetUtcNow() + delay, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// An outbox due row without its outbox row. Due rows are written before the commit that adds the outbox row, so
    /// a poll between the two sees exactly this; dropping the row then would leave a committed delivery nobody finds.
    /// So the first sighting only moves the row <see cref="OrphanRecheck"/> later, noting when it was first seen; it
    /// is deleted once it has been an orphan for <see cref="OrphanGrace"/> (a crash before the commit, a duplicate
    /// submit, or an item already delivered).
    /// </summary>
    private async Task DropOrRecheckAsync(DueWorkItem item, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var seenBefore = long.TryParse(item.Payload, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var firstSeen)
            && firstSeen <= now.UtcTicks;
        if (seenBefore && now.UtcTicks - firstSeen >= OrphanGrace.Ticks)
        {
            await _dueWork.DeleteAsync(item, ct).ConfigureAwait(false);
            return;
        }

        // Looked at again soon after the first sighting (the commit it raced is normally milliseconds away), then once
        // more when the grace is over.
        var (seen, recheck) = !seenBefore
            ? (now.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture), now + OrphanRecheck)
            : (item.Payload, new DateTimeOffset(firstSeen, TimeSpan.Zero) + OrphanGrace);
        await _dueWork.RescheduleAsync(item with { Payload = seen }, recheck, ct).ConfigureAwait(false);
    }

    private static OutboxRef Ref(OutboxItem outbox) => new(outbox.RowKey, outbox.Round);

    private async Task DropAsync(DueWorkItem item, OutboxItem outbox, CancellationToken ct)
    {
        LogOrphan(outbox.RowKey, item.RequestId);
        await _requests.DeleteOutboxAsync(item.TenantId, item.RequestId, outbox, ct).ConfigureAwait(false);
        await _dueWork.DeleteAsync(item, ct).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Due work {Kind} for request {RequestId} ({Key}) failed; retried later")]
    private partial void LogItemFailed(Exception ex, string kind, string requestId, string key);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Timer {Timer} fired for request {RequestId}: {Status}")]
    private partial void LogTimer(string timer, string requestId, ProcessStatus status);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Delivered {Kind} for request {RequestId} on attempt {Attempt} (HTTP {Status})")]
    private partial void LogDelivered(string kind, string requestId, int attempt, int? status);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "Delivery of {Kind} for request {RequestId} failed on attempt {Attempt}: {Error}; gave up: {GaveUp}")]
    private partial void LogDeliveryFailed(string kind, string requestId, int attempt, string? error, bool gaveUp);

    [LoggerMessage(EventId = 24, Level = LogLevel.Information, Message = "Dropped orphan outbox row {RowKey} of request {RequestId} (target gone)")]
    private partial void LogOrphan(string rowKey, string requestId);
}

/// <summary>
/// The polling loop a host runs in the background: for each shard whose lease this process holds (or can take), run
/// the due work. Two processes share the shards through <see cref="LeaseStore"/>. Each shard is polled on its own
/// schedule: again at once while its page was full of due work, then at the base interval, backing off to the maximum while it stays
/// empty, but never past the next row its poll saw falling due (each poll looks that maximum ahead, and starts the
/// timers it sees from memory when due, without another query); a <see cref="DueWorkSignal"/> from this process's
/// commits wakes a shard at the time its new work falls due.
/// So an idle host costs a few storage reads per second, and work committed here is carried out without waiting for
/// a poll. Free shards are tried every third of the lease duration.
/// </summary>
public sealed partial class DueWorkPoller
{
    private readonly DueWorkRunner _runner;
    private readonly LeaseStore _leases;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _owner;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _maxInterval;
    private readonly TimeSpan _leaseDuration;
    private readonly DueWorkSignal? _signal;
    private static readonly Task Never = new TaskCompletionSource().Task;
    private readonly ShardLease?[] _held = new ShardLease?[DueWorkStore.ShardCount];

    /// <summary>Deliveries in flight past which a commit's offer is not started but left to the polls.</summary>
    internal const int MaxOffered = 1024;

    // Orders offers started on committing threads against a shard handed over (or the poller stopping): a delivery is
    // either started while the shard is still held, so the hand-over sees it in flight and waits, or not at all.
    private readonly Lock _heldGate = new();
    private bool _stopping;

    /// <summary>
    /// Creates the poller; <paramref name="owner"/> identifies this process in the lease table. <paramref name="interval"/>
    /// (default 1 s) is how soon an empty shard is polled again, <paramref name="maxInterval"/> (default: the interval)
    /// how far that backs off while it stays empty.
    /// </summary>
    public DueWorkPoller(DueWorkRunner runner, LeaseStore leases, TimeProvider time, string owner, TimeSpan? interval = null, TimeSpan? leaseDuration = null,
        ILogger<DueWorkPoller>? logger = null, DueWorkSignal? signal = null, TimeSpan? maxInterval = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(leases);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentException.ThrowIfNullOrEmpty(owner);
        _runner = runner;
        _leases = leases;
        _time = time;
        _owner = owner;
        _interval = interval ?? TimeSpan.FromSeconds(1);
        _maxInterval = maxInterval is { } max && max > _interval ? max : _interval;
        _leaseDuration = leaseDuration ?? TimeSpan.FromSeconds(30);
        _signal = signal;
        _logger = logger ?? NullLogger<DueWorkPoller>.Instance;
    }

    /// <summary>The shards this process holds a lease on (as of its last pass).</summary>
    public int HeldShards => _held.Count(l => l is not null);

    /// <summary>One pass over every shard: take or renew leases, run each held shard. Returns the items handled.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken = default)
    {
        var total = 0;
        for (var shard = 0; shard < DueWorkStore.ShardCount; shard++)
        {
            if (await HoldAsync(shard, tryAcquire: true, cancellationToken).ConfigureAwait(false))
            {
                total += await _runner.StartOnceAsync(shard, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            }
        }

        return total;
    }

    /// <summary>
    /// Starts the timers the polls saw coming at their time, in shards this process still holds (a shard given up drops
    /// them: its new owner's polls find the rows). A loop of its own, beside the poll loop: a slow poll round, lease call
    /// or heartbeat (a store under load, a table Azurite scans row by row) never holds up a timer already known.
    /// </summary>
    private async Task RunTimersAsync(KnownTimers timers, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var (next, changed) = timers.StartDue(_time.GetUtcNow(), item =>
                {
                    // Under the gate a hand-over takes: a timer starts while its shard is held (so the hand-over sees it
                    // in flight and waits) or not at all.
                    lock (_heldGate)
                    {
                        if (_stopping || cancellationToken.IsCancellationRequested || _held[item.Shard] is not { } held || held.ExpiresAt <= _time.GetUtcNow())
                        {
                            return false;
                        }

                        _runner.StartTimer(item, cancellationToken);
                        return true;
                    }
                });
                var delay = next - _time.GetUtcNow();
                if (delay <= TimeSpan.Zero)
                {
                    continue;
                }

                using var sleep = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var timer = Task.Delay(delay > MaxTimerSleep ? MaxTimerSleep : delay, _time, sleep.Token);
                await Task.WhenAny(timer, changed).ConfigureAwait(false);
                await sleep.CancelAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Never expected. Stopping, the loop just ends (its caller's shutdown must go on); otherwise it is logged
                // and the loop goes on (a timer it misses meanwhile is still found by its shard's polls).
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                LogPollFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private static readonly TimeSpan MaxTimerSleep = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The timers the last poll of each shard saw coming within its look-ahead (each poll replaces its shard's list),
    /// handed from the poll loop to the timer loop.
    /// </summary>
    private sealed class KnownTimers
    {
        private readonly IReadOnlyList<DueWorkItem>[] _byShard = Enumerable.Repeat<IReadOnlyList<DueWorkItem>>([], DueWorkStore.ShardCount).ToArray();
        private readonly Lock _gate = new();
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Set(int shard, IReadOnlyList<DueWorkItem> timers)
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                if (timers.Count == 0 && _byShard[shard].Count == 0)
                {
                    return;
                }

                _byShard[shard] = timers;
                changed = _changed;
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        /// <summary>
        /// Hands each timer due at <paramref name="now"/> to <paramref name="start"/> and forgets it (started, already
        /// running, or its shard is no longer held: false drops the shard's list); returns the earliest timer still to
        /// come and a task that completes when a poll hands over new ones.
        /// </summary>
        public (DateTimeOffset Next, Task Changed) StartDue(DateTimeOffset now, Func<DueWorkItem, bool> start)
        {
            lock (_gate)
            {
                var next = DateTimeOffset.MaxValue;
                for (var shard = 0; shard < _byShard.Length; shard++)
                {
                    List<DueWorkItem>? later = null;
                    foreach (var timer in _byShard[shard])
                    {
                        if (timer.DueAt > now)
                        {
                            (later ??= []).Add(timer);
                            next = timer.DueAt < next ? timer.DueAt : next;
                        }
                        else if (!start(timer))
                        {
                            later = null;
                            break;
                        }
                    }

                    _byShard[shard] = later ?? (IReadOnlyList<DueWorkItem>)[];
                }

                return (next, _changed.Task);
            }
        }
    }

    /// <summary>Renews a held lease near its expiry or (when <paramref name="tryAcquire"/>) takes a free one; true when held.</summary>
    private async Task<bool> HoldAsync(int shard, bool tryAcquire, CancellationToken cancellationToken)
    {
        var lease = _held[shard];
        if (lease is not null && lease.ExpiresAt - _time.GetUtcNow() > _leaseDuration / 3)
        {
            return true;
        }

        if (lease is null && !tryAcquire)
        {
            return false;
        }

        lease = lease is null
            ? await _leases.TryAcquireAsync(shard, _owner, _leaseDuration, cancellationToken).ConfigureAwait(false)
            : await _leases.RenewAsync(lease, _leaseDuration, cancellationToken).ConfigureAwait(false);
        _held[shard] = lease;
        return lease is not null;
    }

    /// <summary>Polls until cancelled; storage errors are logged and the loop goes on. Releases held leases on the way out.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var next = new DateTimeOffset[DueWorkStore.ShardCount];
        var idle = new TimeSpan[DueWorkStore.ShardCount];
        // The earliest time a commit in this process said work falls due in a shard, kept until a poll at or after it:
        // an empty poll before then must not back off past it.
        var wanted = new DateTimeOffset[DueWorkStore.ShardCount];
        Array.Fill(wanted, DateTimeOffset.MaxValue);
        Array.Fill(next, now);
        Array.Fill(idle, _interval);
        var nextAcquire = now;
        var nextJournalScan = now;
        var journalScan = Task.CompletedTask;
        // Timers the last poll of each shard saw coming within its look-ahead: started by their own loop when due, which
        // stops with this loop however it ends.
        var timers = new KnownTimers();
        using var timerStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var timerLoop = Task.CompletedTask;
        // Deliveries this process commits, in shards it holds, start from the committing thread with what the commit
        // handed over; others are left to the shard's owner, which finds their rows by polling.
        Func<OfferedDelivery, bool> starter = offer =>
        {
            lock (_heldGate)
            {
                if (_stopping || cancellationToken.IsCancellationRequested || _held[offer.Item.Shard] is not { } held || held.ExpiresAt <= _time.GetUtcNow())
                {
                    return true; // not this process's to start
                }

                // Bounded: past it (a slow or unreachable target holding every slot), a poll finds the row.
                return _runner.DeliveriesInFlight < MaxOffered && _runner.StartOffered(offer, cancellationToken);
            }
        };
        _signal?.AttachPoller(starter);

        try
        {
            timerLoop = RunTimersAsync(timers, timerStop.Token);
            while (!cancellationToken.IsCancellationRequested)
            {
                var woken = _signal?.Changed ?? Never;
                var busy = false;
                try
                {
                    now = _time.GetUtcNow();
                    var acquire = now >= nextAcquire;
                    var fair = DueWorkStore.ShardCount;
                    if (acquire)
                    {
                        nextAcquire = now + _leaseDuration / 3;
                        fair = await BalanceAsync(cancellationToken).ConfigureAwait(false);
                    }

                    if (_held[0] is not null && now >= nextJournalScan && journalScan.IsCompleted)
                    {
                        // Whoever holds shard 0 repairs what dead processes' journals list (a few rows; nothing to do while all live).
                        nextJournalScan = now + JournalScanInterval;
                        journalScan = ScanJournalsAsync(now, cancellationToken);
                    }

                    // The shards due now are polled together: a shard's timers (carried out before its poll returns)
                    // must not wait for every other shard's.
                    var polls = new List<(int Shard, DateTimeOffset At, Task<PollResult> Poll)>();
                    try
                    {
                        for (var shard = 0; shard < DueWorkStore.ShardCount; shard++)
                        {
                            if (_signal?.Take(shard) is { } asked)
                            {
                                wanted[shard] = Min(wanted[shard], asked);
                                if (asked < next[shard])
                                {
                                    next[shard] = asked;
                                    idle[shard] = _interval;
                                }
                            }

                            var wasHeld = _held[shard] is not null;
                            if (!await HoldAsync(shard, acquire && HeldShards < fair, cancellationToken).ConfigureAwait(false))
                            {
                                continue;
                            }

                            now = _time.GetUtcNow();
                            if (!wasHeld)
                            {
                                next[shard] = now; // newly taken: whatever fell due meanwhile is carried out at once
                            }

                            if (next[shard] > now)
                            {
                                continue;
                            }

                            if (wanted[shard] <= now)
                            {
                                wanted[shard] = DateTimeOffset.MaxValue; // this poll finds it
                            }

                            // Looking as far ahead as the longest sleep: every row is known before it falls due.
                            polls.Add((shard, now, _runner.PollAsync(shard, now, _maxInterval, cancellationToken)));
                        }
                    }
                    finally
                    {
                        // Even when a lease call failed halfway: no shard is polled again while its last poll still runs.
                        await Task.WhenAll(polls.Select(p => p.Poll)).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
                    }

                    foreach (var (shard, at, poll) in polls)
                    {
                        var result = await poll.ConfigureAwait(false);
                        timers.Set(shard, result.Timers);
                        if (result.Complete && wanted[shard] <= at + _maxInterval)
                        {
                            wanted[shard] = DateTimeOffset.MaxValue; // the poll saw that row: due now, a timer held above, or NextDue
                        }

                        if (result.Handled > 0 && result.MoreDue)
                        {
                            busy = true; // a page full of due rows: more may wait, poll this shard again at once
                            idle[shard] = _interval;
                            next[shard] = at;
                        }
                        else
                        {
                            // Back off (from the base interval after work, or when rows due now may follow the page),
                            // but never past the next row the poll saw coming or a due time a commit signalled since;
                            // the timers it saw are started from memory.
                            if (result.Handled > 0 || result.MoreDue)
                            {
                                idle[shard] = _interval;
                            }

                            // Backed off all the way, a shard keeps its own slot in each maximum interval, so idle shards
                            // are polled one at a time, spread over it, not all together.
                            var after = idle[shard] >= _maxInterval ? SlotAfter(shard, at) : at + idle[shard];
                            next[shard] = Min(Min(after, wanted[shard]), result.NextDue ?? DateTimeOffset.MaxValue);
                            idle[shard] = TimeSpan.FromTicks(Math.Min(idle[shard].Ticks * 2, _maxInterval.Ticks));
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // A cancellation that is not the poller's own (a storage call timing out) is a failed poll like any other.
                    LogPollFailed(ex);
                    busy = false;
                    Array.Fill(next, _time.GetUtcNow() + _interval);
                }

                if (busy)
                {
                    continue;
                }

                // Sleep until the earliest held shard is due, a lease needs renewing, free shards are tried again, or a
                // commit in this process signals new work.
                var until = nextAcquire;
                for (var shard = 0; shard < DueWorkStore.ShardCount; shard++)
                {
                    if (_held[shard] is { } lease)
                    {
                        var renewAt = lease.ExpiresAt - _leaseDuration / 3;
                        until = Min(until, Min(next[shard], renewAt));
                    }
                }

                var delay = until - _time.GetUtcNow();
                if (delay > TimeSpan.Zero)
                {
                    using var sleep = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var timer = Task.Delay(delay, _time, sleep.Token);
                    await Task.WhenAny(timer, woken).ConfigureAwait(false);
                    await sleep.CancelAsync().ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            lock (_heldGate)
            {
                _stopping = true;
            }

            _signal?.DetachPoller(starter);
            await timerStop.CancelAsync().ConfigureAwait(false);
            await timerLoop.ConfigureAwait(false);

            // Deliveries in flight were cancelled with the loop; wait for them before giving up the shards, so another
            // process never picks up an item this one is still sending.
            await _runner.DrainAsync().ConfigureAwait(false);
            await journalScan.ConfigureAwait(false);

            // Best effort and bounded: an unreleased lease or heartbeat simply expires, an undeleted row is run again, a
            // journal row left behind is repaired (harmlessly) by whoever holds shard 0.
            using var release = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            try
            {
                await _runner.FlushDeletesAsync(release.Token).ConfigureAwait(false);
                await _runner.FlushJournalAsync(release.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (release.IsCancellationRequested)
            {
            }

            foreach (var lease in _held.OfType<ShardLease>())
            {
                try
                {
                    await _leases.ReleaseAsync(lease, release.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || release.IsCancellationRequested)
                {
                    LogPollFailed(ex);
                }
            }

            try
            {
                await _leases.LeaveAsync(_owner, release.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || release.IsCancellationRequested)
            {
                LogPollFailed(ex);
            }
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <summary>
    /// The shard's next slot after <paramref name="at"/>, at most one maximum interval later (the polls look that far
    /// ahead): slots repeat every maximum interval, shard <c>s</c>'s at <c>s / ShardCount</c> of the way through it.
    /// An idle store is then read by one shard query at a time instead of a burst of sixteen, which on a store that
    /// answers queries one by one (Azurite) held every other request up for all sixteen.
    /// </summary>
    internal DateTimeOffset SlotAfter(int shard, DateTimeOffset at)
    {
        var period = _maxInterval.Ticks;
        if (period <= 0)
        {
            return at; // polling without pause (intervals configured to 0)
        }

        var offset = period / DueWorkStore.ShardCount * shard;
        var wait = (((offset - at.UtcTicks) % period) + period) % period;
        return at + TimeSpan.FromTicks(wait == 0 ? period : wait);
    }

    /// <summary>
    /// Sends this process's heartbeat, counts the live processes and returns this one's fair share of the shards
    /// (rounded up). Shards held above it are handed back, highest first, unless a delivery from them is still in flight
    /// (then on a later pass), so another process can take them without ever sending an item this one is sending.
    /// </summary>
    private async Task<int> BalanceAsync(CancellationToken cancellationToken)
    {
        await _leases.HeartbeatAsync(_owner, _leaseDuration, cancellationToken).ConfigureAwait(false);
        var members = await _leases.LiveMembersAsync(cancellationToken).ConfigureAwait(false);
        var fair = (DueWorkStore.ShardCount + members - 1) / members;
        for (var shard = DueWorkStore.ShardCount - 1; shard >= 0 && HeldShards > fair; shard--)
        {
            ShardLease? handOver = null;
            lock (_heldGate)
            {
                if (_held[shard] is { } lease && !_runner.IsBusy(shard))
                {
                    _held[shard] = null;
                    handOver = lease;
                }
            }

            if (handOver is not null)
            {
                await _leases.ReleaseAsync(handOver, cancellationToken).ConfigureAwait(false);
                LogHandedOver(shard, members);
            }
        }

        return fair;
    }

    /// <summary>How often the holder of shard 0 looks for journal rows to repair.</summary>
    public static readonly TimeSpan JournalScanInterval = TimeSpan.FromSeconds(5);

    private async Task ScanJournalsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            await _runner.TryRepairJournalsAsync(now, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping: the next holder of shard 0 scans
        }
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "Due-work poll failed; retrying")]
    private partial void LogPollFailed(Exception ex);

    [LoggerMessage(EventId = 31, Level = LogLevel.Information, Message = "Handed due-work shard {Shard} back: {Members} processes share the shards")]
    private partial void LogHandedOver(int shard, int members);
}

/// <summary>
/// One poll of a shard, for <see cref="DueWorkPoller"/>: how many rows it carried out, the next row due within the look-ahead
/// that is not a timer, the timers due within it (to start from memory when due), whether the page held the whole window,
/// and whether more rows due now may follow the page.
/// </summary>
internal sealed record PollResult(int Handled, DateTimeOffset? NextDue, IReadOnlyList<DueWorkItem> Timers, bool Complete, bool MoreDue);
