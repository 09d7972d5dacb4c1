using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>Liveness and readiness, with storage there and with storage unreachable.</summary>
public sealed class HealthTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Health_StorageReachable_LiveAndReady()
    {
        using var host = new LocalHostFactory();
        using var client = host.CreateClient();
        var live = await Scenario.ExpectAsync(await client.GetAsync(new Uri("/healthz", UriKind.Relative)), HttpStatusCode.OK);
        Assert.Equal("alive", live.GetProperty("status").GetString());
        var ready = await Scenario.ExpectAsync(await client.GetAsync(new Uri("/readyz", UriKind.Relative)), HttpStatusCode.OK);
        Assert.Equal("ready", ready.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_StorageUnreachable_HostStartsLiveButNotReady()
    {
        var closed = CallbackReceiver.FreePort();
        var account = ApprovalFunctions.Storage.Tables.TableConnectionString.DevelopmentAccountName;
        var storage = $"DefaultEndpointsProtocol=http;AccountName={account};" +
            $"AccountKey={ApprovalFunctions.Storage.Tables.TableConnectionString.DevelopmentAccountKey};" +
            $"TableEndpoint=http://127.0.0.1:{closed}/{account};";
        var clock = Stopwatch.StartNew();
        using var host = new LocalHostFactory(storage: storage);
        using var client = host.CreateClient(); // start-up must not throw for unreachable storage
        var started = clock.Elapsed;
        await Scenario.ExpectAsync(await client.GetAsync(new Uri("/healthz", UriKind.Relative)), HttpStatusCode.OK);
        var ready = await Scenario.ExpectAsync(await client.GetAsync(new Uri("/readyz", UriKind.Relative)), HttpStatusCode.ServiceUnavailable);
        Assert.Equal("unavailable", ready.GetProperty("status").GetString());
        output.WriteLine($"started in {started.TotalMilliseconds:0} ms without storage; /readyz answered 503 at {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
