using ApprovalFunctions.Api.Contracts;
using ApprovalFunctions.Api.Http;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ApprovalFunctions.Api.Endpoints;

/// <summary>Integrations and their signed decision webhooks; outbound event subscriptions.</summary>
public static class IntegrationEndpoints
{
    private static readonly string[] KnownEvents =
    [
        "approval.created", "stage.activated", "stage.reminder", "stage.escalated", "approval.approved",
        "approval.rejected", "approval.expired", "approval.cancelled", "callback.failed",
    ];

    private static readonly string UnknownIntegrationSecret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapIntegrationEndpoints(this IEndpointRouteBuilder app)
    {
        var integrations = app.MapGroup("/api/v1/integrations").WithTags("Integrations");
        integrations.MapPost("", (HttpRequest r) => CreateIntegrationAsync(r)).WithName("CreateIntegration").Body<IntegrationRequest>().Answers<IntegrationCreated>(201, 400, 401, 403, 413, 415);
        integrations.MapGet("", (HttpRequest r) => ListIntegrationsAsync(r)).WithName("ListIntegrations").Answers<PageView<IntegrationSummary>>(200, 401, 403);
        app.MapPost("/api/v1/webhooks/decisions", (HttpRequest r) => DecisionWebhookAsync(r)).WithTags("Webhooks").WithName("DecisionWebhook").Body<DecisionWebhook>().Answers<ApprovalView>(200, 400, 401, 403, 404, 409, 413, 415, 422).Produces<ApprovalView>(202);

        var subscriptions = app.MapGroup("/api/v1/subscriptions").WithTags("Subscriptions");
        subscriptions.MapPost("", (HttpRequest r) => CreateSubscriptionAsync(r)).WithName("CreateSubscription").Body<SubscriptionRequest>().Answers<SubscriptionView>(201, 400, 401, 403, 413, 415);
        subscriptions.MapGet("", (HttpRequest r) => ListSubscriptionsAsync(r)).WithName("ListSubscriptions").Answers<PageView<SubscriptionView>>(200, 401, 403);
        subscriptions.MapDelete("/{id}", (HttpRequest r, string id) => DeleteSubscriptionAsync(r, id)).WithName("DeleteSubscription").AnswersEmpty(204, 401, 403, 404);
        return app;
    }

    /// <summary><c>POST /api/v1/integrations</c> <c>{"name"}</c> (admin): answers its id and secret, shown once.</summary>
    public static async Task<IResult> CreateIntegrationAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
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
            reader.NoOtherProperties("name");
            var name = reader.String("name", required: false) ?? "integration";
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            var integration = await request.Service<IntegrationStore>()
                .CreateAsync(caller.TenantId, name, request.Now(), request.HttpContext.RequestAborted).ConfigureAwait(false);
            return TypedResults.Json(new { id = integration.Id, name = integration.Name, secret = integration.Secret, createdAt = integration.CreatedAt },
                ApiJson.Options, statusCode: StatusCodes.Status201Created);
        }
    }

    /// <summary><c>GET /api/v1/integrations</c> (admin): never returns secrets.</summary>
    public static async Task<IResult> ListIntegrationsAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var items = await request.Service<IntegrationStore>().ListAsync(caller.TenantId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return TypedResults.Json(new PageView<object>([.. items.Select(i => (object)new { id = i.Id, name = i.Name, createdAt = i.CreatedAt })], null),
            ApiJson.Options);
    }

    /// <summary>
    /// <c>POST /api/v1/webhooks/decisions</c>: a decision from a registered integration, signed with HMAC-SHA256 over
    /// <c>timestamp + "." + body</c>, at most 5 minutes old, each <c>eventId</c> once. The named actor is still bound
    /// by every engine rule.
    /// </summary>
    public static async Task<IResult> DecisionWebhookAsync(HttpRequest request)
    {
        var integrationId = request.Headers[Signatures.IntegrationHeader].ToString();
        if (string.IsNullOrEmpty(integrationId))
        {
            return Problems.Unauthenticated($"{Signatures.IntegrationHeader} is required.");
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var ct = request.HttpContext.RequestAborted;
            var integration = await request.Service<IntegrationStore>().FindAsync(integrationId, ct).ConfigureAwait(false);

            // Unknown integration and bad signature answer the same way, so ids cannot be probed: an unknown id is
            // verified against a random per-process secret, giving the very same checks, messages and work.
            var failure = Signatures.Verify(integration?.Secret ?? UnknownIntegrationSecret, request.Headers[Signatures.TimestampHeader],
                request.Headers[Signatures.SignatureHeader], body.Raw, request.Now());
            if (integration is null || failure is not null)
            {
                return Problems.Unauthenticated(failure ?? "The signature does not match.");
            }

            var reader = new BodyReader(body.Root);
            reader.NoOtherProperties("eventId", "approvalId", "stageId", "decision", "actor", "comment");
            var eventId = reader.String("eventId", required: true, maxLength: 200);
            var approvalId = reader.String("approvalId", required: true);
            var stageId = reader.String("stageId", required: true);
            var decisionText = reader.String("decision", required: true, maxLength: 32);
            var actor = reader.String("actor", required: true);
            DecisionKind? decision = decisionText switch
            {
                "approve" => DecisionKind.Approve,
                "reject" => DecisionKind.Reject,
                "request-changes" or "requestChanges" => DecisionKind.RequestChanges,
                "comment" => DecisionKind.Comment,
                null => null,
                _ => null,
            };
            if (decisionText is not null && decision is null)
            {
                reader.Error("decision", "Use approve, reject, request-changes or comment.");
            }

            var comment = reader.String("comment", required: decision is DecisionKind.Reject or DecisionKind.RequestChanges or DecisionKind.Comment,
                maxLength: 4000);
            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            // The eventId is recorded only once the request has a definitive answer: recording it first burned it when
            // applying failed transiently (503), so the integration's retry was told "already received" while the decision
            // was never applied. Applying first is safe: the engine's event id is derived from the eventId, so a replay
            // (or a concurrent duplicate) is an engine duplicate that changes nothing, and is then refused here.
            var result = await request.Service<IApprovalCommands>().ApplyAsync(integration.TenantId, approvalId!, new Decided
            {
                EventId = $"webhook:{integration.Id}:{eventId}",
                StageId = stageId!,
                Actor = new Actor(actor!, IsAdmin: false, IntegrationId: integration.Id),
                Decision = decision!.Value,
                Comment = comment,
            }, ct).ConfigureAwait(false);
            if (!await request.Service<ReplayGuard>().TryRecordAsync(integration.Id, eventId!, request.Now(), CancellationToken.None).ConfigureAwait(false))
            {
                return Problems.Conflict($"Event '{eventId}' was already received.", "webhook-replay");
            }

            return result.Status switch
            {
                Api.CommandStatus.NotFound => Problems.NotFound($"No approval request '{approvalId}'."),
                Api.CommandStatus.Refused => Problems.From(result.Refusal!),
                Api.CommandStatus.Accepted => TypedResults.Json(ApprovalView.From(result.State!), ApiJson.Options, statusCode: 202),
                _ => TypedResults.Json(ApprovalView.From(result.State!), ApiJson.Options),
            };
        }
    }

    /// <summary><c>POST /api/v1/subscriptions</c> <c>{"url","events":[],"secret"}</c> (admin).</summary>
    public static async Task<IResult> CreateSubscriptionAsync(HttpRequest request)
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
            reader.NoOtherProperties("url", "events", "secret");
            var url = reader.String("url", required: true, maxLength: 2048);
            var events = reader.StringArray("events", maxItems: KnownEvents.Length);
            var secret = reader.String("secret", required: true, maxLength: 512);
            if (url is not null && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            {
                reader.Error("url", "'url' must be an absolute http or https URL.");
            }

            if (events.Count == 0)
            {
                reader.Error("events", "Name at least one event.");
            }

            for (var i = 0; i < events.Count; i++)
            {
                if (!KnownEvents.Contains(events[i], StringComparer.Ordinal))
                {
                    reader.Error($"events[{i}]", $"Unknown event '{events[i]}'; use one of {string.Join(", ", KnownEvents)}.");
                }
            }

            if (secret is not null && secret.Length < 16)
            {
                reader.Error("secret", "Use a secret of at least 16 characters.");
            }

            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            var subscription = await request.Service<SubscriptionStore>()
                .CreateAsync(caller.TenantId, new Uri(url!), events, secret!, request.Now(), request.HttpContext.RequestAborted).ConfigureAwait(false);
            return TypedResults.Json(new { id = subscription.Id, url = subscription.Url, events = subscription.Events, createdAt = subscription.CreatedAt },
                ApiJson.Options, statusCode: StatusCodes.Status201Created);
        }
    }

    /// <summary><c>GET /api/v1/subscriptions</c> (admin): never returns secrets.</summary>
    public static async Task<IResult> ListSubscriptionsAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var items = await request.Service<SubscriptionStore>().ListAsync(caller.TenantId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return TypedResults.Json(new PageView<object>(
            [.. items.Select(s => (object)new { id = s.Id, url = s.Url, events = s.Events, createdAt = s.CreatedAt })], null), ApiJson.Options);
    }

    /// <summary><c>DELETE /api/v1/subscriptions/{id}</c> (admin).</summary>
    public static async Task<IResult> DeleteSubscriptionAsync(HttpRequest request, string id)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var deleted = await request.Service<SubscriptionStore>().DeleteAsync(caller.TenantId, id, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return deleted ? TypedResults.NoContent() : Problems.NotFound($"No subscription '{id}'.");
    }
}
