using System.Text.Json;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Events;

/// <summary>Who is acting: always from a verified credential, never from a request body.</summary>
/// <param name="UserId">The token's <c>sub</c> (or the user a signed integration webhook names).</param>
/// <param name="IsAdmin">True when the token carries the <c>admin</c> role.</param>
/// <param name="IntegrationId">Set when the action came through a signed integration webhook.</param>
public sealed record Actor(string UserId, bool IsAdmin = false, string? IntegrationId = null)
{
    /// <summary>The actor recorded for timer and delivery events.</summary>
    public static readonly Actor System = new("system");
}

/// <summary>
/// Something that happened to a request. Every event has an id; the engine ignores an id it has
/// recently applied, because hosts deliver events at least once.
/// </summary>
[System.Text.Json.Serialization.JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(Submitted), "submitted")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(Decided), "decided")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(Resubmitted), "resubmitted")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(CancelRequested), "cancelRequested")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(Reassigned), "reassigned")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(DelegationInEffect), "delegationInEffect")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(TimerFired), "timerFired")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(CallbackDelivered), "callbackDelivered")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(CallbackAttemptFailed), "callbackAttemptFailed")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(CallbackRetryRequested), "callbackRetryRequested")]
public abstract record ApprovalEvent
{
    /// <summary>Unique per event; redelivery of the same id is a no-op.</summary>
    public required string EventId { get; init; }
}

/// <summary>A client submitted a proposed change (<c>POST /api/v1/approvals</c>).</summary>
public sealed record Submitted : ApprovalEvent
{
    /// <summary>The new request id.</summary>
    public required string RequestId { get; init; }

    /// <summary>The tenant (from the token).</summary>
    public required string TenantId { get; init; }

    /// <summary>The requester (from the token).</summary>
    public required Actor Requester { get; init; }

    /// <summary>The record model.</summary>
    public required string Model { get; init; }

    /// <summary>The client's record id.</summary>
    public required string RecordId { get; init; }

    /// <summary>The record event.</summary>
    public required string Event { get; init; }

    /// <summary>Display title.</summary>
    public string? Title { get; init; }

    /// <summary>Display description.</summary>
    public string? Description { get; init; }

    /// <summary>The proposed record.</summary>
    public JsonElement Record { get; init; }

    /// <summary>Users the request is about.</summary>
    public IReadOnlyList<string> Subjects { get; init; } = [];

    /// <summary>Free-form context.</summary>
    public JsonElement? Context { get; init; }
}

/// <summary>An approver decided or commented on a stage.</summary>
public sealed record Decided : ApprovalEvent
{
    /// <summary>The stage.</summary>
    public required string StageId { get; init; }

    /// <summary>Who decided.</summary>
    public required Actor Actor { get; init; }

    /// <summary>The decision.</summary>
    public required DecisionKind Decision { get; init; }

    /// <summary>Required for reject and request-changes.</summary>
    public string? Comment { get; init; }
}

/// <summary>The requester resubmitted after changes were requested or a rejection.</summary>
public sealed record Resubmitted : ApprovalEvent
{
    /// <summary>Who resubmitted.</summary>
    public required Actor Actor { get; init; }

    /// <summary>The new record.</summary>
    public required JsonElement Record { get; init; }

    /// <summary>A new title, if any.</summary>
    public string? Title { get; init; }

    /// <summary>A comment for the approvers.</summary>
    public string? Comment { get; init; }
}

/// <summary>The requester or an admin cancelled the request.</summary>
public sealed record CancelRequested : ApprovalEvent
{
    /// <summary>Who cancelled.</summary>
    public required Actor Actor { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }
}

/// <summary>An admin moved a stage's pending approval from one user to another.</summary>
public sealed record Reassigned : ApprovalEvent
{
    /// <summary>The stage.</summary>
    public required string StageId { get; init; }

    /// <summary>The approver removed.</summary>
    public required string From { get; init; }

    /// <summary>The approver added.</summary>
    public required string To { get; init; }

    /// <summary>The admin.</summary>
    public required Actor Actor { get; init; }
}

/// <summary>A delegation came into effect; its delegate joins the inbox of the stages its principal approves.</summary>
public sealed record DelegationInEffect : ApprovalEvent
{
    /// <summary>The delegation.</summary>
    public required Delegation Delegation { get; init; }
}

/// <summary>A durable timer fired. Late or stale timers are no-ops.</summary>
public sealed record TimerFired : ApprovalEvent
{
    /// <summary>Which timer.</summary>
    public required TimerKey Timer { get; init; }
}

/// <summary>The callback was acknowledged with a 2xx.</summary>
public sealed record CallbackDelivered : ApprovalEvent
{
    /// <summary>The attempt number that succeeded.</summary>
    public required int Attempt { get; init; }

    /// <summary>The idempotency key of the delivery.</summary>
    public required string IdempotencyKey { get; init; }
}

/// <summary>A callback attempt failed. When <see cref="GaveUp"/> the callback is marked failed.</summary>
public sealed record CallbackAttemptFailed : ApprovalEvent
{
    /// <summary>The attempt number that failed.</summary>
    public required int Attempt { get; init; }

    /// <summary>The idempotency key of the delivery.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>What went wrong (status code or exception message).</summary>
    public required string Error { get; init; }

    /// <summary>
    /// The callback round the attempt belonged to (<see cref="State.CallbackState.Round"/>); a failure from another round
    /// is a no-op. Null matches any round (events recorded before rounds existed).
    /// </summary>
    public int? Round { get; init; }

    /// <summary>True when the retry policy is exhausted.</summary>
    public bool GaveUp { get; init; }
}

/// <summary>An admin asked to deliver a failed callback again.</summary>
public sealed record CallbackRetryRequested : ApprovalEvent
{
    /// <summary>The admin.</summary>
    public required Actor Actor { get; init; }
}

/// <summary>The kinds of durable timer.</summary>
public enum TimerKind
{
    /// <summary>Remind the pending approvers of a stage; repeats.</summary>
    Reminder,

    /// <summary>Escalate a stage to its next level; each level fires once.</summary>
    Escalation,

    /// <summary>The stage's timeout.</summary>
    StageTimeout,

    /// <summary>The request's expiry.</summary>
    RequestExpiry,
}

/// <summary>
/// Identifies one scheduled timer. A timer whose key no longer matches the state (stage closed,
/// iteration moved on, level already fired) is ignored.
/// </summary>
/// <param name="Kind">The kind.</param>
/// <param name="StageId">The stage (null for request expiry).</param>
/// <param name="Iteration">The iteration the timer belongs to.</param>
/// <param name="Sequence">Escalation level (1-based) or reminder number; 0 otherwise.</param>
/// <param name="DueAt">When it is due.</param>
public sealed record TimerKey(TimerKind Kind, string? StageId, int Iteration, int Sequence, DateTimeOffset DueAt)
{
    /// <summary>A stable string form, usable as a storage key or event id.</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{Kind}:{StageId}:{Iteration}:{Sequence}:{DueAt.UtcTicks}");
}
