using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.State;
using Microsoft.DurableTask;

namespace ApprovalFunctions.Functions.Orchestration;

// Everything that crosses the orchestration boundary (inputs, activity inputs and outputs) is a plain record of
// strings, numbers and lists, so the Durable Functions data converter round-trips it whatever its settings. Engine
// types travel as StateJson text, written and read by the engine's own serializer.

/// <summary>Names shared by the orchestrator, its activities and the code that starts and signals it.</summary>
public static class OrchestrationNames
{
    /// <summary>The orchestrator function (one instance per approval request; instance id = request id).</summary>
    public const string Orchestrator = "ApprovalOrchestration";

    /// <summary>The external event every approval event is raised as; its payload is the event's StateJson text.</summary>
    public const string EventName = "approval-event";
}

/// <summary>What the orchestrator knows about its request between two events, computed from the committed state.</summary>
public sealed record RequestSnapshot
{
    /// <summary>A request that needs no orchestration (not found, or it can never change again).</summary>
    public static readonly RequestSnapshot Finished = new();

    /// <summary>True while the request can still change: the orchestrator keeps waiting for events.</summary>
    public bool Open { get; init; }

    /// <summary>The engine's next deadline (<see cref="StateJson.SerializeTimer"/>), or null when nothing is due.</summary>
    public string? NextTimer { get; init; }

    /// <summary>The workflow's callback retry policy; null when the workflow has no callback.</summary>
    public RetrySettings? CallbackRetry { get; init; }

    /// <summary>
    /// The snapshot of <paramref name="state"/>. A request stays open while anything can still happen to it: pending or
    /// waiting for a resubmission (changes requested, or rejected — API.md lets the requester resubmit), or while its
    /// callback is being delivered or has failed (an admin may retry it). Only then may the orchestration finish, and
    /// only a finished instance may be purged.
    /// </summary>
    public static RequestSnapshot From(ApprovalState state, WorkflowDefinition? definition)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Workflow is null || definition is null)
        {
            // Not required or quarantined: the engine refuses every later event.
            return Finished;
        }

        var open = state.Status is RequestStatus.Pending or RequestStatus.ChangesRequested or RequestStatus.Rejected
            || state.Callback.Status is CallbackStatus.Pending or CallbackStatus.Failed;
        var next = ApprovalEngine.NextTimer(state, definition);
        return new RequestSnapshot
        {
            Open = open,
            NextTimer = next is null ? null : StateJson.SerializeTimer(next),
            CallbackRetry = definition.Callback is { } callback ? RetrySettings.From(callback) : null,
        };
    }
}

/// <summary>A retry policy in plain numbers (a <see cref="RetryPolicy"/> is not serializable).</summary>
public sealed record RetrySettings
{
    /// <summary>Attempts in all, the first included.</summary>
    public int MaxAttempts { get; init; } = 1;

    /// <summary>The delay before the first retry, in milliseconds.</summary>
    public long FirstRetryMilliseconds { get; init; } = 1000;

    /// <summary>The longest delay between two attempts, in milliseconds.</summary>
    public long MaxRetryMilliseconds { get; init; } = 1000;

    /// <summary>The workflow's callback policy.</summary>
    public static RetrySettings From(CallbackDefinition callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new RetrySettings
        {
            MaxAttempts = callback.MaxAttempts,
            FirstRetryMilliseconds = (long)callback.InitialBackoff.TotalMilliseconds,
            MaxRetryMilliseconds = (long)callback.MaxBackoff.TotalMilliseconds,
        };
    }

    /// <summary>
    /// The Durable Task policy: exponential (coefficient 2) from the first interval, capped at the maximum. Values are
    /// clamped into what <see cref="RetryPolicy"/>'s guards accept (at least one attempt, a positive first interval,
    /// a maximum not below the first), so a workflow can never make the orchestrator throw.
    /// </summary>
    public RetryPolicy ToPolicy()
    {
        var first = TimeSpan.FromMilliseconds(Math.Max(1000, FirstRetryMilliseconds));
        var max = TimeSpan.FromMilliseconds(Math.Max(first.TotalMilliseconds, MaxRetryMilliseconds));
        return new RetryPolicy(Math.Max(1, MaxAttempts), first, 2.0, max);
    }
}

/// <summary>The orchestration's input: on start, and again on every ContinueAsNew.</summary>
public sealed record OrchestratorInput
{
    /// <summary>The request's tenant.</summary>
    public string TenantId { get; init; } = "";

    /// <summary>The request id (= the instance id).</summary>
    public string RequestId { get; init; } = "";

    /// <summary>The request as last committed.</summary>
    public RequestSnapshot Snapshot { get; init; } = RequestSnapshot.Finished;

    /// <summary>Intents (StateJson text) committed before this generation started and not yet carried out (the submit's).</summary>
    public IReadOnlyList<string> PendingIntents { get; init; } = [];

    /// <summary>Ids of the events received most recently (oldest first), so a redelivered event is ignored across generations.</summary>
    public IReadOnlyList<string> RecentEventIds { get; init; } = [];

    /// <summary>How many times the orchestration continued as new.</summary>
    public int Generation { get; init; }
}

/// <summary>The <c>ApplyEvent</c> activity's input.</summary>
public sealed record ApplyEventInput
{
    /// <summary>The tenant.</summary>
    public string TenantId { get; init; } = "";

    /// <summary>The request.</summary>
    public string RequestId { get; init; } = "";

    /// <summary>The event (StateJson text).</summary>
    public string Event { get; init; } = "";
}

/// <summary>The <c>ApplyEvent</c> activity's output.</summary>
public sealed record ApplyOutcome
{
    /// <summary>The request no longer exists.</summary>
    public static readonly ApplyOutcome NotFound = new() { Status = "NotFound" };

    /// <summary>How the shared processor ended (Applied, Duplicate, Unchanged, Refused, NotFound).</summary>
    public string Status { get; init; } = "";

    /// <summary>Intents to carry out (StateJson text), in the engine's order.</summary>
    public IReadOnlyList<string> Intents { get; init; } = [];

    /// <summary>The request as committed.</summary>
    public RequestSnapshot Snapshot { get; init; } = RequestSnapshot.Finished;
}

/// <summary>The <c>DeliverCallback</c> activity's input.</summary>
public sealed record DeliverCallbackInput
{
    /// <summary>The tenant.</summary>
    public string TenantId { get; init; } = "";

    /// <summary>The request.</summary>
    public string RequestId { get; init; } = "";

    /// <summary>The delivery's idempotency key (names its outbox row).</summary>
    public string IdempotencyKey { get; init; } = "";
}

/// <summary>The <c>DeliverEvent</c> activity's input.</summary>
public sealed record DeliverEventInput
{
    /// <summary>The tenant.</summary>
    public string TenantId { get; init; } = "";

    /// <summary>The request.</summary>
    public string RequestId { get; init; } = "";

    /// <summary>The emission's idempotency key (with a subscription id, names an outbox row).</summary>
    public string IdempotencyKey { get; init; } = "";

    /// <summary>The outbound event name.</summary>
    public string EventType { get; init; } = "";
}
