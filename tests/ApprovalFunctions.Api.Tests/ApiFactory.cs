using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace ApprovalFunctions.Api.Tests;

/// <summary>
/// The local host in memory, against the Azurite of scripts/test.sh (APPROVALS_TEST_STORAGE), with its own table
/// prefix so no two test classes ever share data, and no demo data: tests build their tenants through the API.
/// One instance per test class (IClassFixture).
/// </summary>
public sealed class ApiFactory : WebApplicationFactory<Program>
{
    /// <summary>The development signing key every test token is minted with.</summary>
    public const string SigningKey = "api-tests-signing-key-0123456789abcdef0123456789";

    /// <summary>This host's unique table prefix ("t" + 12 hex).</summary>
    public string HubName { get; } = "t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The storage connection string from scripts/test.sh.</summary>
    public static string Storage =>
        Environment.GetEnvironmentVariable("APPROVALS_TEST_STORAGE") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("APPROVALS_TEST_STORAGE is not set: run the tests with scripts/test.sh (it starts Azurite).");

    /// <inheritdoc />
    /// <remarks>
    /// Known LocalHost bug (reported, not ours to fix): Program's own <c>app.Run()</c> disposes the host when the factory
    /// stops it, racing the factory's second <c>StopAsync</c>, and <c>StorageInitializer.StopAsync</c> then cancels an
    /// already disposed CancellationTokenSource (ObjectDisposedException, LocalRunner.cs). Swallowed here only so that
    /// a class clean-up does not fail the run intermittently; every test still asserts on its own responses.
    /// </remarks>
    public override async ValueTask DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        catch (ObjectDisposedException)
        {
        }

        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = Storage,
            ["Approvals:HubName"] = HubName,
            ["Approvals:SeedDemoData"] = "false",
            ["Approvals:PollMilliseconds"] = "200",
            ["Auth:DevSigningKey"] = SigningKey,
            ["Auth:Audience"] = "approvals",
        };
        builder.UseEnvironment("Development");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        // Added last so these win over local.settings.sample.json and environment variables.
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(settings));
    }
}
