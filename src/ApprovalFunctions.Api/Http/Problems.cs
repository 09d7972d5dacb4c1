using ApprovalFunctions.Engine;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalFunctions.Api.Http;

/// <summary>
/// RFC 9457 problem responses with a stable <c>type</c> per error. Clients switch on <c>type</c>, never on
/// <c>title</c> or <c>detail</c>. The catalogue is in docs/api-errors.md.
/// </summary>
public static partial class Problems
{
    /// <summary>Prefix of every problem type.</summary>
    public const string TypePrefix = "urn:approvals:problem:";

    /// <summary>400 with field-level errors (<c>errors</c>: path → messages).</summary>
    public static IResult Validation(IDictionary<string, string[]> errors, string? detail = null) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Type = TypePrefix + "validation",
            Title = "The request is not valid.",
            Status = StatusCodes.Status400BadRequest,
            Detail = detail ?? "See 'errors' for each field.",
        });

    /// <summary>400 with a single field error.</summary>
    public static IResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>400: the body is not JSON or not the expected shape.</summary>
    public static IResult MalformedBody(string detail) => Make(400, "malformed-body", "The request body could not be read.", detail);

    /// <summary>401: no or bad credential.</summary>
    public static IResult Unauthenticated(string detail) => Make(401, "unauthenticated", "Authentication is required.", detail);

    /// <summary>403: authenticated but not allowed.</summary>
    public static IResult Forbidden(string detail, string slug = "forbidden") => Make(403, slug, "Not allowed.", detail);

    /// <summary>404: unknown (or another tenant's) resource.</summary>
    public static IResult NotFound(string detail) => Make(404, "not-found", "Not found.", detail);

    /// <summary>409: conflicts with the current state.</summary>
    public static IResult Conflict(string detail, string slug = "conflict") => Make(409, slug, "Conflict with the current state.", detail);

    /// <summary>413: body too large.</summary>
    public static IResult TooLarge(long limit) =>
        Make(413, "too-large", "The request body is too large.", $"The limit is {limit} bytes.");

    /// <summary>415: not JSON.</summary>
    public static IResult UnsupportedMediaType() =>
        Make(415, "unsupported-media-type", "Unsupported media type.", "Send 'Content-Type: application/json'.");

    /// <summary>422: the same idempotency key with a different body.</summary>
    public static IResult IdempotencyMismatch() => Make(422, "idempotency-key-reused",
        "Idempotency-Key reused with a different request.",
        "This Idempotency-Key was first used with a different body or route; use a new key for a new request.");

    /// <summary>503: storage unavailable or busy; safe to retry.</summary>
    public static IResult Unavailable(string detail) => Make(503, "unavailable", "Temporarily unavailable.", detail);

    /// <summary>Maps an engine refusal to its status and a stable type (see <see cref="RefusalSlug"/>).</summary>
    public static IResult From(Refusal refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return Make(refusal.HttpStatus, RefusalSlug(refusal.Code), "The decision was refused.", refusal.Message);
    }

    /// <summary>The stable problem-type slug of each refusal code.</summary>
    public static string RefusalSlug(RefusalCode code) => code switch
    {
        RefusalCode.NotAnApprover => "not-an-approver",
        RefusalCode.Forbidden => "forbidden",
        RefusalCode.StageWaiting => "stage-waiting",
        RefusalCode.UnknownStage => "unknown-stage",
        RefusalCode.StageNotActive => "stage-not-active",
        RefusalCode.RequestClosed => "request-closed",
        RefusalCode.SelfApproval => "self-approval",
        RefusalCode.DuplicateVote => "duplicate-vote",
        RefusalCode.InvalidState => "invalid-state",
        _ => "invalid",
    };

    /// <summary>The problem type slug for a status the framework answered by itself (routing, status-code pages).</summary>
    public static string FrameworkSlug(int status) => status switch
    {
        400 => "malformed-body",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        413 => "too-large",
        415 => "unsupported-media-type",
        >= 500 => "internal",
        _ => "http-" + status.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// The problem for an exception that escaped a handler, for both hosts: 503 with <c>Retry-After</c> when storage is
    /// busy, 400/413 for an unreadable body, otherwise a logged 500 that leaks nothing but a trace id. Null when the
    /// client went away (nothing to answer).
    /// </summary>
    public static IResult? ForException(HttpContext context, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(exception);
        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("ApprovalFunctions.Api");
        switch (exception)
        {
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                return null;
            case Runtime.Storage.StorageBusyException or Storage.Tables.TableException { Kind: Storage.Tables.TableErrorKind.Throttled }:
                LogBusy(logger, exception, context.Request.Path);
                context.Response.Headers.RetryAfter = "1";
                return Unavailable("Storage is busy; retry shortly.");
            case BadHttpRequestException bad:
                return bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(JsonBody.MaxBytes) : MalformedBody(bad.Message);
            default:
                LogFailed(logger, exception, context.Request.Method, context.Request.Path);
                return TypedResults.Problem(new ProblemDetails
                {
                    Type = TypePrefix + "internal",
                    Title = "An internal error occurred.",
                    Status = StatusCodes.Status500InternalServerError,
                    Detail = "The error was logged with trace id " + System.Diagnostics.Activity.Current?.TraceId + ".",
                });
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "Storage busy while serving {Path}")]
    private static partial void LogBusy(ILogger logger, Exception exception, PathString path);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Unhandled error serving {Method} {Path}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string method, PathString path);

    private static IResult Make(int status, string slug, string title, string detail) =>
        TypedResults.Problem(new ProblemDetails
        {
            Type = TypePrefix + slug,
            Title = title,
            Status = status,
            Detail = detail,
        });
}
