using ApprovalFunctions.Api.Http;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalFunctions.Functions.Http;

/// <summary>
/// Runs a shared handler inside an HTTP function: executes its <see cref="IResult"/> through <see cref="ResultActionResult"/>
/// and turns exceptions into the same problem responses the local host's exception handler gives (503 with
/// <c>Retry-After</c> when storage is busy, 400/413 for an unreadable body, otherwise a logged 500 that leaks nothing).
/// </summary>
public static partial class HandlerRunner
{
    /// <summary>Runs <paramref name="handler"/>.</summary>
    public static async Task<IActionResult> RunAsync(HttpRequest request, Func<Task<IResult>> handler)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(handler);
        IResult result;
        try
        {
            result = await handler().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            result = ToProblem(request, ex);
        }

        return new ResultActionResult(result);
    }

    /// <summary>Runs <paramref name="handler"/> with <paramref name="client"/> available to <see cref="DurableApprovalCommands"/>.</summary>
    public static Task<IActionResult> RunAsync(HttpRequest request, DurableTaskClient client, Func<Task<IResult>> handler) =>
        DurableClientScope.RunAsync(client, () => RunAsync(request, handler));

    private static IResult ToProblem(HttpRequest request, Exception exception)
    {
        var logger = request.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("ApprovalFunctions.Functions.Http");
        switch (exception)
        {
            case StorageBusyException or TableException { Kind: TableErrorKind.Throttled }:
                LogBusy(logger, exception, request.Path);
                request.HttpContext.Response.Headers.RetryAfter = "1";
                return Problems.Unavailable("Storage is busy; retry shortly.");
            case BadHttpRequestException bad:
                return bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? Problems.TooLarge(JsonBody.MaxBytes) : Problems.MalformedBody(bad.Message);
            default:
                LogFailed(logger, exception, request.Method, request.Path);
                return TypedResults.Problem(new ProblemDetails
                {
                    Type = Problems.TypePrefix + "internal",
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
}
