using System.Text.Json;

namespace ApprovalFunctions.Engine.Rules;

/// <summary>
/// A JSON Logic rule as published: its JSON and the prepared form the evaluator made of it once.
/// </summary>
public sealed class Rule
{
    /// <summary>Wraps a rule prepared by <paramref name="prepared"/>'s evaluator.</summary>
    public Rule(JsonElement json, IPreparedRule prepared)
    {
        Json = json.Clone();
        Prepared = prepared;
    }

    /// <summary>The rule's JSON, as published.</summary>
    public JsonElement Json { get; }

    /// <summary>The prepared (compiled) rule.</summary>
    public IPreparedRule Prepared { get; }

    /// <summary>Evaluates the rule; never throws.</summary>
    public RuleOutcome Evaluate(JsonElement data) => Prepared.Evaluate(data);
}

/// <summary>The seam between the engine and the rule language (JSON Logic).</summary>
public interface IRuleEvaluator
{
    /// <summary>Validates and prepares a rule once, at publish or load time. Never throws for bad rules.</summary>
    RulePreparation Prepare(JsonElement rule);
}

/// <summary>A rule prepared for repeated evaluation.</summary>
public interface IPreparedRule
{
    /// <summary>Evaluates against <paramref name="data"/>; failures are outcomes, never exceptions.</summary>
    RuleOutcome Evaluate(JsonElement data);
}

/// <summary>The result of preparing a rule: the rule, or errors pointing at the offending path.</summary>
public sealed record RulePreparation(IPreparedRule? Rule, IReadOnlyList<RuleProblem> Problems)
{
    /// <summary>True when the rule was prepared.</summary>
    public bool Succeeded => Rule is not null;
}

/// <summary>A problem with a rule, at a path inside it.</summary>
public sealed record RuleProblem(string Path, string Message);

/// <summary>The outcome of one evaluation.</summary>
public readonly record struct RuleOutcome
{
    /// <summary>True when evaluation completed.</summary>
    public bool Succeeded { get; init; }

    /// <summary>JSON Logic truthiness of the value (false on failure).</summary>
    public bool IsTruthy { get; init; }

    /// <summary>The value as strings: a string result gives one, an array of strings gives each; else empty.</summary>
    public IReadOnlyList<string> Strings { get; init; }

    /// <summary>The reason evaluation failed, when it did.</summary>
    public string? Error { get; init; }

    /// <summary>A failed outcome.</summary>
    public static RuleOutcome Failed(string error) => new() { Succeeded = false, Error = error, Strings = [] };
}
