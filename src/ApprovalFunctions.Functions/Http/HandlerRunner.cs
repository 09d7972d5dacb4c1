using ApprovalFunctions.Api.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask.Client;

namespace ApprovalFunctions.Functions.Http;

/// <summary>
/// Runs a shared handler inside an HTTP function: executes its <see cref="IResult"/> through <see cref="ResultActionResult"/>
/// and turns exceptions into the same problem responses the local host gives (<see cref="Problems.ForException"/>).
/// </summary>
public static class HandlerRunner
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
        catch (Exception ex) when (Problems.ForException(request.HttpContext, ex) is { } problem)
        {
            result = problem;
        }

        return new ResultActionResult(result);
    }

    /// <summary>Runs <paramref name="handler"/> with <paramref name="client"/> available to <see cref="DurableApprovalCommands"/>.</summary>
    public static Task<IActionResult> RunAsync(HttpRequest request, DurableTaskClient client, Func<Task<IResult>> handler) =>
        DurableClientScope.RunAsync(client, () => RunAsync(request, handler));
}
