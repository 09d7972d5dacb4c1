using ApprovalFunctions.Api.Auth;
using ApprovalFunctions.Api.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalFunctions.Api.Endpoints;

/// <summary>Authentication shared by every handler, so both hosts enforce it identically.</summary>
public static class EndpointContext
{
    /// <summary>The verified caller, or a 401 problem.</summary>
    public static async Task<(Caller? Caller, IResult? Problem)> AuthenticateAsync(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var authenticator = request.HttpContext.RequestServices.GetRequiredService<TokenAuthenticator>();
        var result = await authenticator.AuthenticateAsync(request.Headers.Authorization.ToString(), request.HttpContext.RequestAborted)
            .ConfigureAwait(false);
        if (result.Succeeded)
        {
            return (result.Caller, null);
        }

        // RFC 9110 §15.5.2 / RFC 6750 §3: a 401 names the scheme it wants.
        request.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return (null, Problems.Unauthenticated(result.Failure!));
    }

    /// <summary>The verified caller if an admin; 401 or 403 otherwise.</summary>
    public static async Task<(Caller? Caller, IResult? Problem)> AuthenticateAdminAsync(HttpRequest request)
    {
        var (caller, problem) = await AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return (null, problem);
        }

        return caller.IsAdmin ? (caller, null) : (null, Problems.Forbidden("This route needs the 'admin' role.", "admin-required"));
    }

    /// <summary>A required service.</summary>
    public static T Service<T>(this HttpRequest request)
        where T : notnull => request.HttpContext.RequestServices.GetRequiredService<T>();

    /// <summary>The host clock.</summary>
    public static DateTimeOffset Now(this HttpRequest request) => request.Service<TimeProvider>().GetUtcNow();
}
