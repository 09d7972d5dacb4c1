using System.Text.Json;

namespace ApprovalFunctions.Rules;

/// <summary>
/// Walks a rule once, validating operators and argument counts, and builds the node tree. All
/// problems are collected (not just the first) so an author can fix a rule in one round trip.
/// </summary>
internal sealed class RuleCompiler
{
    private readonly List<RuleError> _errors = [];
    private readonly List<string> _variables = [];
    private int _nodes;
    private bool _tooLarge;

    public IReadOnlyList<RuleError> Errors => _errors;

    public IReadOnlyList<string> Variables => _variables;

    /// <summary>Operator name to allowed argument counts (max -1 = unbounded).</summary>
    private static readonly Dictionary<string, (int Min, int Max)> Arity = new(StringComparer.Ordinal)
    {
        ["var"] = (0, 2),
        ["missing"] = (0, -1),
        ["missing_some"] = (2, 2),
        ["if"] = (0, -1),
        ["?:"] = (3, 3),
        ["=="] = (2, 2),
        ["==="] = (2, 2),
        ["!="] = (2, 2),
        ["!=="] = (2, 2),
        ["!"] = (1, 1),
        ["!!"] = (1, 1),
        ["or"] = (1, -1),
        ["and"] = (1, -1),
        ["<"] = (2, 3),
        ["<="] = (2, 3),
        [">"] = (2, 2),
        [">="] = (2, 2),
        ["max"] = (1, -1),
        ["min"] = (1, -1),
        ["+"] = (1, -1),
        ["-"] = (1, 2),
        ["*"] = (1, -1),
        ["/"] = (2, 2),
        ["%"] = (2, 2),
        ["map"] = (2, 2),
        ["filter"] = (2, 2),
        ["reduce"] = (2, 3),
        ["all"] = (2, 2),
        ["none"] = (2, 2),
        ["some"] = (2, 2),
        ["merge"] = (0, -1),
        ["in"] = (2, 2),
        ["cat"] = (0, -1),
        ["substr"] = (2, 3),
    };

    /// <summary>The operators this evaluator supports.</summary>
    public static IEnumerable<string> Operators => Arity.Keys;

    public Node Compile(JsonElement e, string path, int depth)
    {
        // Depth is checked before recursing, so a hostile element nested 100k deep costs one frame per level up to the limit.
        if (depth >= JsonLogicLimits.MaxRuleDepth)
        {
            _errors.Add(new RuleError(path, $"the rule nests deeper than {JsonLogicLimits.MaxRuleDepth} levels"));
            return new LiteralNode(Value.Null);
        }

        if (++_nodes > JsonLogicLimits.MaxRuleNodes)
        {
            if (!_tooLarge)
            {
                _tooLarge = true;
                _errors.Add(new RuleError(path, $"the rule has more than {JsonLogicLimits.MaxRuleNodes} values"));
            }

            return new LiteralNode(Value.Null);
        }

        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                return CompileOperation(e, path, depth);
            case JsonValueKind.Array:
            {
                var items = new Node[e.GetArrayLength()];
                var i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    items[i] = Compile(item, $"{path}[{i}]", depth + 1);
                    i++;
                }

                return AllConstant(items) ? new LiteralNode(new Value(Array.ConvertAll(items, n => ((LiteralNode)n).Value))) : new ArrayNode(items);
            }

            case JsonValueKind.String:
                return new LiteralNode(new Value(e.GetString()!));
            case JsonValueKind.Number:
                if (!e.TryGetDouble(out var d) || !double.IsFinite(d))
                {
                    _errors.Add(new RuleError(path, $"the number {e.GetRawText()} is out of range"));
                }

                return new LiteralNode(new Value(d));
            case JsonValueKind.True:
                return new LiteralNode(Value.True);
            case JsonValueKind.False:
                return new LiteralNode(Value.False);
            default:
                return new LiteralNode(Value.Null);
        }
    }

    private static bool AllConstant(Node[] nodes) => Array.TrueForAll(nodes, n => n is LiteralNode);

    private Node CompileOperation(JsonElement e, string path, int depth)
    {
        string? op = null;
        JsonElement argsElement = default;
        var count = 0;
        foreach (var property in e.EnumerateObject())
        {
            count++;
            op = property.Name;
            argsElement = property.Value;
        }

        if (count != 1)
        {
            _errors.Add(new RuleError(path, count == 0
                ? "an empty object is not a rule; an operation is an object with exactly one key, the operator"
                : $"an operation is an object with exactly one key, the operator; this object has {count} keys"));
            return new LiteralNode(Value.Null);
        }

        var argsPath = path + "." + op;
        if (!Arity.TryGetValue(op!, out var arity))
        {
            _errors.Add(new RuleError(path, $"unknown operator '{Truncate(op!)}'; supported: {string.Join(", ", Arity.Keys)}"));
            return new LiteralNode(Value.Null);
        }

        // An operator's value is its argument list, or a single argument when it is not an array.
        Node[] args;
        JsonElement[] argElements;
        if (argsElement.ValueKind == JsonValueKind.Array)
        {
            argElements = [.. argsElement.EnumerateArray()];
            args = new Node[argElements.Length];
            for (var i = 0; i < args.Length; i++)
            {
                args[i] = Compile(argElements[i], $"{argsPath}[{i}]", depth + 2);
            }
        }
        else
        {
            argElements = [argsElement];
            args = [Compile(argsElement, argsPath, depth + 1)];
        }

        if (args.Length < arity.Min || (arity.Max >= 0 && args.Length > arity.Max))
        {
            var expected = arity.Max < 0 ? $"at least {arity.Min}"
                : arity.Min == arity.Max ? $"exactly {arity.Min}"
                : $"{arity.Min} to {arity.Max}";
            _errors.Add(new RuleError(argsPath, $"'{op}' takes {expected} argument{(arity.Max == 1 ? "" : "s")}, got {args.Length}"));
            return new LiteralNode(Value.Null);
        }

        return op switch
        {
            "var" => CompileVar(args, argElements, argsElement.ValueKind == JsonValueKind.Array ? argsPath + "[0]" : argsPath),
            "missing" => CompileMissing(args),
            "missing_some" => new MissingSomeNode(args[0], args[1]),
            "if" or "?:" => new IfNode(args),
            "==" => new EqualsNode(args[0], args[1], strict: false, negate: false),
            "===" => new EqualsNode(args[0], args[1], strict: true, negate: false),
            "!=" => new EqualsNode(args[0], args[1], strict: false, negate: true),
            "!==" => new EqualsNode(args[0], args[1], strict: true, negate: true),
            "!" => new NotNode(args[0], doubleNot: false),
            "!!" => new NotNode(args[0], doubleNot: true),
            "or" => new AndOrNode(args, isOr: true),
            "and" => new AndOrNode(args, isOr: false),
            "<" => new CompareNode(CompareOp.Less, args[0], args[1], args.Length > 2 ? args[2] : null),
            "<=" => new CompareNode(CompareOp.LessOrEqual, args[0], args[1], args.Length > 2 ? args[2] : null),
            ">" => new CompareNode(CompareOp.Greater, args[0], args[1], null),
            ">=" => new CompareNode(CompareOp.GreaterOrEqual, args[0], args[1], null),
            "max" => new MinMaxNode(args, max: true),
            "min" => new MinMaxNode(args, max: false),
            "+" => new SumProductNode(args, product: false),
            "*" => new SumProductNode(args, product: true),
            "-" => new MinusNode(args[0], args.Length > 1 ? args[1] : null),
            "/" => new DivModNode(args[0], args[1], modulo: false),
            "%" => new DivModNode(args[0], args[1], modulo: true),
            "map" => new ArrayOpNode(ArrayOp.Map, args[0], args[1]),
            "filter" => new ArrayOpNode(ArrayOp.Filter, args[0], args[1]),
            "all" => new ArrayOpNode(ArrayOp.All, args[0], args[1]),
            "none" => new ArrayOpNode(ArrayOp.None, args[0], args[1]),
            "some" => new ArrayOpNode(ArrayOp.Some, args[0], args[1]),
            "reduce" => new ReduceNode(args[0], args[1], args.Length > 2 ? args[2] : null),
            "merge" => new MergeNode(args),
            "in" => new InNode(args[0], args[1]),
            "cat" => new CatNode(args),
            _ => new SubstrNode(args[0], args[1], args.Length > 2 ? args[2] : null),
        };
    }

    private static Node CompileMissing(Node[] args)
    {
        if (!AllConstant(args))
        {
            return new MissingNode(args);
        }

        var values = Array.ConvertAll(args, n => ((LiteralNode)n).Value);

        // As at run time: an array as the first argument is the list of keys.
        if (values.Length > 0 && values[0].Kind == Kind.Array)
        {
            var state = default(EvalState);
            values = values[0].ToArray(ref state);
        }

        return new StaticMissingNode(values);
    }

    private Node CompileVar(Node[] args, JsonElement[] argElements, string pathPath)
    {
        if (args.Length == 0)
        {
            return new StaticVarNode([], null);
        }

        var fallback = args.Length > 1 ? args[1] : null;
        var pathElement = argElements[0];
        switch (pathElement.ValueKind)
        {
            case JsonValueKind.String:
            case JsonValueKind.Number:
            case JsonValueKind.Null:
            {
                var state = default(EvalState);
                var text = PathSegment.PathText(((LiteralNode)args[0]).Value, ref state);
                if (text.Length > 0 && !_variables.Contains(text))
                {
                    _variables.Add(text);
                }

                return new StaticVarNode(PathSegment.Split(text), fallback);
            }

            case JsonValueKind.Object:
                return new DynamicVarNode(args[0], fallback);
            default:
                _errors.Add(new RuleError(pathPath, "a var path must be a string, a number, null or an operation"));
                return new LiteralNode(Value.Null);
        }
    }

    private static string Truncate(string s) => s.Length > 40 ? string.Concat(s.AsSpan(0, 40), "…") : s;
}
