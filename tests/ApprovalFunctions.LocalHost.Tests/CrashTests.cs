using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using ApprovalFunctions.Api.Auth;
using Xunit.Abstractions;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>The local host as a real process, killed with SIGKILL after acknowledging a decision it has not delivered.</summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Decision_HostProcessKilled_RestartedHostDeliversOnce()
    {
        var dll = FindHostDll();
        Assert.True(dll is not null, "the local host's build output was not found next to the repository");
        using var receiver = new CallbackReceiver();
        var hub = LocalHostFactory.NewHub();
        Scenario scenario;
        using (var setup = new LocalHostFactory(hub, pollMilliseconds: 600_000, wakeOnCommit: false))
        {
            scenario = await Scenario.CreateAsync(setup, Scenario.Workflow(receiver.Url));
        }

        var port = CallbackReceiver.FreePort();
        var start = new ProcessStartInfo("dotnet", [dll!])
        {
            WorkingDirectory = LocalSettings.FindRoot()!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["AzureWebJobsStorage"] = LocalHostFactory.Storage;
        start.Environment["Approvals__HubName"] = hub;
        start.Environment["Approvals__PollMilliseconds"] = "600000"; // takes the leases at start, then never delivers
        start.Environment["Approvals__WakeOnCommit"] = "false"; // nor is it woken by its own commits
        start.Environment["Approvals__LeaseSeconds"] = "3";
        start.Environment["Approvals__SeedDemoData"] = "false";
        start.Environment["Auth__DevSigningKey"] = LocalHostFactory.SigningKey;
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string id;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await Scenario.EventuallyAsync(async () =>
            {
                try
                {
                    return (await http.GetAsync(new Uri("/readyz", UriKind.Relative))).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), "the host process to be ready");

            http.DefaultRequestHeaders.Authorization = Bearer(scenario.Tenant, "req", "requester");
            var created = await Scenario.ExpectAsync(await http.PostAsync(new Uri("/api/v1/approvals", UriKind.Relative), Scenario.Json(new
            {
                model = Scenario.Model, recordId = "PO-crash", title = "Chairs", record = new { amount = 100 },
            })), HttpStatusCode.Created);
            id = created.GetProperty("id").GetString()!;
            await Scenario.FirstPassDoneAsync(hub);
            http.DefaultRequestHeaders.Authorization = Bearer(scenario.Tenant, "a1", "approver");
            await Scenario.ExpectAsync(await http.PostAsync(new Uri($"/api/v1/approvals/{id}/stages/s1/approve", UriKind.Relative),
                Scenario.Json(new { comment = "ok" })), HttpStatusCode.OK);
        }
        finally
        {
            process.Kill(entireProcessTree: true); // SIGKILL: no shutdown, leases left to expire
            await process.WaitForExitAsync();
        }

        Assert.Empty(receiver.Calls);
        using var restarted = new LocalHostFactory(hub, leaseSeconds: 3);
        _ = restarted.Server;
        var took = await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), TimeSpan.FromSeconds(30), "delivery after the crash");
        await Scenario.EventuallyAsync(async () => await scenario.CallbackStatusAsync(restarted, id) == "delivered", TimeSpan.FromSeconds(30), "delivered");
        await Task.Delay(500);
        var call = Assert.Single(receiver.Calls);
        Assert.True(call.SignatureValid(Scenario.Secret));
        Assert.Equal("approved", (await scenario.GetAsync(restarted, id)).GetProperty("status").GetString());
        output.WriteLine($"after kill -9, the restarted host delivered in {took.TotalMilliseconds:0} ms (lease 3 s)");
    }

    private static AuthenticationHeaderValue Bearer(string tenant, string user, string role) =>
        new("Bearer", DevTokens.Mint(LocalHostFactory.SigningKey, tenant, user, [role], DateTimeOffset.UtcNow));

    private static string? FindHostDll()
    {
        var root = LocalSettings.FindRoot();
        if (root is null)
        {
            return null;
        }

        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(root, "src", "ApprovalFunctions.LocalHost", "bin", configuration, "net10.0", "ApprovalFunctions.LocalHost.dll");
        return File.Exists(path) ? path : null;
    }
}
