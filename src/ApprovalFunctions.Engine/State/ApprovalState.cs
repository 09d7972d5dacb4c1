using System.Text.Json;
using ApprovalFunctions.Engine.Ledger;

namespace ApprovalFunctions.Engine.State;

/// <summary>The lifecycle status of a request (API.md <c>status</c>).</summary>
public enum RequestStatus
{
    /// <summary>Waiting on approvers.</summary>
    Pending,

    /// <summary>An approver asked for changes; the requester may resubmit.</summary>
    ChangesRequested,

    /// <summary>Final: approved.</summary>
    Approved,

    /// <summary>Final unless resubmitted: rejected.</summary>
    Rejected,

    /// <summary>Final: expired by a timer.</summary>
    Expired,

    /// <summary>Final: cancelled by the requester or an admin.</summary>
    Cancelled,

    /// <summary>Final: could not be routed (e.g. a rule failed); see the quarantine reason.</summary>
    Quarantined,

    /// <summary>No workflow applies; nothing to approve.</summary>
    NotRequired,
}

/// <summary>The status of one stage (API.md stage <c>status</c>).</summary>
public enum StageStatus
{
    /// <summary>A later order; not active yet.</summary>
    Waiting,

    /// <summary>Active: accepting decisions.</summary>
    Pending,

    /// <summary>Closed: approved.</summary>
    Approved,

    /// <summary>Closed: rejected.</summary>
    Rejected,

    /// <summary>Closed: expired by its timeout.</summary>
    Expired,

    /// <summary>Its condition was false.</summary>
    Skipped,

    /// <summary>Closed because the request closed another way.</summary>
    Cancelled,
}

/// <summary>The state of the outcome callback (API.md callback <c>status</c>).</summary>
public enum CallbackStatus
{
    /// <summary>No callback configured for this outcome, or no outcome yet.</summary>
    None,

    /// <summary>Being delivered.</summary>
    Pending,

    /// <summary>Acknowledged with a 2xx.</summary>
    Delivered,

    /// <summary>The retry policy gave up; an admin may retry.</summary>
    Failed,
}

/// <summary>A decision an approver can make.</summary>
public enum DecisionKind
{
    /// <summary>Approve the stage.</summary>
    Approve,

    /// <summary>Reject the stage.</summary>
    Reject,

    /// <summary>Send the request back to the requester for changes.</summary>
    RequestChanges,

    /// <summary>A comment; changes no state.</summary>
    Comment,
}

/// <summary>Which workflow version a request runs.</summary>
public sealed record WorkflowRef(string Id, int Version);

/// <summary>
/// The whole state of one approval request. Immutable: the engine returns a new one per event.
/// </summary>
public sealed record ApprovalState
{
    /// <summary>The owning tenant.</summary>
    public required string TenantId { get; init; }

    /// <summary>The request id (also the orchestration instance id in the Functions host).</summary>
    public required string Id { get; init; }

    /// <summary>The lifecycle status.</summary>
    public RequestStatus Status { get; init; }

    /// <summary>The record model.</summary>
    public required string Model { get; init; }

    /// <summary>The client's record id.</summary>
    public required string RecordId { get; init; }

    /// <summary>The record event (e.g. <c>create</c>).</summary>
    public required string Event { get; init; }

    /// <summary>Display title.</summary>
    public string? Title { get; init; }

    /// <summary>Display description.</summary>
    public string? Description { get; init; }

    /// <summary>The requesting user (from the verified token).</summary>
    public required string Requester { get; init; }

    /// <summary>Users the request is about; they can never approve it.</summary>
    public IReadOnlyList<string> Subjects { get; init; } = [];

    /// <summary>The proposed record (current iteration).</summary>
    public JsonElement Record { get; init; }

    /// <summary>Free-form context from the client.</summary>
    public JsonElement? Context { get; init; }

    /// <summary>The workflow version this request runs; null when not required or quarantined before selection.</summary>
    public WorkflowRef? Workflow { get; init; }

    /// <summary>Starts at 1; each resubmission starts a new iteration.</summary>
    public int Iteration { get; init; } = 1;

    private readonly long _createdAt;

    /// <summary>When the request was submitted.</summary>
    public DateTimeOffset CreatedAt { get => new(_createdAt, TimeSpan.Zero); init => _createdAt = value.UtcTicks; }

    private readonly long _updatedAt;

    /// <summary>When the last event was applied.</summary>
    public DateTimeOffset UpdatedAt { get => new(_updatedAt, TimeSpan.Zero); init => _updatedAt = value.UtcTicks; }

    private readonly long _decidedAt;

    /// <summary>When the outcome became final (or changes were requested).</summary>
    public DateTimeOffset? DecidedAt { get => Instants.Unpack(_decidedAt); init => _decidedAt = Instants.Pack(value); }

    private readonly long _expiresAt;

    /// <summary>When the request expires.</summary>
    public DateTimeOffset? ExpiresAt { get => Instants.Unpack(_expiresAt); init => _expiresAt = Instants.Pack(value); }

    /// <summary>The stages of the current iteration, in definition order.</summary>
    public IReadOnlyList<StageState> Stages { get; init; } = [];

    /// <summary>The outcome callback.</summary>
    public CallbackState Callback { get; init; } = CallbackState.NotConfigured;

    /// <summary>Why the request was quarantined.</summary>
    public string? QuarantineReason { get; init; }

    /// <summary>Earlier iterations, oldest first (rework keeps history).</summary>
    public IReadOnlyList<IterationSummary> PreviousIterations { get; init; } = [];

    /// <summary>The number of ledger entries so far.</summary>
    public long LedgerLength { get; init; }

    /// <summary>The hash of the last ledger entry (the chain head).</summary>
    public LedgerHash LedgerHead { get; init; } = LedgerHash.None;

    /// <summary>Ids of recently applied events, newest last, so redelivered events are ignored.</summary>
    public IReadOnlyList<string> RecentEventIds { get; init; } = [];

    /// <summary>True when the request can no longer receive decisions (anything but <see cref="RequestStatus.Pending"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsClosed => Status is not (RequestStatus.Pending);
}

/// <summary>The state of one stage in the current iteration.</summary>
public sealed record StageState
{
    /// <summary>The stage id from the definition.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public string? Name { get; init; }

    /// <summary>The stage's order.</summary>
    public int Order { get; init; }

    /// <summary>The status.</summary>
    public StageStatus Status { get; init; }

    /// <summary>The resolved approvers, sorted. Empty on an active stage means nobody can approve it (visible, not silent).</summary>
    public IReadOnlyList<string> Approvers { get; init; } = [];

    /// <summary>
    /// How many approvals the stage needs, fixed at activation from the consensus mode and the number
    /// of eligible approvers N: any = 1, all = N, count = the count, majority = floor(N/2)+1,
    /// percent = ceil(N·p/100), groups = the number of listed groups. Escalation and reassignment
    /// change who may approve, not this number.
    /// </summary>
    public int Required { get; init; }

    /// <summary>How many approvals are still needed.</summary>
    public int Remaining { get; init; }

    /// <summary>How many escalation levels have fired.</summary>
    public int EscalationLevel { get; init; }

    /// <summary>Decisions and comments, oldest first.</summary>
    public IReadOnlyList<StageResponse> Responses { get; init; } = [];

    private readonly long _activatedAt;

    /// <summary>When the stage became active.</summary>
    public DateTimeOffset? ActivatedAt { get => Instants.Unpack(_activatedAt); init => _activatedAt = Instants.Pack(value); }

    private readonly long _dueAt;

    /// <summary>When the stage times out, if it has a timeout.</summary>
    public DateTimeOffset? DueAt { get => Instants.Unpack(_dueAt); init => _dueAt = Instants.Pack(value); }

    private readonly long _nextReminderAt;

    /// <summary>When the next reminder fires.</summary>
    public DateTimeOffset? NextReminderAt { get => Instants.Unpack(_nextReminderAt); init => _nextReminderAt = Instants.Pack(value); }

    /// <summary>How many reminders have fired.</summary>
    public int RemindersSent { get; init; }

    private readonly long _closedAt;

    /// <summary>When the stage closed.</summary>
    public DateTimeOffset? ClosedAt { get => Instants.Unpack(_closedAt); init => _closedAt = Instants.Pack(value); }

    /// <summary>Why the stage is skipped, cannot be approved, or closed the way it did.</summary>
    public string? Note { get; init; }

    /// <summary>
    /// True while the stage is active but its eligible approvers cannot reach <see cref="Required"/>
    /// (nobody resolved, or fewer people than needed). It stays pending, visibly, so an admin can
    /// reassign or cancel; an escalation or reassignment that makes it reachable clears the flag.
    /// </summary>
    public bool Unassignable { get; init; }
}

/// <summary>One response on a stage.</summary>
public sealed record StageResponse(
    string User,
    DecisionKind Decision,
    string? Comment,
    string? OnBehalfOf,
    DateTimeOffset At)
{
    private readonly long _at = At.UtcTicks;

    /// <summary>When it was given, with offset zero (kept as UTC ticks, see <see cref="Instants"/>).</summary>
    public DateTimeOffset At { get => new(_at, TimeSpan.Zero); init => _at = value.UtcTicks; }
}

/// <summary>The state of the outcome callback.</summary>
public sealed record CallbackState
{
    /// <summary>No callback.</summary>
    public static readonly CallbackState NotConfigured = new();

    /// <summary>The status.</summary>
    public CallbackStatus Status { get; init; }

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; init; }

    /// <summary>The last failure.</summary>
    public string? LastError { get; init; }

    /// <summary>The outcome being delivered (<c>approved</c>, <c>rejected</c>, ...).</summary>
    public string? Outcome { get; init; }

    /// <summary>Stable across retries of the same delivery.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>
    /// Admin retries so far (0 for the first delivery). A failure counts only in the round its attempt belonged to, so a
    /// give-up reported late by an attempt from before a retry cannot mark the retried callback failed.
    /// </summary>
    public int Round { get; init; }

    private readonly long _lastAttemptAt;

    /// <summary>When the last attempt was made.</summary>
    public DateTimeOffset? LastAttemptAt { get => Instants.Unpack(_lastAttemptAt); init => _lastAttemptAt = Instants.Pack(value); }

    private readonly long _deliveredAt;

    /// <summary>When it was acknowledged.</summary>
    public DateTimeOffset? DeliveredAt { get => Instants.Unpack(_deliveredAt); init => _deliveredAt = Instants.Pack(value); }
}

/// <summary>What an earlier iteration looked like when it ended.</summary>
public sealed record IterationSummary(
    int Iteration,
    RequestStatus Outcome,
    JsonElement Record,
    IReadOnlyList<StageState> Stages,
    DateTimeOffset EndedAt);
