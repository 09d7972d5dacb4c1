using System.Text.Json;
using System.Text.Json.Serialization;

namespace ApprovalFunctions.Api.Contracts;

/// <summary>The API's JSON conventions: camelCase names, camelCase enum strings, nulls written (API.md shows them).</summary>
public static class ApiJson
{
    /// <summary>Options for every API response.</summary>
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
