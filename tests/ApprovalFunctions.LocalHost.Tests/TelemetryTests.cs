using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using ApprovalFunctions.Runtime.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>Runs alone: a MeterListener hears every host in the process.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "telemetry";
}

/// <summary>OpenTelemetry only when an OTLP endpoint is configured; the runtime's instruments count real work.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests
{
    [Fact]
    public void AddTelemetry_NoEndpoint_RegistersNothing()
    {
        var services = new ServiceCollection();
        services.AddTelemetry(new ConfigurationBuilder().Build());
        Assert.Empty(services);
    }

    [Fact]
    public void AddTelemetry_OtlpEndpoint_RegistersTracerAndMeterProviders()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317" })
            .Build();
        var services = new ServiceCollection();
        services.AddTelemetry(configuration);
        using var provider = services.BuildServiceProvider();
        Assert.NotNull(provider.GetService<TracerProvider>());
        Assert.NotNull(provider.GetService<MeterProvider>());
    }

    [Fact]
    public async Task Decision_Applied_IncrementsDecisionAndDeliveryCounters()
    {
        var measured = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == RuntimeTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => measured.AddOrUpdate(instrument.Name, value, (_, v) => v + value));
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) => measured.AddOrUpdate(instrument.Name, 1, (_, v) => v + 1));
        listener.Start();

        using var receiver = new CallbackReceiver();
        using var host = new LocalHostFactory();
        var scenario = await Scenario.CreateAsync(host, Scenario.Workflow(receiver.Url));
        var id = await scenario.SubmitAsync(host);
        Assert.Equal(0, measured.GetValueOrDefault("approvals.decisions.applied"));
        await Scenario.ExpectAsync(await scenario.ApproveAsync(host, id, "a1"), HttpStatusCode.OK);
        Assert.Equal(1, measured.GetValueOrDefault("approvals.decisions.applied"));
        await Scenario.EventuallyAsync(() => Task.FromResult(measured.GetValueOrDefault("approvals.deliveries") >= 1), TimeSpan.FromSeconds(30), "a delivery measurement");
        Assert.True(measured.GetValueOrDefault("approvals.events.applied") >= 2); // submitted + decision (+ callback result)
    }
}
