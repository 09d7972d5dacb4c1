using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApprovalFunctions.Runtime;

/// <summary>
/// The composition root of the runtime: one instance of every store, cache, the processor and the runner, wired
/// to one clock and one random source. Hosts register its members as singletons.
/// </summary>
public sealed class ApprovalRuntime
{
    private readonly ILoggerFactory _loggers;

    private ApprovalRuntime(StorageTables tables, IRuleEvaluator rules, TimeProvider time, IDeliverySender sender, Func<double> random, ILoggerFactory loggers,
        long recentStateBudget)
    {
        _loggers = loggers;
        Time = time;
        Tables = tables;
        Requests = new RequestStore(tables);
        Definitions = new DefinitionStore(tables, rules);
        DefinitionCache = new DefinitionCache(Definitions, time);
        Directory = new DirectoryStore(tables);
        DirectoryCache = new DirectoryCache(Directory, time);
        Idempotency = new IdempotencyStore(tables, time);
        Integrations = new IntegrationStore(tables);
        Replay = new ReplayGuard(tables);
        Subscriptions = new SubscriptionStore(tables, time);
        Index = new IndexStore(tables);
        DueWork = new DueWorkStore(tables);
        Leases = new LeaseStore(tables, time);
        Signal = new DueWorkSignal();
        Processor = new RequestProcessor(Requests, Index, DueWork, DefinitionCache, DirectoryCache, Subscriptions, time, loggers.CreateLogger<RequestProcessor>(),
            Signal, recentStateBudget, new ProjectionJournal(tables, time));
        Runner = new DueWorkRunner(Processor, Requests, DueWork, DefinitionCache, Subscriptions, sender, time, random, loggers.CreateLogger<DueWorkRunner>());
    }

    /// <summary>The clock everything uses.</summary>
    public TimeProvider Time { get; }

    /// <summary>The hub's tables.</summary>
    public StorageTables Tables { get; }

    /// <summary>Request partitions.</summary>
    public RequestStore Requests { get; }

    /// <summary>Workflow versions.</summary>
    public DefinitionStore Definitions { get; }

    /// <summary>Cached selection candidates and versions.</summary>
    public DefinitionCache DefinitionCache { get; }

    /// <summary>Tenant directories.</summary>
    public DirectoryStore Directory { get; }

    /// <summary>Cached directory snapshots.</summary>
    public DirectoryCache DirectoryCache { get; }

    /// <summary>Idempotency keys.</summary>
    public IdempotencyStore Idempotency { get; }

    /// <summary>Integrations.</summary>
    public IntegrationStore Integrations { get; }

    /// <summary>Webhook replay guard.</summary>
    public ReplayGuard Replay { get; }

    /// <summary>Subscriptions.</summary>
    public SubscriptionStore Subscriptions { get; }

    /// <summary>List indexes.</summary>
    public IndexStore Index { get; }

    /// <summary>Due work.</summary>
    public DueWorkStore DueWork { get; }

    /// <summary>Shard leases.</summary>
    public LeaseStore Leases { get; }

    /// <summary>Wakes this process's poller when a commit here creates due work.</summary>
    public DueWorkSignal Signal { get; }

    /// <summary>The request processor.</summary>
    public RequestProcessor Processor { get; }

    /// <summary>The due-work runner.</summary>
    public DueWorkRunner Runner { get; }

    /// <summary>
    /// Wires the runtime. <paramref name="random"/> is used for backoff jitter only (access is serialised here,
    /// since <see cref="Random"/> is not thread-safe). <paramref name="recentStateBudget"/>: characters of state JSON the
    /// processor keeps as copies of recently committed requests (0: none; see <see cref="RequestProcessor"/>).
    /// </summary>
    public static ApprovalRuntime Create(TableServiceClient service, string hubName, IRuleEvaluator rules, TimeProvider time, IDeliverySender sender,
        Random random, ILoggerFactory? loggers = null, long recentStateBudget = RequestProcessor.DefaultRecentStateBudget)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(sender);
        var gate = new object();
        double Next()
        {
            lock (gate)
            {
                return random.NextDouble();
            }
        }

        return new ApprovalRuntime(new StorageTables(service, hubName), rules, time, sender, Next, loggers ?? NullLoggerFactory.Instance, recentStateBudget);
    }

    /// <summary>
    /// A poller for this process (<paramref name="owner"/> = a unique process id, e.g. machine name + pid); see
    /// <see cref="DueWorkPoller"/> for the intervals. <paramref name="wakeOnCommit"/> lets this process's commits wake it.
    /// </summary>
    public DueWorkPoller CreatePoller(string owner, TimeSpan? interval = null, TimeSpan? maxInterval = null, TimeSpan? leaseDuration = null,
        bool wakeOnCommit = true) =>
        new(Runner, Leases, Time, owner, interval, leaseDuration, _loggers.CreateLogger<DueWorkPoller>(), wakeOnCommit ? Signal : null, maxInterval);
}
