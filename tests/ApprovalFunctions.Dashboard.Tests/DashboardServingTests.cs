using System.Net;
using System.Net.Http.Headers;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>MapDashboard as the real local host serves it: redirect, headers, content types, ETags, SPA fallback, 404s.</summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardServingTests(DashboardHost host)
{
    [Fact]
    public async Task Root_WithoutTrailingSlash_RedirectsToDashboardSlash()
    {
        // The factory's Kestrel clients follow redirects; a plain handler that does not shows the 302 itself.
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var client = new HttpClient(handler) { BaseAddress = host.BaseAddress };

        using var response = await client.GetAsync(new Uri("/dashboard?x=1", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/dashboard/?x=1", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Index_Served_HasHtmlStrictCspNoCacheAndPinnedBase()
    {
        var client = host.CreateClient();

        using var response = await client.GetAsync(new Uri("/dashboard/", UriKind.Relative));
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.Contains("<base href=\"/dashboard/\">", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/dashboard/app.js", "text/javascript")]
    [InlineData("/dashboard/pages/detail.js", "text/javascript")]
    [InlineData("/dashboard/styles.css", "text/css")]
    public async Task Asset_Served_HasItsContentType(string path, string mediaType)
    {
        var client = host.CreateClient();

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        Assert.NotNull(response.Headers.ETag);
    }

    [Fact]
    public async Task Asset_IfNoneMatchWithItsETag_Answers304WithoutBody()
    {
        var client = host.CreateClient();
        using var first = await client.GetAsync(new Uri("/dashboard/app.js", UriKind.Relative));
        var etag = first.Headers.ETag ?? throw new InvalidOperationException("no ETag");

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/dashboard/app.js", UriKind.Relative));
        request.Headers.IfNoneMatch.Add(etag);
        using var second = await client.SendAsync(request);

        Assert.True(etag.Tag.Length > 2 && !etag.IsWeak);
        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
        Assert.Empty(await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, second.Headers.ETag);
    }

    [Fact]
    public async Task Asset_IfNoneMatchWithAnotherETag_Answers200()
    {
        var client = host.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/dashboard/app.js", UriKind.Relative));
        request.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"stale\""));

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEmpty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/dashboard/requests/0193abc")]
    [InlineData("/dashboard/workflows")]
    public async Task DeepLink_WithoutExtension_FallsBackToIndex(string path)
    {
        var client = host.CreateClient();
        using var index = await client.GetAsync(new Uri("/dashboard/", UriKind.Relative));

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await index.Content.ReadAsStringAsync(), await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/dashboard/missing.js")]
    [InlineData("/dashboard/pages/nope.css")]
    public async Task UnknownAsset_Answers404NotIndex(string path)
    {
        var client = host.CreateClient();

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Head_Index_AnswersHeadersWithoutBody()
    {
        var client = host.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Head, new Uri("/dashboard/", UriKind.Relative));

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Content.Headers.ContentLength > 0);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Dashboard_EveryFileReferenced_IsSameOrigin()
    {
        // Works offline: no file the page loads points at a CDN or any other origin.
        var client = host.CreateClient();
        var files = new[] { "/dashboard/", "/dashboard/styles.css", "/dashboard/app.js", "/dashboard/api.js", "/dashboard/ui.js" };
        foreach (var path in files)
        {
            var text = await client.GetStringAsync(new Uri(path, UriKind.Relative));
            Assert.DoesNotMatch(@"(src|href)\s*=\s*""(https?:)?//", text);
            Assert.DoesNotMatch(@"@import\s+url\(\s*['""]?(https?:)?//", text);
            Assert.DoesNotMatch(@"from\s+['""](https?:)?//", text);
        }
    }
}
