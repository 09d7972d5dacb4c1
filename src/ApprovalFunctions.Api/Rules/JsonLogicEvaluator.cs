using System.Text.Json;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Rules;

namespace ApprovalFunctions.Api.Rules;

/// <summary>The engine's rule seam, served by the project's JSON Logic compiler: each rule is compiled once.</summary>
public sealed class JsonLogicEvaluator : IRuleEvaluator
{
    /// <summary>The shared instance; it holds no state.</summary>
    public static readonly JsonLogicEvaluator Instance = new();

    /// <inheritdoc />
    public RulePreparation Prepare(JsonElement rule)
    {
        var compiled = JsonLogicRule.Compile(rule);
        return compiled.Rule is null
            ? new RulePreparation(null, [.. compiled.Errors.Select(e => new RuleProblem(e.Path, e.Message))])
            : new RulePreparation(new Prepared(compiled.Rule), []);
    }

    private sealed class Prepared(JsonLogicRule rule) : IPreparedRule
    {
        public RuleOutcome Evaluate(JsonElement data)
        {
            var evaluation = rule.Evaluate(data);
            return evaluation.Succeeded
                ? new RuleOutcome { Succeeded = true, IsTruthy = evaluation.IsTruthy, Strings = evaluation.AsStrings() ?? [] }
                : RuleOutcome.Failed(evaluation.Error ?? "The rule failed.");
        }
    }
}
