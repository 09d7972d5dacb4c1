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
/// <param name="Round">Admin retries before this delivery (<see cref="State.CallbackState.Round"/>): a failure reported
/// from an earlier round's attempt is ignored.</param>
public sealed record DeliverCallback(string Outcome, string IdempotencyKey, int Round = 0) : EngineIntent;

/// <summary>Emit an outbound event to subscriptions (API.md event names, e.g. <c>stage.activated</c>).</summary>
/// <remarks>
/// The engine emits several events per decision and most tenants subscribe to few of them, so it does not build the
/// idempotency key up front: it keeps the parts (request, iteration, ledger position) and <see cref="IdempotencyKey"/>
/// formats them when a host asks (read it once per emission). Equality compares the key's value, however it was made.
/// </remarks>
public sealed record EmitEvent : EngineIntent
{
    private readonly string? _key;
    private readonly string? _requestId;
    private readonly int _iteration;
    private readonly long _position;

    /// <summary>An emission with a given key (deserialization, tests, hosts).</summary>
    /// <param name="eventType">The event name.</param>
    /// <param name="stageId">The stage it concerns, if any.</param>
    /// <param name="users">Users it concerns (e.g. the resolved approvers of an activated stage).</param>
    /// <param name="idempotencyKey">Stable for this emission.</param>
    [System.Text.Json.Serialization.JsonConstructor]
    public EmitEvent(string eventType, string? stageId, IReadOnlyList<string> users, string idempotencyKey)
    {
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        EventType = eventType;
        StageId = stageId;
        Users = users;
        _key = idempotencyKey;
    }

    /// <summary>The engine's emission: key <c>{requestId}:{iteration}:{eventType}:{stageId}:{position}</c>, formatted on demand.</summary>
    internal EmitEvent(string eventType, string? stageId, IReadOnlyList<string> users, string requestId, int iteration, long position)
    {
        EventType = eventType;
        StageId = stageId;
        Users = users;
        _requestId = requestId;
        _iteration = iteration;
        _position = position;
    }

    /// <summary>The event name.</summary>
    public string EventType { get; }

    /// <summary>The stage it concerns, if any.</summary>
    public string? StageId { get; }

    /// <summary>Users it concerns (e.g. the resolved approvers of an activated stage).</summary>
    public IReadOnlyList<string> Users { get; }

    /// <summary>Stable for this emission: the same request, iteration, event, stage and ledger position give the same key.</summary>
    public string IdempotencyKey => _key ?? Key(_requestId!, _iteration, EventType, StageId, _position);

    /// <summary>The key format, in one place.</summary>
    internal static string Key(string requestId, int iteration, string eventType, string? stageId, long position) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{requestId}:{iteration}:{eventType}:{stageId}:{position}");

    /// <inheritdoc/>
    public bool Equals(EmitEvent? other) =>
        other is not null && EventType == other.EventType && StageId == other.StageId && ReferenceEquals(Users, other.Users)
        && IdempotencyKey == other.IdempotencyKey;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(EventType, StageId, Users, IdempotencyKey);
}
