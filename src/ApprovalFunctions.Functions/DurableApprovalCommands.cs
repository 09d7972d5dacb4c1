using ApprovalFunctions.Api;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Functions.Http;
using ApprovalFunctions.Functions.Orchestration;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace ApprovalFunctions.Functions;

/// <summary>A stored request with what the engine needs to judge an event against it.</summary>
/// <param name="State">The committed state.</param>
/// <param name="Definition">The workflow version it runs; null when it runs none (not required, quarantined).</param>
/// <param name="Directory">The tenant directory now.</param>
public sealed record StoredRequestContext(ApprovalState State, WorkflowDefinition? Definition, DirectorySnapshot Directory);

/// <summary>
/// The storage side of <see cref="DurableApprovalCommands"/>: the shared processor's submit and the reads a dry run
/// needs. An interface only so the Durable Functions logic can be tested without storage.
/// </summary>
public interface IRequestSource
{
    /// <summary>Selects the workflow and creates the request (the shared <see cref="RequestProcessor.SubmitAsync"/>).</summary>
    Task<ProcessResult> SubmitAsync(Submitted submitted, CancellationToken cancellationToken);

    /// <summary>The stored request of the tenant with its definition and directory; null when there is none.</summary>
    Task<StoredRequestContext?> LoadAsync(string tenantId, string requestId, CancellationToken cancellationToken);

    /// <summary>One workflow version; null when unknown.</summary>
    Task<WorkflowDefinition?> GetDefinitionAsync(string tenantId, WorkflowRef workflow, CancellationToken cancellationToken);
}

/// <summary>The production <see cref="IRequestSource"/>: the shared processor, store and caches.</summary>
public sealed class StoredRequestSource(RequestProcessor processor, RequestStore requests, DefinitionCache definitions, DirectoryCache directory)
    : IRequestSource
{
    /// <inheritdoc />
    public Task<ProcessResult> SubmitAsync(Submitted submitted, CancellationToken cancellationToken) =>
        processor.SubmitAsync(submitted, cancellationToken);

    /// <inheritdoc />
    public async Task<StoredRequestContext?> LoadAsync(string tenantId, string requestId, CancellationToken cancellationToken)
    {
        var stored = await requests.GetAsync(tenantId, requestId, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return null;
        }

        var definition = stored.State.Workflow is { } wf
            ? await GetDefinitionAsync(tenantId, wf, cancellationToken).ConfigureAwait(false)
            : null;
        var snapshot = await directory.GetAsync(tenantId, cancellationToken).ConfigureAwait(false);
        return new StoredRequestContext(stored.State, definition, snapshot);
    }

    /// <inheritdoc />
    public Task<WorkflowDefinition?> GetDefinitionAsync(string tenantId, WorkflowRef workflow, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workflow);
        return definitions.GetVersionAsync(tenantId, workflow.Id, workflow.Version, cancellationToken);
    }
}

/// <summary>
/// The Functions host's <see cref="IApprovalCommands"/>. A submit is processed synchronously by the shared processor
/// (so <c>notRequired</c> and <c>quarantined</c> answer at once and the new request is readable immediately) and then
/// gets its orchestration. Any other event is judged first: the engine runs as a dry run against the stored state, so a
/// caller who may not decide gets the engine's refusal (403/409/422) and nothing is raised; then the orchestration must
/// not have finished (409), because Durable Functions silently discards an event raised to a finished instance. A stored
/// open request without an orchestration (a crash right after the submit's commit) has it started first. Only then is
/// the event raised, and the answer is 202 with the state that was checked.
/// </summary>
/// <param name="requests">Storage.</param>
/// <param name="client">The current invocation's Durable Functions client (see <see cref="DurableClientScope"/>).</param>
/// <param name="time">The clock for the dry run.</param>
public sealed class DurableApprovalCommands(IRequestSource requests, Func<DurableTaskClient> client, TimeProvider time) : IApprovalCommands
{
    /// <inheritdoc />
    public async Task<CommandResult> SubmitAsync(Submitted submitted, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submitted);
        var processed = await requests.SubmitAsync(submitted, cancellationToken).ConfigureAwait(false);
        if (processed.State is not { } state)
        {
            return CommandResult.NotFound;
        }

        if (processed.Refusal is { } refusal)
        {
            return new CommandResult(CommandStatus.Refused, state, refusal);
        }

        var definition = state.Workflow is { } wf ? await requests.GetDefinitionAsync(state.TenantId, wf, cancellationToken).ConfigureAwait(false) : null;
        var snapshot = RequestSnapshot.From(state, definition);
        if (snapshot.Open)
        {
            var durable = client();
            // Scheduling over an existing instance id "may fail silently" (running) or recreate it (finished): check first.
            if (await durable.GetInstanceAsync(state.Id, false, cancellationToken).ConfigureAwait(false) is null)
            {
                await StartAsync(durable, state, snapshot,
                    processed.Status == ProcessStatus.Applied ? [.. processed.Result!.Intents.Select(StateJson.SerializeIntent)] : [], cancellationToken)
                    .ConfigureAwait(false);
            }
        }

        return new CommandResult(CommandStatus.Applied, state);
    }

    /// <inheritdoc />
    public async Task<CommandResult> ApplyAsync(string tenantId, string requestId, ApprovalEvent evt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(evt);
        var stored = await requests.LoadAsync(tenantId, requestId, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return CommandResult.NotFound;
        }

        var state = stored.State;
        if (stored.Definition is not { } definition)
        {
            // The shared processor refuses the same way: a request that runs no workflow takes no events.
            return new CommandResult(CommandStatus.Refused, state,
                new Refusal(RefusalCode.RequestClosed, "the request has no workflow (" + ApprovalEngine.StatusName(state.Status) + ")"));
        }

        // A dry run: the engine is pure, so this decides whether the caller may act without changing anything. The
        // orchestration applies the event again against the state it finds then, which is the one that counts.
        var judged = ApprovalEngine.Apply(state, evt, definition, stored.Directory, time.GetUtcNow());
        if (judged.Refusal is { } refusal)
        {
            return new CommandResult(CommandStatus.Refused, state, refusal);
        }

        var durable = client();
        var instance = await durable.GetInstanceAsync(requestId, false, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            // The request is stored but its orchestration never started: the process died between the submit's commit and
            // the start, and the client saw no 2xx. Start it now, as a retried submit would, and give it the event.
            var snapshot = RequestSnapshot.From(state, definition);
            if (!snapshot.Open)
            {
                // Defensive: the dry run accepted the event, so the request can still change; an orchestration started for
                // a request that cannot would finish at once and the event would be dropped silently.
                return new CommandResult(CommandStatus.Refused, state,
                    new Refusal(RefusalCode.RequestClosed, "the request can no longer change; it takes no more events"));
            }

            await StartAsync(durable, state, snapshot, [], cancellationToken).ConfigureAwait(false);
        }
        else if (instance.IsCompleted)
        {
            return new CommandResult(CommandStatus.Refused, state,
                new Refusal(RefusalCode.RequestClosed, "the request's orchestration has finished; it takes no more events"));
        }

        await durable.RaiseEventAsync(requestId, OrchestrationNames.EventName, StateJson.SerializeEvent(evt), cancellationToken).ConfigureAwait(false);
        return new CommandResult(CommandStatus.Accepted, state);
    }

    /// <summary>
    /// Schedules the request's orchestration (instance id = request id). An event raised right after reaches it: the
    /// instance exists from this call on and runs its events after it starts. Two callers starting the same instance at
    /// once is harmless: the second schedule over a pending or running instance "may fail silently" (docs/functions-api.md).
    /// </summary>
    private static Task StartAsync(DurableTaskClient durable, ApprovalState state, RequestSnapshot snapshot, IReadOnlyList<string> pendingIntents,
        CancellationToken cancellationToken)
    {
        var input = new OrchestratorInput
        {
            TenantId = state.TenantId,
            RequestId = state.Id,
            Snapshot = snapshot,
            PendingIntents = [.. pendingIntents],
        };
        return durable.ScheduleNewOrchestrationInstanceAsync(OrchestrationNames.Orchestrator, input, new StartOrchestrationOptions(state.Id), cancellationToken);
    }
}
