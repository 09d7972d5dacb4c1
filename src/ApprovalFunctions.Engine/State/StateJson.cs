using System.Text.Json;
using System.Text.Json.Serialization;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.Ledger;

namespace ApprovalFunctions.Engine.State;

/// <summary>
/// The persisted JSON forms of the engine's state, events, intents, ledger entries and timer keys:
/// camelCase, enums as camelCase strings, events and intents polymorphic with a <c>"type"</c>
/// discriminator (e.g. <c>{"type":"decided",…}</c>; the discriminator may appear anywhere in the object).
/// Built on System.Text.Json source generation, so no reflection at run time.
/// </summary>
public static class StateJson
{
    /// <summary>The serializer options (source-generated metadata). Safe to share.</summary>
    public static JsonSerializerOptions Options { get; } = new(StateJsonContext.Default.Options)
    {
        AllowOutOfOrderMetadataProperties = true,
    };

    /// <summary>Serializes a request state.</summary>
    public static string Serialize(ApprovalState state) => JsonSerializer.Serialize(state, Info<ApprovalState>());

    /// <summary>Deserializes a request state.</summary>
    /// <exception cref="JsonException">The text is not a valid state.</exception>
    public static ApprovalState Deserialize(string json) =>
        JsonSerializer.Deserialize(json, Info<ApprovalState>()) ?? throw new JsonException("the state is null");

    /// <summary>Serializes an event (with its <c>type</c> discriminator).</summary>
    public static string SerializeEvent(ApprovalEvent evt) => JsonSerializer.Serialize(evt, Info<ApprovalEvent>());

    /// <summary>Deserializes an event.</summary>
    /// <exception cref="JsonException">The text is not a valid event.</exception>
    public static ApprovalEvent DeserializeEvent(string json) =>
        JsonSerializer.Deserialize(json, Info<ApprovalEvent>()) ?? throw new JsonException("the event is null");

    /// <summary>Serializes an intent (with its <c>type</c> discriminator).</summary>
    public static string SerializeIntent(EngineIntent intent) => JsonSerializer.Serialize(intent, Info<EngineIntent>());

    /// <summary>Deserializes an intent.</summary>
    /// <exception cref="JsonException">The text is not a valid intent.</exception>
    public static EngineIntent DeserializeIntent(string json) =>
        JsonSerializer.Deserialize(json, Info<EngineIntent>()) ?? throw new JsonException("the intent is null");

    /// <summary>Serializes a ledger entry.</summary>
    public static string SerializeLedgerEntry(LedgerEntry entry) => JsonSerializer.Serialize(entry, Info<LedgerEntry>());

    /// <summary>Deserializes a ledger entry.</summary>
    /// <exception cref="JsonException">The text is not a valid entry.</exception>
    public static LedgerEntry DeserializeLedgerEntry(string json) =>
        JsonSerializer.Deserialize(json, Info<LedgerEntry>()) ?? throw new JsonException("the ledger entry is null");

    /// <summary>Deserializes a JSON array of ledger entries.</summary>
    /// <exception cref="JsonException">The text is not a valid array of entries.</exception>
    public static List<LedgerEntry> DeserializeLedgerEntries(string json) =>
        JsonSerializer.Deserialize(json, Info<List<LedgerEntry>>()) ?? throw new JsonException("the ledger entries are null");

    /// <summary>Serializes a timer key.</summary>
    public static string SerializeTimer(TimerKey timer) => JsonSerializer.Serialize(timer, Info<TimerKey>());

    /// <summary>Deserializes a timer key.</summary>
    /// <exception cref="JsonException">The text is not a valid timer key.</exception>
    public static TimerKey DeserializeTimer(string json) =>
        JsonSerializer.Deserialize(json, Info<TimerKey>()) ?? throw new JsonException("the timer key is null");

    private static System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> Info<T>() =>
        (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
}

/// <summary>A <see cref="JsonStringEnumConverter{TEnum}"/> writing camelCase names, usable from source generation.</summary>
/// <typeparam name="TEnum">The enum.</typeparam>
public sealed class CamelCaseEnumConverter<TEnum> : JsonStringEnumConverter<TEnum>
    where TEnum : struct, Enum
{
    /// <summary>Creates the converter (camelCase, integers not allowed).</summary>
    public CamelCaseEnumConverter()
        : base(JsonNamingPolicy.CamelCase, allowIntegerValues: false)
    {
    }
}

/// <summary>Source-generated metadata for <see cref="StateJson"/>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    Converters =
    [
        typeof(CamelCaseEnumConverter<RequestStatus>),
        typeof(CamelCaseEnumConverter<StageStatus>),
        typeof(CamelCaseEnumConverter<CallbackStatus>),
        typeof(CamelCaseEnumConverter<DecisionKind>),
        typeof(CamelCaseEnumConverter<TimerKind>),
        typeof(CamelCaseEnumConverter<NotificationKind>),
    ])]
[JsonSerializable(typeof(ApprovalState))]
[JsonSerializable(typeof(ApprovalEvent))]
[JsonSerializable(typeof(EngineIntent))]
[JsonSerializable(typeof(LedgerEntry))]
[JsonSerializable(typeof(List<LedgerEntry>))]
[JsonSerializable(typeof(TimerKey))]
[JsonSerializable(typeof(Delegation))]
public sealed partial class StateJsonContext : JsonSerializerContext;
