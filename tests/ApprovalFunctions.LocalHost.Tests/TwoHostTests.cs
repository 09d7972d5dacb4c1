using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>Two hosts on one storage account and hub, taking the same decisions at the same time.</summary>
public sealed class TwoHostTests(ITestOutputHelper output)
{
    private const int Requests = 12;
    private static readonly string[] Approvers = ["a1", "a2", "a3"];

    [Fact]
    public Task Decisions_RacedOnTwoHosts_AppliedOnceAndEveryCallbackDelivered() => RaceAsync(exactlyOnce: false);

    [Fact]
    public Task Decisions_RacedOnTwoHosts_EachCallbackDeliveredExactlyOnce() => RaceAsync(exactlyOnce: true);

    private async Task RaceAsync(bool exactlyOnce)
    {
        using var receiver = new CallbackReceiver();
        var hub = LocalHostFactory.NewHub();
        using var a = new LocalHostFactory(hub);
        using var b = new LocalHostFactory(hub);
        _ = b.Server;
        var scenario = await Scenario.CreateAsync(a, Scenario.Workflow(receiver.Url,
            approvers: """[{"type":"group","id":"approvers"}]""", consensus: """{"mode":"all"}"""));
        var ids = new List<string>();
        for (var i = 0; i < Requests; i++)
        {
            ids.Add(await scenario.SubmitAsync(i % 2 == 0 ? a : b));
        }

        // Every approver's vote on every request is sent to both hosts at once: 72 concurrent decisions.
        var clock = Stopwatch.StartNew();
        var votes = ids.SelectMany(id => Approvers.Select(user => (id, user))).ToList();
        var answers = await Task.WhenAll(votes.Select(async v =>
        {
            var results = await Task.WhenAll(
                Task.Run(() => scenario.ApproveAsync(a, v.id, v.user)),
                Task.Run(() => scenario.ApproveAsync(b, v.id, v.user)));
            return (v.id, v.user, statuses: results.Select(r => (int)r.StatusCode).ToArray());
        }));
        var decided = clock.Elapsed;

        foreach (var (id, user, statuses) in answers)
        {
            // One of the two is applied; the other is refused (a second vote 422, or 409 once the stage has closed).
            Assert.True(statuses.Count(s => s == 200) == 1, $"{id}/{user}: {string.Join(",", statuses)}");
            Assert.Contains(statuses.Single(s => s != 200), new[] { 409, 422 });
        }

        await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= Requests), TimeSpan.FromSeconds(60), "every callback");
        var delivered = clock.Elapsed;
        await Task.Delay(1500); // let any duplicate arrive
        var byKey = receiver.Calls.GroupBy(c => c.Header("Idempotency-Key")).ToList();
        Assert.Equal(Requests, byKey.Count);
        Assert.All(receiver.Calls, c => Assert.True(c.SignatureValid(Scenario.Secret)));
        output.WriteLine($"{receiver.Calls.Count} POSTs for {Requests} callbacks; {byKey.Count(g => g.Count() > 1)} keys received more than once");
        if (exactlyOnce)
        {
            Assert.All(byKey, g => Assert.Single(g));
        }

        Assert.Equal(ids.Order(), receiver.Calls.Select(c => System.Text.Json.JsonDocument.Parse(c.Body).RootElement.GetProperty("approvalId").GetString()!)
            .Distinct().Order());
        foreach (var id in ids)
        {
            await Scenario.EventuallyAsync(async () => await scenario.CallbackStatusAsync(b, id) == "delivered", TimeSpan.FromSeconds(30), "delivered status");
        }

        // Read once every commit has landed, each request through the host that did not submit it.
        for (var i = 0; i < ids.Count; i++)
        {
            var id = ids[i];
            var state = await scenario.GetAsync(i % 2 == 0 ? b : a, id);
            Assert.Equal("approved", state.GetProperty("status").GetString());
            var history = await scenario.HistoryAsync(i % 2 == 0 ? a : b, id);
            Assert.True(history.GetProperty("chainVerified").GetBoolean(), $"{id}: ledger chain does not verify: {history}");
            var approvals = history.GetProperty("entries").EnumerateArray()
                .Where(e => e.GetProperty("action").GetString() == "approve")
                .Select(e => e.GetProperty("actor").GetString()).Order().ToList();
            Assert.Equal(Approvers, approvals);
        }

        output.WriteLine($"{votes.Count * 2} decisions on two hosts answered in {decided.TotalMilliseconds:0} ms; {Requests} callbacks delivered by {delivered.TotalMilliseconds:0} ms");
    }
}
