using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.StaticFiles;

namespace ApprovalFunctions.Dashboard;

/// <summary>One dashboard file, ready to send.</summary>
/// <param name="Content">The bytes to send.</param>
/// <param name="ContentType">The Content-Type header value (with charset for text).</param>
/// <param name="ETag">A strong entity tag, quoted, as it goes in the ETag header.</param>
public sealed record DashboardFile(ReadOnlyMemory<byte> Content, string ContentType, string ETag);

/// <summary>
/// The embedded dashboard files, loaded once. <see cref="DashboardEndpoints.MapDashboard"/> serves
/// them in ASP.NET Core; a host without endpoint routing (an HTTP-triggered function) can serve
/// <see cref="Find"/>'s answer itself, with <see cref="SecurityHeaders"/> and <c>Cache-Control: no-cache</c>.
/// </summary>
public sealed class DashboardFiles
{
    private const string IndexFile = "index.html";

    // index.html ships with <base href="./"> so that it also opens straight from disk; the host
    // pins it to the prefix so the SPA fallback (/dashboard/requests/x) still finds ./app.js.
    private const string BasePlaceholder = "<base href=\"./\">";

    private readonly FrozenDictionary<string, DashboardFile> files;

    private DashboardFiles(string root, FrozenDictionary<string, DashboardFile> files)
    {
        Root = root;
        this.files = files;
    }

    /// <summary>
    /// Headers for every dashboard response. The dashboard has no inline script or style, so the
    /// Content-Security-Policy stays strict; the API must be on the same origin.
    /// </summary>
    public static IReadOnlyDictionary<string, string> SecurityHeaders { get; } = new Dictionary<string, string>
    {
        ["Content-Security-Policy"] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; " +
            "form-action 'self'; frame-ancestors 'none'",
        ["X-Content-Type-Options"] = "nosniff",
        ["Referrer-Policy"] = "no-referrer",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>The URL prefix without a trailing slash, such as <c>/dashboard</c>.</summary>
    public string Root { get; }

    /// <summary>Loads the embedded files for a dashboard served under <paramref name="prefix"/>.</summary>
    /// <param name="prefix">The URL prefix, such as <c>/dashboard</c> (slashes optional).</param>
    /// <returns>The files, with index.html's base URL set to the prefix.</returns>
    public static DashboardFiles Load(string prefix = "/dashboard")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var root = "/" + prefix.Trim('/');
        var assembly = typeof(DashboardFiles).Assembly;
        var types = new FileExtensionContentTypeProvider();
        var files = new Dictionary<string, DashboardFile>(StringComparer.Ordinal);
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

            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 16)) + "\"";
            files[name] = new DashboardFile(content, contentType, etag);
        }

        return new DashboardFiles(root, files.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <summary>
    /// The file at <paramref name="path"/> (relative to the prefix, no leading slash): index.html for
    /// "" and for unknown extension-less paths; null for an unknown file such as <c>missing.js</c>.
    /// </summary>
    /// <param name="path">The path under the prefix, such as <c>pages/detail.js</c>.</param>
    /// <returns>The file to send, or null for a 404.</returns>
    public DashboardFile? Find(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        path = path.TrimStart('/');
        if (path.Length == 0)
        {
            path = IndexFile;
        }

        if (files.TryGetValue(path, out var file))
        {
            return file;
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
