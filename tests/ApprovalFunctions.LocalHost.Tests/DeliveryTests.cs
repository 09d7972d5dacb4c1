using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>
/// The durable runner end to end on one host: timers found through the due-work index (reminder, escalation),
/// a decision, and the signed callback with durable retries, give-up and admin retry.
/// </summary>
public sealed class DeliveryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Decision_PollIntervalOneMinute_CommitWakesThePumpAndTheCallbackGoesOutAtOnce()
    {
        using var receiver = new CallbackReceiver();

        // After its first pass at start-up this host would not poll again for a minute: only the wake-up its own
        // commit sends can deliver the callback sooner.
        using var host = new LocalHostFactory(pollMilliseconds: 60_000, extra: new Dictionary<string, string?> { ["Approvals:MaxPollMilliseconds"] = "60000" });
        var scenario = await Scenario.CreateAsync(host, Scenario.Workflow(receiver.Url));
        var id = await scenario.SubmitAsync(host);
        await Scenario.FirstPassDoneAsync(host.HubName);

        await Scenario.ExpectAsync(await scenario.ApproveAsync(host, id, "a1"), HttpStatusCode.OK);
        var took = await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), Patience, "the callback");

        Assert.True(took < TimeSpan.FromSeconds(10), $"the callback came {took.TotalMilliseconds:0} ms after the decision; the poll interval is 60 s");
        Assert.Equal(id, JsonDocument.Parse(Assert.Single(receiver.Calls).Body).RootElement.GetProperty("approvalId").GetString());
        output.WriteLine($"callback {took.TotalMilliseconds:0} ms after the decision");
    }

    [Fact]
    public async Task Submit_EscalatedByTimerThenApproved_DeliversOneSignedCallback()
    {
        using var receiver = new CallbackReceiver();
        using var host = new LocalHostFactory();
        var scenario = await Scenario.CreateAsync(host, Scenario.Workflow(receiver.Url,
            stageExtra: """, "reminderEvery": "PT1S", "escalation": [{"after": "PT1S", "approvers": [{"type": "user", "id": "esc"}]}]"""));
        var clock = Stopwatch.StartNew();
        var id = await scenario.SubmitAsync(host);

        // Before the escalation timer fires, esc is nobody on this stage.
        Assert.Equal(HttpStatusCode.Forbidden, (await scenario.ApproveAsync(host, id, "esc")).StatusCode);

        var escalated = await Scenario.EventuallyAsync(async () =>
            (await scenario.GetAsync(host, id)).GetProperty("stages")[0].GetProperty("escalationLevel").GetInt32() >= 1, Patience, "the escalation timer");
        await Scenario.ExpectAsync(await scenario.ApproveAsync(host, id, "esc"), HttpStatusCode.OK);
        var decided = clock.Elapsed;
        var delivered = await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), Patience, "the callback");
        await Scenario.EventuallyAsync(async () => await scenario.CallbackStatusAsync(host, id) == "delivered", Patience, "callback status delivered");
        await Task.Delay(500); // a second delivery would show up here

        var call = Assert.Single(receiver.Calls);
        Assert.Equal("/cb", call.Path);
        Assert.True(call.SignatureValid(Scenario.Secret), "the HMAC-SHA256 signature over timestamp.body must verify");
        Assert.False(call.SignatureValid("another-secret"));
        Assert.False(string.IsNullOrEmpty(call.Header("Idempotency-Key")));
        var body = JsonDocument.Parse(call.Body).RootElement;
        var state = await scenario.GetAsync(host, id);
        Assert.Equal(id, body.GetProperty("approvalId").GetString());
        Assert.Equal(Scenario.Model, body.GetProperty("model").GetString());
        Assert.Equal(state.GetProperty("recordId").GetString(), body.GetProperty("recordId").GetString());
        Assert.Equal("approved", body.GetProperty("outcome").GetString());
        Assert.Equal(100, body.GetProperty("record").GetProperty("amount").GetInt32());
        Assert.Equal("approved", state.GetProperty("status").GetString());

        var history = await scenario.HistoryAsync(host, id);
        Assert.True(history.GetProperty("chainVerified").GetBoolean());
        var actions = history.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("stage.escalated", actions);
        Assert.Contains("stage.reminder", actions);
        Assert.Contains("callback.delivered", actions);
        output.WriteLine($"escalated after {escalated.TotalMilliseconds:0} ms; decided at {decided.TotalMilliseconds:0} ms; callback {delivered.TotalMilliseconds:0} ms after the decision");
    }

    [Fact]
    public async Task Callback_TargetDownThenUp_RetriesWithOneKeyThenDelivers()
    {
        using var receiver = new CallbackReceiver(ReceiverMode.Unavailable);
        using var host = new LocalHostFactory();
        var scenario = await Scenario.CreateAsync(host, Scenario.Workflow(receiver.Url, maxAttempts: 50));
        var id = await scenario.SubmitAsync(host);
        await Scenario.ExpectAsync(await scenario.ApproveAsync(host, id, "a1"), HttpStatusCode.OK);

        var failing = await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Calls.Count >= 4), Patience, "four refused attempts");
        var pending = (await scenario.GetAsync(host, id)).GetProperty("callback");
        Assert.Equal("pending", pending.GetProperty("status").GetString());
        Assert.True(pending.GetProperty("attempts").GetInt32() >= 1);
        Assert.Contains("503", pending.GetProperty("lastError").GetString(), StringComparison.Ordinal);

        receiver.Mode = ReceiverMode.Up;
        var up = Stopwatch.StartNew();
        await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), Patience, "delivery once the target is up");
        var deliveredAfter = up.Elapsed;
        await Scenario.EventuallyAsync(async () => await scenario.CallbackStatusAsync(host, id) == "delivered", Patience, "callback status delivered");
        await Task.Delay(500);

        Assert.Single(receiver.Acknowledged);
        var calls = receiver.Calls;
        Assert.Single(calls.Select(c => c.Header("Idempotency-Key")).Distinct());
        Assert.All(calls, c => Assert.True(c.SignatureValid(Scenario.Secret)));
        Assert.Single(calls.Select(c => c.Body).Distinct());

        // Backoff, not a hot loop: attempts are spread out, the durable ones at least initialBackoff (0.2 s, -20 % jitter) apart.
        var gaps = calls.Zip(calls.Skip(1), (a, b) => (b.At - a.At).TotalMilliseconds).ToList();
        Assert.True(gaps.Count(g => g >= 150) >= 2, "expected durable backoff between attempts: " + string.Join(", ", gaps.Select(g => g.ToString("0", System.Globalization.CultureInfo.InvariantCulture))));
        output.WriteLine($"{calls.Count} calls ({calls.Count - 1} refused); 4 refusals after {failing.TotalMilliseconds:0} ms; delivered {deliveredAfter.TotalMilliseconds:0} ms after the target came up");
    }

    [Fact]
    public async Task Callback_TargetDownPastPolicy_FailedVisibleThenAdminRetryDelivers()
    {
        var port = CallbackReceiver.FreePort(); // nothing listens: connection refused
        var url = new Uri($"http://127.0.0.1:{port}/cb");
        using var host = new LocalHostFactory();
        var scenario = await Scenario.CreateAsync(host, Scenario.Workflow(url, maxAttempts: 2, initialBackoff: "PT0.2S", maxBackoff: "PT0.2S"));
        var id = await scenario.SubmitAsync(host);
        await Scenario.ExpectAsync(await scenario.ApproveAsync(host, id, "a1"), HttpStatusCode.OK);

        var failedAfter = await Scenario.EventuallyAsync(async () => await scenario.CallbackStatusAsync(host, id) == "failed", Patience, "callback status failed");
        var callback = (await scenario.GetAsync(host, id)).GetProperty("callback");
        Assert.Equal(2, callback.GetProperty("attempts").GetInt32());
        Assert.False(string.IsNullOrEmpty(callback.GetProperty("lastError").GetString()));

        using var admin = host.As(scenario.Tenant, "admin", "admin");
        var failed = await Scenario.ExpectAsync(await admin.GetAsync(new Uri("/api/v1/callbacks?status=failed", UriKind.Relative)), HttpStatusCode.OK);
        Assert.Contains(failed.GetProperty("items").EnumerateArray(), item => item.GetProperty("id").GetString() == id);

        // A requester may not retry; the admin may.
        using var requester = host.As(scenario.Tenant, "req", "requester");
        Assert.Equal(HttpStatusCode.Forbidden, (await requester.PostAsync(new Uri($"/api/v1/approvals/{id}/retry", UriKind.Relative), Scenario.Json("{}"))).StatusCode);

        using var receiver = new CallbackReceiver(ReceiverMode.Up, port);
        var retry = await admin.PostAsync(new Uri($"/api/v1/approvals/{id}/retry", UriKind.Relative), Scenario.Json("{}"));
        Assert.True(retry.IsSuccessStatusCode, $"retry answered {(int)retry.StatusCode}: {await retry.Content.ReadAsStringAsync()}");
        var deliveredAfter = await Scenario.EventuallyAsync(() => Task.FromResult(receiver.Acknowledged.Count >= 1), Patience, "delivery after the admin retry");
        await Scenario.EventuallyAsync(async () => await scenario.CallbackStatusAsync(host, id) == "delivered", Patience, "callback status delivered");
        await Task.Delay(500);

        var call = Assert.Single(receiver.Calls);
        Assert.True(call.SignatureValid(Scenario.Secret));
        failed = await Scenario.ExpectAsync(await admin.GetAsync(new Uri("/api/v1/callbacks?status=failed", UriKind.Relative)), HttpStatusCode.OK);
        Assert.DoesNotContain(failed.GetProperty("items").EnumerateArray(), item => item.GetProperty("id").GetString() == id);
        output.WriteLine($"failed after {failedAfter.TotalMilliseconds:0} ms; delivered {deliveredAfter.TotalMilliseconds:0} ms after the admin retry");
    }

    [Fact]
    public async Task Callback_OneTargetHangs_AnotherRequestsCallbackIsDeliveredPromptly()
    {
        using var hanging = new CallbackReceiver(ReceiverMode.Hang);
        using var healthy = new CallbackReceiver();
        using var host = new LocalHostFactory();
        var slow = await Scenario.CreateAsync(host, Scenario.Workflow(hanging.Url));
        var fast = await Scenario.CreateAsync(host, Scenario.Workflow(healthy.Url));
        var slowId = await slow.SubmitAsync(host);
        await Scenario.ExpectAsync(await slow.ApproveAsync(host, slowId, "a1"), HttpStatusCode.OK);
        await Scenario.EventuallyAsync(() => Task.FromResult(hanging.Calls.Count >= 1), Patience, "the hanging target to be called");

        var fastId = await fast.SubmitAsync(host);
        await Scenario.ExpectAsync(await fast.ApproveAsync(host, fastId, "a1"), HttpStatusCode.OK);
        var clock = Stopwatch.StartNew();
        await Scenario.EventuallyAsync(() => Task.FromResult(healthy.Acknowledged.Count >= 1), Patience, "the healthy target's callback");
        var took = clock.Elapsed;
        output.WriteLine($"healthy callback delivered {took.TotalMilliseconds:0} ms after its decision while the other target hung");
        Assert.True(took < TimeSpan.FromSeconds(3), $"a hanging target stalled another delivery for {took.TotalMilliseconds:0} ms");
    }
}
