using System.Security.Cryptography;
using ApprovalFunctions.Api.Auth;
using ApprovalFunctions.Api.Contracts;
using ApprovalFunctions.Api.Http;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ApprovalFunctions.Api.Endpoints;

/// <summary>Approval requests: submit, read, lists, history, and every decision and command on them.</summary>
public static class ApprovalEndpoints
{
    /// <summary>The header that makes submits and decisions idempotent.</summary>
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapApprovalEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/approvals").WithTags("Approvals");
        api.MapPost("", (HttpRequest r) => SubmitAsync(r)).WithName("SubmitApproval").Body<SubmitRequest>().Answers<ApprovalView>(201, 400, 401, 409, 413, 415, 422).Produces<ApprovalView>(200);
        // The query parameters are named in the lambda only so the OpenAPI document lists them (as strings: the handler
        // parses them itself, answering field-level validation problems rather than binding failures).
        api.MapGet("", (HttpRequest r, string? pendingMyApprovals, string? requestedByMe, string? status, string? model, string? top,
            string? continuationToken) => ListAsync(r)).WithName("ListApprovals").Answers<PageView<IndexSummary>>(200, 400, 401);
        api.MapGet("/{id}", (HttpRequest r, string id) => GetAsync(r, id)).WithName("GetApproval").Answers<ApprovalView>(200, 401, 404);
        api.MapGet("/{id}/history", (HttpRequest r, string id) => HistoryAsync(r, id)).WithName("GetApprovalHistory").Answers<HistoryView>(200, 401, 404);
        api.MapGet("/record/{model}/{recordId}", (HttpRequest r, string model, string recordId) => ByRecordAsync(r, model, recordId))
            .WithName("GetApprovalsByRecord").Answers<RecordHistoryView>(200, 401, 404);
        api.MapPost("/{id}/stages/{stageId}/approve", (HttpRequest r, string id, string stageId) => DecideAsync(r, id, stageId, DecisionKind.Approve)).WithName("Approve").Body<DecisionRequest>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);
        api.MapPost("/{id}/stages/{stageId}/reject", (HttpRequest r, string id, string stageId) => DecideAsync(r, id, stageId, DecisionKind.Reject)).WithName("Reject").Body<DecisionRequest>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);
        api.MapPost("/{id}/stages/{stageId}/request-changes",
            (HttpRequest r, string id, string stageId) => DecideAsync(r, id, stageId, DecisionKind.RequestChanges)).WithName("RequestChanges").Body<DecisionRequest>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);
        api.MapPost("/{id}/stages/{stageId}/comment", (HttpRequest r, string id, string stageId) => DecideAsync(r, id, stageId, DecisionKind.Comment)).WithName("Comment").Body<DecisionRequest>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);
        api.MapPost("/{id}/stages/{stageId}/reassign", (HttpRequest r, string id, string stageId) => ReassignAsync(r, id, stageId)).WithName("Reassign").Body<ReassignRequest>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);
        api.MapPost("/{id}/cancel", (HttpRequest r, string id) => CancelAsync(r, id)).WithName("CancelApproval").Body<CancelRequest>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);
        api.MapPost("/{id}/resubmit", (HttpRequest r, string id) => ResubmitAsync(r, id)).WithName("ResubmitApproval").Body<ResubmitRequest>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);
        api.MapPost("/{id}/retry", (HttpRequest r, string id) => RetryCallbackAsync(r, id)).WithName("RetryCallback").Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 422).Produces<ApprovalView>(202);
        return app;
    }

    /// <summary><c>POST /api/v1/approvals</c>.</summary>
    public static async Task<IResult> SubmitAsync(HttpRequest request)
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
            reader.NoOtherProperties("model", "recordId", "event", "title", "description", "record", "subjects", "context");
            var model = reader.String("model", required: true);
            var recordId = reader.String("recordId", required: true);
            var evt = reader.String("event", required: false) ?? "create";
            var title = reader.String("title", required: false, maxLength: 512);
            var description = reader.String("description", required: false, maxLength: 8192);
            var record = reader.Object("record", required: true);
            var subjects = reader.StringArray("subjects");
            var context = reader.Object("context", required: false);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            return await Idempotent(request, caller, "submit", body.Raw, async () =>
            {
                var submitted = new Submitted
                {
                    EventId = "submit:" + Guid.CreateVersion7().ToString("N"),
                    RequestId = Guid.CreateVersion7().ToString("N"),
                    TenantId = caller.TenantId,
                    Requester = new Actor(caller.UserId, caller.IsAdmin),
                    Model = model!,
                    RecordId = recordId!,
                    Event = evt,
                    Title = title,
                    Description = description,
                    Record = record!.Value,
                    Subjects = subjects,
                    Context = context,
                };
                var result = await request.Service<IApprovalCommands>().SubmitAsync(submitted, request.HttpContext.RequestAborted)
                    .ConfigureAwait(false);
                return result.State is null
                    ? ToResponse(result)
                    : JsonResponse.Of(result.State.Status == RequestStatus.NotRequired ? 200 : 201, ApprovalView.From(result.State));
            }).ConfigureAwait(false);
        }
    }

    /// <summary><c>GET /api/v1/approvals/{id}</c>.</summary>
    public static async Task<IResult> GetAsync(HttpRequest request, string id)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var stored = await request.Service<RequestStore>().GetAsync(caller.TenantId, id, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return stored is null ? NotFound(id) : TypedResults.Json(ApprovalView.From(stored.State), ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/approvals/{id}/history</c>: the ledger, oldest first, and whether the chain verifies.</summary>
    public static async Task<IResult> HistoryAsync(HttpRequest request, string id)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var store = request.Service<RequestStore>();
        var ct = request.HttpContext.RequestAborted;
        var stored = await store.GetAsync(caller.TenantId, id, ct).ConfigureAwait(false);
        if (stored is null)
        {
            return NotFound(id);
        }

        var entries = await store.GetLedgerAsync(caller.TenantId, id, ct).ConfigureAwait(false);

        // The ledger is read after the state; entries a later commit appended are not covered by the head read here,
        // so the answer is the ledger as of that state (read again for newer entries).
        if (entries.Count > stored.State.LedgerLength)
        {
            entries = [.. entries.Take((int)stored.State.LedgerLength)];
        }

        var verification = LedgerChain.Verify(caller.TenantId, id, entries, stored.State.LedgerHead);
        return TypedResults.Json(new HistoryView(id, verification.IsValid, verification.Reason, stored.State.LedgerHead.ToString(), entries), ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/approvals/record/{model}/{recordId}</c>: the latest request for the record and earlier ones.</summary>
    public static async Task<IResult> ByRecordAsync(HttpRequest request, string model, string recordId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var ct = request.HttpContext.RequestAborted;
        var ids = await request.Service<IndexStore>().ListRecordAsync(caller.TenantId, model, recordId, 50, ct).ConfigureAwait(false);
        var store = request.Service<RequestStore>();
        var views = new List<ApprovalView>();
        foreach (var requestId in ids)
        {
            var stored = await store.GetAsync(caller.TenantId, requestId, ct).ConfigureAwait(false);
            if (stored is not null)
            {
                views.Add(ApprovalView.From(stored.State));
            }
        }

        return views.Count == 0
            ? Problems.NotFound($"No approval request for record '{recordId}' of model '{model}'.")
            : TypedResults.Json(new RecordHistoryView(views[0], views.Skip(1).ToList()), ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/approvals</c> with <c>pendingMyApprovals</c>, <c>requestedByMe</c>, <c>status</c>, <c>model</c>, <c>continuationToken</c>, <c>top</c>.</summary>
    public static async Task<IResult> ListAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var query = request.Query;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        bool? pending = ParseBool(query["pendingMyApprovals"], "pendingMyApprovals", errors);
        bool? mine = ParseBool(query["requestedByMe"], "requestedByMe", errors);
        var top = 50;
        if (query.TryGetValue("top", out var topText) && (!int.TryParse(topText, out top) || top is < 1 or > 200))
        {
            errors["top"] = ["'top' must be a whole number from 1 to 200."];
        }

        RequestStatus? status = null;
        if (query.TryGetValue("status", out var statusText) && !string.IsNullOrEmpty(statusText))
        {
            if (Enum.TryParse<RequestStatus>(statusText, ignoreCase: true, out var parsed) && !int.TryParse(statusText, out _))
            {
                status = parsed;
            }
            else
            {
                errors["status"] = ["Unknown status; use pending, changesRequested, approved, rejected, expired, cancelled or quarantined."];
            }
        }

        if (pending is null && mine is not true)
        {
            errors["pendingMyApprovals"] = ["Give pendingMyApprovals=true|false or requestedByMe=true: lists read an index, never every request."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
        }

        var filter = new ListFilter(status?.ToString(), NullIfEmpty(query["model"]));
        var token = NullIfEmpty(query["continuationToken"]);
        var index = request.Service<IndexStore>();
        var ct = request.HttpContext.RequestAborted;
        try
        {
            var page = pending is not null
                ? await index.ListInboxAsync(caller.TenantId, caller.UserId, pending.Value, filter, top, token, ct).ConfigureAwait(false)
                : await index.ListRequestedAsync(caller.TenantId, caller.UserId, filter, top, token, ct).ConfigureAwait(false);
            return TypedResults.Json(new PageView<IndexSummary>(page.Items, page.ContinuationToken), ApiJson.Options);
        }
        catch (FormatException)
        {
            return Problems.Validation("continuationToken", "The continuation token is not valid for this list.");
        }
    }

    /// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/approve|reject|request-changes|comment</c>.</summary>
    public static async Task<IResult> DecideAsync(HttpRequest request, string id, string stageId, DecisionKind decision)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request, allowEmpty: true).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            reader.NoOtherProperties("comment");
            var comment = reader.String("comment", required: decision is DecisionKind.Reject or DecisionKind.RequestChanges or DecisionKind.Comment,
                maxLength: 4000);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            var route = $"decide:{id}:{stageId}:{decision}";
            return await Idempotent(request, caller, route, body.Raw, () => ApplyAsync(request, caller, id, new Decided
            {
                EventId = EventId(request, caller, route),
                StageId = stageId,
                Actor = new Actor(caller.UserId, caller.IsAdmin),
                Decision = decision,
                Comment = comment,
            })).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /api/v1/approvals/{id}/cancel</c> (requester or admin).</summary>
    public static async Task<IResult> CancelAsync(HttpRequest request, string id)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request, allowEmpty: true).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            reader.NoOtherProperties("reason", "comment");
            var reason = reader.String("reason", required: false, maxLength: 4000) ?? reader.String("comment", required: false, maxLength: 4000);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            var route = $"cancel:{id}";
            return await Idempotent(request, caller, route, body.Raw, () => ApplyAsync(request, caller, id, new CancelRequested
            {
                EventId = EventId(request, caller, route),
                Actor = new Actor(caller.UserId, caller.IsAdmin),
                Reason = reason,
            })).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /api/v1/approvals/{id}/resubmit</c> with a new <c>record</c> (requester).</summary>
    public static async Task<IResult> ResubmitAsync(HttpRequest request, string id)
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
            reader.NoOtherProperties("record", "title", "comment");
            var record = reader.Object("record", required: true);
            var title = reader.String("title", required: false, maxLength: 512);
            var comment = reader.String("comment", required: false, maxLength: 4000);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            var route = $"resubmit:{id}";
            return await Idempotent(request, caller, route, body.Raw, () => ApplyAsync(request, caller, id, new Resubmitted
            {
                EventId = EventId(request, caller, route),
                Actor = new Actor(caller.UserId, caller.IsAdmin),
                Record = record!.Value,
                Title = title,
                Comment = comment,
            })).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/reassign</c> <c>{"from","to"}</c> (admin).</summary>
    public static async Task<IResult> ReassignAsync(HttpRequest request, string id, string stageId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
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
            reader.NoOtherProperties("from", "to");
            var from = reader.String("from", required: true);
            var to = reader.String("to", required: true);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            var route = $"reassign:{id}:{stageId}";
            return await Idempotent(request, caller, route, body.Raw, () => ApplyAsync(request, caller, id, new Reassigned
            {
                EventId = EventId(request, caller, route),
                StageId = stageId,
                From = from!,
                To = to!,
                Actor = new Actor(caller.UserId, caller.IsAdmin),
            })).ConfigureAwait(false);
        }
    }

    /// <summary><c>POST /api/v1/approvals/{id}/retry</c> (admin): deliver a failed callback again.</summary>
    public static async Task<IResult> RetryCallbackAsync(HttpRequest request, string id)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var response = await ApplyAsync(request, caller, id, new CallbackRetryRequested
        {
            EventId = "retry:" + Guid.CreateVersion7().ToString("N"),
            Actor = new Actor(caller.UserId, caller.IsAdmin),
        }).ConfigureAwait(false);
        return response.ToResult();
    }

    private static async Task<JsonResponse> ApplyAsync(HttpRequest request, Caller caller, string id, ApprovalEvent evt)
    {
        var result = await request.Service<IApprovalCommands>().ApplyAsync(caller.TenantId, id, evt, request.HttpContext.RequestAborted)
            .ConfigureAwait(false);
        return ToResponse(result, id);
    }

    private static JsonResponse ToResponse(CommandResult result, string? id = null) => result.Status switch
    {
        CommandStatus.NotFound => ProblemResponse(404, "not-found", "Not found.", $"No approval request '{id}'."),
        CommandStatus.Refused => ProblemResponse(result.Refusal!.HttpStatus, Problems.RefusalSlug(result.Refusal.Code), "The decision was refused.", result.Refusal.Message),
        CommandStatus.Accepted => JsonResponse.Of(202, ApprovalView.From(result.State!)),
        _ => JsonResponse.Of(200, ApprovalView.From(result.State!)),
    };

    private static JsonResponse ProblemResponse(int status, string slug, string title, string detail) =>
        new(status, System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["type"] = Problems.TypePrefix + slug,
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail,
        }), "application/problem+json");

    /// <summary>
    /// Runs <paramref name="action"/> at most once per <c>Idempotency-Key</c>: a repeat with the same route and
    /// body replays the first answer; the same key with a different body is refused (422). The key is claimed
    /// with an atomic insert, never check-then-insert.
    /// </summary>
    internal static async Task<IResult> Idempotent(HttpRequest request, Caller caller, string route, byte[] body, Func<Task<JsonResponse>> action)
    {
        var key = request.Headers[IdempotencyHeader].ToString();
        if (string.IsNullOrEmpty(key))
        {
            return (await action().ConfigureAwait(false)).ToResult();
        }

        if (key.Length > 200)
        {
            return Problems.Validation(IdempotencyHeader, "At most 200 characters.");
        }

        var hash = RequestHash(route, body);
        var store = request.Service<IdempotencyStore>();
        var ct = request.HttpContext.RequestAborted;
        var begin = await store.TryBeginAsync(caller.TenantId, caller.UserId, key, hash, ct).ConfigureAwait(false);
        if (!begin.Started)
        {
            var existing = begin.Existing!;
            if (!string.Equals(existing.RequestHash, hash, StringComparison.Ordinal))
            {
                return Problems.IdempotencyMismatch();
            }

            return existing.Status is int status && existing.ResponseJson is not null
                ? new JsonResponse(status, existing.ResponseJson, existing.ContentType ?? "application/json").ToResult()
                : Problems.Conflict("A request with this Idempotency-Key is still being processed; retry shortly.", "idempotency-in-progress");
        }

        JsonResponse response;
        try
        {
            response = await action().ConfigureAwait(false);
        }
        catch
        {
            await store.AbandonAsync(caller.TenantId, caller.UserId, key, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        await store.CompleteAsync(caller.TenantId, caller.UserId, key, response.Status, response.Json, response.ContentType, CancellationToken.None)
            .ConfigureAwait(false);
        return response.ToResult();
    }

    private static string EventId(HttpRequest request, Caller caller, string route)
    {
        var key = request.Headers[IdempotencyHeader].ToString();
        return string.IsNullOrEmpty(key)
            ? "api:" + Guid.CreateVersion7().ToString("N")
            : "idem:" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{caller.UserId}\n{route}\n{key}")))[..32];
    }

    private static string RequestHash(string route, byte[] body)
    {
        var routeBytes = System.Text.Encoding.UTF8.GetBytes(route + "\n");
        var all = new byte[routeBytes.Length + body.Length];
        routeBytes.CopyTo(all, 0);
        body.CopyTo(all, routeBytes.Length);
        return Convert.ToHexStringLower(SHA256.HashData(all));
    }

    private static IResult NotFound(string id) => Problems.NotFound($"No approval request '{id}'.");

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static bool? ParseBool(string? text, string name, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (bool.TryParse(text, out var value))
        {
            return value;
        }

        errors[name] = [$"'{name}' must be true or false."];
        return null;
    }
}

/// <summary>The ledger of a request and whether its chain verifies.</summary>
public sealed record HistoryView(string ApprovalId, bool ChainVerified, string? Problem, string LedgerHead, IReadOnlyList<LedgerEntry> Entries);

/// <summary>The latest request for a record and its earlier iterations (older requests), newest first.</summary>
public sealed record RecordHistoryView(ApprovalView Latest, IReadOnlyList<ApprovalView> Earlier);
