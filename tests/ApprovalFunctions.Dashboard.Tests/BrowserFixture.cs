using Microsoft.Playwright;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>
/// Debian's system Chromium (CHROMIUM_PATH, default /usr/bin/chromium) driven by Playwright's bundled driver.
/// Never a downloaded browser: scripts/test.sh installs the chromium package when it is missing.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The browser binary in use.</summary>
    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"No Chromium at {ExecutablePath}. Install Debian's package (apt-get install chromium; scripts/test.sh does it as root) " +
                "or set CHROMIUM_PATH. These tests never download a browser.");
        }

        // Two shared cores and several test assemblies at once: give the page time before an assertion fails.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
