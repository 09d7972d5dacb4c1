using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Storage.Tables;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ApprovalFunctions.Runtime.Tests;

/// <summary>
/// The one place these tests get storage: APPROVALS_TEST_STORAGE, set by scripts/test.sh after it starts a
/// throw-away Azurite. A missing variable fails the tests, never skips them. Every test gets its own hub (tables).
/// </summary>
internal static class TestStorage
{
    public const string Variable = "APPROVALS_TEST_STORAGE";

    public static string ConnectionString
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(Variable);
            return string.IsNullOrWhiteSpace(value)
                ? throw new InvalidOperationException(
                    $"{Variable} is not set. Runtime tests run against Azurite: run scripts/test.sh (it starts Azurite and sets {Variable}).")
                : value;
        }
    }

    public static string NewHub() => "rt" + Guid.NewGuid().ToString("N")[..14];
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start, bool running = false) : TimeProvider
{
    private readonly global::System.Diagnostics.Stopwatch _elapsed = global::System.Diagnostics.Stopwatch.StartNew();
    private DateTimeOffset _now = start;

    /// <summary>The set time, plus the real time since creation when the clock is <c>running</c> (pollers need time to pass).</summary>
    public override DateTimeOffset GetUtcNow() => running ? _now + _elapsed.Elapsed : _now;

    public void Advance(TimeSpan by) => _now += by;
}

/// <summary>Counts every HTTP request the table client sends.</summary>
internal sealed class CountingPolicy : HttpPipelineSynchronousPolicy
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _sent = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>"METHOD /path" of every request since the last reset (the path names the table, and the keys of a point read).</summary>
    public IReadOnlyList<string> Sent => [.. _sent];

    public override void OnSendingRequest(HttpMessage message)
    {
        Interlocked.Increment(ref _count);
        _sent.Enqueue(message.Request.Method + " " + Uri.UnescapeDataString(message.Request.Uri.Path));
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _count, 0);
        _sent.Clear();
    }
}

/// <summary>
/// Runs <see cref="Then"/> once, after the first request whose "METHOD /path" contains <see cref="When"/> has been
/// answered and before its caller sees the answer: another process's write lands between two reads of this one.
/// </summary>
internal sealed class BetweenRequestsPolicy : HttpPipelinePolicy
{
    private int _fired;

    public string When { get; set; } = "\u0000";

    public Func<Task>? Then { get; set; }

    public bool Fired => Volatile.Read(ref _fired) == 1;

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        throw new NotSupportedException("the table client is used asynchronously");

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
        var sent = message.Request.Method + " " + Uri.UnescapeDataString(message.Request.Uri.Path);
        if (Then is { } then && sent.Contains(When, StringComparison.Ordinal) && Interlocked.Exchange(ref _fired, 1) == 0)
        {
            await then().ConfigureAwait(false);
        }
    }
}

/// <summary>Rules are not under test here; definitions in these tests have no conditions.</summary>
internal sealed class NoRules : IRuleEvaluator
{
    public RulePreparation Prepare(JsonElement rule) => new(null, [new RuleProblem("$", "rules are not available in runtime tests")]);
}

/// <summary>One runtime on its own hub, with a manual clock and a real HTTP sender.</summary>
internal sealed class Harness
{
    public const string Tenant = "acme";

    private Harness(string hub, ManualClock clock, CountingPolicy counter, TableServiceClient service, ApprovalRuntime runtime)
    {
        Hub = hub;
        Clock = clock;
        Counter = counter;
        Service = service;
        Runtime = runtime;
    }

    public string Hub { get; }

    public ManualClock Clock { get; }

    public CountingPolicy Counter { get; }

    public TableServiceClient Service { get; }

    public ApprovalRuntime Runtime { get; }

    public static readonly HttpClient Http = new();

    public static async Task<Harness> CreateAsync(string? hub = null, ManualClock? clock = null, HttpPipelinePolicy? extraPolicy = null)
    {
        hub ??= TestStorage.NewHub();
        clock ??= new ManualClock(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
        var counter = new CountingPolicy();
        var options = new TableClientOptions();
        options.AddPolicy(counter, HttpPipelinePosition.PerCall);
        if (extraPolicy is not null)
        {
            options.AddPolicy(extraPolicy, HttpPipelinePosition.PerCall);
        }

        var service = new TableServiceClient(TestStorage.ConnectionString, options);
        var sender = new HttpDeliverySender(Http, clock, () => 0.5, new HttpDeliveryOptions { QuickRetries = 0, AttemptTimeout = TimeSpan.FromSeconds(5) });
        var runtime = ApprovalRuntime.Create(service, hub, new NoRules(), clock, sender, new Random(7));
        await runtime.Tables.EnsureCreatedAsync();
        return new Harness(hub, clock, counter, service, runtime);
    }

    /// <summary>A second process on the same hub (own caches, own locks).</summary>
    public Task<Harness> SecondProcessAsync() => CreateAsync(Hub, Clock);

    public async Task<WorkflowDefinition> PublishAsync(string id, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var parsed = WorkflowDefinitionParser.Parse(Tenant, id, doc.RootElement, new NoRules());
        Assert.True(parsed.Succeeded, string.Join("; ", parsed.Errors.Select(e => e.Path + ": " + e.Message)));
        return await Runtime.Definitions.PublishAsync(parsed.Definition! with { PublishedAt = Clock.GetUtcNow() });
    }

    /// <summary>Request ids <paramref name="prefix"/>0, 1, … that fall in <paramref name="shard"/> of the due-work table, in order.</summary>
    public static IEnumerable<string> IdsInShard(string prefix, int shard) =>
        Enumerable.Range(0, 100_000).Select(i => prefix + i).Where(id => Storage.DueWorkStore.ShardOf(Tenant, id) == shard);

    public static Submitted Submit(string requestId, string recordId = "INV-1", string requester = "alice", string? recordJson = null)
    {
        using var doc = JsonDocument.Parse(recordJson ?? """{"amount":25000}""");
        return new Submitted
        {
            EventId = "submit:" + requestId,
            RequestId = requestId,
            TenantId = Tenant,
            Requester = new Actor(requester),
            Model = "account.move",
            RecordId = recordId,
            Event = "create",
            Title = "Invoice " + recordId,
            Record = doc.RootElement.Clone(),
        };
    }

    public static Decided Approve(string stageId, string user, string? eventId = null) => new()
    {
        EventId = eventId ?? "approve:" + stageId + ":" + user + ":" + Guid.NewGuid().ToString("N"),
        StageId = stageId,
        Actor = new Actor(user),
        Decision = Engine.State.DecisionKind.Approve,
    };

    public static string OneStage(string approvers = """[{"type":"user","id":"bob"}]""", string extraStage = "", string callback = "") => $$"""
        {"name":"Invoice","model":"account.move","event":"create",{{callback}}
         "stages":[{"id":"manager","order":1,"approvers":{{approvers}}{{extraStage}}}]}
        """;
}

/// <summary>A tiny HTTP target on 127.0.0.1 (HttpListener, no Kestrel) that records requests and answers with a status chosen per request.</summary>
internal sealed class TestReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Received> _received = [];

    public TestReceiver(Func<int, int> statusForAttempt)
    {
        var port = FreePort();
        Url = new Uri($"http://127.0.0.1:{port}/hook/");
        _listener.Prefixes.Add(Url.AbsoluteUri);
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (HttpListenerException)
                {
                    return;
                }

                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                var body = await reader.ReadToEndAsync();
                int n;
                lock (_received)
                {
                    _received.Add(new Received(
                        context.Request.Headers[Signatures.TimestampHeader],
                        context.Request.Headers[Signatures.SignatureHeader],
                        context.Request.Headers[Signatures.IdempotencyHeader],
                        body));
                    n = _received.Count;
                }

                context.Response.StatusCode = statusForAttempt(n);
                context.Response.Close();
            }
        });
    }

    public Uri Url { get; }

    public IReadOnlyList<Received> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        _stop.Dispose();
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}

internal sealed record Received(string? Timestamp, string? Signature, string? IdempotencyKey, string Body);
