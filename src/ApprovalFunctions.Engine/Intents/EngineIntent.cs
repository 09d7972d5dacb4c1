using ApprovalFunctions.Engine.Events;

namespace ApprovalFunctions.Engine.Intents;

/// <summary>
/// A side effect the host must carry out after committing the new state. Every intent must be
/// idempotent to carry out, because hosts carry them out at least once.
/// </summary>
[System.Text.Json.Serialization.JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(ScheduleTimer), "scheduleTimer")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(InboxAdd), "inboxAdd")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(InboxRemove), "inboxRemove")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(Notify), "notify")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(DeliverCallback), "deliverCallback")]
[System.Text.Json.Serialization.JsonDerivedType(typeof(EmitEvent), "emitEvent")]
public abstract record EngineIntent;

/// <summary>Schedule a durable timer. Timers are never cancelled: a stale one is a no-op in the engine.</summary>
public sealed record ScheduleTimer(TimerKey Timer) : EngineIntent;

/// <summary>Add an approver-inbox entry: <paramref name="UserId"/> can decide <paramref name="StageId"/>.</summary>
/// <param name="UserId">The user whose inbox gets the entry.</param>
/// <param name="StageId">The stage.</param>
/// <param name="OnBehalfOf">Set when the user is a delegate for this principal.</param>
public sealed record InboxAdd(string UserId, string StageId, string? OnBehalfOf = null) : EngineIntent;

/// <summary>Remove an approver-inbox entry.</summary>
/// <param name="UserId">The user.</param>
/// <param name="StageId">The stage.</param>
/// <param name="Decided">True when the user decided (the entry moves to their "decided" list).</param>
public sealed record InboxRemove(string UserId, string StageId, bool Decided) : EngineIntent;

/// <summary>Kinds of notification.</summary>
public enum NotificationKind
{
    /// <summary>A stage became active and waits on these users.</summary>
    StageActivated,

    /// <summary>A reminder for pending approvers.</summary>
    Reminder,

    /// <summary>The stage escalated to these users.</summary>
    Escalated,

    /// <summary>A stage has nobody who can approve it.</summary>
    NoApprovers,

    /// <summary>The requester: the outcome is final or changes were requested.</summary>
    Outcome,
}

/// <summary>Notify people (mail, chat: whatever the host wires up).</summary>
public sealed record Notify(NotificationKind Kind, string? StageId, IReadOnlyList<string> Users) : EngineIntent;

/// <summary>Deliver the signed outcome callback (first attempt, or an admin retry).</summary>
/// <param name="Outcome">approved, rejected, expired or cancelled.</param>
/// <param name="IdempotencyKey">Stable across every retry of this delivery.</param>
public sealed record DeliverCallback(string Outcome, string IdempotencyKey) : EngineIntent;

/// <summary>Emit an outbound event to subscriptions (API.md event names, e.g. <c>stage.activated</c>).</summary>
/// <param name="EventType">The event name.</param>
/// <param name="StageId">The stage it concerns, if any.</param>
/// <param name="Users">Users it concerns (e.g. the resolved approvers of an activated stage).</param>
/// <param name="IdempotencyKey">Stable for this emission.</param>
public sealed record EmitEvent(string EventType, string? StageId, IReadOnlyList<string> Users, string IdempotencyKey) : EngineIntent;
