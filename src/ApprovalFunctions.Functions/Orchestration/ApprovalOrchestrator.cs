using System.Text.Json;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace ApprovalFunctions.Functions.Orchestration;

/// <summary>The orchestrator function: a thin adapter, so tests drive <see cref="ApprovalOrchestrator"/> directly.</summary>
public static class ApprovalOrchestration
{
    /// <summary>One instance per approval request (instance id = request id).</summary>
    [Function(OrchestrationNames.Orchestrator)]
    public static Task<string> Run([OrchestrationTrigger] TaskOrchestrationContext context) => ApprovalOrchestrator.RunAsync(context);
}

/// <summary>
/// The loop of one approval request's orchestration. Each turn it races the next external event against a durable timer
/// for the engine's next deadline (always cancelling the loser), applies the winner through the <c>ApplyEvent</c>
/// activity — the shared request processor: engine, ETag-guarded commit of state + ledger + outbox, index projection,
/// the same code the local host runs — and carries out the resulting intents through activities (the outcome callback
/// with the workflow's retry policy, outbound events). After <see cref="MaxEventsPerGeneration"/> events it continues as
/// new to keep the history small; it finishes when the request can no longer change.
/// </summary>
/// <remarks>
/// Replay-safe by construction: no clock (durable timers are set from the engine's deadlines, which come from committed
/// state), no I/O, no <c>Task.Delay</c>, no <c>ConfigureAwait(false)</c> (orchestrator code must resume on the
/// orchestration's own scheduler), ids from <see cref="TaskOrchestrationContext.NewGuid"/>. Only the abstract members of
/// <see cref="TaskOrchestrationContext"/> are used, so a mocked context sees every call.
/// </remarks>
public static class ApprovalOrchestrator
{
    /// <summary>Events received per generation before ContinueAsNew (each adds a few history rows).</summary>
    public const int MaxEventsPerGeneration = 50;

    /// <summary>How many received event ids are remembered to ignore a redelivery.</summary>
    public const int RecentEventWindow = 64;

    /// <summary>The result when the request can no longer change.</summary>
    public const string FinishedResult = "finished";

    /// <summary>The result when the orchestration continued as new.</summary>
    public const string ContinuedResult = "continued";

    /// <summary>
    /// Retries of the <c>ApplyEvent</c> activity (storage outages, a lost ETag race beyond the processor's own retries):
    /// about half an hour in all before the orchestration fails visibly. Safe: the engine ignores an event id it has
    /// applied, so a retry after a commit changes nothing.
    /// </summary>
    public static readonly TaskOptions ApplyRetry = TaskOptions.FromRetryPolicy(
        new RetryPolicy(10, TimeSpan.FromSeconds(5), 2.0, TimeSpan.FromMinutes(5)));

    /// <summary>Runs the loop for the context's input.</summary>
    public static Task<string> RunAsync(TaskOrchestrationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var input = context.GetInput<OrchestratorInput>()
            ?? throw new InvalidOperationException("The approval orchestration was started without an input.");
        return new Loop(context, input).RunAsync();
    }

    /// <summary>The durable timer's event id: the same id the local due-work runner uses, so either path firing it twice is a no-op.</summary>
    public static string TimerEventId(TimerKey timer)
    {
        ArgumentNullException.ThrowIfNull(timer);
        return "timer:" + timer;
    }

    private sealed class Loop(TaskOrchestrationContext context, OrchestratorInput input)
    {
        private readonly List<string> _recent = [.. input.RecentEventIds];
        private RequestSnapshot _snapshot = input.Snapshot;
        private int _received;

        public async Task<string> RunAsync()
        {
            await CarryOutAsync(input.PendingIntents);
            while (_snapshot.Open)
            {
                if (_received >= MaxEventsPerGeneration)
                {
                    // Events raised meanwhile are kept for the next generation (preserveUnprocessedEvents).
                    context.ContinueAsNew(new OrchestratorInput
                    {
                        TenantId = input.TenantId,
                        RequestId = input.RequestId,
                        Snapshot = _snapshot,
                        RecentEventIds = [.. _recent],
                        Generation = input.Generation + 1,
                    }, true);
                    return ContinuedResult;
                }

                var evt = await NextEventAsync();
                _received++;
                if (evt is null || !Remember(evt.EventId))
                {
                    // Unreadable, or delivered twice (delivery is at least once): nothing to apply.
                    continue;
                }

                await ApplyAsync(evt);
            }

            return FinishedResult;
        }

        private async Task<ApprovalEvent?> NextEventAsync()
        {
            using var eventCts = new CancellationTokenSource();
            var received = context.WaitForExternalEvent<string>(OrchestrationNames.EventName, eventCts.Token);
            var timer = _snapshot.NextTimer is { } timerJson ? StateJson.DeserializeTimer(timerJson) : null;
            if (timer is null || _recent.Contains(TimerEventId(timer), StringComparer.Ordinal))
            {
                // Nothing due — or the deadline already fired and the engine did not move past it, in which case firing it
                // again would be a no-op in a tight loop: wait for an event instead.
                return Parse(await received);
            }

            using var timerCts = new CancellationTokenSource();
            var fired = context.CreateTimer(timer.DueAt.UtcDateTime, timerCts.Token);
            var winner = await Task.WhenAny(received, fired);
            if (winner == received)
            {
                // An uncancelled durable timer keeps the instance alive until it fires.
                timerCts.Cancel();
                return Parse(await received);
            }

            // A cancelled wait loses nothing: an event that arrives later is kept for the next wait.
            eventCts.Cancel();
            return new TimerFired { EventId = TimerEventId(timer), Timer = timer };
        }

        private async Task ApplyAsync(ApprovalEvent evt)
        {
            ApplyOutcome outcome;
            try
            {
                outcome = await context.CallActivityAsync<ApplyOutcome>(nameof(Activities.ApplyEvent), new ApplyEventInput
                {
                    TenantId = input.TenantId,
                    RequestId = input.RequestId,
                    Event = StateJson.SerializeEvent(evt),
                }, ApplyRetry);
            }
            catch (TaskFailedException failure) when (IsCausedBy<StateTooLargeException>(failure.FailureDetails))
            {
                // A poison event: its commit can never fit (e.g. a resubmitted record past the size limit). Drop it — the
                // state shows it was never applied — rather than fail the orchestration and with it every later event.
                return;
            }

            _snapshot = outcome.Snapshot;
            await CarryOutAsync(outcome.Intents);
        }

        private async Task CarryOutAsync(IReadOnlyList<string> intents)
        {
            foreach (var json in intents)
            {
                switch (StateJson.DeserializeIntent(json))
                {
                    case DeliverCallback callback:
                        await DeliverCallbackAsync(callback);
                        break;
                    case EmitEvent emit:
                        await DeliverEventAsync(emit);
                        break;

                    // ScheduleTimer: the loop always waits for the engine's next deadline, so one durable timer covers them all.
                    // InboxAdd / InboxRemove: ApplyEvent's commit projected the inbox from the committed state.
                    // Notify: the shared processor records it when it commits (the hook mail or chat plugs into).
                }
            }
        }

        private async Task DeliverCallbackAsync(DeliverCallback callback)
        {
            if (_snapshot.CallbackRetry is not { } retry)
            {
                // The engine only asks for a callback the workflow defines; nothing to deliver to.
                return;
            }

            ApprovalEvent result;
            try
            {
                var attempt = await context.CallActivityAsync<int>(nameof(Activities.DeliverCallback), new DeliverCallbackInput
                {
                    TenantId = input.TenantId,
                    RequestId = input.RequestId,
                    IdempotencyKey = callback.IdempotencyKey,
                }, TaskOptions.FromRetryPolicy(retry.ToPolicy()));
                if (attempt <= 0)
                {
                    // Nothing pending under that key (already delivered, or the workflow's callback is gone).
                    return;
                }

                result = new CallbackDelivered { EventId = NewEventId("callback-ok"), Attempt = attempt, IdempotencyKey = callback.IdempotencyKey };
            }
            catch (TaskFailedException failure)
            {
                // Every attempt the policy allows failed: the callback is marked failed; an admin may retry it.
                result = new CallbackAttemptFailed
                {
                    EventId = NewEventId("callback-failed"),
                    Attempt = retry.ToPolicy().MaxNumberOfAttempts,
                    IdempotencyKey = callback.IdempotencyKey,
                    Error = failure.FailureDetails.ErrorMessage,
                    GaveUp = true,
                    Round = callback.Round,
                };
            }

            Remember(result.EventId);
            await ApplyAsync(result);
        }

        private async Task DeliverEventAsync(EmitEvent emit)
        {
            try
            {
                // One pass, no durable retry: a slow subscriber must not hold decisions up. What fails stays in the
                // outbox, and the maintenance sweep re-drives it with the runner's backoff.
                await context.CallActivityAsync<int>(nameof(Activities.DeliverEvent), new DeliverEventInput
                {
                    TenantId = input.TenantId,
                    RequestId = input.RequestId,
                    IdempotencyKey = emit.IdempotencyKey,
                    EventType = emit.EventType,
                }, null);
            }
            catch (TaskFailedException)
            {
                // Storage was unreachable; the outbox rows are still there for the sweep.
            }
        }

        // The host may wrap the activity's exception; look down the chain of inner failures too.
        private static bool IsCausedBy<T>(TaskFailureDetails? details)
            where T : Exception
        {
            for (; details is not null; details = details.InnerFailure)
            {
                if (details.IsCausedBy<T>())
                {
                    return true;
                }
            }

            return false;
        }

        private string NewEventId(string prefix) => prefix + ":" + context.NewGuid().ToString("N");

        private bool Remember(string eventId)
        {
            if (_recent.Contains(eventId, StringComparer.Ordinal))
            {
                return false;
            }

            _recent.Add(eventId);
            if (_recent.Count > RecentEventWindow)
            {
                _recent.RemoveAt(0);
            }

            return true;
        }

        private static ApprovalEvent? Parse(string? json)
        {
            if (string.IsNullOrWhiteSpace(json))
            {
                return null;
            }

            try
            {
                return StateJson.DeserializeEvent(json);
            }
            catch (JsonException)
            {
                // Raised only by DurableApprovalCommands after validation; anything else is dropped, not fatal.
                return null;
            }
        }
    }
}
