using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>
/// The real local host (Program) on Kestrel at 127.0.0.1 with a free port, so a browser can reach it: Development
/// environment (dev sign-in), the seeded demo tenant on a hub of its own, storage from APPROVALS_TEST_STORAGE.
/// </summary>
public sealed class DashboardHost : WebApplicationFactory<Program>, IAsyncLifetime
{
    /// <summary>A test-only HS256 key (≥ 32 bytes), accepted only because the host runs in Development.</summary>
    public const string DevSigningKey = "dashboard-tests-signing-key-0123456789abcdef0123456789";

    private const string StorageVariable = "APPROVALS_TEST_STORAGE";

    public DashboardHost()
    {
        UseKestrel(0);
    }

    /// <summary>This host's table-name prefix: no other test shares its data.</summary>
    public string Hub { get; } = "dash" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Where Kestrel listens, such as <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public Task InitializeAsync()
    {
        var storage = Environment.GetEnvironmentVariable(StorageVariable);
        if (string.IsNullOrWhiteSpace(storage))
        {
            throw new InvalidOperationException(
                $"{StorageVariable} is not set. These tests run the host against Azurite: run scripts/test.sh (it starts Azurite and sets {StorageVariable}).");
        }

        // Program picks its environment before the factory's settings apply; the variable makes it Development either way.
        Environment.SetEnvironmentVariable("ASPNETCORE_ENVIRONMENT", "Development");
        StartServer();
        BaseAddress = ClientOptions.BaseAddress;
        return Task.CompletedTask;
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    /// <summary>
    /// Stops the host, tolerating one known shutdown race: under the factory both it and Program's own app.Run()
    /// stop the host, and Run then disposes it, so a hosted service can be stopped after it was disposed
    /// (StorageInitializer's CancellationTokenSource; reported to the LocalHost owner). Anything else still fails.
    /// </summary>
    public override async ValueTask DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        catch (AggregateException ex) when (ex.Flatten().InnerExceptions.All(e => e is ObjectDisposedException))
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.UseEnvironment("Development");
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = Environment.GetEnvironmentVariable(StorageVariable),
            ["Approvals:HubName"] = Hub,
            ["Approvals:SeedDemoData"] = "true",
            ["Approvals:PollMilliseconds"] = "100",
            ["Auth:DevSigningKey"] = DevSigningKey,
            ["Auth:Authority"] = "",
            ["Logging:LogLevel:Default"] = "Warning",
        }));
    }

    /// <summary>An API client signed in as a demo user through the Development token route, as the page does.</summary>
    public async Task<HttpClient> ClientForAsync(string userId)
    {
        var client = CreateClient();
        using var response = await client.PostAsJsonAsync("/api/v1/dev/token", new { userId });
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.RootElement.GetProperty("token").GetString());
        return client;
    }
}

/// <summary>One host and one browser for every test class: starting either is the slow part.</summary>
[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardHost>, ICollectionFixture<BrowserFixture>
{
    public const string Name = "dashboard";
}
