using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalFunctions.Api.Contracts;

// The request and response shapes of API.md as types, so the OpenAPI document has schemas a client can be generated
// from. Handlers read bodies themselves (field-level errors, size limits, unknown-property checks), so these types
// only describe; they are never bound.

/// <summary><c>POST /api/v1/approvals</c>.</summary>
/// <param name="Model">The record's model, e.g. <c>account.move</c>.</param>
/// <param name="RecordId">The record's id in the calling system.</param>
/// <param name="Event">The event (default <c>create</c>).</param>
/// <param name="Title">Display title.</param>
/// <param name="Description">Display description.</param>
/// <param name="Record">The record the rules read.</param>
/// <param name="Subjects">Users the request is about; they cannot approve it.</param>
/// <param name="Context">Extra data for the rules.</param>
public sealed record SubmitRequest(
    string Model, string RecordId, string? Event, string? Title, string? Description, JsonElement Record,
    IReadOnlyList<string>? Subjects, JsonElement? Context);

/// <summary>A decision body: <c>comment</c> is required for reject, request-changes and comment.</summary>
/// <param name="Comment">The comment.</param>
public sealed record DecisionRequest(string? Comment);

/// <summary><c>POST /api/v1/approvals/{id}/cancel</c>.</summary>
/// <param name="Reason">Why it was cancelled.</param>
public sealed record CancelRequest(string? Reason);

/// <summary><c>POST /api/v1/approvals/{id}/resubmit</c>.</summary>
/// <param name="Record">The changed record.</param>
/// <param name="Title">A new title.</param>
/// <param name="Comment">A note for the approvers.</param>
public sealed record ResubmitRequest(JsonElement Record, string? Title, string? Comment);

/// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/reassign</c>.</summary>
/// <param name="From">The approver to replace.</param>
/// <param name="To">The new approver.</param>
public sealed record ReassignRequest(string From, string To);

/// <summary><c>POST /api/v1/workflows/preview</c>.</summary>
/// <param name="Model">The model.</param>
/// <param name="Event">The event (default <c>create</c>).</param>
/// <param name="Record">The record.</param>
/// <param name="Requester">Preview as this requester (admins only; default: the caller).</param>
/// <param name="Subjects">Subjects.</param>
/// <param name="Context">Extra data for the rules.</param>
public sealed record PreviewRequest(string Model, string? Event, JsonElement Record, string? Requester, IReadOnlyList<string>? Subjects, JsonElement? Context);

/// <summary><c>PUT /api/v1/directory/users/{userId}</c> (in an import, with <c>id</c>).</summary>
/// <param name="Id">The user id (import only; the route names it otherwise).</param>
/// <param name="Name">Display name.</param>
/// <param name="Email">E-mail.</param>
/// <param name="Groups">Group ids.</param>
/// <param name="Manager">The manager's user id.</param>
/// <param name="Department">The department id.</param>
public sealed record DirectoryUserRequest(string? Id, string? Name, string? Email, IReadOnlyList<string>? Groups, string? Manager, string? Department);

/// <summary><c>PUT /api/v1/directory/groups/{groupId}</c> (in an import, with <c>id</c>).</summary>
/// <param name="Id">The group id (import only).</param>
/// <param name="Name">Display name.</param>
/// <param name="Members">Member user ids.</param>
public sealed record DirectoryGroupRequest(string? Id, string? Name, IReadOnlyList<string>? Members);

/// <summary><c>PUT /api/v1/directory/departments/{departmentId}</c> (in an import, with <c>id</c>).</summary>
/// <param name="Id">The department id (import only).</param>
/// <param name="Name">Display name.</param>
/// <param name="Manager">The department manager's user id.</param>
public sealed record DirectoryDepartmentRequest(string? Id, string? Name, string? Manager);

/// <summary><c>POST /api/v1/directory/import</c>: each item carries its <c>id</c>; at most 5000 per list.</summary>
/// <param name="Users">Users.</param>
/// <param name="Groups">Groups.</param>
/// <param name="Departments">Departments.</param>
public sealed record DirectoryImportRequest(
    IReadOnlyList<DirectoryUserRequest>? Users, IReadOnlyList<DirectoryGroupRequest>? Groups, IReadOnlyList<DirectoryDepartmentRequest>? Departments);

/// <summary>How many items an import wrote.</summary>
/// <param name="Users">Users written.</param>
/// <param name="Groups">Groups written.</param>
/// <param name="Departments">Departments written.</param>
public sealed record DirectoryImportResult(int Users, int Groups, int Departments);

/// <summary><c>POST /api/v1/delegations</c>.</summary>
/// <param name="From">The delegating user (admins only; default: the caller).</param>
/// <param name="To">The delegate.</param>
/// <param name="StartsAt">Start (default: now).</param>
/// <param name="EndsAt">End.</param>
public sealed record DelegationRequest(string? From, string To, DateTimeOffset? StartsAt, DateTimeOffset EndsAt);

/// <summary><c>POST /api/v1/integrations</c>.</summary>
/// <param name="Name">Display name.</param>
public sealed record IntegrationRequest(string? Name);

/// <summary>A new integration: the secret is shown once.</summary>
/// <param name="Id">The id to send in <c>X-Approvals-Integration</c>.</param>
/// <param name="Name">Display name.</param>
/// <param name="Secret">The HMAC secret; never shown again.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record IntegrationCreated(string Id, string Name, string Secret, DateTimeOffset CreatedAt);

/// <summary>An integration as listed (never its secret).</summary>
/// <param name="Id">The id.</param>
/// <param name="Name">Display name.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record IntegrationSummary(string Id, string Name, DateTimeOffset CreatedAt);

/// <summary><c>POST /api/v1/webhooks/decisions</c>, signed by a registered integration.</summary>
/// <param name="EventId">Unique per integration; a repeat is refused.</param>
/// <param name="ApprovalId">The request.</param>
/// <param name="StageId">The stage.</param>
/// <param name="Decision"><c>approve</c>, <c>reject</c>, <c>request-changes</c> or <c>comment</c>.</param>
/// <param name="Actor">The user deciding; bound by every approval rule.</param>
/// <param name="Comment">Required for reject, request-changes and comment.</param>
public sealed record DecisionWebhook(string EventId, string ApprovalId, string StageId, string Decision, string Actor, string? Comment);

/// <summary><c>POST /api/v1/subscriptions</c>.</summary>
/// <param name="Url">Where events are posted.</param>
/// <param name="Events">Event names.</param>
/// <param name="Secret">Signs the posts; at least 16 characters; never returned.</param>
public sealed record SubscriptionRequest(Uri Url, IReadOnlyList<string> Events, string Secret);

/// <summary>A subscription (never its secret).</summary>
/// <param name="Id">The id.</param>
/// <param name="Url">The target.</param>
/// <param name="Events">Event names.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record SubscriptionView(string Id, Uri Url, IReadOnlyList<string> Events, DateTimeOffset CreatedAt);

/// <summary>The caller as the token says.</summary>
/// <param name="UserId">The token's <c>sub</c>.</param>
/// <param name="TenantId">The token's <c>tid</c>.</param>
/// <param name="Roles">The token's roles.</param>
/// <param name="Name">The token's name, if any.</param>
public sealed record MeView(string UserId, string TenantId, IReadOnlyList<string> Roles, string? Name);

/// <summary><c>POST /api/v1/dev/token</c> (Development only).</summary>
/// <param name="UserId">The user.</param>
/// <param name="TenantId">The tenant (default: the demo tenant).</param>
/// <param name="Roles">Roles (default: the demo user's).</param>
public sealed record DevTokenRequest(string UserId, string? TenantId, IReadOnlyList<string>? Roles);

/// <summary>A development token.</summary>
/// <param name="Token">The JWT.</param>
/// <param name="ExpiresAt">Its expiry.</param>
/// <param name="UserId">The user.</param>
/// <param name="TenantId">The tenant.</param>
/// <param name="Roles">Its roles.</param>
public sealed record DevTokenView(string Token, DateTimeOffset ExpiresAt, string UserId, string TenantId, IReadOnlyList<string> Roles);

/// <summary>A demo user a developer can sign in as (Development only).</summary>
/// <param name="Id">The user id.</param>
/// <param name="Name">Display name.</param>
/// <param name="Roles">Roles a token for them gets.</param>
/// <param name="TenantId">The demo tenant.</param>
public sealed record DevUserView(string Id, string Name, IReadOnlyList<string> Roles, string TenantId);

/// <summary>OpenAPI metadata helpers for the route table.</summary>
public static class ApiShapes
{
    /// <summary>Documents a JSON request body of type <typeparamref name="T"/>.</summary>
    public static RouteHandlerBuilder Body<T>(this RouteHandlerBuilder builder)
        where T : notnull => builder.Accepts<T>("application/json");

    /// <summary>Documents a JSON response and the problem statuses the route can answer (400 with field errors).</summary>
    public static RouteHandlerBuilder Answers<T>(this RouteHandlerBuilder builder, int status, params int[] problems)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Produces<T>(status);
        return builder.Problems(problems);
    }

    /// <summary>Documents a bodiless response (e.g. 204) and the problem statuses.</summary>
    public static RouteHandlerBuilder AnswersEmpty(this RouteHandlerBuilder builder, int status, params int[] problems)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Produces(status);
        return builder.Problems(problems);
    }

    private static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, int[] problems)
    {
        foreach (var status in problems)
        {
            if (status == StatusCodes.Status400BadRequest)
            {
                builder.ProducesValidationProblem();
            }
            else
            {
                builder.ProducesProblem(status);
            }
        }

        return builder;
    }
}
