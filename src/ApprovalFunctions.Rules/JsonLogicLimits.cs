namespace ApprovalFunctions.Rules;

/// <summary>
/// Fixed limits that keep hostile rules and data from exhausting the stack, the CPU or memory.
/// They are constants (not options) so a rule that publishes on one host evaluates identically on
/// every other host. See docs/decisions/003-json-logic.md for how the figures were chosen.
/// </summary>
public static class JsonLogicLimits
{
    /// <summary>Maximum nesting of a rule's JSON (each operator uses two levels: object and argument array).</summary>
    public const int MaxRuleDepth = 128;

    /// <summary>Maximum number of JSON values (operators, arguments, literals) in one rule.</summary>
    public const int MaxRuleNodes = 10_000;

    /// <summary>Maximum length, in characters, of rule text given to <see cref="JsonLogicRule.Compile(string)"/>.</summary>
    public const int MaxRuleTextLength = 1 << 20;

    /// <summary>
    /// Maximum work units for one evaluation: one per operator evaluated and one per array element
    /// visited or copied. Bounds map/filter/reduce over huge arrays.
    /// </summary>
    public const int MaxEvaluationSteps = 1_000_000;

    /// <summary>Maximum length of a string produced during evaluation (by cat or by string conversion).</summary>
    public const int MaxStringLength = 1 << 20;

    /// <summary>
    /// Maximum nesting of data values that evaluation converts as a whole (string conversion of nested
    /// arrays, the JSON result) and of JSON data passed as a <see cref="System.Text.Json.Nodes.JsonNode"/>.
    /// Path lookups (<c>var</c>) are iterative and do not depend on it.
    /// </summary>
    public const int MaxDataDepth = 256;
}
