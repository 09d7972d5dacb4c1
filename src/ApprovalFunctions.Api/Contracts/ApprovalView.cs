using System.Text.Json;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Api.Contracts;

/// <summary>A request as every read returns it (API.md "A request").</summary>
public sealed record ApprovalView(
    string Id,
    RequestStatus Status,
    string Model,
    string RecordId,
    string Event,
    string? Title,
    string? Description,
    string Requester,
    IReadOnlyList<string> Subjects,
    WorkflowRefView? Workflow,
    int Iteration,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DecidedAt,
    DateTimeOffset? ExpiresAt,
    IReadOnlyList<StageView> Stages,
    CallbackView Callback,
    JsonElement Record,
    JsonElement? Context,
    string? QuarantineReason,
    string LedgerHead,
    IReadOnlyList<IterationView> PreviousIterations)
{
    /// <summary>Maps engine state to the wire shape.</summary>
    public static ApprovalView From(ApprovalState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new(
            state.Id, state.Status, state.Model, state.RecordId, state.Event, state.Title, state.Description,
            state.Requester, state.Subjects,
            state.Workflow is null ? null : new WorkflowRefView(state.Workflow.Id, state.Workflow.Version),
            state.Iteration, state.CreatedAt, state.DecidedAt, state.ExpiresAt,
            [.. state.Stages.Select(StageView.From)],
            new CallbackView(state.Callback.Status, state.Callback.Attempts, state.Callback.LastError, state.Callback.Outcome,
                state.Callback.LastAttemptAt, state.Callback.DeliveredAt),
            state.Record, state.Context, state.QuarantineReason, state.LedgerHead.ToString(),
            [.. state.PreviousIterations.Select(i => new IterationView(i.Iteration, i.Outcome, i.Record,
                [.. i.Stages.Select(StageView.From)], i.EndedAt))]);
    }
}

/// <summary>Which workflow version a request runs.</summary>
public sealed record WorkflowRefView(string Id, int Version);

/// <summary>One stage on the wire.</summary>
public sealed record StageView(
    string Id,
    string? Name,
    int Order,
    StageStatus Status,
    IReadOnlyList<string> Approvers,
    int Required,
    int Remaining,
    int EscalationLevel,
    DateTimeOffset? ActivatedAt,
    DateTimeOffset? DueAt,
    string? Note,
    IReadOnlyList<ResponseView> Responses)
{
    /// <summary>Maps a stage.</summary>
    public static StageView From(StageState stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        return new(stage.Id, stage.Name ?? stage.Id, stage.Order, stage.Status, stage.Approvers, stage.Required, stage.Remaining,
            stage.EscalationLevel, stage.ActivatedAt, stage.DueAt, stage.Note,
            [.. stage.Responses.Select(r => new ResponseView(r.User, r.Decision, r.Comment, r.OnBehalfOf, r.At))]);
    }
}

/// <summary>One response on the wire.</summary>
public sealed record ResponseView(string User, DecisionKind Decision, string? Comment, string? OnBehalfOf, DateTimeOffset At);

/// <summary>The callback on the wire.</summary>
public sealed record CallbackView(
    CallbackStatus Status, int Attempts, string? LastError, string? Outcome, DateTimeOffset? LastAttemptAt, DateTimeOffset? DeliveredAt);

/// <summary>An earlier iteration on the wire.</summary>
public sealed record IterationView(int Iteration, RequestStatus Outcome, JsonElement Record, IReadOnlyList<StageView> Stages, DateTimeOffset EndedAt);

/// <summary>A page of a list.</summary>
public sealed record PageView<T>(IReadOnlyList<T> Items, string? ContinuationToken);
