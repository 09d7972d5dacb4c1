using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Api;

/// <summary>How a command ended.</summary>
public enum CommandStatus
{
    /// <summary>Applied and committed; <see cref="CommandResult.State"/> is the new state.</summary>
    Applied,

    /// <summary>Accepted for asynchronous application (Durable Functions); the state shown is the one checked.</summary>
    Accepted,

    /// <summary>No such request in the caller's tenant.</summary>
    NotFound,

    /// <summary>The engine refused it; nothing changed.</summary>
    Refused,
}

/// <summary>The answer to a command.</summary>
public sealed record CommandResult(CommandStatus Status, ApprovalState? State, Refusal? Refusal = null)
{
    /// <summary>Not found.</summary>
    public static readonly CommandResult NotFound = new(CommandStatus.NotFound, null);
}

/// <summary>
/// The one thing that differs between hosts: how an event reaches a request. The local host applies it
/// synchronously through its durable runner; the Functions host checks it against the stored state and
/// raises it to the request's orchestration. Every approval rule stays in the engine.
/// </summary>
public interface IApprovalCommands
{
    /// <summary>Submits a new request.</summary>
    Task<CommandResult> SubmitAsync(Submitted submitted, CancellationToken cancellationToken);

    /// <summary>Applies an event to an existing request of <paramref name="tenantId"/>.</summary>
    Task<CommandResult> ApplyAsync(string tenantId, string requestId, ApprovalEvent evt, CancellationToken cancellationToken);
}
