using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;

namespace ApprovalFunctions.Dashboard;

/// <summary>Serves the approvals dashboard (embedded static files) from a host.</summary>
public static class DashboardEndpoints
{
    // No inline script or style anywhere in the dashboard, so the policy can stay strict.
    internal const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; " +
        "form-action 'self'; frame-ancestors 'none'";

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
        ArgumentNullException.ThrowIfNull(prefix);
        var root = "/" + prefix.Trim('/');
        var assets = DashboardAssets.Load(root);

        Task Redirect(HttpContext context)
        {
            ApplySecurityHeaders(context.Response);
            context.Response.Redirect(root + "/" + context.Request.QueryString);
            return Task.CompletedTask;
        }

        Task Serve(HttpContext context)
        {
            var path = context.Request.RouteValues["path"] as string ?? "";
            if (path.Length == 0 && !(context.Request.Path.Value ?? "").EndsWith('/'))
            {
                return Redirect(context);
            }

            return ServeAsync(context, assets, path);
        }

        // Routing matches "/dashboard/" against the literal "/dashboard" too, so both share Serve,
        // which tells them apart by the trailing slash.
        app.MapMethods(root, GetOrHead, Serve).AllowAnonymous().ExcludeFromDescription();
        app.MapMethods(root + "/{**path}", GetOrHead, Serve).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static async Task ServeAsync(HttpContext context, DashboardAssets assets, string path)
    {
        var response = context.Response;
        ApplySecurityHeaders(response);

        var asset = assets.Find(path);
        if (asset is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        response.Headers.ETag = asset.ETag.ToString();
        response.Headers.CacheControl = "no-cache";
        var ifNoneMatch = context.Request.GetTypedHeaders().IfNoneMatch;
        if (ifNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(asset.ETag, useStrongComparison: false)))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Content.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await response.Body.WriteAsync(asset.Content, context.RequestAborted);
    }

    private static void ApplySecurityHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }
}

/// <summary>One embedded file, ready to send.</summary>
internal sealed record DashboardAsset(byte[] Content, string ContentType, EntityTagHeaderValue ETag);

/// <summary>The embedded wwwroot files, loaded once; resource names are paths under wwwroot.</summary>
internal sealed class DashboardAssets
{
    private const string IndexFile = "index.html";

    // index.html ships with <base href="./"> so that it also opens straight from disk; the host
    // pins it to the prefix so the SPA fallback (/dashboard/requests/x) still finds ./app.js.
    private const string BasePlaceholder = "<base href=\"./\">";

    private readonly FrozenDictionary<string, DashboardAsset> files;

    private DashboardAssets(FrozenDictionary<string, DashboardAsset> files) => this.files = files;

    public static DashboardAssets Load(string root)
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var types = new FileExtensionContentTypeProvider();
        var files = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            var content = Read(assembly, name);
            if (name == IndexFile)
            {
                var html = Encoding.UTF8.GetString(content).Replace(BasePlaceholder, $"<base href=\"{root}/\">", StringComparison.Ordinal);
                content = Encoding.UTF8.GetBytes(html);
            }

            var contentType = types.TryGetContentType(name, out var known) ? known : "application/octet-stream";
            if (contentType.StartsWith("text/", StringComparison.Ordinal) || contentType == "application/json")
            {
                contentType += "; charset=utf-8";
            }

            var etag = new EntityTagHeaderValue("\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16)) + "\"");
            files[name] = new DashboardAsset(content, contentType, etag);
        }

        return new DashboardAssets(files.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>The file at <paramref name="path"/>; index.html for "" and for unknown extension-less paths.</summary>
    public DashboardAsset? Find(string path)
    {
        if (path.Length == 0)
        {
            path = IndexFile;
        }

        if (files.TryGetValue(path, out var asset))
        {
            return asset;
        }

        // A missing script or stylesheet must stay a 404, not turn into HTML with a 200.
        var lastSegment = path[(path.LastIndexOf('/') + 1)..];
        return lastSegment.Contains('.', StringComparison.Ordinal) ? null : files.GetValueOrDefault(IndexFile);
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource {name} vanished.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
