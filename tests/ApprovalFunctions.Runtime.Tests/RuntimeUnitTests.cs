using System.Diagnostics.Metrics;
using System.Text;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Diagnostics;
using ApprovalFunctions.Runtime.Storage;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class RuntimeUnitTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Signatures_SignThenVerify_AcceptsOriginalRefusesTamperingAndOldTimestamps()
    {
        var body = Encoding.UTF8.GetBytes("""{"approvalId":"r1"}""");
        var ts = Now.ToUnixTimeSeconds();
        var signature = Signatures.Sign("secret", ts, body);

        Assert.StartsWith("sha256=", signature, StringComparison.Ordinal);
        Assert.Equal(7 + 64, signature.Length);
        Assert.Null(Signatures.Verify("secret", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, body, Now));
        Assert.NotNull(Signatures.Verify("other", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, body, Now));
        Assert.NotNull(Signatures.Verify("secret", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, Encoding.UTF8.GetBytes("{}"), Now));
        Assert.NotNull(Signatures.Verify("secret", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, body, Now.AddMinutes(6)));
        // The window's edges, on a fixed clock: 300 s either way is in, 301 s out (the HTTP test cannot probe them to the second).
        Assert.Null(Signatures.Verify("secret", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, body, Now.AddSeconds(300)));
        Assert.Null(Signatures.Verify("secret", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, body, Now.AddSeconds(-300)));
        Assert.NotNull(Signatures.Verify("secret", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, body, Now.AddSeconds(301)));
        Assert.NotNull(Signatures.Verify("secret", ts.ToString(System.Globalization.CultureInfo.InvariantCulture), signature, body, Now.AddSeconds(-301)));
        Assert.NotNull(Signatures.Verify("secret", "abc", signature, body, Now));
    }

    [Fact]
    public void ConnectionSettings_PicksUriOverConnectionStringAndExplainsWhenNothingIsSet()
    {
        var fromString = ConnectionSettings.CreateServiceClient(key => key == ConnectionSettings.ConnectionStringKey
            ? "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
            : null);
        Assert.Equal("devstoreaccount1", fromString.AccountName);

        var fromUri = ConnectionSettings.CreateServiceClient(key => key switch
        {
            ConnectionSettings.TableServiceUriKey => "https://prodaccount.table.core.windows.net/",
            ConnectionSettings.ConnectionStringKey => "UseDevelopmentStorage=true",
            _ => null,
        });
        Assert.Equal("prodaccount", fromUri.AccountName);

        var ex = Assert.Throws<InvalidOperationException>(() => ConnectionSettings.CreateServiceClient(_ => null));
        Assert.Contains(ConnectionSettings.ConnectionStringKey, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShardOf_IsStableAndSpreadsRequests()
    {
        Assert.Equal(DueWorkStore.ShardOf("acme", "r-1"), DueWorkStore.ShardOf("acme", "r-1"));
        var shards = Enumerable.Range(0, 400).Select(i => DueWorkStore.ShardOf("acme", "r-" + i)).ToList();
        Assert.All(shards, s => Assert.InRange(s, 0, DueWorkStore.ShardCount - 1));
        Assert.Equal(DueWorkStore.ShardCount, shards.Distinct().Count());
    }

    [Fact]
    public async Task Pollers_TwoProcessesOneHub_ShardsSplitByLeaseAndWorkDoneOnce()
    {
        var a = await Harness.CreateAsync();
        var b = await a.SecondProcessAsync();
        using var target = new TestReceiver(_ => 200);
        await a.PublishAsync("inv", Harness.OneStage(callback: $$""" "callback":{"url":"{{target.Url}}","events":["approved"],"secret":"s"},"""));
        for (var i = 0; i < 6; i++)
        {
            await a.Runtime.Processor.SubmitAsync(Harness.Submit("p" + i, "INV-" + i));
            await a.Runtime.Processor.ApplyAsync(Harness.Tenant, "p" + i, Harness.Approve("manager", "bob"));
        }

        var first = a.Runtime.CreatePoller("proc-a");
        var second = b.Runtime.CreatePoller("proc-b");
        await Task.WhenAll(first.PollOnceAsync(), second.PollOnceAsync());
        await Task.WhenAll(first.PollOnceAsync(), second.PollOnceAsync());

        Assert.Equal(6, target.Received.Count);
        Assert.Equal(6, target.Received.Select(r => r.IdempotencyKey).Distinct().Count());
    }

    [Fact]
    public async Task Telemetry_DecisionAndDelivery_RecordedOnTheRuntimeMeter()
    {
        var decisions = 0L;
        var deliveries = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RuntimeTelemetry.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "approvals.decisions.applied")
            {
                Interlocked.Add(ref decisions, value);
            }
            else if (instrument.Name == "approvals.deliveries")
            {
                Interlocked.Add(ref deliveries, value);
            }
        });
        listener.Start();

        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(_ => 200);
        await h.PublishAsync("inv", Harness.OneStage(callback: $$""" "callback":{"url":"{{target.Url}}","events":["approved"],"secret":"s"},"""));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("m"));
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "m", Harness.Approve("manager", "bob"));
        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());

        Assert.True(Interlocked.Read(ref decisions) >= 1);
        Assert.True(Interlocked.Read(ref deliveries) >= 1);
    }

    [Fact]
    public void RecentStates_OverBudget_DropsTheOldestFirstAndNeverHoldsAStateOverAQuarterOfIt()
    {
        var recent = new Runtime.Processing.RecentStates(budget: 1000);
        recent.Set("r1", Stored("r1", 200));
        recent.Set("r2", Stored("r2", 200));
        recent.Set("r1", Stored("r1", 150) with { ETag = "newer" }); // replaced: now the newest
        recent.Set("r3", Stored("r3", 250));
        recent.Set("r4", Stored("r4", 250));
        Assert.Equal(4, recent.Count); // 200 + 150 + 250 + 250 = 850: all held
        recent.Set("r5", Stored("r5", 200)); // 1050 > 1000: r2, stored longest ago, goes

        Assert.False(recent.TryGet("r2", out _));
        Assert.True(recent.TryGet("r1", out var r1));
        Assert.Equal("newer", r1.ETag);
        Assert.Equal(4, recent.Count);
        Assert.Equal(850, recent.Size);

        recent.Set("big", Stored("big", 251)); // over 1000 / 4: never held
        Assert.False(recent.TryGet("big", out _));
        recent.Set("r3", Stored("r3", 251)); // a copy grown too large is dropped, not kept stale
        Assert.False(recent.TryGet("r3", out _));
        recent.Remove("r1");
        Assert.Equal(2, recent.Count);
        Assert.Equal(450, recent.Size);
    }

    private static StoredRequest Stored(string id, long size) => new(new Engine.State.ApprovalState
    {
        TenantId = "t", Id = id, Model = "m", RecordId = "x", Event = "create", Requester = "alice",
    }, "etag-" + id, 1) { Size = size };
}
