using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;

namespace ApprovalFunctions.Engine;

/// <summary>How one candidate workflow fared during selection.</summary>
public enum CandidateOutcome
{
    /// <summary>Its condition held (or it has none): it was chosen, being the highest-priority match.</summary>
    Selected,

    /// <summary>Its condition was evaluated and is false.</summary>
    ConditionFalse,

    /// <summary>Its condition could not be evaluated (the request is quarantined).</summary>
    RuleFailed,

    /// <summary>A higher-priority candidate was chosen (or failed) first, so this one was not evaluated.</summary>
    NotEvaluated,

    /// <summary>Preview only: its condition holds too, but a higher-priority candidate won.</summary>
    Outranked,
}

/// <summary>One candidate's evaluation, in the order they were considered (highest priority first).</summary>
/// <param name="WorkflowId">The workflow id.</param>
/// <param name="Version">The version considered.</param>
/// <param name="Priority">Its priority.</param>
/// <param name="Outcome">What happened.</param>
/// <param name="Detail">Why (e.g. the rule error), or null.</param>
public sealed record CandidateEvaluation(string WorkflowId, int Version, int Priority, CandidateOutcome Outcome, string? Detail);

/// <summary>The result of <see cref="WorkflowSelector.Select"/>: <see cref="Selected"/>, <see cref="NotRequired"/> or <see cref="Quarantined"/>.</summary>
public abstract record Selection
{
    /// <summary>The active candidates for the model and event, highest priority first, with what happened to each.</summary>
    public required IReadOnlyList<CandidateEvaluation> Candidates { get; init; }

    /// <summary>A one-line human explanation.</summary>
    public required string Explanation { get; init; }
}

/// <summary>A workflow applies.</summary>
public sealed record Selected : Selection
{
    /// <summary>The chosen definition version.</summary>
    public required WorkflowDefinition Definition { get; init; }
}

/// <summary>No active workflow for the model and event has a condition that holds: nothing to approve.</summary>
public sealed record NotRequired : Selection;

/// <summary>A condition could not be evaluated; the request is quarantined rather than routed by guesswork.</summary>
public sealed record Quarantined : Selection
{
    /// <summary>The reason (which workflow, which rule error).</summary>
    public required string Reason { get; init; }
}

/// <summary>
/// Picks the workflow for a submission: among <em>active</em> definitions for the model and event
/// whose condition holds, the highest priority wins (ties: lower workflow id first, ordinal); a
/// definition without a condition always holds, which is how an unconstrained low-priority
/// definition acts as the fallback. When a workflow id appears in several versions, only its highest
/// version is considered. Candidates are evaluated in priority order and evaluation stops at the
/// first match, so a broken rule below the winner does not matter; a rule that fails to evaluate
/// <em>above</em> any match quarantines the request, because skipping it could route the request to
/// a weaker workflow than the tenant intended.
/// </summary>
public static class WorkflowSelector
{
    /// <summary>Selects the workflow. Never throws for bad rules.</summary>
    /// <param name="candidates">The tenant's definitions (any model, event, activity).</param>
    /// <param name="model">The record model.</param>
    /// <param name="event">The record event.</param>
    /// <param name="ruleData">The data conditions are evaluated against (see <see cref="RuleData.Build"/>).</param>
    public static Selection Select(IReadOnlyList<WorkflowDefinition> candidates, string model, string @event, JsonElement ruleData)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var eligible = new List<WorkflowDefinition>();
        foreach (var candidate in candidates)
        {
            if (!candidate.Active
                || !string.Equals(candidate.Model, model, StringComparison.Ordinal)
                || !string.Equals(candidate.Event, @event, StringComparison.Ordinal))
            {
                continue;
            }

            var replaced = false;
            for (var i = 0; i < eligible.Count; i++)
            {
                if (string.Equals(eligible[i].Id, candidate.Id, StringComparison.Ordinal))
                {
                    if (candidate.Version > eligible[i].Version)
                    {
                        eligible[i] = candidate;
                    }

                    replaced = true;
                    break;
                }
            }

            if (!replaced)
            {
                eligible.Add(candidate);
            }
        }

        eligible.Sort(static (a, b) =>
        {
            var byPriority = b.Priority.CompareTo(a.Priority);
            return byPriority != 0 ? byPriority : string.CompareOrdinal(a.Id, b.Id);
        });

        var evaluations = new List<CandidateEvaluation>(eligible.Count);
        WorkflowDefinition? chosen = null;
        string? failure = null;
        foreach (var definition in eligible)
        {
            if (chosen is not null || failure is not null)
            {
                evaluations.Add(new(definition.Id, definition.Version, definition.Priority, CandidateOutcome.NotEvaluated, null));
                continue;
            }

            if (definition.Condition is null)
            {
                chosen = definition;
                evaluations.Add(new(definition.Id, definition.Version, definition.Priority, CandidateOutcome.Selected, "no condition"));
                continue;
            }

            var outcome = definition.Condition.Evaluate(ruleData);
            if (!outcome.Succeeded)
            {
                failure = FormattableString.Invariant(
                    $"the condition of workflow '{definition.Id}' v{definition.Version} failed to evaluate: {outcome.Error}");
                evaluations.Add(new(definition.Id, definition.Version, definition.Priority, CandidateOutcome.RuleFailed, outcome.Error));
            }
            else if (outcome.IsTruthy)
            {
                chosen = definition;
                evaluations.Add(new(definition.Id, definition.Version, definition.Priority, CandidateOutcome.Selected, "condition holds"));
            }
            else
            {
                evaluations.Add(new(definition.Id, definition.Version, definition.Priority, CandidateOutcome.ConditionFalse, "condition is false"));
            }
        }

        if (failure is not null)
        {
            return new Quarantined { Candidates = evaluations, Reason = failure, Explanation = failure };
        }

        if (chosen is not null)
        {
            return new Selected
            {
                Definition = chosen,
                Candidates = evaluations,
                Explanation = FormattableString.Invariant(
                    $"workflow '{chosen.Id}' v{chosen.Version} (priority {chosen.Priority}) is the highest-priority active workflow for {model}/{@event} whose condition holds"),
            };
        }

        return new NotRequired
        {
            Candidates = evaluations,
            Explanation = eligible.Count == 0
                ? FormattableString.Invariant($"no active workflow for {model}/{@event}")
                : FormattableString.Invariant($"none of the {eligible.Count} active workflows for {model}/{@event} has a condition that holds"),
        };
    }
}
