using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace ApprovalFunctions.Functions;

/// <summary>Settings of the maintenance functions (<c>Approvals:Maintenance:*</c>; app settings use <c>__</c>).</summary>
public sealed record MaintenanceOptions
{
    /// <summary>How long a finished orchestration's history is kept before it is purged. The ledger is never purged.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How overdue a due-work row (timer, outbox delivery, projection repair) must be before the sweep takes it over from the
    /// orchestration. Longer than the longest callback retry window, so the sweep never races a live orchestration.
    /// </summary>
    public TimeSpan StuckAfter { get; init; } = TimeSpan.FromHours(6);

    /// <summary>Tenants whose approvers get a daily digest of what waits on them (there is no tenant list to scan).</summary>
    public IReadOnlyList<string> DigestTenants { get; init; } = [];

    /// <summary>At most this many pending items are read per approver for a digest.</summary>
    public int DigestMaxItems { get; init; } = 50;

    /// <summary>Reads the options from configuration, keeping the defaults for what is not set.</summary>
    public static MaintenanceOptions From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection("Approvals:Maintenance");
        var defaults = new MaintenanceOptions();
        return new MaintenanceOptions
        {
            Retention = TimeSpan.FromDays(section.GetValue("RetentionDays", defaults.Retention.TotalDays)),
            StuckAfter = TimeSpan.FromMinutes(section.GetValue("StuckAfterMinutes", defaults.StuckAfter.TotalMinutes)),
            DigestTenants = (section["DigestTenants"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            DigestMaxItems = section.GetValue("DigestMaxItems", defaults.DigestMaxItems),
        };
    }
}

/// <summary>
/// Timer-triggered housekeeping: purge finished orchestrations' history, re-drive work an orchestration left behind, and
/// send reminder digests. Schedules are six-field CRON (Flex Consumption has no TimeSpan schedules).
/// </summary>
public sealed partial class MaintenanceFunctions(
    DueWorkRunner runner, IndexStore index, DirectoryStore directory, TimeProvider time, MaintenanceOptions options, ILogger<MaintenanceFunctions> logger)
{
    /// <summary>
    /// Daily: purges the history of orchestrations that finished (completed, failed or terminated) and were created before
    /// the retention period. The filter is on creation time — the only time the purge filter offers — so a long-running
    /// request's history is kept at least <see cref="MaintenanceOptions.Retention"/> after it started. Only finished
    /// instances are purged, and an instance finishes only when its request can never change again.
    /// </summary>
    [Function(nameof(PurgeFinishedOrchestrations))]
    public async Task PurgeFinishedOrchestrations([TimerTrigger("0 30 2 * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client,
        FunctionContext context)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(context);
        var cutoff = time.GetUtcNow() - options.Retention;
        var filter = new PurgeInstancesFilter(null, cutoff,
            [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated]);
        var result = await client.PurgeAllInstancesAsync(filter, context.CancellationToken).ConfigureAwait(false);
        LogPurged(logger, result.PurgedInstanceCount, cutoff);
    }

    /// <summary>
    /// Every 10 minutes: the shared due-work runner, run over rows due more than <see cref="MaintenanceOptions.StuckAfter"/>
    /// ago. The processor writes a due-work row for every timer, outbox delivery and projection it commits (a projection
    /// alone goes to the instance's projection journal, which the run also repairs once its instance has been silent that
    /// long); a live orchestration carries them out long before, so what is left is stuck: a callback or event whose
    /// orchestration failed or was terminated, an index projection a crash interrupted, a timer nobody fired. Re-driving is safe: timers carry
    /// the same event id the orchestration uses (the engine ignores a repeat), deliveries carry a stable Idempotency-Key.
    /// </summary>
    [Function(nameof(RedriveStuckWork))]
    public async Task RedriveStuckWork([TimerTrigger("0 */10 * * * *")] TimerInfo timer, FunctionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var handled = await runner.RunAllOnceAsync(time.GetUtcNow() - options.StuckAfter, context.CancellationToken).ConfigureAwait(false);
        if (handled > 0)
        {
            LogRedriven(logger, handled);
        }
    }

    /// <summary>
    /// Weekdays at 07:00 UTC: for each configured tenant, one digest per approver listing the stages waiting on them. The
    /// digest is a structured log entry — the same notification hook the processor uses for per-request reminders — for a
    /// mail or chat sender to pick up.
    /// </summary>
    [Function(nameof(SendReminderDigests))]
    public async Task SendReminderDigests([TimerTrigger("0 0 7 * * 1-5")] TimerInfo timer, FunctionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        foreach (var tenant in options.DigestTenants)
        {
            foreach (var user in await directory.ListUsersAsync(tenant, ct).ConfigureAwait(false))
            {
                var page = await index.ListInboxAsync(tenant, user.Id, true, ListFilter.None, options.DigestMaxItems, null, ct).ConfigureAwait(false);
                if (page.Items.Count == 0)
                {
                    continue;
                }

                LogDigest(logger, tenant, user.Id, page.Items.Count, string.Join(", ", page.Items.Select(i => i.Id + "/" + i.StageId)));
            }
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Purged {Count} finished orchestrations created before {Cutoff}")]
    private static partial void LogPurged(ILogger logger, int count, DateTimeOffset cutoff);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Re-drove {Count} stuck due-work items")]
    private static partial void LogRedriven(ILogger logger, int count);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Reminder digest (tenant {TenantId}) for {UserId}: {Count} pending: {Items}")]
    private static partial void LogDigest(ILogger logger, string tenantId, string userId, int count, string items);
}
