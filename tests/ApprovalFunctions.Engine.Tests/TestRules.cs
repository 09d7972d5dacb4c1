using System.Globalization;
using System.Text.Json;
using ApprovalFunctions.Engine.Rules;

namespace ApprovalFunctions.Engine.Tests;

/// <summary>
/// A tiny JSON Logic evaluator for engine tests (the real one lives in ApprovalFunctions.Rules and
/// is tested there). Supports var, ==, !=, &gt;, &gt;=, &lt;, in, and, or, !, cat, and a test-only
/// <c>fail</c> operator that fails at evaluation time, to exercise quarantine paths.
/// </summary>
internal sealed class TestRules : IRuleEvaluator
{
    public static readonly TestRules Instance = new();

    private static readonly string[] Operators = ["var", "==", "!=", ">", ">=", "<", "in", "and", "or", "!", "cat", "fail"];

    public RulePreparation Prepare(JsonElement rule)
    {
        var problems = new List<RuleProblem>();
        Check(rule, "$", problems);
        return problems.Count == 0 ? new RulePreparation(new Prepared(rule.Clone()), []) : new RulePreparation(null, problems);
    }

    /// <summary>Builds a prepared rule from JSON text (single quotes allowed for readability).</summary>
    public static Rule Rule(string json)
    {
        var element = JsonDocument.Parse(json.Replace('\'', '"')).RootElement.Clone();
        var prepared = Instance.Prepare(element);
        return new Rule(element, prepared.Rule ?? throw new InvalidOperationException("bad test rule"));
    }

    private static void Check(JsonElement rule, string path, List<RuleProblem> problems)
    {
        if (rule.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in rule.EnumerateArray())
            {
                Check(item, path + "[" + i.ToString(CultureInfo.InvariantCulture) + "]", problems);
                i++;
            }

            return;
        }

        if (rule.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var property in rule.EnumerateObject())
        {
            if (Array.IndexOf(Operators, property.Name) < 0)
            {
                problems.Add(new RuleProblem(path + "." + property.Name, "unknown operator '" + property.Name + "'"));
            }
            else
            {
                Check(property.Value, path + "." + property.Name, problems);
            }
        }
    }

    private sealed class Prepared(JsonElement rule) : IPreparedRule
    {
        public RuleOutcome Evaluate(JsonElement data)
        {
            try
            {
                var value = Eval(rule, data);
                IReadOnlyList<string> strings = value switch
                {
                    string s => [s],
                    List<object?> list => [.. list.OfType<string>()],
                    _ => [],
                };
                return new RuleOutcome { Succeeded = true, IsTruthy = Truthy(value), Strings = strings };
            }
            catch (InvalidOperationException ex)
            {
                return RuleOutcome.Failed(ex.Message);
            }
        }

        private static object? Eval(JsonElement rule, JsonElement data)
        {
            switch (rule.ValueKind)
            {
                case JsonValueKind.Array:
                    return rule.EnumerateArray().Select(item => Eval(item, data)).ToList();
                case JsonValueKind.Object:
                    var op = rule.EnumerateObject().First();
                    var args = op.Value.ValueKind == JsonValueKind.Array ? [.. op.Value.EnumerateArray()] : new[] { op.Value };
                    return op.Name switch
                    {
                        "var" => Var(Eval(args[0], data) as string ?? "", data, args.Length > 1 ? Eval(args[1], data) : null),
                        "==" => Equal(Eval(args[0], data), Eval(args[1], data)),
                        "!=" => !Equal(Eval(args[0], data), Eval(args[1], data)),
                        ">" => Number(Eval(args[0], data)) > Number(Eval(args[1], data)),
                        ">=" => Number(Eval(args[0], data)) >= Number(Eval(args[1], data)),
                        "<" => Number(Eval(args[0], data)) < Number(Eval(args[1], data)),
                        "in" => In(Eval(args[0], data), Eval(args[1], data)),
                        "and" => args.All(a => Truthy(Eval(a, data))),
                        "or" => args.Any(a => Truthy(Eval(a, data))),
                        "!" => !Truthy(Eval(args[0], data)),
                        "cat" => string.Concat(args.Select(a => Convert.ToString(Eval(a, data), CultureInfo.InvariantCulture))),
                        "fail" => throw new InvalidOperationException("fail: " + Eval(args[0], data)),
                        _ => throw new InvalidOperationException("unknown operator " + op.Name),
                    };
                default:
                    return FromJson(rule);
            }
        }

        private static object? Var(string path, JsonElement data, object? fallback)
        {
            var current = data;
            if (path.Length == 0)
            {
                return FromJson(current);
            }

            foreach (var part in path.Split('.'))
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current))
                {
                    return fallback;
                }
            }

            return FromJson(current);
        }

        private static object? FromJson(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number => element.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
            JsonValueKind.Object => element.Clone(),
            _ => null,
        };

        private static double Number(object? value) => value switch
        {
            double d => d,
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            bool b => b ? 1 : 0,
            _ => 0,
        };

        private static bool Equal(object? a, object? b) =>
            a is double || b is double ? Number(a) == Number(b) : Equals(a, b);

        private static bool In(object? needle, object? haystack) => haystack switch
        {
            List<object?> list => list.Any(item => Equal(item, needle)),
            string s => needle is string n && s.Contains(n, StringComparison.Ordinal),
            _ => false,
        };

        private static bool Truthy(object? value) => value switch
        {
            null => false,
            bool b => b,
            double d => d != 0,
            string s => s.Length > 0,
            List<object?> list => list.Count > 0,
            _ => true,
        };
    }
}
