using System.Net;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalFunctions.Api.Tests;

/// <summary>The OpenAPI document: valid JSON, served by the host, and listing every mapped /api/v1 route and method.</summary>
public sealed class OpenApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Document_ListsEveryMappedApiRoute()
    {
        var document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ExpectAsync(HttpStatusCode.OK);
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths");

        var endpoints = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.StartsWith("/api/v1", StringComparison.Ordinal) == true)
            .ToList();
        Assert.True(endpoints.Count >= 35, $"only {endpoints.Count} endpoints");
        foreach (var endpoint in endpoints)
        {
            var path = endpoint.RoutePattern.RawText!.TrimEnd('/'); // a group's "" route has a trailing slash
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is not in the OpenAPI document");
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
            {
                Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out var operation), $"{method} {path} is not in the OpenAPI document");
                Assert.True(operation.TryGetProperty("operationId", out _) || endpoint.DisplayName is not null);
            }
        }
    }

    [Fact]
    public async Task Document_EveryOperationHasAnOperationIdForClientGeneration()
    {
        var document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ExpectAsync(HttpStatusCode.OK);
        var missing = new List<string>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (!operation.Value.TryGetProperty("operationId", out var id))
                {
                    missing.Add($"{operation.Name} {path.Name}");
                }
                else
                {
                    Assert.True(ids.Add(id.GetString()!), $"duplicate operationId {id}");
                }
            }
        }

        Assert.True(missing.Count == 0, "no operationId: " + string.Join(", ", missing));
    }
}
