using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace ApprovalFunctions.Functions.Http;

/// <summary>
/// Runs a minimal-API <see cref="IResult"/> as an MVC <see cref="IActionResult"/>. The Functions ASP.NET Core
/// integration executes an HTTP function's return value only when it is an <see cref="IActionResult"/>
/// (Azure/azure-functions-dotnet-worker, <c>FunctionsHttpProxyingMiddleware</c>); an <see cref="IResult"/> would be
/// serialized as an object instead. The shared handlers return <see cref="IResult"/>, so every function wraps it here.
/// </summary>
/// <param name="result">The handler's result.</param>
public sealed class ResultActionResult(IResult result) : IActionResult
{
    /// <summary>The wrapped result.</summary>
    public IResult Result { get; } = result ?? throw new ArgumentNullException(nameof(result));

    /// <inheritdoc />
    public Task ExecuteResultAsync(ActionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Result.ExecuteAsync(context.HttpContext);
    }
}
