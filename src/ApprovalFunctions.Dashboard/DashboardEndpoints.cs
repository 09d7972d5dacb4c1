using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace ApprovalFunctions.Dashboard;

/// <summary>Serves the approvals dashboard (embedded static files) from an ASP.NET Core host.</summary>
public static class DashboardEndpoints
{
    private static readonly string[] GetOrHead = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>
    /// Maps <c>{prefix}</c> (redirects to <c>{prefix}/</c>) and <c>{prefix}/{**path}</c>: the embedded
    /// files with their content type, a strong ETag and <c>Cache-Control: no-cache</c>; any other
    /// extension-less path falls back to <c>index.html</c> (the app routes on the URL hash).
    /// Anonymous: the page holds no data, and every API call it makes carries the user's token.
    /// </summary>
    /// <param name="app">The host's endpoint builder.</param>
    /// <param name="prefix">Where the dashboard lives, such as <c>/dashboard</c>.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapDashboard(this IEndpointRouteBuilder app, string prefix = "/dashboard")
    {
        ArgumentNullException.ThrowIfNull(app);
        var files = DashboardFiles.Load(prefix);

        Task Serve(HttpContext context)
        {
            var path = context.Request.RouteValues["path"] as string ?? "";
            ApplySecurityHeaders(context.Response);

            // Routing matches "/dashboard/" against the literal "/dashboard" too, so both routes land
            // here and the trailing slash tells them apart.
            if (path.Length == 0 && !(context.Request.Path.Value ?? "").EndsWith('/'))
            {
                context.Response.Redirect(context.Request.PathBase + files.Root + "/" + context.Request.QueryString);
                return Task.CompletedTask;
            }

            return ServeAsync(context, files.Find(path));
        }

        app.MapMethods(files.Root, GetOrHead, Serve).AllowAnonymous().ExcludeFromDescription();
        app.MapMethods(files.Root + "/{**path}", GetOrHead, Serve).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static async Task ServeAsync(HttpContext context, DashboardFile? file)
    {
        var response = context.Response;
        if (file is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        response.Headers.ETag = file.ETag;
        response.Headers.CacheControl = "no-cache";
        var ifNoneMatch = context.Request.GetTypedHeaders().IfNoneMatch;
        if (ifNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Tag.Equals(file.ETag)))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentType = file.ContentType;
        response.ContentLength = file.Content.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await response.Body.WriteAsync(file.Content, context.RequestAborted);
    }

    private static void ApplySecurityHeaders(HttpResponse response)
    {
        foreach (var (name, value) in DashboardFiles.SecurityHeaders)
        {
            response.Headers[name] = value;
        }
    }
}
