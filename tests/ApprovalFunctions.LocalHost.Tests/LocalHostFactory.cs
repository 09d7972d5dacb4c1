using System.Net.Http.Headers;
using ApprovalFunctions.Api.Auth;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>
/// One local host in memory (its HTTP API, its due-work pump and its leases) against the Azurite of scripts/test.sh.
/// Two factories built with the same <see cref="HubName"/> are two processes sharing one storage account: each has its
/// own singletons (keyed locks, caches, pump, lease owner), so only storage ETags and leases keep them apart.
/// </summary>
public sealed class LocalHostFactory : WebApplicationFactory<Program>
{
    /// <summary>The development signing key every test token is minted with.</summary>
    public const string SigningKey = "localhost-tests-signing-key-0123456789abcdef012345";

    private readonly Dictionary<string, string?> _settings;

    /// <summary>
    /// A host on <paramref name="hubName"/> (a fresh hub when null) polling every <paramref name="pollMilliseconds"/>;
    /// <paramref name="wakeOnCommit"/> false makes a host that only carries out due work when it polls.
    /// </summary>
    public LocalHostFactory(string? hubName = null, int pollMilliseconds = 50, int leaseSeconds = 3, string? storage = null,
        IReadOnlyDictionary<string, string?>? extra = null, bool wakeOnCommit = true)
    {
        HubName = hubName ?? NewHub();
        _settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = storage ?? Storage,
            ["Approvals:HubName"] = HubName,
            ["Approvals:SeedDemoData"] = "false",
            ["Approvals:PollMilliseconds"] = pollMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Approvals:LeaseSeconds"] = leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Approvals:WakeOnCommit"] = wakeOnCommit ? "true" : "false",
            ["Auth:DevSigningKey"] = SigningKey,
            ["Auth:Audience"] = "approvals",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    /// <summary>This host's table prefix.</summary>
    public string HubName { get; }

    /// <summary>The storage connection string from scripts/test.sh.</summary>
    public static string Storage =>
        Environment.GetEnvironmentVariable("APPROVALS_TEST_STORAGE") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("APPROVALS_TEST_STORAGE is not set: run the tests with scripts/test.sh (it starts Azurite).");

    /// <summary>A fresh hub name ("t" + 12 hex): letters and digits, so it is a valid table-name prefix.</summary>
    public static string NewHub() => "t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A client authenticated as (tenant, user, roles).</summary>
    public HttpClient As(string tenant, string user, params string[] roles)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            DevTokens.Mint(SigningKey, tenant, user, roles.Length == 0 ? ["requester", "approver"] : roles, DateTimeOffset.UtcNow));
        return client;
    }

    /// <inheritdoc />
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseEnvironment("Development");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        // Added last so these win over local.settings.sample.json and environment variables.
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(_settings));
    }
}
