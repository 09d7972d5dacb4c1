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
    public async Task Document_HasSchemasForBodiesAndAnswers_BearerScheme_AndListQueryParameters()
    {
        var document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ExpectAsync(HttpStatusCode.OK);
        var problems = new List<string>();
        foreach (var path in document.GetProperty("paths").EnumerateObject().Where(p => p.Name.StartsWith("/api/v1", StringComparison.Ordinal)))
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "delete"))
            {
                var name = $"{operation.Name} {path.Name}";
                var responses = operation.Value.GetProperty("responses");
                var success = responses.EnumerateObject().Where(r => r.Name.StartsWith('2')).ToList();
                if (success.Count == 0 || (success.All(r => !r.Value.TryGetProperty("content", out _)) && success.All(r => r.Name != "204")))
                {
                    problems.Add(name + ": no 2xx response schema");
                }

                if (!path.Name.Contains("/dev/", StringComparison.Ordinal) && !responses.TryGetProperty("401", out _))
                {
                    problems.Add(name + ": no 401");
                }

                if (operation.Name is "post" or "put" && !path.Name.EndsWith("/retry", StringComparison.Ordinal)
                    && !(operation.Value.TryGetProperty("requestBody", out var body) && body.GetProperty("content").TryGetProperty("application/json", out _)))
                {
                    problems.Add(name + ": no JSON request body");
                }

                if (responses.TryGetProperty("400", out var bad) && !bad.TryGetProperty("content", out _))
                {
                    problems.Add(name + ": 400 without a problem schema");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal("bearer", document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer").GetProperty("scheme").GetString());
        var list = document.GetProperty("paths").GetProperty("/api/v1/approvals").GetProperty("get");
        var parameters = list.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToHashSet();
        foreach (var expected in new[] { "pendingMyApprovals", "requestedByMe", "status", "model", "top", "continuationToken" })
        {
            Assert.Contains(expected, parameters);
        }

        var submit = document.GetProperty("paths").GetProperty("/api/v1/approvals").GetProperty("post");
        Assert.True(submit.GetProperty("responses").TryGetProperty("201", out _));
        Assert.True(submit.GetProperty("responses").TryGetProperty("422", out _));
    }

    [Fact]
    public async Task Document_LedgerHashesAreDescribedAsStrings()
    {
        var document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ExpectAsync(HttpStatusCode.OK);
        var schemas = document.GetProperty("components").GetProperty("schemas");
        var entry = schemas.GetProperty("LedgerEntry").GetProperty("properties");
        foreach (var field in (string[])["hash", "previousHash"])
        {
            var schema = entry.GetProperty(field);
            if (schema.TryGetProperty("$ref", out var reference))
            {
                schema = schemas.GetProperty(reference.GetString()!.Split('/')[^1]);
            }

            Assert.Equal("string", schema.GetProperty("type").GetString());
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
