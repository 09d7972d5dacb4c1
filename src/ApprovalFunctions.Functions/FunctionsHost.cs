using System.Globalization;
using ApprovalFunctions.Api;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Functions.Http;
using ApprovalFunctions.Runtime;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ApprovalFunctions.Functions;

/// <summary>The Functions host's composition root: the shared runtime on the project's own Table client, and the Durable commands.</summary>
public static class FunctionsHost
{
    /// <summary>
    /// The approval tables' name prefix when <c>Approvals:HubName</c> is not set: the task hub name in the root host.json
    /// (<c>extensions.durableTask.hubName</c>), so one name keeps this app's Durable Functions hub and approval tables apart
    /// from any other app on the storage account. The worker does not see host.json, hence the constant.
    /// </summary>
    public const string DefaultHubName = "ApprovalFunctions";

    // One pooled client for every outbound delivery; recycling connections picks up DNS changes of the targets. No client
    // timeout: the sender's own per-attempt timeout governs, as in the local host.
    private static readonly HttpClient DeliveryHttp = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// Registers the runtime (stores, caches, request processor, due-work runner — one instance each, as the local host
    /// has), the signed delivery sender, the Durable Functions commands and the maintenance options. Storage is reached
    /// through <see cref="ConnectionSettings"/>: <c>ApprovalsStorage:tableServiceUri</c> with the app's managed identity in
    /// Azure (infra/main.bicep), or the <c>AzureWebJobsStorage</c> connection string locally (Azurite).
    /// </summary>
    public static IServiceCollection AddFunctionsHost(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IDeliverySender>(sp => new HttpDeliverySender(DeliveryHttp, sp.GetRequiredService<TimeProvider>(), Random.Shared.NextDouble));
        services.AddApprovalRuntime(sp =>
        {
            var time = sp.GetRequiredService<TimeProvider>();
            var client = ConnectionSettings.CreateServiceClient(key => configuration[key], new TableClientOptions { TimeProvider = time });
            // Activities run on whichever instance picks them up, so a copy of a request's state kept here would often be
            // stale, and a stale copy costs more than the read it saves (docs/decisions/007): off unless the app sets
            // Approvals:StateCopyChars (worth it on a single instance).
            var copies = long.TryParse(configuration["Approvals:StateCopyChars"], NumberStyles.None, CultureInfo.InvariantCulture, out var chars) ? chars : 0;
            return ApprovalRuntime.Create(client, configuration["Approvals:HubName"] ?? DefaultHubName, sp.GetRequiredService<IRuleEvaluator>(), time,
                sp.GetRequiredService<IDeliverySender>(), Random.Shared, sp.GetRequiredService<ILoggerFactory>(), copies);
        });
        services.AddSingleton<IRequestSource, StoredRequestSource>();
        services.AddSingleton<IApprovalCommands>(sp => new DurableApprovalCommands(
            sp.GetRequiredService<IRequestSource>(), () => DurableClientScope.Current, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(MaintenanceOptions.From(configuration));
        services.AddHostedService<TableStartup>();
        return services;
    }
}

/// <summary>Creates the approval tables once when the worker starts (the task hub's own tables are Durable Functions' business).</summary>
internal sealed partial class TableStartup(StorageTables tables, ILogger<TableStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await tables.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TableException or HttpRequestException)
        {
            // Keep the worker up: /readyz reports storage, and the first request that needs a table fails visibly.
            LogUnreachable(logger, ex, tables.Service.Endpoint);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 400, Level = LogLevel.Error, Message = "Table Storage at {Endpoint} is not reachable; the approval tables were not created")]
    private static partial void LogUnreachable(ILogger logger, Exception exception, Uri endpoint);
}
