using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ApprovalFunctions.LocalHost;

/// <summary>
/// OpenTelemetry traces and metrics with an OTLP exporter when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is configured.
/// The hosting and instrumentation add-on packages are not available to this project, so the SDK providers are
/// built here and owned by the container (disposed on shutdown, which flushes them).
/// </summary>
internal static class Telemetry
{
    /// <summary>The prefix of every meter and activity source of this project.</summary>
    public const string SourcePrefix = "ApprovalFunctions.";

    public static IServiceCollection AddTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var endpoint = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return services;
        }

        var serviceName = configuration["OTEL_SERVICE_NAME"] ?? "approval-functions-local";
        services.AddSingleton(_ => Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(r => r.AddService(serviceName))
            .AddSource(SourcePrefix + "*", "Microsoft.AspNetCore")
            .AddOtlpExporter(o => o.Endpoint = new Uri(endpoint))
            .Build());
        services.AddSingleton(_ => Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService(serviceName))
            .AddMeter(SourcePrefix + "*", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddOtlpExporter(o => o.Endpoint = new Uri(endpoint))
            .Build());
        services.AddHostedService<TelemetryStarter>();
        return services;
    }

    /// <summary>Resolves the providers at start-up so they listen from the first request.</summary>
    private sealed class TelemetryStarter(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = services.GetService<TracerProvider>();
            _ = services.GetService<MeterProvider>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
