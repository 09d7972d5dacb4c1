using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalFunctions.Rules;

internal enum Kind : byte
{
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

/// <summary>
/// The evaluator's value: either an inline primitive, a value the evaluator built (string, array,
/// reduce scope) or a view over a <see cref="JsonElement"/> of the caller's data. Keeping data as
/// element views is what lets <c>var</c> read a document without allocating.
/// </summary>
internal readonly struct Value
{
    private readonly object? _ref; // string | Value[] | ReduceScope
    private readonly JsonElement _element;
    private readonly double _number;
    private readonly bool _isElement;

    public readonly Kind Kind;

    public static readonly Value Null;
    public static readonly Value True = new(Kind.Boolean, 1);
    public static readonly Value False = new(Kind.Boolean, 0);
    public static readonly Value EmptyString = new("");
    public static readonly Value EmptyArray = new(System.Array.Empty<Value>());

    private Value(Kind kind, double number)
    {
        Kind = kind;
        _number = number;
    }

    public Value(double number)
    {
        Kind = Kind.Number;
        _number = number;
    }

    public Value(string text)
    {
        Kind = Kind.String;
        _ref = text;
    }

    public Value(Value[] items)
    {
        Kind = Kind.Array;
        _ref = items;
    }

    public Value(ReduceScope scope)
    {
        Kind = Kind.Object;
        _ref = scope;
    }

    private Value(Kind kind, JsonElement element)
    {
        Kind = kind;
        _element = element;
        _isElement = true;
    }

    public static Value Bool(bool b) => b ? True : False;

    public static Value FromElement(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => new Value(e.TryGetDouble(out var d) ? d : double.NaN),
        JsonValueKind.True => True,
        JsonValueKind.False => False,
        JsonValueKind.String => new Value(Kind.String, e),
        JsonValueKind.Array => new Value(Kind.Array, e),
        JsonValueKind.Object => new Value(Kind.Object, e),
        _ => Null,
    };

    public double Number => _number;

    public bool Boolean => _number != 0;

    public bool IsElement => _isElement;

    public JsonElement Element => _element;

    public bool IsTruthy => Kind switch
    {
        Kind.Null => false,
        Kind.Boolean => _number != 0,
        Kind.Number => _number != 0 && !double.IsNaN(_number),
        Kind.String => _isElement ? !_element.ValueEquals(ReadOnlySpan<byte>.Empty) : ((string)_ref!).Length > 0,
        Kind.Array => Count > 0,
        _ => true,
    };

    // ---- strings ----

    public string GetString() => _isElement ? _element.GetString()! : (string)_ref!;

    // ---- arrays ----

    public int Count => _isElement ? _element.GetArrayLength() : ((Value[])_ref!).Length;

    public Value this[int index] => _isElement ? FromElement(_element[index]) : ((Value[])_ref!)[index];

    /// <summary>Copies array items into a fresh array (used when an operator must materialize).</summary>
    public Value[] ToArray(ref EvalState state)
    {
        if (!_isElement)
        {
            return (Value[])_ref!;
        }

        var result = new Value[_element.GetArrayLength()];
        state.Step(result.Length);
        var i = 0;
        foreach (var item in _element.EnumerateArray())
        {
            result[i++] = FromElement(item);
        }

        return result;
    }

    // ---- objects ----

    public bool TryGetProperty(ReadOnlySpan<byte> utf8Name, string name, out Value value)
    {
        if (_isElement)
        {
            if (_element.TryGetProperty(utf8Name, out var e))
            {
                value = FromElement(e);
                return true;
            }

            value = Null;
            return false;
        }

        return ((ReduceScope)_ref!).TryGet(name, out value);
    }

    // ---- equality (JavaScript semantics) ----

    public static bool StrictEquals(in Value a, in Value b)
    {
        if (a.Kind != b.Kind)
        {
            return false;
        }

        switch (a.Kind)
        {
            case Kind.Null:
                return true;
            case Kind.Boolean:
            case Kind.Number:
                return a._number == b._number;
            case Kind.String:
                return StringEquals(a, b);
            default:
                // JavaScript compares arrays and objects by identity.
                return a._isElement == b._isElement && (a._isElement
                    ? SameElement(a._element, b._element)
                    : ReferenceEquals(a._ref, b._ref));
        }
    }

    private static bool SameElement(JsonElement a, JsonElement b) =>
        // Two views of one element of one document are the same JavaScript object; we cannot see
        // document identity, so the closest safe answer is "no" unless the caller passed the same value.
        a.ValueKind == b.ValueKind && a.Equals(b);

    private static bool StringEquals(in Value a, in Value b)
    {
        if (a._isElement && !b._isElement)
        {
            return a._element.ValueEquals((string)b._ref!);
        }

        if (!a._isElement && b._isElement)
        {
            return b._element.ValueEquals((string)a._ref!);
        }

        return string.Equals(a.GetString(), b.GetString(), StringComparison.Ordinal);
    }

    public static bool LooseEquals(in Value a, in Value b, ref EvalState state)
    {
        if (a.Kind == b.Kind)
        {
            return StrictEquals(a, b);
        }

        if (a.Kind == Kind.Null || b.Kind == Kind.Null)
        {
            return false;
        }

        if (a.Kind == Kind.Boolean)
        {
            return LooseEquals(new Value(a._number), b, ref state);
        }

        if (b.Kind == Kind.Boolean)
        {
            return LooseEquals(a, new Value(b._number), ref state);
        }

        if (a.Kind == Kind.Number && b.Kind == Kind.String)
        {
            return a._number == ToNumber(b, ref state);
        }

        if (a.Kind == Kind.String && b.Kind == Kind.Number)
        {
            return ToNumber(a, ref state) == b._number;
        }

        if (a.Kind is Kind.Array or Kind.Object && b.Kind is Kind.Number or Kind.String)
        {
            return LooseEquals(ToPrimitive(a, ref state), b, ref state);
        }

        if (b.Kind is Kind.Array or Kind.Object && a.Kind is Kind.Number or Kind.String)
        {
            return LooseEquals(a, ToPrimitive(b, ref state), ref state);
        }

        return false;
    }

    // ---- relational comparison (JavaScript abstract relational comparison) ----

    /// <summary>Returns negative, zero or positive, or null when the comparison is undefined (NaN).</summary>
    public static int? Compare(in Value a, in Value b, ref EvalState state)
    {
        if (a.Kind == Kind.Number && b.Kind == Kind.Number)
        {
            return CompareNumbers(a._number, b._number);
        }

        var pa = ToPrimitive(a, ref state);
        var pb = ToPrimitive(b, ref state);
        if (pa.Kind == Kind.String && pb.Kind == Kind.String)
        {
            return Math.Sign(string.CompareOrdinal(pa.GetString(), pb.GetString()));
        }

        return CompareNumbers(ToNumber(pa, ref state), ToNumber(pb, ref state));
    }

    private static int? CompareNumbers(double x, double y)
    {
        if (double.IsNaN(x) || double.IsNaN(y))
        {
            return null;
        }

        return x < y ? -1 : x > y ? 1 : 0;
    }

    private static Value ToPrimitive(in Value v, ref EvalState state) =>
        v.Kind is Kind.Array or Kind.Object ? new Value(ToJsString(v, ref state)) : v;

    // ---- conversions (JavaScript Number(), parseFloat(), String()) ----

    public static double ToNumber(in Value v, ref EvalState state) => v.Kind switch
    {
        Kind.Null => 0,
        Kind.Boolean or Kind.Number => v._number,
        Kind.String => ParseJsNumber(v.GetString()),
        Kind.Array => ParseJsNumber(ToJsString(v, ref state)),
        _ => double.NaN,
    };

    public static double ParseFloat(in Value v, ref EvalState state) => v.Kind switch
    {
        Kind.Number => v._number,
        Kind.String => ParseFloatPrefix(v.GetString()),
        Kind.Array => ParseFloatPrefix(ToJsString(v, ref state)),
        _ => double.NaN, // parseFloat("null"), parseFloat("true"), parseFloat("[object Object]")
    };

    private static double ParseJsNumber(string s)
    {
        var t = s.AsSpan().Trim();
        if (t.IsEmpty)
        {
            return 0;
        }

        if (t.Length > 2 && t[0] == '0' && (t[1] | 0x20) == 'x')
        {
            return long.TryParse(t[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) ? hex : double.NaN;
        }

        if (t is "Infinity" or "+Infinity")
        {
            return double.PositiveInfinity;
        }

        if (t is "-Infinity")
        {
            return double.NegativeInfinity;
        }

        // .NET also accepts "NaN"/"∞" spellings JavaScript does not; only digits are allowed through here.
        foreach (var c in t)
        {
            if (!(char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-'))
            {
                return double.NaN;
            }
        }

        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
    }

    private static double ParseFloatPrefix(string s)
    {
        var t = s.AsSpan().TrimStart();
        var i = 0;
        if (i < t.Length && t[i] is '+' or '-')
        {
            i++;
        }

        if (t[i..].StartsWith("Infinity", StringComparison.Ordinal))
        {
            return t[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
        }

        var digits = 0;
        while (i < t.Length && char.IsAsciiDigit(t[i]))
        {
            i++;
            digits++;
        }

        if (i < t.Length && t[i] == '.')
        {
            i++;
            while (i < t.Length && char.IsAsciiDigit(t[i]))
            {
                i++;
                digits++;
            }
        }

        if (digits == 0)
        {
            return double.NaN;
        }

        if (i < t.Length && (t[i] | 0x20) == 'e')
        {
            var j = i + 1;
            if (j < t.Length && t[j] is '+' or '-')
            {
                j++;
            }

            var expDigits = 0;
            while (j < t.Length && char.IsAsciiDigit(t[j]))
            {
                j++;
                expDigits++;
            }

            if (expDigits > 0)
            {
                i = j;
            }
        }

        return double.Parse(t[..i], NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    public static string ToJsString(in Value v, ref EvalState state)
    {
        if (v.Kind == Kind.String)
        {
            return v.GetString();
        }

        var sb = new StringBuilder();
        AppendJsString(sb, v, 0, ref state);
        return sb.ToString();
    }

    public static void AppendJsString(StringBuilder sb, in Value v, int depth, ref EvalState state)
    {
        switch (v.Kind)
        {
            case Kind.Null:
                sb.Append("null");
                break;
            case Kind.Boolean:
                sb.Append(v.Boolean ? "true" : "false");
                break;
            case Kind.Number:
                sb.Append(FormatNumber(v._number));
                break;
            case Kind.String:
                sb.Append(v.GetString());
                break;
            case Kind.Object:
                sb.Append("[object Object]");
                break;
            case Kind.Array:
                if (depth >= JsonLogicLimits.MaxDataDepth)
                {
                    throw new RuleFailureException($"array nests deeper than {JsonLogicLimits.MaxDataDepth} levels");
                }

                var n = v.Count;
                state.Step(n);
                for (var i = 0; i < n; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }

                    // Array.prototype.join writes null and undefined as empty strings.
                    var item = v[i];
                    if (item.Kind != Kind.Null)
                    {
                        AppendJsString(sb, item, depth + 1, ref state);
                    }

                    if (sb.Length > JsonLogicLimits.MaxStringLength)
                    {
                        throw RuleFailureException.StringTooLong();
                    }
                }

                break;
        }

        if (sb.Length > JsonLogicLimits.MaxStringLength)
        {
            throw RuleFailureException.StringTooLong();
        }
    }

    /// <summary>Number to string as JavaScript's String(number) writes it for the common cases.</summary>
    public static string FormatNumber(double d)
    {
        if (double.IsNaN(d))
        {
            return "NaN";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "Infinity" : "-Infinity";
        }

        if (d == 0)
        {
            return "0";
        }

        if (d == Math.Floor(d) && Math.Abs(d) < 1e21)
        {
            return d.ToString("0", CultureInfo.InvariantCulture);
        }

        var r = d.ToString("R", CultureInfo.InvariantCulture);
        var e = r.IndexOf('E', StringComparison.Ordinal);
        if (e < 0)
        {
            return r;
        }

        var mantissa = r[..e];
        var exponent = r[(e + 1)..];
        return mantissa + "e" + (exponent[0] == '-' ? exponent : "+" + exponent.TrimStart('+'));
    }

    // ---- JSON output ----

    public JsonNode? ToNode(int depth)
    {
        if (depth > JsonLogicLimits.MaxDataDepth)
        {
            throw new RuleFailureException($"result nests deeper than {JsonLogicLimits.MaxDataDepth} levels");
        }

        switch (Kind)
        {
            case Kind.Null:
                return null;
            case Kind.Boolean:
                return JsonValue.Create(Boolean);
            case Kind.Number:
                return NumberNode(_number);
            case Kind.String:
                return JsonValue.Create(GetString());
        }

        if (_isElement)
        {
            return JsonNode.Parse(
                _element.GetRawText(),
                documentOptions: new JsonDocumentOptions { MaxDepth = JsonLogicLimits.MaxDataDepth + 1 });
        }

        if (_ref is ReduceScope scope)
        {
            return new JsonObject
            {
                ["current"] = scope.Current.ToNode(depth + 1),
                ["accumulator"] = scope.Accumulator.ToNode(depth + 1),
            };
        }

        var items = (Value[])_ref!;
        var array = new JsonArray();
        foreach (var item in items)
        {
            array.Add(item.ToNode(depth + 1));
        }

        return array;
    }

    /// <summary>
    /// A number node backed by JSON text, so callers can read it as int, long, double or decimal
    /// (a node made from a long refuses GetValue&lt;double&gt; and vice versa).
    /// </summary>
    public static JsonNode NumberNode(double d) =>
        JsonNode.Parse(d == Math.Floor(d) && Math.Abs(d) <= 9007199254740992d
            ? ((long)d).ToString(CultureInfo.InvariantCulture)
            : d.ToString("R", CultureInfo.InvariantCulture))!;
}

/// <summary>The data seen inside reduce: {"current": item, "accumulator": value so far}.</summary>
internal sealed class ReduceScope
{
    public Value Current;
    public Value Accumulator;

    public bool TryGet(string name, out Value value)
    {
        switch (name)
        {
            case "current":
                value = Current;
                return true;
            case "accumulator":
                value = Accumulator;
                return true;
            default:
                value = Value.Null;
                return false;
        }
    }
}

/// <summary>Per-evaluation budget; a struct passed by reference so evaluation allocates nothing for it.</summary>
internal struct EvalState
{
    private int _steps;

    public void Step(int count = 1)
    {
        _steps += count;
        if (_steps > JsonLogicLimits.MaxEvaluationSteps || _steps < 0)
        {
            throw new RuleFailureException(
                $"evaluation exceeded {JsonLogicLimits.MaxEvaluationSteps} steps (operators evaluated plus array elements visited)");
        }
    }
}

/// <summary>Internal signal for an evaluation failure; caught at the public boundary and turned into a result.</summary>
#pragma warning disable CA1032 // Internal control-flow exception; the standard constructors would be unused.
internal sealed class RuleFailureException(string message) : Exception(message)
#pragma warning restore CA1032
{
    public static RuleFailureException StringTooLong() =>
        new($"string longer than {JsonLogicLimits.MaxStringLength} characters");
}
