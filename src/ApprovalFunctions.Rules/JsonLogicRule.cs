using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalFunctions.Rules;

/// <summary>
/// A JSON Logic rule (jsonlogic.com semantics), parsed, validated and compiled once, then
/// evaluated many times. Instances are immutable and safe to share across threads.
/// </summary>
public sealed class JsonLogicRule
{
    private static readonly JsonWriterOptions CanonicalWriter = new()
    {
        // Keep operators such as ">" and "<" readable in the canonical text.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        MaxDepth = JsonLogicLimits.MaxRuleDepth + 1,
    };

    private static readonly JsonSerializerOptions NodeDataOptions = new() { MaxDepth = JsonLogicLimits.MaxDataDepth };

    private readonly Node _root;
    private readonly PathSegment[][] _variablePaths;

    private JsonLogicRule(Node root, string text, IReadOnlyList<string> variables)
    {
        _root = root;
        Text = text;
        Variables = variables;
        _variablePaths = [.. variables.Select(PathSegment.Split)];
    }

    /// <summary>Canonical (compact) JSON text of the rule.</summary>
    public string Text { get; }

    /// <summary>The literal <c>var</c> paths the rule reads, in first-use order (dynamic paths are not listed).</summary>
    public IReadOnlyList<string> Variables { get; }

    /// <summary>
    /// Parses, validates and compiles a rule. Never throws for bad input: unknown operators, wrong
    /// argument counts and limit violations come back as <see cref="RuleCompileResult.Errors"/>, each
    /// with a path such as <c>$.and[1].&gt;[0]</c>.
    /// </summary>
    public static RuleCompileResult Compile(JsonElement rule)
    {
        if (rule.ValueKind == JsonValueKind.Undefined)
        {
            return Fail("$", "the rule is empty (undefined JSON element)");
        }

        var compiler = new RuleCompiler();
        var root = compiler.Compile(rule, "$", 0);
        if (compiler.Errors.Count > 0)
        {
            return new RuleCompileResult(null, compiler.Errors);
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, CanonicalWriter))
        {
            rule.WriteTo(writer);
        }

        var text = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        return new RuleCompileResult(new JsonLogicRule(root, text, compiler.Variables), []);
    }

    /// <summary>Parses <paramref name="ruleJson"/> and compiles it; text that is not JSON is an error at <c>$</c>.</summary>
    public static RuleCompileResult Compile(string ruleJson)
    {
        if (ruleJson is null)
        {
            return Fail("$", "the rule is null");
        }

        if (ruleJson.Length > JsonLogicLimits.MaxRuleTextLength)
        {
            return Fail("$", $"the rule is longer than {JsonLogicLimits.MaxRuleTextLength} characters");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(ruleJson, new JsonDocumentOptions { MaxDepth = JsonLogicLimits.MaxRuleDepth });
        }
        catch (JsonException ex)
        {
            return Fail("$", $"the rule is not valid JSON (or nests deeper than {JsonLogicLimits.MaxRuleDepth} levels): {ex.Message}");
        }

        using (document)
        {
            // Compiled nodes copy every literal out of the document, so it can be disposed here.
            return Compile(document.RootElement);
        }
    }

    /// <summary>
    /// Evaluates the rule against <paramref name="data"/>. Never throws: type errors (such as
    /// arithmetic on text that is not a number, division by zero) and exceeded limits come back as
    /// a failed <see cref="RuleEvaluation"/> with a reason. This is the fast, allocation-free path
    /// for rules whose result is a boolean, number or null.
    /// </summary>
    public RuleEvaluation Evaluate(JsonElement data)
    {
        try
        {
            var state = default(EvalState);
            var value = _root.Eval(Value.FromElement(data), ref state);
            return RuleEvaluation.From(value);
        }
        catch (RuleFailureException ex)
        {
            return RuleEvaluation.Failed(ex.Message);
        }
#pragma warning disable CA1031 // The contract is that evaluation never throws: a disposed data document,
        // a bug in an operator or an exhausted resource becomes a failed result the caller can record.
        catch (Exception ex)
        {
            return RuleEvaluation.Failed($"evaluation failed ({ex.GetType().Name}): {ex.Message}");
        }
#pragma warning restore CA1031
    }

    /// <summary>Evaluates the rule against a <see cref="JsonNode"/> (copied to a JSON element first).</summary>
    public RuleEvaluation Evaluate(JsonNode? data)
    {
        if (data is null)
        {
            return Evaluate(default(JsonElement));
        }

        JsonElement element;
        try
        {
            element = JsonSerializer.SerializeToElement(data, NodeDataOptions);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NotSupportedException)
        {
            return RuleEvaluation.Failed($"data could not be read (nests deeper than {JsonLogicLimits.MaxDataDepth} levels?): {ex.Message}");
        }

        return Evaluate(element);
    }

    /// <summary>
    /// Reads every path in <see cref="Variables"/> from <paramref name="data"/>, so a preview can say
    /// why a condition matched ("record.amount = 25000"). Never throws; a value that cannot be
    /// converted (nested too deep) is reported as found with a null value.
    /// </summary>
    public IReadOnlyList<RuleVariable> ReadVariables(JsonElement data)
    {
        var result = new RuleVariable[_variablePaths.Length];
        var root = Value.FromElement(data);
        for (var i = 0; i < result.Length; i++)
        {
            JsonNode? node = null;
            bool found;
            try
            {
                found = PathSegment.TryResolve(root, _variablePaths[i], out var value);
                node = found ? value.ToNode(0) : null;
            }
#pragma warning disable CA1031 // Explaining must not fail where evaluating would not.
            catch (Exception)
#pragma warning restore CA1031
            {
                found = true;
            }

            result[i] = new RuleVariable(Variables[i], found, node);
        }

        return result;
    }

    /// <inheritdoc />
    public override string ToString() => Text;

    private static RuleCompileResult Fail(string path, string message) => new(null, [new RuleError(path, message)]);
}

/// <summary>Outcome of <see cref="JsonLogicRule.Compile(JsonElement)"/>: a rule, or the errors that refused it.</summary>
/// <param name="Rule">The compiled rule, or null when <paramref name="Errors"/> is not empty.</param>
/// <param name="Errors">Every problem found, each with the path of the offending value.</param>
public sealed record RuleCompileResult(JsonLogicRule? Rule, IReadOnlyList<RuleError> Errors)
{
    /// <summary>True when the rule compiled.</summary>
    public bool Succeeded => Rule is not null;
}

/// <summary>The value a rule's <c>var</c> path has in some data (see <see cref="JsonLogicRule.ReadVariables"/>).</summary>
/// <param name="Path">The dotted path as written in the rule.</param>
/// <param name="Found">False when the path does not exist in the data (the rule then sees its default or null).</param>
/// <param name="Value">The value at the path; null when not found or JSON null.</param>
public sealed record RuleVariable(string Path, bool Found, JsonNode? Value);

/// <summary>One problem with a rule.</summary>
/// <param name="Path">Where it is: <c>$</c> is the rule, <c>.op</c> an operator's arguments, <c>[n]</c> an argument.</param>
/// <param name="Message">What is wrong, fit to show to the author of the rule (HTTP 400).</param>
public sealed record RuleError(string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Message}";
}
