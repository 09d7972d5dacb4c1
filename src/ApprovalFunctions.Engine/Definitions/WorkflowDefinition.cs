using ApprovalFunctions.Engine.Rules;

namespace ApprovalFunctions.Engine.Definitions;

/// <summary>
/// One published, immutable version of a workflow. A running request keeps the version it started with.
/// </summary>
public sealed record WorkflowDefinition
{
    /// <summary>The tenant that owns the workflow.</summary>
    public required string TenantId { get; init; }

    /// <summary>The workflow id from the route (<c>PUT /api/v1/workflows/{workflowId}</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The version number, starting at 1; assigned by the store at publish time.</summary>
    public int Version { get; init; } = 1;

    /// <summary>Human-readable name.</summary>
    public required string Name { get; init; }

    /// <summary>The record model this workflow applies to, e.g. <c>account.move</c>.</summary>
    public required string Model { get; init; }

    /// <summary>The record event this workflow applies to, e.g. <c>create</c>.</summary>
    public required string Event { get; init; }

    /// <summary>JSON Logic over <c>{record, requester, context}</c>; null means always applies.</summary>
    public Rule? Condition { get; init; }

    /// <summary>Among matching active workflows, the highest priority wins.</summary>
    public int Priority { get; init; }

    /// <summary>How long a request may stay open before it expires; null means never.</summary>
    public TimeSpan? ExpiresIn { get; init; }

    /// <summary>When false (the default), the requester and the request's subjects can never approve.</summary>
    public bool AllowSelfApproval { get; init; }

    /// <summary>Where and how the final outcome is delivered; null means no callback.</summary>
    public CallbackDefinition? Callback { get; init; }

    /// <summary>The stages; at least one.</summary>
    public required IReadOnlyList<StageDefinition> Stages { get; init; }

    /// <summary>False once deactivated (<c>DELETE</c>); inactive versions are never selected.</summary>
    public bool Active { get; init; } = true;

    /// <summary>When this version was published.</summary>
    public DateTimeOffset PublishedAt { get; init; }

    /// <summary>Finds a stage by id, or null.</summary>
    public StageDefinition? FindStage(string stageId)
    {
        for (var i = 0; i < Stages.Count; i++)
        {
            if (string.Equals(Stages[i].Id, stageId, StringComparison.Ordinal))
            {
                return Stages[i];
            }
        }

        return null;
    }
}

/// <summary>The callback that applies the change once the outcome is final.</summary>
public sealed record CallbackDefinition
{
    /// <summary>The absolute http(s) URL that receives the signed POST.</summary>
    public required Uri Url { get; init; }

    /// <summary>The outcomes delivered: any of <c>approved</c>, <c>rejected</c>, <c>expired</c>, <c>cancelled</c>.</summary>
    public required IReadOnlyList<string> Events { get; init; }

    /// <summary>The HMAC-SHA256 secret; write-only in the API, never returned.</summary>
    public string? Secret { get; init; }

    /// <summary>Delivery attempts before the callback is marked failed.</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>The first retry delay; later ones grow exponentially with jitter.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest delay between two attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>One stage: who approves, how many must, and what happens on time.</summary>
public sealed record StageDefinition
{
    /// <summary>Unique within the workflow.</summary>
    public required string Id { get; init; }

    /// <summary>Display name; defaults to the id.</summary>
    public string? Name { get; init; }

    /// <summary>Stages run in ascending order; stages with the same order run in parallel.</summary>
    public int Order { get; init; } = 1;

    /// <summary>JSON Logic; when it is false the stage is skipped.</summary>
    public Rule? Condition { get; init; }

    /// <summary>Who may approve; at least one entry.</summary>
    public required IReadOnlyList<ApproverSpec> Approvers { get; init; }

    /// <summary>How many approvals close the stage.</summary>
    public ConsensusSpec Consensus { get; init; } = ConsensusSpec.Any;

    /// <summary>How rejections close the stage.</summary>
    public RejectionStyle Rejection { get; init; } = RejectionStyle.Veto;

    /// <summary>Repeat a reminder to the pending approvers at this interval.</summary>
    public TimeSpan? ReminderEvery { get; init; }

    /// <summary>Escalation levels, each firing once, in ascending <see cref="EscalationLevel.After"/>.</summary>
    public IReadOnlyList<EscalationLevel> Escalation { get; init; } = [];

    /// <summary>What happens when the stage is open too long.</summary>
    public StageTimeout? Timeout { get; init; }

    /// <summary>The message recorded when the stage is rejected.</summary>
    public string? DenialMessage { get; init; }
}

/// <summary>An approver source, resolved against the directory when the stage activates.</summary>
public sealed record ApproverSpec
{
    /// <summary>The kind of source.</summary>
    public required ApproverType Type { get; init; }

    /// <summary>The user or group id, for <see cref="ApproverType.User"/> and <see cref="ApproverType.Group"/>.</summary>
    public string? Id { get; init; }

    /// <summary>For <see cref="ApproverType.Manager"/>: how many levels above the requester (1 = direct manager).</summary>
    public int Levels { get; init; } = 1;

    /// <summary>For <see cref="ApproverType.Field"/>: JSON Logic returning a user id or a list of them.</summary>
    public Rule? Expr { get; init; }
}

/// <summary>The kinds of approver source in API.md.</summary>
public enum ApproverType
{
    /// <summary>One named user.</summary>
    User,

    /// <summary>Every member of a group.</summary>
    Group,

    /// <summary>The requester's manager N levels up.</summary>
    Manager,

    /// <summary>The manager of the requester's department.</summary>
    DepartmentManager,

    /// <summary>User ids computed from the record by a JSON Logic expression.</summary>
    Field,
}

/// <summary>The consensus rule of a stage.</summary>
public sealed record ConsensusSpec
{
    /// <summary>One approval closes the stage.</summary>
    public static readonly ConsensusSpec Any = new() { Mode = ConsensusMode.Any };

    /// <summary>The mode.</summary>
    public required ConsensusMode Mode { get; init; }

    /// <summary>For <see cref="ConsensusMode.Count"/>.</summary>
    public int? Count { get; init; }

    /// <summary>For <see cref="ConsensusMode.Percent"/>: 1..100 of the resolved approvers, rounded up.</summary>
    public int? Percent { get; init; }

    /// <summary>For <see cref="ConsensusMode.Groups"/>: every group must be covered by a distinct approver.</summary>
    public IReadOnlyList<string>? Groups { get; init; }
}

/// <summary>Consensus modes from API.md.</summary>
public enum ConsensusMode
{
    /// <summary>One approval.</summary>
    Any,

    /// <summary>Every resolved approver.</summary>
    All,

    /// <summary>A fixed number of approvals.</summary>
    Count,

    /// <summary>More than half of the resolved approvers.</summary>
    Majority,

    /// <summary>A percentage of the resolved approvers, rounded up.</summary>
    Percent,

    /// <summary>Every listed group covered by a distinct approver.</summary>
    Groups,
}

/// <summary>How rejections close a stage.</summary>
public enum RejectionStyle
{
    /// <summary>One rejection rejects the stage.</summary>
    Veto,

    /// <summary>The stage is rejected only once approval can no longer be reached.</summary>
    Quorum,
}

/// <summary>One escalation level: after a delay, more approvers are added to the stage.</summary>
public sealed record EscalationLevel
{
    /// <summary>Delay from stage activation.</summary>
    public required TimeSpan After { get; init; }

    /// <summary>The approvers added at this level.</summary>
    public required IReadOnlyList<ApproverSpec> Approvers { get; init; }
}

/// <summary>A stage timeout.</summary>
public sealed record StageTimeout
{
    /// <summary>Delay from stage activation.</summary>
    public required TimeSpan After { get; init; }

    /// <summary>What the timeout does. Nothing is ever approved by a timer.</summary>
    public required TimeoutAction Action { get; init; }
}

/// <summary>Stage timeout actions.</summary>
public enum TimeoutAction
{
    /// <summary>The stage, and so the request, is rejected.</summary>
    Reject,

    /// <summary>The stage, and so the request, expires.</summary>
    Expire,
}
