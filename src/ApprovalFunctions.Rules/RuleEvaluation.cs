using System.Text.Json.Nodes;

namespace ApprovalFunctions.Rules;

/// <summary>
/// The result of evaluating a rule: a JSON value, or a failure with a reason. Booleans, numbers
/// and null are held inline (no allocation); strings, arrays and objects are copied out of the
/// data, so the result stays valid after the data document is disposed.
/// </summary>
public readonly record struct RuleEvaluation
{
    private readonly Kind _kind;
    private readonly double _number;
    private readonly object? _payload; // string (String) or JsonNode (Array/Object)

    private RuleEvaluation(bool succeeded, Kind kind, double number, object? payload, bool truthy, string? error)
    {
        Succeeded = succeeded;
        _kind = kind;
        _number = number;
        _payload = payload;
        IsTruthy = truthy;
        Error = error;
    }

    /// <summary>True when evaluation produced a value; false when it failed (see <see cref="Error"/>).</summary>
    public bool Succeeded { get; }

    /// <summary>JSON Logic truthiness of the result: false, null, 0, "" and [] are falsy. False when failed.</summary>
    public bool IsTruthy { get; }

    /// <summary>Why evaluation failed; null when it succeeded.</summary>
    public string? Error { get; }

    /// <summary>
    /// The result as JSON (null for JSON null or failure). Each read returns a new node the caller
    /// may keep or attach elsewhere.
    /// </summary>
    public JsonNode? Value => _kind switch
    {
        _ when !Succeeded => null,
        Kind.Boolean => JsonValue.Create(_number != 0),
        Kind.Number => Rules.Value.NumberNode(_number),
        Kind.String => JsonValue.Create((string)_payload!),
        Kind.Array or Kind.Object => ((JsonNode)_payload!).DeepClone(),
        _ => null,
    };

    /// <summary>True when the result is a JSON string.</summary>
    public bool IsString => Succeeded && _kind == Kind.String;

    /// <summary>
    /// The result as a list of strings, for expressions that name users: a string gives one item,
    /// an array whose items are all strings gives them in order. Anything else gives null.
    /// </summary>
    public IReadOnlyList<string>? AsStrings()
    {
        if (!Succeeded)
        {
            return null;
        }

        if (_kind == Kind.String)
        {
            return [(string)_payload!];
        }

        if (_kind != Kind.Array)
        {
            return null;
        }

        var array = (JsonArray)_payload!;
        var result = new string[array.Count];
        for (var i = 0; i < result.Length; i++)
        {
            if (array[i] is not JsonValue item || !item.TryGetValue<string>(out var s))
            {
                return null;
            }

            result[i] = s;
        }

        return result;
    }

    /// <summary>A failed evaluation with the given reason.</summary>
    public static RuleEvaluation Failed(string reason) =>
        new(false, Kind.Null, 0, null, false, reason ?? "evaluation failed");

    /// <summary>Compact JSON of the result, or "error: reason".</summary>
    public override string ToString() =>
        Succeeded ? Value?.ToJsonString() ?? "null" : "error: " + Error;

    internal static RuleEvaluation From(in Value value)
    {
        var truthy = value.IsTruthy;
        return value.Kind switch
        {
            Kind.Null => new(true, Kind.Null, 0, null, false, null),
            Kind.Boolean or Kind.Number => new(true, value.Kind, value.Number, null, truthy, null),
            Kind.String => new(true, Kind.String, 0, value.GetString(), truthy, null),
            _ => new(true, value.Kind, 0, value.ToNode(0), truthy, null),
        };
    }
}
