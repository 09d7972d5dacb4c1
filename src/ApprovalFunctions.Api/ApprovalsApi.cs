using ApprovalFunctions.Api.Auth;
using ApprovalFunctions.Api.Endpoints;
using ApprovalFunctions.Api.Http;
using ApprovalFunctions.Api.Rules;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalFunctions.Api;

/// <summary>Registers and maps the HTTP API. Both hosts call these two methods.</summary>
public static class ApprovalsApi
{
    /// <summary>
    /// Registers the runtime <paramref name="create"/> builds (one composition root: stores, caches, processor, runner)
    /// and each of its members as a singleton, so handlers and hosted services resolve the same instances.
    /// </summary>
    public static IServiceCollection AddApprovalRuntime(this IServiceCollection services, Func<IServiceProvider, ApprovalRuntime> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        services.AddSingleton(create);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Tables);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Requests);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Definitions);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().DefinitionCache);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Directory);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().DirectoryCache);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Index);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Idempotency);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Integrations);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Replay);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Subscriptions);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().DueWork);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Leases);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Processor);
        services.AddSingleton(sp => sp.GetRequiredService<ApprovalRuntime>().Runner);
        return services;
    }

    /// <summary>Registers identity, rules, problem details and the OpenAPI document.</summary>
    public static IServiceCollection AddApprovalsApi(this IServiceCollection services, IConfiguration configuration, IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(environment);
        var auth = new AuthOptions();
        configuration.GetSection("Auth").Bind(auth);
        services.AddSingleton(auth);
        services.AddSingleton(new TokenAuthenticator(auth, environment.IsDevelopment()));
        services.AddSingleton<IRuleEvaluator>(JsonLogicEvaluator.Instance);
        services.AddSingleton<DelegationActivator>();
        // Problems written by the framework itself (no route matched, wrong method, status-code pages) get a stable
        // urn type too, so clients can switch on 'type' for every error, never on a documentation URL.
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Type is null || !problem.Type.StartsWith(Problems.TypePrefix, StringComparison.Ordinal))
            {
                problem.Type = Problems.TypePrefix + Problems.FrameworkSlug(problem.Status ?? context.HttpContext.Response.StatusCode);
            }
        });
        services.AddOpenApi("v1", options => options.AddSchemaTransformer((schema, context, _) =>
        {
            // A ledger hash is written by its own converter, so the generator cannot see that it is a string.
            if (context.JsonTypeInfo.Type == typeof(Engine.Ledger.LedgerHash))
            {
                schema.Type = Microsoft.OpenApi.JsonSchemaType.String;
                schema.Description = "SHA-256 chain hash: 64 lowercase hex characters.";
            }

            return Task.CompletedTask;
        }).AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "ApprovalFunctions API";
            document.Info.Version = "v1";
            document.Info.Description = "Multi-tenant approvals: workflows, requests, decisions, directory, webhooks. " +
                "Authenticate with 'Authorization: Bearer <JWT>'. Errors are RFC 9457 problem details with a stable 'type' " +
                "(catalogue: docs/api-errors.md).";

            // Every /api/v1 route takes a bearer JWT (the webhook route is signed instead and ignores it).
            document.Components ??= new Microsoft.OpenApi.OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, Microsoft.OpenApi.IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["bearer"] = new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "Entra ID access token, or locally an HS256 development token (claims sub, tid, roles).",
            };
            document.Security ??= [];
            document.Security.Add(new Microsoft.OpenApi.OpenApiSecurityRequirement
            {
                [new Microsoft.OpenApi.OpenApiSecuritySchemeReference("bearer", document)] = [],
            });
            return Task.CompletedTask;
        }));
        return services;
    }

    /// <summary>Maps every route of API.md plus operations, and a problem-details exception handler that never leaks internals.</summary>
    public static WebApplication MapApprovalsApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler(errors => errors.Run(HandleExceptionAsync));
        app.UseStatusCodePages();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapOperationsEndpoints();
        app.MapWorkflowEndpoints();
        app.MapApprovalEndpoints();
        app.MapDirectoryEndpoints();
        app.MapIntegrationEndpoints();
        return app;
    }

    private static async Task HandleExceptionAsync(HttpContext context)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        if (exception is not null && Problems.ForException(context, exception) is { } result)
        {
            await result.ExecuteAsync(context).ConfigureAwait(false);
        }
    }
}
