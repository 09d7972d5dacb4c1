using System.Text.Json;
using ApprovalFunctions.Api.Contracts;
using Microsoft.AspNetCore.Http;

namespace ApprovalFunctions.Api.Http;

/// <summary>A response whose JSON is known before it is written, so it can also be stored for idempotent replay.</summary>
public sealed record JsonResponse(int Status, string Json, string ContentType = "application/json")
{
    /// <summary>Serialises <paramref name="value"/> with the API's JSON options.</summary>
    public static JsonResponse Of(int status, object? value) => new(status, JsonSerializer.Serialize(value, ApiJson.Options));

    /// <summary>The result to return.</summary>
    public IResult ToResult() => Results.Content(Json, ContentType, System.Text.Encoding.UTF8, Status);
}
