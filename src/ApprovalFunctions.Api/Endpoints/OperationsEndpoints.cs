using ApprovalFunctions.Api.Auth;
using ApprovalFunctions.Api.Contracts;
using ApprovalFunctions.Api.Http;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace ApprovalFunctions.Api.Endpoints;

/// <summary>Health, the caller's identity, the admin callback view, and the Development-only sign-in helpers.</summary>
public static class OperationsEndpoints
{
    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapOperationsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Json(new { status = "alive" })).WithTags("Operations").WithName("Liveness");
        app.MapGet("/readyz", (HttpRequest r) => ReadyAsync(r)).WithTags("Operations").WithName("Readiness");
        app.MapGet("/api/v1/me", (HttpRequest r) => MeAsync(r)).WithTags("Identity").WithName("Me").Answers<MeView>(200, 401);
        app.MapGet("/api/v1/callbacks", (HttpRequest r, string? status) => CallbacksAsync(r)).WithTags("Callbacks").WithName("ListCallbacks").Answers<PageView<FailedCallbackSummary>>(200, 400, 401, 403);
        app.MapGet("/api/v1/dev/users", (HttpRequest r) => DevUsers(r)).WithTags("Development").WithName("DevUsers").Answers<IReadOnlyList<DevUserView>>(200, 404);
        app.MapPost("/api/v1/dev/token", (HttpRequest r) => DevTokenAsync(r)).WithTags("Development").WithName("DevToken").Body<DevTokenRequest>().Answers<DevTokenView>(200, 400, 404, 413, 415);
        return app;
    }

    /// <summary><c>GET /readyz</c>: 200 when storage answers, else 503.</summary>
    public static async Task<IResult> ReadyAsync(HttpRequest request)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(request.HttpContext.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await request.Service<StorageTables>().PingAsync(timeout.Token).ConfigureAwait(false);
            return TypedResults.Json(new { status = "ready", storage = "reachable" });
        }
#pragma warning disable CA1031 // Readiness reports any storage failure as "not ready"; it must never throw.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return TypedResults.Json(new { status = "unavailable", storage = ex.GetType().Name }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary><c>GET /api/v1/me</c>.</summary>
    public static async Task<IResult> MeAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        return caller is null
            ? problem!
            : TypedResults.Json(new { userId = caller.UserId, tenantId = caller.TenantId, roles = caller.Roles.Order().ToArray(), name = caller.Name },
                ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/callbacks?status=failed</c> (admin): callbacks by status, newest first.</summary>
    public static async Task<IResult> CallbacksAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var status = request.Query["status"].ToString();
        if (status is not ("" or "failed"))
        {
            return Problems.Validation("status", "Only status=failed is indexed.");
        }

        var items = await request.Service<IndexStore>().ListFailedCallbacksAsync(caller.TenantId, 100, request.HttpContext.RequestAborted)
            .ConfigureAwait(false);
        return TypedResults.Json(new PageView<FailedCallbackSummary>(items, null), ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/dev/users</c> (Development only): the demo users a developer can sign in as.</summary>
    public static IResult DevUsers(HttpRequest request)
    {
        if (!IsDevSignInEnabled(request))
        {
            return Problems.NotFound("Development sign-in is not enabled.");
        }

        return TypedResults.Json(DemoData.Users.Select(u => new { id = u.Id, name = u.Name, roles = u.Roles, tenantId = DemoData.TenantId }),
            ApiJson.Options);
    }

    /// <summary><c>POST /api/v1/dev/token</c> <c>{"userId"}</c> (Development only): mints a development token for a demo user.</summary>
    public static async Task<IResult> DevTokenAsync(HttpRequest request)
    {
        if (!IsDevSignInEnabled(request))
        {
            return Problems.NotFound("Development sign-in is not enabled.");
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            reader.NoOtherProperties("userId", "tenantId", "roles");
            var userId = reader.String("userId", required: true);
            var tenantId = reader.String("tenantId", required: false) ?? DemoData.TenantId;
            var roles = reader.StringArray("roles", maxItems: 3);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            var demo = DemoData.Users.FirstOrDefault(u => u.Id == userId);
            IReadOnlyList<string> grant = roles.Count > 0 ? roles : demo?.Roles ?? ["requester", "approver"];
            var now = request.Now();
            var lifetime = TimeSpan.FromHours(8);
            var token = DevTokens.Mint(request.Service<AuthOptions>().DevSigningKey!, tenantId, userId!, grant, now, lifetime, demo?.Name);
            return TypedResults.Json(new { token, expiresAt = now + lifetime, userId, tenantId, roles = grant }, ApiJson.Options);
        }
    }

    private static bool IsDevSignInEnabled(HttpRequest request) =>
        request.Service<IHostEnvironment>().IsDevelopment() && !string.IsNullOrEmpty(request.Service<AuthOptions>().DevSigningKey)
        && string.IsNullOrEmpty(request.Service<AuthOptions>().Authority);
}
