using System.Globalization;
using System.Text;

namespace ApprovalFunctions.Rules;

/// <summary>A compiled rule node. Evaluation is a virtual call per node over struct values.</summary>
internal abstract class Node
{
    public abstract Value Eval(in Value data, ref EvalState state);

    public virtual bool IsConstant => false;
}

internal sealed class LiteralNode(Value value) : Node
{
    public Value Value { get; } = value;

    public override bool IsConstant => true;

    public override Value Eval(in Value data, ref EvalState state) => Value;
}

internal sealed class ArrayNode(Node[] items) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step(items.Length + 1);
        var result = new Value[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            result[i] = items[i].Eval(data, ref state);
        }

        return new Value(result);
    }
}

/// <summary>One segment of a dotted var path, prepared at compile time.</summary>
internal sealed class PathSegment
{
    public PathSegment(string name)
    {
        Name = name;
        Utf8 = Encoding.UTF8.GetBytes(name);
        Index = int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var i)
            && i.ToString(CultureInfo.InvariantCulture) == name ? i : -1;
    }

    public string Name { get; }

    public byte[] Utf8 { get; }

    public int Index { get; }

    public static PathSegment[] Split(string path) =>
        path.Length == 0 ? [] : Array.ConvertAll(path.Split('.'), s => new PathSegment(s));

    public static bool TryResolve(Value data, PathSegment[] path, out Value result)
    {
        foreach (var segment in path)
        {
            if (!TryStep(data, segment, out data))
            {
                result = Value.Null;
                return false;
            }
        }

        result = data;
        return true;
    }

    private static bool TryStep(in Value data, PathSegment segment, out Value next)
    {
        switch (data.Kind)
        {
            case Kind.Object:
                return data.TryGetProperty(segment.Utf8, segment.Name, out next);
            case Kind.Array:
                if (segment.Index >= 0 && segment.Index < data.Count)
                {
                    next = data[segment.Index];
                    return true;
                }

                if (segment.Name == "length")
                {
                    next = new Value(data.Count);
                    return true;
                }

                break;
            case Kind.String:
                var s = data.GetString();
                if (segment.Index >= 0 && segment.Index < s.Length)
                {
                    next = new Value(s[segment.Index].ToString());
                    return true;
                }

                if (segment.Name == "length")
                {
                    next = new Value(s.Length);
                    return true;
                }

                break;
        }

        next = Value.Null;
        return false;
    }

    public static string PathText(in Value key, ref EvalState state) =>
        key.Kind == Kind.Null ? string.Empty : Value.ToJsString(key, ref state);
}

/// <summary>var with a literal path: segments are split and UTF-8 encoded once.</summary>
internal sealed class StaticVarNode(PathSegment[] path, Node? fallback) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        if (PathSegment.TryResolve(data, path, out var result))
        {
            return result;
        }

        return fallback is null ? Value.Null : fallback.Eval(data, ref state);
    }
}

internal sealed class DynamicVarNode(Node path, Node? fallback) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var key = path.Eval(data, ref state);
        var segments = PathSegment.Split(PathSegment.PathText(key, ref state));
        if (PathSegment.TryResolve(data, segments, out var result))
        {
            return result;
        }

        return fallback is null ? Value.Null : fallback.Eval(data, ref state);
    }
}

/// <summary>missing with literal keys: paths are split once and nothing is allocated when all are present.</summary>
internal sealed class StaticMissingNode(Value[] keys) : Node
{
    private readonly PathSegment[][] _paths = Array.ConvertAll(keys, k =>
    {
        var state = default(EvalState);
        return PathSegment.Split(PathSegment.PathText(k, ref state));
    });

    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step(1 + keys.Length);
        List<Value>? missing = null;
        for (var i = 0; i < keys.Length; i++)
        {
            var found = PathSegment.TryResolve(data, _paths[i], out var value);
            if (!found || value.Kind == Kind.Null || (value.Kind == Kind.String && !value.IsTruthy))
            {
                (missing ??= []).Add(keys[i]);
            }
        }

        return missing is null ? Value.EmptyArray : new Value([.. missing]);
    }
}

internal sealed class MissingNode(Node[] args) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var keys = MissingSomeNode.Keys(args, data, ref state);
        return new Value(MissingSomeNode.Missing(keys, data, ref state));
    }
}

internal sealed class MissingSomeNode(Node need, Node options) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var needed = Value.ToNumber(need.Eval(data, ref state), ref state);
        var optionValue = options.Eval(data, ref state);
        var keys = optionValue.Kind == Kind.Array ? optionValue.ToArray(ref state) : [optionValue];
        var missing = Missing(keys, data, ref state);
        return keys.Length - missing.Length >= needed ? Value.EmptyArray : new Value(missing);
    }

    public static Value[] Keys(Node[] args, in Value data, ref EvalState state)
    {
        var values = new Value[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            values[i] = args[i].Eval(data, ref state);
        }

        // json-logic-js: an array as the first argument is the list of keys.
        return values.Length > 0 && values[0].Kind == Kind.Array ? values[0].ToArray(ref state) : values;
    }

    public static Value[] Missing(Value[] keys, in Value data, ref EvalState state)
    {
        List<Value>? missing = null;
        foreach (var key in keys)
        {
            state.Step();
            var text = PathSegment.PathText(key, ref state);
            var found = PathSegment.TryResolve(data, PathSegment.Split(text), out var value);
            if (!found || value.Kind == Kind.Null || (value.Kind == Kind.String && !value.IsTruthy))
            {
                (missing ??= []).Add(key);
            }
        }

        return missing is null ? [] : [.. missing];
    }
}

internal sealed class IfNode(Node[] args) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var i = 0;
        for (; i < args.Length - 1; i += 2)
        {
            if (args[i].Eval(data, ref state).IsTruthy)
            {
                return args[i + 1].Eval(data, ref state);
            }
        }

        return i == args.Length - 1 ? args[i].Eval(data, ref state) : Value.Null;
    }
}

internal sealed class EqualsNode(Node left, Node right, bool strict, bool negate) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var a = left.Eval(data, ref state);
        var b = right.Eval(data, ref state);
        var equal = strict ? Value.StrictEquals(a, b) : Value.LooseEquals(a, b, ref state);
        return Value.Bool(equal != negate);
    }
}

internal sealed class NotNode(Node arg, bool doubleNot) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        return Value.Bool(arg.Eval(data, ref state).IsTruthy == doubleNot);
    }
}

internal sealed class AndOrNode(Node[] args, bool isOr) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var current = Value.Null;
        foreach (var arg in args)
        {
            current = arg.Eval(data, ref state);
            if (current.IsTruthy == isOr)
            {
                return current;
            }
        }

        return current;
    }
}

internal enum CompareOp
{
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

internal sealed class CompareNode(CompareOp op, Node a, Node b, Node? c) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var x = a.Eval(data, ref state);
        var y = b.Eval(data, ref state);
        if (!Holds(x, y, ref state))
        {
            return Value.False;
        }

        // Between form: {"<": [a, b, c]} is a < b && b < c.
        return c is null ? Value.True : Value.Bool(Holds(y, c.Eval(data, ref state), ref state));
    }

    private bool Holds(in Value x, in Value y, ref EvalState state)
    {
        if (x.Kind == Kind.Number && y.Kind == Kind.Number)
        {
            // Hot path; NaN compares false either way, as in JavaScript.
            return op switch
            {
                CompareOp.Less => x.Number < y.Number,
                CompareOp.LessOrEqual => x.Number <= y.Number,
                CompareOp.Greater => x.Number > y.Number,
                _ => x.Number >= y.Number,
            };
        }

        var cmp = Value.Compare(x, y, ref state);
        return cmp is { } r && op switch
        {
            CompareOp.Less => r < 0,
            CompareOp.LessOrEqual => r <= 0,
            CompareOp.Greater => r > 0,
            _ => r >= 0,
        };
    }
}

internal static class Arithmetic
{
    public static double Operand(string op, int index, in Value v, bool parseFloat, ref EvalState state)
    {
        var d = parseFloat ? Value.ParseFloat(v, ref state) : Value.ToNumber(v, ref state);
        if (double.IsNaN(d))
        {
            throw new RuleFailureException(
                $"'{op}': argument {index} ({Describe(v, ref state)}) is not a number");
        }

        return d;
    }

    public static Value Result(string op, double d)
    {
        if (!double.IsFinite(d))
        {
            throw new RuleFailureException($"'{op}': result is not a finite number");
        }

        return new Value(d);
    }

    private static string Describe(in Value v, ref EvalState state)
    {
        var text = v.Kind switch
        {
            Kind.String => "\"" + v.GetString() + "\"",
            Kind.Array => "[" + Value.ToJsString(v, ref state) + "]",
            Kind.Object => "object",
            _ => Value.ToJsString(v, ref state),
        };
        return text.Length > 40 ? text[..40] + "…" : text;
    }
}

internal sealed class SumProductNode(Node[] args, bool product) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var op = product ? "*" : "+";
        var acc = product ? 1d : 0d;
        for (var i = 0; i < args.Length; i++)
        {
            // json-logic-js reads + and * operands with parseFloat ("12px" is 12).
            var d = Arithmetic.Operand(op, i, args[i].Eval(data, ref state), parseFloat: true, ref state);
            acc = product ? acc * d : acc + d;
        }

        return Arithmetic.Result(op, acc);
    }
}

internal sealed class MinusNode(Node a, Node? b) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var x = Arithmetic.Operand("-", 0, a.Eval(data, ref state), parseFloat: false, ref state);
        if (b is null)
        {
            return Arithmetic.Result("-", -x);
        }

        var y = Arithmetic.Operand("-", 1, b.Eval(data, ref state), parseFloat: false, ref state);
        return Arithmetic.Result("-", x - y);
    }
}

internal sealed class DivModNode(Node a, Node b, bool modulo) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var op = modulo ? "%" : "/";
        var x = Arithmetic.Operand(op, 0, a.Eval(data, ref state), parseFloat: false, ref state);
        var y = Arithmetic.Operand(op, 1, b.Eval(data, ref state), parseFloat: false, ref state);
        if (y == 0)
        {
            throw new RuleFailureException(modulo ? "'%': modulo by zero" : "'/': division by zero");
        }

        return Arithmetic.Result(op, modulo ? x % y : x / y);
    }
}

internal sealed class MinMaxNode(Node[] args, bool max) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var op = max ? "max" : "min";
        var acc = max ? double.NegativeInfinity : double.PositiveInfinity;
        for (var i = 0; i < args.Length; i++)
        {
            var d = Arithmetic.Operand(op, i, args[i].Eval(data, ref state), parseFloat: false, ref state);
            acc = max ? Math.Max(acc, d) : Math.Min(acc, d);
        }

        return Arithmetic.Result(op, acc);
    }
}

internal enum ArrayOp
{
    Map,
    Filter,
    All,
    None,
    Some,
}

internal sealed class ArrayOpNode(ArrayOp op, Node source, Node body) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var items = source.Eval(data, ref state);
        var n = items.Kind == Kind.Array ? items.Count : 0;
        switch (op)
        {
            case ArrayOp.Map:
            {
                var result = new Value[n];
                for (var i = 0; i < n; i++)
                {
                    state.Step();
                    result[i] = body.Eval(items[i], ref state);
                }

                return new Value(result);
            }

            case ArrayOp.Filter:
            {
                var result = new List<Value>();
                for (var i = 0; i < n; i++)
                {
                    state.Step();
                    var item = items[i];
                    if (body.Eval(item, ref state).IsTruthy)
                    {
                        result.Add(item);
                    }
                }

                return new Value([.. result]);
            }

            case ArrayOp.All:
                if (n == 0)
                {
                    return Value.False; // json-logic: all of an empty array is false
                }

                for (var i = 0; i < n; i++)
                {
                    state.Step();
                    if (!body.Eval(items[i], ref state).IsTruthy)
                    {
                        return Value.False;
                    }
                }

                return Value.True;
            default:
                // some / none
                for (var i = 0; i < n; i++)
                {
                    state.Step();
                    if (body.Eval(items[i], ref state).IsTruthy)
                    {
                        return Value.Bool(op == ArrayOp.Some);
                    }
                }

                return Value.Bool(op == ArrayOp.None);
        }
    }
}

internal sealed class ReduceNode(Node source, Node body, Node? initial) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var items = source.Eval(data, ref state);
        var acc = initial is null ? Value.Null : initial.Eval(data, ref state);
        if (items.Kind != Kind.Array)
        {
            return acc;
        }

        var scope = new ReduceScope();
        var scopeValue = new Value(scope);
        var n = items.Count;
        for (var i = 0; i < n; i++)
        {
            state.Step();
            scope.Current = items[i];
            scope.Accumulator = acc;
            acc = body.Eval(scopeValue, ref state);
        }

        return acc;
    }
}

internal sealed class MergeNode(Node[] args) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var result = new List<Value>();
        foreach (var arg in args)
        {
            var v = arg.Eval(data, ref state);
            if (v.Kind == Kind.Array)
            {
                var n = v.Count;
                state.Step(n);
                for (var i = 0; i < n; i++)
                {
                    result.Add(v[i]);
                }
            }
            else
            {
                result.Add(v);
            }
        }

        return new Value([.. result]);
    }
}

internal sealed class InNode(Node needle, Node haystack) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var a = needle.Eval(data, ref state);
        var b = haystack.Eval(data, ref state);
        switch (b.Kind)
        {
            case Kind.String:
                return Value.Bool(b.GetString().Contains(Value.ToJsString(a, ref state), StringComparison.Ordinal));
            case Kind.Array:
                var n = b.Count;
                for (var i = 0; i < n; i++)
                {
                    state.Step();
                    if (Value.StrictEquals(a, b[i]))
                    {
                        return Value.True;
                    }
                }

                return Value.False;
            default:
                return Value.False;
        }
    }
}

internal sealed class CatNode(Node[] args) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var sb = new StringBuilder();
        foreach (var arg in args)
        {
            Value.AppendJsString(sb, arg.Eval(data, ref state), 0, ref state);
        }

        return new Value(sb.ToString());
    }
}

internal sealed class SubstrNode(Node source, Node start, Node? length) : Node
{
    public override Value Eval(in Value data, ref EvalState state)
    {
        state.Step();
        var s = Value.ToJsString(source.Eval(data, ref state), ref state);
        var from = ToInteger(Value.ToNumber(start.Eval(data, ref state), ref state));
        from = from < 0 ? Math.Max(s.Length + from, 0) : Math.Min(from, s.Length);
        var rest = s.Length - (int)from;
        if (length is null)
        {
            return new Value(s[(int)from..]);
        }

        var len = ToInteger(Value.ToNumber(length.Eval(data, ref state), ref state));

        // json-logic-js: a negative length drops that many characters from the end.
        var take = len < 0 ? Math.Max(rest + len, 0) : Math.Min(len, rest);
        return new Value(s.Substring((int)from, (int)take));
    }

    private static double ToInteger(double d) => double.IsNaN(d) ? 0 : Math.Truncate(Math.Clamp(d, -1e15, 1e15));
}
