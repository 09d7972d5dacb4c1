using System.Text.Json;
using System.Text.Json.Serialization;
using ApprovalFunctions.Engine.Directory;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>One projected index row as recorded in a request's manifest.</summary>
internal sealed record ManifestRow(string T, string Pk, string Rk, string H);

/// <summary>Source-generated JSON for the runtime's own stored shapes (camelCase).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DirectoryUser))]
[JsonSerializable(typeof(DirectoryGroup))]
[JsonSerializable(typeof(DirectoryDepartment))]
[JsonSerializable(typeof(Delegation))]
[JsonSerializable(typeof(List<ManifestRow>))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(List<JournalEntryData>))]
[JsonSerializable(typeof(JournalEntryData))]
[JsonSerializable(typeof(ContinuationPayload))]
internal sealed partial class RuntimeJsonContext : JsonSerializerContext;

/// <summary>The opaque continuation token's content: the list's partition it is bound to and the service's (opaque) continuation.</summary>
internal sealed record ContinuationPayload(string L, string P, string? R);

internal static class RuntimeJson
{
    public static string Serialize<T>(T value) =>
        JsonSerializer.Serialize(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)RuntimeJsonContext.Default.GetTypeInfo(typeof(T))!);

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize(json, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)RuntimeJsonContext.Default.GetTypeInfo(typeof(T))!)
        ?? throw new JsonException("null " + typeof(T).Name);
}
