using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ApprovalFunctions.Runtime.Diagnostics;

/// <summary>
/// The runtime's traces and metrics (meter and activity source <see cref="Name"/>): decisions applied, deliveries
/// by outcome, timer lateness, due-work queue depth. Hosts subscribe by name (OpenTelemetry AddMeter/AddSource).
/// </summary>
public static class RuntimeTelemetry
{
    /// <summary>The meter and activity source name.</summary>
    public const string Name = "ApprovalFunctions.Runtime";

    private static readonly ConcurrentDictionary<int, long> Depth = new();

    /// <summary>Spans for processing and due work.</summary>
    public static readonly ActivitySource Source = new(Name);

    /// <summary>The meter.</summary>
    public static readonly Meter Meter = new(Name);

    /// <summary>Events committed (tag <c>event</c>).</summary>
    public static readonly Counter<long> EventsApplied = Meter.CreateCounter<long>("approvals.events.applied", "{event}", "Events committed to a request");

    /// <summary>Decisions committed (tag <c>decision</c>).</summary>
    public static readonly Counter<long> DecisionsApplied = Meter.CreateCounter<long>("approvals.decisions.applied", "{decision}", "Approver decisions committed");

    /// <summary>Delivery attempts (tags <c>kind</c>, <c>outcome</c> = ok|failed|gaveUp).</summary>
    public static readonly Counter<long> Deliveries = Meter.CreateCounter<long>("approvals.deliveries", "{attempt}", "Outbound delivery attempts");

    /// <summary>How late a timer fired, in milliseconds.</summary>
    public static readonly Histogram<double> TimerLateness = Meter.CreateHistogram<double>("approvals.timers.lateness", "ms", "Timer firing delay past its due time");

    /// <summary>ETag races lost and retried.</summary>
    public static readonly Counter<long> ConcurrencyRetries = Meter.CreateCounter<long>("approvals.commit.retries", "{retry}", "Commits retried after losing an ETag race");

    /// <summary>
    /// Events that started from this process's copy of the request's last state instead of a read (tag <c>outcome</c>:
    /// <c>used</c> = committed from it, <c>stale</c> = another process had moved on, so read and retried, <c>rechecked</c> =
    /// an answer without a commit, confirmed against storage).
    /// </summary>
    public static readonly Counter<long> StateCopies = Meter.CreateCounter<long>("approvals.state.copies", "{event}",
        "Events that started from the process's copy of the request state instead of a read");

    /// <summary>Intent and index writes that went in a transaction shared with other callers' (group commit, decision 007).</summary>
    public static readonly Counter<long> SharedWrites = Meter.CreateCounter<long>("approvals.storage.shared_writes", "{write}",
        "Intent and index writes that shared a storage transaction with other writes to the same partition");

    /// <summary>Due rows seen in the last poll of each shard.</summary>
    public static readonly ObservableGauge<long> QueueDepth = Meter.CreateObservableGauge(
        "approvals.duework.depth", () => Depth.Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("shard", kv.Key))),
        "{item}", "Due-work rows found due in the last poll, per shard");

    internal static void ObserveDepth(int shard, long count) => Depth[shard] = count;
}
