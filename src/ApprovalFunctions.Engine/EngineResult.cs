using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine;

/// <summary>
/// Why the engine refused an event. Hosts map codes to HTTP statuses (see <see cref="Refusal.HttpStatus"/>).
/// </summary>
public enum RefusalCode
{
    /// <summary>The actor is not a qualified approver of the stage (403).</summary>
    NotAnApprover,

    /// <summary>The actor may not do this (e.g. cancel someone else's request) (403).</summary>
    Forbidden,

    /// <summary>No such stage (404).</summary>
    UnknownStage,

    /// <summary>The stage is closed (approved, rejected, expired, skipped, cancelled) (409).</summary>
    StageNotActive,

    /// <summary>The request is closed (409).</summary>
    RequestClosed,

    /// <summary>The requester or a subject tried to approve (422).</summary>
    SelfApproval,

    /// <summary>The same person already voted on this stage (422).</summary>
    DuplicateVote,

    /// <summary>The action is not allowed in the request's current state (422).</summary>
    InvalidState,

    /// <summary>A required input is missing or malformed, e.g. a comment for reject (400).</summary>
    Invalid,

    /// <summary>The stage has not started yet (a later order): nobody may decide it yet (403, per API.md "only ... a stage that is active").</summary>
    StageWaiting,
}

/// <summary>A refusal: nothing changed, nothing was appended.</summary>
public sealed record Refusal(RefusalCode Code, string Message)
{
    /// <summary>The HTTP status a host answers with.</summary>
    public int HttpStatus => Code switch
    {
        RefusalCode.NotAnApprover or RefusalCode.Forbidden or RefusalCode.StageWaiting => 403,
        RefusalCode.UnknownStage => 404,
        RefusalCode.StageNotActive or RefusalCode.RequestClosed => 409,
        RefusalCode.SelfApproval or RefusalCode.DuplicateVote or RefusalCode.InvalidState => 422,
        _ => 400,
    };
}

/// <summary>The engine's answer to one event.</summary>
/// <param name="State">The new state (the old one when refused or a duplicate).</param>
/// <param name="Ledger">Entries appended, oldest first.</param>
/// <param name="Intents">Side effects to carry out after committing.</param>
/// <param name="Refusal">Set when the event was refused.</param>
/// <param name="Duplicate">True when the event id was already applied (nothing happened).</param>
public sealed record EngineResult(
    ApprovalState State,
    IReadOnlyList<LedgerEntry> Ledger,
    IReadOnlyList<EngineIntent> Intents,
    Refusal? Refusal = null,
    bool Duplicate = false)
{
    /// <summary>True when the event was applied (or was a harmless duplicate).</summary>
    public bool Accepted => Refusal is null;

    /// <summary>True when the state changed and must be persisted.</summary>
    public bool Changed => Refusal is null && !Duplicate && Ledger.Count > 0;
}
