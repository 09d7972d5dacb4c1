using System.Reflection;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Api;
using ApprovalFunctions.Api.Auth;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Functions.Http;
using ApprovalFunctions.Functions.Orchestration;
using ApprovalFunctions.Runtime.Processing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace ApprovalFunctions.Functions.Tests;

/// <summary>
/// The HTTP functions end to end below the Functions runtime: a real request with a development bearer token goes through
/// the shared handler, <see cref="DurableApprovalCommands"/> (with a mocked <see cref="DurableTaskClient"/>) and
/// <see cref="ResultActionResult"/>, and the status and problem type written to the response are checked.
/// </summary>
public sealed class HttpFunctionsTests
{
    private const string DevKey = "test-only-signing-key-0123456789abcdef0123456789abcdef";
    private readonly Mock<DurableTaskClient> _client = new("test") { CallBase = true };
    private readonly List<string> _raisedTo = [];
    private readonly ApprovalState _state = TestWorkflow.Submit().State;

    public HttpFunctionsTests()
    {
        _client.Setup(c => c.RaiseEventAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<object?>(), It.IsAny<CancellationToken>()))
            .Callback((string id, string _, object? _, CancellationToken _) => _raisedTo.Add(id))
            .Returns(Task.CompletedTask);
    }

    [Fact]
    public async Task ApproveStage_RunningInstance_202WithTheCheckedState()
    {
        Instance(OrchestrationRuntimeStatus.Running);

        var (status, body) = await ApproveAsync("alice");

        Assert.Equal(202, status);
        Assert.Equal("r1", body.GetProperty("id").GetString());
        Assert.Equal(["r1"], _raisedTo);
    }

    [Fact]
    public async Task ApproveStage_StoredRequestWithoutOrchestration_StartsIt_202AndRaised()
    {
        // The process died between the submit's commit and the orchestration's start: the decision starts it.
        Instance(null);
        var startedFor = new List<string?>();
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(),
                It.IsAny<CancellationToken>()))
            .Callback((TaskName _, object? _, StartOrchestrationOptions? options, CancellationToken _) => startedFor.Add(options?.InstanceId))
            .ReturnsAsync("r1");

        var (status, body) = await ApproveAsync("alice");

        Assert.Equal(202, status);
        Assert.Equal("r1", body.GetProperty("id").GetString());
        Assert.Equal(["r1"], startedFor);
        Assert.Equal(["r1"], _raisedTo);
    }

    [Fact]
    public async Task ApproveStage_FinishedInstance_409AndNothingRaised()
    {
        Instance(OrchestrationRuntimeStatus.Completed);

        var (status, body) = await ApproveAsync("alice");

        Assert.Equal(409, status);
        Assert.Equal("urn:approvals:problem:request-closed", body.GetProperty("type").GetString());
        Assert.Empty(_raisedTo);
    }

    [Fact]
    public async Task ApproveStage_NotAnApprover_403AndNothingRaised()
    {
        Instance(OrchestrationRuntimeStatus.Running);

        var (status, body) = await ApproveAsync("bob");

        Assert.Equal(403, status);
        Assert.Equal("urn:approvals:problem:not-an-approver", body.GetProperty("type").GetString());
        _client.Verify(c => c.RaiseEventAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<object?>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task ApproveStage_NoToken_401BeforeAnythingIsRead()
    {
        var (status, _) = await ApproveAsync(null);

        Assert.Equal(401, status);
        _client.Verify(c => c.GetInstancesAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public void Routes_MatchTheSharedApiRouteForRoute()
    {
        var functions = typeof(HttpFunctions).GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).SingleOrDefault(a => a is not null))
            .Where(a => a is not null)
            .SelectMany(a => a!.Methods!.Select(method => method.ToUpperInvariant() + " /" + a.Route))
            .Order(StringComparer.Ordinal)
            .ToList();

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.Configuration["Auth:DevSigningKey"] = DevKey;
        builder.Services.AddApprovalsApi(builder.Configuration, builder.Environment);
        builder.Services.AddFunctionsHost(builder.Configuration);
        var app = builder.Build();
        app.MapApprovalsApi();
        var api = ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Where(e => !e.RoutePattern.RawText!.StartsWith("/openapi", StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => m + " " + e.RoutePattern.RawText!.TrimEnd('/')))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Contains("POST /api/v1/approvals/{id}/stages/{stageId}/approve", functions);
        Assert.Equal(api, functions);
    }

    [Fact]
    public void AddFunctionsHost_WithTheApi_EveryRegisteredServiceResolves()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.Configuration["Auth:DevSigningKey"] = DevKey;
        builder.Configuration["AzureWebJobsStorage"] = "UseDevelopmentStorage=true";
        builder.Services.AddApprovalsApi(builder.Configuration, builder.Environment);
        builder.Services.AddFunctionsHost(builder.Configuration);
        using var provider = builder.Services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        // Constructing (not calling) everything the handlers and functions resolve: no I/O happens until a request.
        Assert.IsType<DurableApprovalCommands>(provider.GetRequiredService<IApprovalCommands>());
        Assert.NotNull(provider.GetRequiredService<DelegationActivator>());
        Assert.NotNull(ActivatorUtilities.CreateInstance<Activities>(provider));
        Assert.NotNull(ActivatorUtilities.CreateInstance<MaintenanceFunctions>(provider));
        Assert.Equal(FunctionsHost.DefaultHubName, provider.GetRequiredService<Runtime.Storage.StorageTables>().HubName);
    }

    private void Instance(OrchestrationRuntimeStatus? status) =>
        _client.Setup(c => c.GetInstancesAsync("r1", It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(status is null ? null : new OrchestrationMetadata(OrchestrationNames.Orchestrator, "r1") { RuntimeStatus = status.Value });

    private async Task<(int Status, JsonElement Body)> ApproveAsync(string? user)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var auth = new AuthOptions { DevSigningKey = DevKey };
        services.AddSingleton(auth);
        services.AddSingleton(new TokenAuthenticator(auth, isDevelopment: true));
        services.AddSingleton<TimeProvider>(new FixedTime(TestWorkflow.Now.AddMinutes(5)));
        services.AddSingleton<IApprovalCommands>(sp => new DurableApprovalCommands(
            new SingleRequestSource(_state), () => DurableClientScope.Current, sp.GetRequiredService<TimeProvider>()));
        await using var provider = services.BuildServiceProvider();

        var context = new DefaultHttpContext { RequestServices = provider };
        context.Request.Method = "POST";
        context.Request.Path = "/api/v1/approvals/r1/stages/review/approve";
        context.Request.Body = new MemoryStream();
        if (user is not null)
        {
            var token = DevTokens.Mint(DevKey, TestWorkflow.TenantId, user, ["approver"], DateTimeOffset.UtcNow);
            context.Request.Headers.Authorization = "Bearer " + token;
        }

        var response = new MemoryStream();
        context.Response.Body = response;

        var action = await HttpFunctions.ApproveStage(context.Request, "r1", "review", _client.Object);
        await action.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));

        var text = Encoding.UTF8.GetString(response.ToArray());
        using var document = JsonDocument.Parse(text.Length == 0 ? "{}" : text);
        return (context.Response.StatusCode, document.RootElement.Clone());
    }

    private sealed class SingleRequestSource(ApprovalState state) : IRequestSource
    {
        public Task<ProcessResult> SubmitAsync(Engine.Events.Submitted submitted, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<StoredRequestContext?> LoadAsync(string tenantId, string requestId, CancellationToken cancellationToken) =>
            Task.FromResult(tenantId == state.TenantId && requestId == state.Id
                ? new StoredRequestContext(state, TestWorkflow.Definition, TestWorkflow.Directory)
                : null);

        public Task<Engine.Definitions.WorkflowDefinition?> GetDefinitionAsync(string tenantId, WorkflowRef workflow, CancellationToken cancellationToken) =>
            Task.FromResult<Engine.Definitions.WorkflowDefinition?>(TestWorkflow.Definition);
    }
}
