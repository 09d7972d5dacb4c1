using ApprovalFunctions.Api;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Runtime;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.LocalHost;

/// <summary>The embedded durable runner: stores on Table Storage, the request processor, the due-work pump and demo seeding.</summary>
internal static class LocalRunner
{
    public static IServiceCollection AddLocalRunner(this IServiceCollection services, IConfiguration configuration)
    {
        // One composition root for the stores, caches, processor and runner (the same wiring every host uses).
        services.AddHttpClient("deliveries", http => http.Timeout = Timeout.InfiniteTimeSpan);
        services.AddApprovalRuntime(sp =>
        {
            var time = sp.GetRequiredService<TimeProvider>();
            var hub = configuration["Approvals:HubName"] ?? LocalSettings.DefaultHubName;
            var client = ConnectionSettings.CreateServiceClient(key => configuration[key], new TableClientOptions { TimeProvider = time });
            var sender = new HttpDeliverySender(sp.GetRequiredService<IHttpClientFactory>().CreateClient("deliveries"), time, Random.Shared.NextDouble);
            // One process handles most of a request's events here, so copies of recent states pay (decision 007).
            var copies = configuration.GetValue("Approvals:StateCopyChars", RequestProcessor.DefaultRecentStateBudget);
            if (copies < 0)
            {
                throw new InvalidOperationException($"Approvals:StateCopyChars is {copies}; it must be 0 (no copies) or more.");
            }

            return ApprovalRuntime.Create(client, hub, sp.GetRequiredService<IRuleEvaluator>(), time, sender, Random.Shared,
                sp.GetRequiredService<ILoggerFactory>(), copies);
        });
        services.AddSingleton<IApprovalCommands, LocalApprovalCommands>();
        services.AddHostedService<StorageInitializer>();
        services.AddHostedService<DueWorkPump>();
        return services;
    }
}

/// <summary>The local host's commands: applied synchronously by the durable runner, answered after the commit.</summary>
internal sealed class LocalApprovalCommands(RequestProcessor processor) : IApprovalCommands
{
    public async Task<CommandResult> SubmitAsync(Submitted submitted, CancellationToken cancellationToken)
    {
        var outcome = await processor.SubmitAsync(submitted, cancellationToken).ConfigureAwait(false);
        return ToResult(outcome);
    }

    public async Task<CommandResult> ApplyAsync(string tenantId, string requestId, ApprovalEvent evt, CancellationToken cancellationToken)
    {
        var outcome = await processor.ApplyAsync(tenantId, requestId, evt, cancellationToken).ConfigureAwait(false);
        return ToResult(outcome);
    }

    private static CommandResult ToResult(ProcessResult outcome) => outcome.Status switch
    {
        ProcessStatus.NotFound => CommandResult.NotFound,
        ProcessStatus.Refused => new CommandResult(CommandStatus.Refused, outcome.State, outcome.Refusal),
        _ => new CommandResult(CommandStatus.Applied, outcome.State),
    };
}

/// <summary>
/// Runs the runtime's <see cref="DueWorkPoller"/> in the background: due timers and outbox items are found through the
/// due-work index (never by scanning requests), shard by shard under ETag-guarded leases, so two processes never
/// work one shard at once. Work that fell due while the host was down is found on the first pass. Stopping the host
/// cancels the loop, which releases the leases so another process takes over at once.
/// </summary>
internal sealed class DueWorkPump(ApprovalRuntime runtime, IConfiguration configuration) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
        var interval = TimeSpan.FromMilliseconds(configuration.GetValue("Approvals:PollMilliseconds", 200));
        var maxInterval = TimeSpan.FromMilliseconds(configuration.GetValue("Approvals:MaxPollMilliseconds", 1000));
        var leaseDuration = TimeSpan.FromSeconds(configuration.GetValue("Approvals:LeaseSeconds", 15));
        var wakeOnCommit = configuration.GetValue("Approvals:WakeOnCommit", true);
        return runtime.CreatePoller(owner, interval, maxInterval, leaseDuration, wakeOnCommit).RunAsync(stoppingToken);
    }
}

/// <summary>
/// Creates the tables at start-up and seeds the demo tenant when it is empty and seeding is on. When storage cannot be
/// reached the host still starts, so /healthz answers and /readyz reports 503 (what an orchestrator needs to tell
/// "starting, storage not there yet" from "crashed"); the set-up is retried in the background until it succeeds.
/// </summary>
internal sealed partial class StorageInitializer(
    StorageTables tables, DirectoryStore directory, DefinitionStore definitions, IRuleEvaluator rules, TimeProvider time,
    IConfiguration configuration, ILogger<StorageInitializer> logger, IHostApplicationLifetime lifetime) : IHostedService
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);
    // Cancelled on stop and never disposed: StopAsync may run after the container has disposed its services.
    private readonly CancellationTokenSource _stopping = new();
    private Task _retrying = Task.CompletedTask;

    /// <summary>True once the tables exist (and the demo data, if asked for, is in place).</summary>
    public bool Initialized { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStorageFailure(ex) && !cancellationToken.IsCancellationRequested)
        {
            LogStorageUnreachable(logger, ex, tables.Service.Endpoint.ToString(), FirstRetryDelay.TotalSeconds);
            _retrying = RetryAsync(_stopping.Token);
        }
        // A StorageLayoutException is not transient (serving would answer 404 for requests that exist): it stops the
        // start, and Program says what to do.
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _retrying.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RetryAsync(CancellationToken stopping)
    {
        var delay = FirstRetryDelay;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, time, stopping).ConfigureAwait(false);
                await InitializeAsync(stopping).ConfigureAwait(false);
                LogStorageReachable(logger, tables.Service.Endpoint.ToString());
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (IsStorageFailure(ex))
            {
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
                LogStorageUnreachable(logger, ex, tables.Service.Endpoint.ToString(), delay.TotalSeconds);
            }
            catch (StorageLayoutException ex)
            {
                LogWrongLayout(logger, ex.Message);
                Environment.ExitCode = 1;
                lifetime.StopApplication();
                return;
            }
        }
    }

    private static bool IsStorageFailure(Exception ex) =>
        ex is TableException or HttpRequestException or IOException or TimeoutException or OperationCanceledException
            or Azure.RequestFailedException
        || (ex is AggregateException aggregate && aggregate.InnerExceptions.All(IsStorageFailure)); // Azure.Core's retry policy gives up with one

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // A failed attempt is not kept by StorageTables, so a retry creates whatever is still missing.
        await tables.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        await SeedAsync(cancellationToken).ConfigureAwait(false);
        Initialized = true;
    }

    private async Task SeedAsync(CancellationToken cancellationToken)
    {
        if (!configuration.GetValue("Approvals:SeedDemoData", false))
        {
            return;
        }

        if ((await definitions.ListLatestAsync(DemoData.TenantId, cancellationToken).ConfigureAwait(false)).Count > 0)
        {
            LogAlreadySeeded(logger, DemoData.TenantId);
            return;
        }

        await directory.ImportAsync(DemoData.TenantId, [.. DemoData.DirectoryUsers], [], [.. DemoData.Departments], cancellationToken)
            .ConfigureAwait(false);
        foreach (var (id, body) in DemoData.Workflows)
        {
            var parsed = WorkflowDefinitionParser.Parse(DemoData.TenantId, id, body, rules);
            if (parsed.Definition is null)
            {
                throw new InvalidOperationException($"Demo workflow '{id}' is invalid: " +
                    string.Join("; ", parsed.Errors.Select(e => $"{e.Path}: {e.Message}")));
            }

            await definitions.PublishAsync(parsed.Definition with { PublishedAt = time.GetUtcNow() }, cancellationToken).ConfigureAwait(false);
        }

        LogSeeded(logger, DemoData.TenantId, DemoData.Users.Count, DemoData.Workflows.Count);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Table Storage is not reachable at {Endpoint}; not ready, retrying in {Seconds} s. " +
        "Start Azurite (scripts/run.sh does) or set AzureWebJobsStorage.")]
    private static partial void LogStorageUnreachable(ILogger logger, Exception ex, string endpoint, double seconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Not starting: {Reason}")]
    private static partial void LogWrongLayout(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Table Storage at {Endpoint} is reachable; tables ready")]
    private static partial void LogStorageReachable(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo tenant '{Tenant}' already has workflows; not seeding")]
    private static partial void LogAlreadySeeded(ILogger logger, string tenant);

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded demo tenant '{Tenant}': {Users} users, {Workflows} workflows")]
    private static partial void LogSeeded(ILogger logger, string tenant, int users, int workflows);
}
