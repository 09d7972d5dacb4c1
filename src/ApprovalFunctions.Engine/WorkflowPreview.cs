using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Stages;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine;

/// <summary>The input of a dry run (<c>POST /api/v1/workflows/preview</c>).</summary>
public sealed record PreviewInput
{
    /// <summary>The tenant (from the token).</summary>
    public required string TenantId { get; init; }

    /// <summary>The record model.</summary>
    public required string Model { get; init; }

    /// <summary>The record event.</summary>
    public required string Event { get; init; }

    /// <summary>The proposed record.</summary>
    public JsonElement Record { get; init; }

    /// <summary>The would-be requester.</summary>
    public required string Requester { get; init; }

    /// <summary>Users the request would be about.</summary>
    public IReadOnlyList<string> Subjects { get; init; } = [];

    /// <summary>Free-form context.</summary>
    public JsonElement? Context { get; init; }
}

/// <summary>What one stage would do.</summary>
/// <param name="Id">The stage id.</param>
/// <param name="Name">Display name.</param>
/// <param name="Order">Its order (stages of one order run in parallel).</param>
/// <param name="Skipped">True when its condition is false.</param>
/// <param name="SkipReason">Why it is skipped.</param>
/// <param name="Approvers">Who could approve it now (sorted; requester and subjects excluded unless self-approval is allowed).</param>
/// <param name="Excluded">People excluded by the self-approval guard.</param>
/// <param name="Required">Approvals it would need.</param>
/// <param name="Unassignable">True when the approvers cannot reach <paramref name="Required"/>.</param>
/// <param name="Note">Why it is unassignable, or a rule failure.</param>
public sealed record PreviewStage(
    string Id,
    string Name,
    int Order,
    bool Skipped,
    string? SkipReason,
    IReadOnlyList<string> Approvers,
    IReadOnlyList<string> Excluded,
    int Required,
    bool Unassignable,
    string? Note);

/// <summary>The answer of a dry run.</summary>
/// <param name="Status"><see cref="RequestStatus.Pending"/> when a workflow applies, <see cref="RequestStatus.NotRequired"/>, or <see cref="RequestStatus.Quarantined"/>.</param>
/// <param name="Workflow">The workflow version that applies, if any.</param>
/// <param name="WorkflowName">Its name.</param>
/// <param name="Explanation">Why this workflow (or none).</param>
/// <param name="QuarantineReason">The rule failure, when quarantined.</param>
/// <param name="Candidates">Every candidate considered, highest priority first, with its outcome.</param>
/// <param name="Stages">Every stage of the chosen workflow in definition order.</param>
public sealed record PreviewResult(
    RequestStatus Status,
    WorkflowRef? Workflow,
    string? WorkflowName,
    string Explanation,
    string? QuarantineReason,
    IReadOnlyList<CandidateEvaluation> Candidates,
    IReadOnlyList<PreviewStage> Stages);

/// <summary>
/// A dry run: which workflow applies (and which candidates' conditions held or failed, by
/// priority), which stages run or are skipped and why, and who the approvers are. Pure: it writes
/// nothing and uses exactly the selection, condition and resolution code a real submission uses.
/// Approvers of later orders are resolved as of the preview; the
/// real request resolves them when their order activates.
/// </summary>
public static class WorkflowPreview
{
    /// <summary>Runs the preview.</summary>
    public static PreviewResult Run(PreviewInput input, IReadOnlyList<WorkflowDefinition> candidates, DirectorySnapshot directory, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(directory);
        _ = now; // Resolution does not depend on time today; the parameter keeps the seam for time-bound directory data.
        var tenantCandidates = new List<WorkflowDefinition>();
        foreach (var candidate in candidates)
        {
            if (string.Equals(candidate.TenantId, input.TenantId, StringComparison.Ordinal))
            {
                tenantCandidates.Add(candidate);
            }
        }

        var ruleData = RuleData.Build(input.Record, input.Requester, directory, input.Context);
        var selection = WorkflowSelector.Select(tenantCandidates, input.Model, input.Event, ruleData);
        var explained = ExplainAll(selection.Candidates, tenantCandidates, ruleData);
        switch (selection)
        {
            case Selected selected:
            {
                var definition = selected.Definition;
                var stages = new List<PreviewStage>(definition.Stages.Count);
                foreach (var stage in definition.Stages)
                {
                    stages.Add(PreviewOne(stage, definition, input, directory, ruleData));
                }

                return new PreviewResult(RequestStatus.Pending, new WorkflowRef(definition.Id, definition.Version), definition.Name,
                    selection.Explanation, null, explained, stages);
            }

            case Quarantined quarantined:
                return new PreviewResult(RequestStatus.Quarantined, null, null, selection.Explanation, quarantined.Reason, explained, []);
            default:
                return new PreviewResult(RequestStatus.NotRequired, null, null, selection.Explanation, null, explained, []);
        }
    }

    /// <summary>
    /// Selection stops at the winner; a preview also answers "would the others have matched?", so
    /// candidates the selector did not evaluate are evaluated here (held → <see cref="CandidateOutcome.Outranked"/>).
    /// </summary>
    private static List<CandidateEvaluation> ExplainAll(IReadOnlyList<CandidateEvaluation> evaluations, List<WorkflowDefinition> definitions, JsonElement ruleData)
    {
        var result = new List<CandidateEvaluation>(evaluations.Count);
        foreach (var evaluation in evaluations)
        {
            if (evaluation.Outcome != CandidateOutcome.NotEvaluated)
            {
                result.Add(evaluation);
                continue;
            }

            var definition = definitions.Find(d => d.Id == evaluation.WorkflowId && d.Version == evaluation.Version);
            if (definition?.Condition is not { } condition)
            {
                result.Add(evaluation with { Outcome = CandidateOutcome.Outranked, Detail = "no condition; a higher-priority workflow won" });
                continue;
            }

            var outcome = condition.Evaluate(ruleData);
            result.Add(!outcome.Succeeded
                ? evaluation with { Outcome = CandidateOutcome.RuleFailed, Detail = outcome.Error }
                : outcome.IsTruthy
                    ? evaluation with { Outcome = CandidateOutcome.Outranked, Detail = "condition holds; a higher-priority workflow won" }
                    : evaluation with { Outcome = CandidateOutcome.ConditionFalse, Detail = "condition is false" });
        }

        return result;
    }

    private static PreviewStage PreviewOne(StageDefinition stage, WorkflowDefinition definition, PreviewInput input, DirectorySnapshot directory, JsonElement ruleData)
    {
        var name = stage.Name ?? stage.Id;
        if (stage.Condition is { } condition)
        {
            var outcome = condition.Evaluate(ruleData);
            if (!outcome.Succeeded)
            {
                return new PreviewStage(stage.Id, name, stage.Order, false, null, [], [], 0, true,
                    "the stage condition failed to evaluate (the request would be quarantined): " + outcome.Error);
            }

            if (!outcome.IsTruthy)
            {
                return new PreviewStage(stage.Id, name, stage.Order, true, "condition is false", [], [], 0, false, null);
            }
        }

        var resolution = ApproverResolver.Resolve(stage.Approvers, input.Requester, input.Subjects, definition.AllowSelfApproval, directory, new BuiltRuleData(ruleData));
        if (resolution.Error is not null)
        {
            return new PreviewStage(stage.Id, name, stage.Order, false, null, [], [], 0, true,
                resolution.Error + " (the request would be quarantined)");
        }

        var required = Consensus.Required(stage.Consensus, resolution.Approvers.Count);
        var note = Consensus.UnassignableReason(resolution.Approvers, required, stage, directory);
        return new PreviewStage(stage.Id, name, stage.Order, false, null, resolution.Approvers, resolution.Excluded, required, note is not null, note);
    }
}
