using System.Text.Json;
using ApprovalFunctions.Api.Contracts;
using ApprovalFunctions.Api.Http;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ApprovalFunctions.Api.Endpoints;

/// <summary>Workflows (admin): publish immutable versions, read, list, deactivate, preview.</summary>
public static class WorkflowEndpoints
{
    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapWorkflowEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/workflows").WithTags("Workflows");
        api.MapGet("", (HttpRequest r) => ListAsync(r)).WithName("ListWorkflows").Answers<PageView<JsonElement>>(200, 401);
        api.MapPost("/preview", (HttpRequest r) => PreviewAsync(r)).WithName("PreviewWorkflow").Body<PreviewRequest>().Answers<PreviewResult>(200, 400, 401, 403, 413, 415);
        api.MapPut("/{workflowId}", (HttpRequest r, string workflowId) => PublishAsync(r, workflowId)).WithName("PublishWorkflow").Body<JsonElement>().Answers<JsonElement>(201, 400, 401, 403, 413, 415);
        api.MapGet("/{workflowId}", (HttpRequest r, string workflowId, string? version) => GetAsync(r, workflowId)).WithName("GetWorkflow").Answers<JsonElement>(200, 400, 401, 404);
        api.MapGet("/{workflowId}/versions", (HttpRequest r, string workflowId) => VersionsAsync(r, workflowId)).WithName("ListWorkflowVersions").Answers<PageView<WorkflowVersionView>>(200, 401, 404);
        api.MapDelete("/{workflowId}", (HttpRequest r, string workflowId) => DeactivateAsync(r, workflowId)).WithName("DeactivateWorkflow").AnswersEmpty(204, 401, 403, 404);
        return app;
    }

    /// <summary><c>PUT /api/v1/workflows/{workflowId}</c>: validates and publishes a new version.</summary>
    public static async Task<IResult> PublishAsync(HttpRequest request, string workflowId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        if (!IsValidId(workflowId))
        {
            return Problems.Validation("workflowId", "Use 1-100 letters, digits, '-', '_' or '.'.");
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var ct = request.HttpContext.RequestAborted;
            var directory = await request.Service<DirectoryCache>().GetAsync(caller.TenantId, ct).ConfigureAwait(false);
            var parsed = WorkflowDefinitionParser.Parse(caller.TenantId, workflowId, body.Root, request.Service<IRuleEvaluator>(), directory);
            if (parsed.Definition is null)
            {
                return Problems.Validation(parsed.Errors
                    .GroupBy(e => e.Path, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray(), StringComparer.Ordinal));
            }

            var definition = parsed.Definition;
            var store = request.Service<DefinitionStore>();
            if (definition.Callback is { Secret: null } callback)
            {
                // The secret is write-only (never returned), so a GET-edit-PUT round trip omits it: keep the previous
                // version's. Callbacks are never sent unsigned: without any secret the publish is refused.
                var previous = await store.GetAsync(caller.TenantId, workflowId, null, ct).ConfigureAwait(false);
                if (previous?.Callback?.Secret is not { } secret)
                {
                    return Problems.Validation("callback.secret",
                        "A callback needs a secret to sign it (write-only: it is never returned, so send it when first publishing).");
                }

                definition = definition with { Callback = callback with { Secret = secret } };
            }

            var published = await store.PublishAsync(definition with { PublishedAt = request.Now() }, ct).ConfigureAwait(false);
            return TypedResults.Json(WorkflowDefinitionParser.ToApiJson(published), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        }
    }

    /// <summary><c>GET /api/v1/workflows/{workflowId}</c> (latest, or <c>?version=N</c>).</summary>
    public static async Task<IResult> GetAsync(HttpRequest request, string workflowId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        int? version = null;
        if (request.Query.TryGetValue("version", out var versionText))
        {
            if (!int.TryParse(versionText, out var v) || v < 1)
            {
                return Problems.Validation("version", "'version' must be a whole number from 1.");
            }

            version = v;
        }

        var definition = await request.Service<DefinitionStore>()
            .GetAsync(caller.TenantId, workflowId, version, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return definition is null
            ? Problems.NotFound(version is null ? $"No workflow '{workflowId}'." : $"No version {version} of workflow '{workflowId}'.")
            : TypedResults.Json(WorkflowDefinitionParser.ToApiJson(definition), ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/workflows/{workflowId}/versions</c>.</summary>
    public static async Task<IResult> VersionsAsync(HttpRequest request, string workflowId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var versions = await request.Service<DefinitionStore>()
            .ListVersionsAsync(caller.TenantId, workflowId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return versions.Count == 0
            ? Problems.NotFound($"No workflow '{workflowId}'.")
            : TypedResults.Json(new PageView<WorkflowVersionView>(
                [.. versions.Select(d => new WorkflowVersionView(d.Version, d.PublishedAt, d.Active))], null), ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/workflows</c>: the latest version of each workflow.</summary>
    public static async Task<IResult> ListAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var latest = await request.Service<DefinitionStore>().ListLatestAsync(caller.TenantId, request.HttpContext.RequestAborted)
            .ConfigureAwait(false);
        return TypedResults.Json(new PageView<JsonElement>([.. latest.Select(WorkflowDefinitionParser.ToApiJson)], null), ApiJson.Options);
    }

    /// <summary><c>DELETE /api/v1/workflows/{workflowId}</c>: deactivates every version; running requests keep theirs.</summary>
    public static async Task<IResult> DeactivateAsync(HttpRequest request, string workflowId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var found = await request.Service<DefinitionStore>()
            .DeactivateAsync(caller.TenantId, workflowId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return found ? TypedResults.NoContent() : Problems.NotFound($"No workflow '{workflowId}'.");
    }

    /// <summary><c>POST /api/v1/workflows/preview</c> <c>{model, event, record, requester, context}</c>: a dry run that writes nothing.</summary>
    public static async Task<IResult> PreviewAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            reader.NoOtherProperties("model", "event", "record", "requester", "subjects", "context");
            var model = reader.String("model", required: true);
            var evt = reader.String("event", required: false) ?? "create";
            var record = reader.Object("record", required: true);
            var requester = reader.String("requester", required: false) ?? caller.UserId;
            var subjects = reader.StringArray("subjects");
            var context = reader.Object("context", required: false);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            // A user id from a body is not trusted: only an admin may preview on behalf of another requester
            // (it reveals who would approve that person's requests); everyone else previews as themselves.
            if (!caller.IsAdmin && !string.Equals(requester, caller.UserId, StringComparison.Ordinal))
            {
                return Problems.Forbidden("Only an admin may preview for another requester; omit 'requester' to preview as yourself.");
            }

            var ct = request.HttpContext.RequestAborted;
            var directory = await request.Service<DirectoryCache>().GetAsync(caller.TenantId, ct).ConfigureAwait(false);
            var candidates = await request.Service<DefinitionCache>().GetActiveAsync(caller.TenantId, ct).ConfigureAwait(false);
            var preview = WorkflowPreview.Run(
                new PreviewInput
                {
                    TenantId = caller.TenantId,
                    Model = model!,
                    Event = evt,
                    Record = record!.Value,
                    Requester = requester,
                    Subjects = subjects,
                    Context = context,
                },
                candidates, directory, request.Now());
            return TypedResults.Json(preview, ApiJson.Options);
        }
    }

    internal static bool IsValidId(string id) =>
        id.Length is >= 1 and <= 100 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}

/// <summary>One version of a workflow.</summary>
public sealed record WorkflowVersionView(int Version, DateTimeOffset PublishedAt, bool Active);
