using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;
using Xunit.Abstractions;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>
/// Work acknowledged by one host and carried out by the next: a callback pending when the host stops (or freezes
/// holding its leases), and a timer that falls due while no host runs.
/// </summary>
public sealed class RestartTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Polls once at start-up, then not for ten minutes: a host that takes decisions but never carries out due work.</summary>
    private const int Never = 600_000;

    [Fact]
    public async Task Decision_HostStoppedBeforeDelivery_NextHostDeliversOnce()
    {
        using var receiver = new CallbackReceiver();
        var hub = LocalHostFactory.NewHub();
        var (scenario, id) = await ApprovedByAHostThatNeverDeliversAsync(hub, receiver.Url);

        Assert.Empty(receiver.Calls);
        var clock = Stopwatch.StartNew();
        using var second = new LocalHostFactory(hub);
        _ = second.Server; // start it: the pump runs without any request
        var took = await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), Patience, "the next host's delivery");
        await Scenario.EventuallyAsync(async () => await scenario.CallbackStatusAsync(second, id) == "delivered", Patience, "callback status delivered");
        await Task.Delay(500);
        var call = Assert.Single(receiver.Calls);
        Assert.True(call.SignatureValid(Scenario.Secret));
        Assert.Equal(id, JsonDocument.Parse(call.Body).RootElement.GetProperty("approvalId").GetString());
        output.WriteLine($"the restarted host delivered {took.TotalMilliseconds:0} ms after starting");
    }

    [Fact]
    public async Task Decision_HostDiedHoldingLeases_OtherHostTakesOverAfterLeaseExpiry()
    {
        using var receiver = new CallbackReceiver();
        var hub = LocalHostFactory.NewHub();
        var (scenario, id) = await ApprovedByAHostThatNeverDeliversAsync(hub, receiver.Url);

        // A process that died holding every shard lease (3 s): the other host must wait for them to expire.
        var leases = new LeaseStore(new StorageTables(new TableServiceClient(LocalHostFactory.Storage), hub), TimeProvider.System);
        // The first host released its leases when it stopped; on a loaded machine a release can time out, and that lease
        // then lasts until it expires (15 s). So wait for each shard to be free, then renew them all at once so that every
        // lease has its full 3 s when the other host starts.
        var dead = new ShardLease[DueWorkStore.ShardCount];
        for (var shard = 0; shard < DueWorkStore.ShardCount; shard++)
        {
            var s = shard;
            await Scenario.EventuallyAsync(async () => (dead[s] = (await leases.TryAcquireAsync(s, "dead-process", TimeSpan.FromSeconds(3)))!) is not null,
                TimeSpan.FromSeconds(30), $"shard {s} to be free");
        }

        for (var shard = 0; shard < DueWorkStore.ShardCount; shard++)
        {
            Assert.NotNull(await leases.RenewAsync(dead[shard], TimeSpan.FromSeconds(3)));
        }

        var clock = Stopwatch.StartNew();
        using var second = new LocalHostFactory(hub, leaseSeconds: 3);
        _ = second.Server;
        await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), Patience, "the other host's delivery");
        var took = clock.Elapsed;
        await Task.Delay(500);
        Assert.Single(receiver.Calls);
        Assert.Equal("delivered", await scenario.CallbackStatusAsync(second, id));
        Assert.True(took >= TimeSpan.FromSeconds(2.5), $"delivered {took.TotalMilliseconds:0} ms after the dead process's 3 s leases were written");
        output.WriteLine($"taken over and delivered {took.TotalMilliseconds:0} ms after the dead process's leases were written");
    }

    [Fact]
    public async Task Timer_DueWhileNoHostRuns_FiresWhenAHostStarts()
    {
        using var receiver = new CallbackReceiver();
        var hub = LocalHostFactory.NewHub();
        Scenario scenario;
        string id;
        using (var first = new LocalHostFactory(hub, pollMilliseconds: Never, wakeOnCommit: false))
        {
            scenario = await Scenario.CreateAsync(first, Scenario.Workflow(receiver.Url,
                stageExtra: """, "timeout": {"after": "PT2S", "action": "reject"}"""));
            id = await scenario.SubmitAsync(first);
        }

        await Task.Delay(TimeSpan.FromSeconds(3)); // the stage timeout falls due while nothing runs
        var clock = Stopwatch.StartNew();
        using var second = new LocalHostFactory(hub);
        _ = second.Server;
        var fired = await Scenario.EventuallyAsync(async () => (await scenario.GetAsync(second, id)).GetProperty("status").GetString() == "rejected",
            Patience, "the stage timeout to reject the request");
        await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), Patience, "the rejection callback");
        var call = Assert.Single(receiver.Acknowledged);
        Assert.Equal("rejected", JsonDocument.Parse(call.Body).RootElement.GetProperty("outcome").GetString());
        var actions = (await scenario.HistoryAsync(second, id)).GetProperty("entries").EnumerateArray()
            .Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("stage.rejected", actions);
        output.WriteLine($"the overdue timer fired {fired.TotalMilliseconds:0} ms after the host started");
    }

    /// <summary>A request approved on a host that then stops without delivering: its callback is left pending.</summary>
    private static async Task<(Scenario Scenario, string Id)> ApprovedByAHostThatNeverDeliversAsync(string hub, Uri receiverUrl)
    {
        using var first = new LocalHostFactory(hub, pollMilliseconds: Never, wakeOnCommit: false);
        var scenario = await Scenario.CreateAsync(first, Scenario.Workflow(receiverUrl));
        var id = await scenario.SubmitAsync(first);
        await Scenario.FirstPassDoneAsync(hub);
        await Scenario.ExpectAsync(await scenario.ApproveAsync(first, id, "a1"), HttpStatusCode.OK);
        Assert.Equal("pending", await scenario.CallbackStatusAsync(first, id));
        return (scenario, id);
    }
}
