using System.Collections.Concurrent;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>
/// One person at one browser: an isolated context (its own sessionStorage, so its own token) that records every
/// request the page makes, console errors and uncaught script errors, and saves named screenshots.
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly ITestOutputHelper _output;
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly ConcurrentQueue<string> _consoleErrors = new();
    private readonly ConcurrentQueue<string> _pageErrors = new();

    private BrowserSession(IBrowserContext context, IPage page, Uri baseAddress, ITestOutputHelper output)
    {
        _context = context;
        _output = output;
        Page = page;
        BaseAddress = baseAddress;
        page.Request += (_, request) => _requests.Enqueue(request.Url);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                _consoleErrors.Enqueue(message.Text);
            }
        };
        page.PageError += (_, error) => _pageErrors.Enqueue(error);
    }

    public IPage Page { get; }

    public Uri BaseAddress { get; }

    /// <summary>Every URL the page requested (scripts, styles, API calls, anything).</summary>
    public IReadOnlyCollection<string> Requests => _requests;

    /// <summary>Console errors; the browser logs refused fetches (4xx) here as well as CSP violations.</summary>
    public IReadOnlyCollection<string> ConsoleErrors => _consoleErrors;

    /// <summary>Uncaught exceptions in the page's scripts.</summary>
    public IReadOnlyCollection<string> PageErrors => _pageErrors;

    public static async Task<BrowserSession> OpenAsync(IBrowser browser, Uri baseAddress, ITestOutputHelper output, int width = 1280, int height = 900)
    {
        ArgumentNullException.ThrowIfNull(browser);
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = "en-GB",
            TimezoneId = "UTC",
            ColorScheme = ColorScheme.Light,
        });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        return new BrowserSession(context, page, baseAddress, output);
    }

    /// <summary>Opens a dashboard route, such as <c>#/approvals</c>.</summary>
    public async Task GoAsync(string hash)
    {
        var target = new Uri(BaseAddress, "/dashboard/" + hash);
        if (Page.Url == target.ToString())
        {
            // Going to the URL the page is already on changes no hash, so the app would not render again.
            await Page.ReloadAsync();
        }
        else
        {
            await Page.GotoAsync(target.ToString());
        }

        await Page.WaitForLoadStateAsync(LoadState.NetworkIdle);
    }

    /// <summary>Development sign-in through the page's user picker; lands on the return page.</summary>
    public async Task SignInAsync(string userId, string? screenshot = null)
    {
        await GoAsync("#/signin");
        var picker = Page.GetByTestId("signin-user-picker");
        await Expect(picker).ToBeVisibleAsync();
        await picker.SelectOptionAsync(userId);
        if (screenshot is not null)
        {
            await ScreenshotAsync(screenshot);
        }

        await Page.GetByTestId("signin-submit").ClickAsync();
        await Expect(Page.GetByTestId("whoami")).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("^" + userId + " "));
        await Page.WaitForLoadStateAsync(LoadState.NetworkIdle);
    }

    /// <summary>Saves a full-page screenshot under artifacts/screenshots/ and prints its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        var path = Path.Combine(Artifacts.ScreenshotDirectory, name + ".png");
        await Page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true, Animations = ScreenshotAnimations.Disabled });
        _output.WriteLine("screenshot: " + path);
        Artifacts.Record(path);
        return path;
    }

    /// <summary>The requests that left the dashboard's own origin (the page must work offline: none).</summary>
    public IReadOnlyList<string> ForeignRequests()
    {
        var origin = BaseAddress.GetLeftPart(UriPartial.Authority);
        return [.. _requests.Where(u => !u.StartsWith(origin + "/", StringComparison.Ordinal) && !u.StartsWith("data:", StringComparison.Ordinal))];
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}

/// <summary>Where test artifacts go: artifacts/screenshots/ under the repository root (git-ignored).</summary>
public static class Artifacts
{
    private static readonly Lock Gate = new();

    public static string ScreenshotDirectory { get; } = Create();

    /// <summary>Adds a screenshot to artifacts/screenshots/index.txt, the list a reviewer opens first.</summary>
    public static void Record(string path)
    {
        lock (Gate)
        {
            File.AppendAllText(Path.Combine(ScreenshotDirectory, "index.txt"), $"{DateTime.UtcNow:O} {path}{Environment.NewLine}");
        }
    }

    private static string Create()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ApprovalFunctions.sln")))
        {
            dir = dir.Parent;
        }

        var root = dir?.FullName ?? Directory.GetCurrentDirectory();
        var path = Path.Combine(root, "artifacts", "screenshots");
        Directory.CreateDirectory(path);
        return path;
    }
}
