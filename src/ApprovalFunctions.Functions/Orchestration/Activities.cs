using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace ApprovalFunctions.Functions.Orchestration;

/// <summary>
/// The orchestration's activities: all its I/O, each a thin call into the shared runtime (the request processor, the
/// request store's outbox, the signed HTTP sender). Activities run at least once, so each is idempotent: the engine
/// ignores an event id it has applied, and a delivery carries a stable <c>Idempotency-Key</c>.
/// </summary>
public sealed partial class Activities(
    RequestProcessor processor, RequestStore requests, DefinitionCache definitions, SubscriptionStore subscriptions, IDeliverySender sender,
    ILogger<Activities> logger)
{
    /// <summary>
    /// Applies one event through the shared processor (engine, ETag-guarded commit of state + ledger + outbox rows,
    /// index projection) and returns the intents to carry out and the new snapshot.
    /// </summary>
    [Function(nameof(ApplyEvent))]
    public Task<ApplyOutcome> ApplyEvent([ActivityTrigger] ApplyEventInput input, FunctionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ApplyEventAsync(input, context.CancellationToken);
    }

    internal async Task<ApplyOutcome> ApplyEventAsync(ApplyEventInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var evt = StateJson.DeserializeEvent(input.Event);
        (string? Key, int? Round) settled = evt switch
        {
            CallbackDelivered delivered => (delivered.IdempotencyKey, null),
            CallbackAttemptFailed { GaveUp: true } failed => (failed.IdempotencyKey, failed.Round),
            _ => (null, null),
        };

        // A settled callback's outbox row goes in the same commit, as in the local runner (no crash can strand it, and an
        // admin retry's rewrite of the row is never deleted by a settlement of the round before).
        var result = settled.Key is null
            ? await processor.ApplyAsync(input.TenantId, input.RequestId, evt, ct).ConfigureAwait(false)
            : await processor.SettleAsync(input.TenantId, input.RequestId, evt, OutboxItem.CallbackRowKey(settled.Key), settled.Round, ct).ConfigureAwait(false);
        if (result.State is not { } state)
        {
            return ApplyOutcome.NotFound;
        }

        var intents = result.Status == ProcessStatus.Applied
            ? result.Result!.Intents.Select(StateJson.SerializeIntent).ToList()
            : [];
        if (result.Status == ProcessStatus.Duplicate && state.Callback is { Status: CallbackStatus.Pending, IdempotencyKey: { } key, Outcome: { } outcome })
        {
            // A retry of this activity after its commit: the first run's intents are gone, but a pending callback must still
            // go out. Delivering is idempotent (the outbox row decides whether anything is left to send).
            intents.Add(StateJson.SerializeIntent(new DeliverCallback(outcome, key, state.Callback.Round)));
        }

        var definition = state.Workflow is { } wf
            ? await definitions.GetVersionAsync(input.TenantId, wf.Id, wf.Version, ct).ConfigureAwait(false)
            : null;
        LogApplied(logger, evt.GetType().Name, input.RequestId, result.Status);
        return new ApplyOutcome { Status = result.Status.ToString(), Intents = intents, Snapshot = RequestSnapshot.From(state, definition) };
    }

    /// <summary>
    /// One attempt at the outcome callback committed in the request's outbox. Returns the attempt number when the target
    /// acknowledged it, 0 when nothing is pending under the key; throws when the attempt failed, so Durable Functions
    /// retries it on the workflow's policy (<see cref="RetrySettings"/>).
    /// </summary>
    [Function(nameof(DeliverCallback))]
    public Task<int> DeliverCallback([ActivityTrigger] DeliverCallbackInput input, FunctionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return DeliverCallbackAsync(input, context.CancellationToken);
    }

    internal async Task<int> DeliverCallbackAsync(DeliverCallbackInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var rowKey = OutboxItem.CallbackRowKey(input.IdempotencyKey);
        var outbox = await requests.GetOutboxAsync(input.TenantId, input.RequestId, rowKey, ct).ConfigureAwait(false);
        if (outbox is null)
        {
            return 0;
        }

        var definition = outbox.WorkflowId is null
            ? null
            : await definitions.GetVersionAsync(input.TenantId, outbox.WorkflowId, outbox.WorkflowVersion, ct).ConfigureAwait(false);
        if (definition?.Callback is not { } callback)
        {
            // The version no longer has a callback to deliver to; the local runner drops such rows the same way.
            await requests.DeleteOutboxAsync(input.TenantId, input.RequestId, outbox, ct).ConfigureAwait(false);
            return 0;
        }

        if (outbox.Body.Length == 0)
        {
            // The runtime keeps no copy of a very large callback body; its due-work runner builds it from the state at
            // delivery (RequestProcessor.CallbackBody, internal to the runtime). Leave this one to the maintenance sweep,
            // which runs that runner, rather than build the body a second way here.
            LogLeftToSweep(logger, input.RequestId, input.IdempotencyKey);
            return 0;
        }

        var attempt = outbox.Attempts + 1;
        var result = await sender.SendAsync(new DeliveryRequest(callback.Url, outbox.Body, callback.Secret, outbox.IdempotencyKey, null), ct)
            .ConfigureAwait(false);
        if (result.Delivered)
        {
            LogDelivered(logger, "callback", input.RequestId, attempt, result.StatusCode);
            return attempt;
        }

        // The attempt count and last error live on the outbox row (the callbacks list shows them) until the policy gives up.
        await requests.RecordAttemptAsync(input.TenantId, input.RequestId, outbox, attempt, result.Error, ct).ConfigureAwait(false);
        LogFailed(logger, "callback", input.RequestId, attempt, result.Error);
        throw new CallbackDeliveryException($"Callback attempt {attempt} for request {input.RequestId} failed: {result.Error ?? "no 2xx"}");
    }

    /// <summary>
    /// One pass over an outbound event's outbox rows (one per matching subscription): each acknowledged row is deleted, each
    /// failure recorded on its row for the maintenance sweep. Returns how many were delivered.
    /// </summary>
    [Function(nameof(DeliverEvent))]
    public Task<int> DeliverEvent([ActivityTrigger] DeliverEventInput input, FunctionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return DeliverEventAsync(input, context.CancellationToken);
    }

    internal async Task<int> DeliverEventAsync(DeliverEventInput input, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(input);
        var delivered = 0;
        foreach (var subscription in await subscriptions.GetMatchingAsync(input.TenantId, input.EventType, ct).ConfigureAwait(false))
        {
            var rowKey = OutboxItem.EventRowKey(input.IdempotencyKey, subscription.Id);
            var outbox = await requests.GetOutboxAsync(input.TenantId, input.RequestId, rowKey, ct).ConfigureAwait(false);
            if (outbox is null)
            {
                // Delivered already, or the subscription was created after the commit.
                continue;
            }

            var result = await sender.SendAsync(new DeliveryRequest(subscription.Url, outbox.Body, subscription.Secret, outbox.IdempotencyKey, outbox.EventType), ct)
                .ConfigureAwait(false);
            if (result.Delivered)
            {
                await requests.DeleteOutboxAsync(input.TenantId, input.RequestId, outbox, ct).ConfigureAwait(false);
                delivered++;
                LogDelivered(logger, input.EventType, input.RequestId, outbox.Attempts + 1, result.StatusCode);
            }
            else
            {
                await requests.RecordAttemptAsync(input.TenantId, input.RequestId, outbox, outbox.Attempts + 1, result.Error, ct).ConfigureAwait(false);
                LogFailed(logger, input.EventType, input.RequestId, outbox.Attempts + 1, result.Error);
            }
        }

        return delivered;
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Applied {Event} to request {RequestId}: {Status}")]
    private static partial void LogApplied(ILogger logger, string @event, string requestId, ProcessStatus status);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Delivered {Kind} for request {RequestId} on attempt {Attempt} (HTTP {Status})")]
    private static partial void LogDelivered(ILogger logger, string kind, string requestId, int attempt, int? status);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Callback {Key} of request {RequestId} has no stored body; the maintenance sweep delivers it")]
    private static partial void LogLeftToSweep(ILogger logger, string requestId, string key);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Delivery of {Kind} for request {RequestId} failed on attempt {Attempt}: {Error}")]
    private static partial void LogFailed(ILogger logger, string kind, string requestId, int attempt, string? error);
}

/// <summary>A callback attempt was not acknowledged; thrown so the Durable Functions retry policy schedules the next one.</summary>
public sealed class CallbackDeliveryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CallbackDeliveryException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public CallbackDeliveryException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public CallbackDeliveryException() : base("The callback was not acknowledged.") { }
}
