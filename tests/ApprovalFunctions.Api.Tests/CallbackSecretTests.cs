using System.Net;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalFunctions.Api.Tests;

/// <summary>The callback secret is write-only: a re-publish without it keeps the previous one; callbacks are never unsigned.</summary>
public sealed class CallbackSecretTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static string Workflow(string? secret) => $$"""
        {"name": "Signed", "model": "po", "event": "create",
         "callback": {"url": "https://erp.example/cb", "events": ["approved"]{{(secret is null ? "" : $", \"secret\": \"{secret}\"")}}},
         "stages": [{"id": "s1", "approvers": [{"type": "user", "id": "boss"}]}]}
        """;

    [Fact]
    public async Task Publish_CallbackWithoutAnySecret_RefusedAtCallbackSecret()
    {
        var admin = factory.Client(TestApi.NewTenant(), "admin", "admin");

        var problem = await (await admin.PutJsonAsync("/api/v1/workflows/signed", Workflow(null)))
            .ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");

        Assert.Contains("callback.secret", TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task Publish_NewVersionWithoutSecret_KeepsThePreviousSecret()
    {
        var tenant = TestApi.NewTenant();
        var admin = factory.Client(tenant, "admin", "admin");
        await (await admin.PutJsonAsync("/api/v1/workflows/signed", Workflow("first-secret-0123456789"))).ExpectAsync(HttpStatusCode.Created);

        var v2 = await (await admin.PutJsonAsync("/api/v1/workflows/signed", Workflow(null))).ExpectAsync(HttpStatusCode.Created);

        Assert.Equal(2, v2.GetProperty("version").GetInt32());
        Assert.False(v2.GetProperty("callback").TryGetProperty("secret", out _));
        var stored = await factory.Services.GetRequiredService<DefinitionStore>().GetAsync(tenant, "signed", 2);
        Assert.Equal("first-secret-0123456789", stored!.Callback!.Secret);
    }
}
