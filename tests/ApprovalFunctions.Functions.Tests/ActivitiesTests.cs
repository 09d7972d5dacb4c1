using System.Text.Json;
using ApprovalFunctions.Api.Rules;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Functions.Orchestration;
using ApprovalFunctions.Runtime;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApprovalFunctions.Functions.Tests;

/// <summary>
/// The activities against real Table Storage (Azurite, from <c>APPROVALS_TEST_STORAGE</c>, which scripts/test.sh sets; a
/// missing variable fails these tests rather than skipping them), each test in its own hub. Only the outbound HTTP sender
/// is a fake: it answers from a script and records what was sent.
/// </summary>
public sealed class ActivitiesTests : IAsyncLifetime
{
    private const string Tenant = "t1";
    private const string CallbackUrl = "https://client.example/approvals/callback";
    private readonly ScriptedSender _sender = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
    private ApprovalRuntime _runtime = null!;
    private Activities _activities = null!;

    public async Task InitializeAsync()
    {
        var connection = Environment.GetEnvironmentVariable("APPROVALS_TEST_STORAGE");
        if (string.IsNullOrWhiteSpace(connection))
        {
            throw new InvalidOperationException("APPROVALS_TEST_STORAGE is not set: run scripts/test.sh (it starts Azurite and sets it).");
        }

        _runtime = ApprovalRuntime.Create(new TableServiceClient(connection), "fn" + Guid.NewGuid().ToString("N")[..14], JsonLogicEvaluator.Instance,
            _clock, _sender, new Random(7));
        await _runtime.Tables.EnsureCreatedAsync();
        await _runtime.Directory.ImportAsync(Tenant, [new DirectoryUser { Id = "alice" }, new DirectoryUser { Id = "rita" }], [], []);
        using var body = JsonDocument.Parse($$"""
            {
              "name": "One stage with a callback", "model": "doc", "event": "create",
              "callback": {"url": "{{CallbackUrl}}", "events": ["approved", "rejected"], "secret": "cb-secret",
                           "maxAttempts": 3, "initialBackoff": "PT1S", "maxBackoff": "PT10S"},
              "stages": [{"id": "review", "name": "Review", "order": 1, "approvers": [{"type": "user", "id": "alice"}]}]
            }
            """);
        var parsed = WorkflowDefinitionParser.Parse(Tenant, "with-callback", body.RootElement.Clone(), JsonLogicEvaluator.Instance);
        await _runtime.Definitions.PublishAsync(parsed.Definition! with { PublishedAt = _clock.GetUtcNow() });
        using var record = JsonDocument.Parse("""{"amount": 5}""");
        var submitted = await _runtime.Processor.SubmitAsync(new Submitted
        {
            EventId = "submit:r1", RequestId = "r1", TenantId = Tenant, Requester = new Actor("rita"), Model = "doc", RecordId = "d-1", Event = "create",
            Record = record.RootElement.Clone(),
        });
        Assert.Equal(RequestStatus.Pending, submitted.State!.Status);
        _activities = new Activities(_runtime.Processor, _runtime.Requests, _runtime.DefinitionCache, _runtime.Subscriptions, _sender,
            NullLogger<Activities>.Instance);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task ApplyEventAsync_ApprovingDecision_CommitsAndHandsBackTheCallbackWithItsPolicy()
    {
        var outcome = await ApplyAsync(Approve());

        Assert.Equal("Applied", outcome.Status);
        var callback = Assert.Single(outcome.Intents.Select(StateJson.DeserializeIntent).OfType<DeliverCallback>());
        Assert.Equal("approved", callback.Outcome);
        Assert.True(outcome.Snapshot.Open, "a pending callback keeps the orchestration alive");
        Assert.Null(outcome.Snapshot.NextTimer);
        Assert.Equal(new RetrySettings { MaxAttempts = 3, FirstRetryMilliseconds = 1_000, MaxRetryMilliseconds = 10_000 }, outcome.Snapshot.CallbackRetry);
        var stored = await _runtime.Requests.GetAsync(Tenant, "r1");
        Assert.Equal(RequestStatus.Approved, stored!.State.Status);
        Assert.NotNull(await _runtime.Requests.GetOutboxAsync(Tenant, "r1", OutboxItem.CallbackRowKey(callback.IdempotencyKey)));
    }

    [Fact]
    public async Task ApplyEventAsync_SameEventAgain_IsADuplicateThatStillOffersThePendingCallback()
    {
        var first = await ApplyAsync(Approve());

        var again = await ApplyAsync(Approve());

        Assert.Equal("Duplicate", again.Status);
        var key = first.Intents.Select(StateJson.DeserializeIntent).OfType<DeliverCallback>().Single().IdempotencyKey;
        Assert.Equal(key, Assert.Single(again.Intents.Select(StateJson.DeserializeIntent).OfType<DeliverCallback>()).IdempotencyKey);
        Assert.Equal(1, (await _runtime.Requests.GetLedgerAsync(Tenant, "r1")).Count(e => e.Actor == "alice"));
    }

    [Fact]
    public async Task DeliverCallbackAsync_FailedThenAcknowledged_RecordsTheAttemptThenReturnsItsNumber()
    {
        var key = await ApproveAndGetCallbackKeyAsync();
        _sender.Script.Enqueue(DeliveryResult.Failed("HTTP 503 Service Unavailable", 503));
        _sender.Script.Enqueue(DeliveryResult.Ok(204));
        var input = new DeliverCallbackInput { TenantId = Tenant, RequestId = "r1", IdempotencyKey = key };

        var failure = await Assert.ThrowsAsync<CallbackDeliveryException>(() => _activities.DeliverCallbackAsync(input, CancellationToken.None));
        var afterFailure = await _runtime.Requests.GetOutboxAsync(Tenant, "r1", OutboxItem.CallbackRowKey(key));
        var attempt = await _activities.DeliverCallbackAsync(input, CancellationToken.None);

        Assert.Contains("503", failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, afterFailure!.Attempts);
        Assert.Equal(2, attempt);
        Assert.All(_sender.Sent, s => Assert.Equal((new Uri(CallbackUrl), key, "cb-secret"), (s.Url, s.IdempotencyKey, s.Secret)));
        using var sent = JsonDocument.Parse(_sender.Sent[^1].Body);
        Assert.Equal("approved", sent.RootElement.GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task ApplyEventAsync_CallbackDelivered_DropsTheOutboxRowAndLetsTheOrchestrationFinish()
    {
        var key = await ApproveAndGetCallbackKeyAsync();

        var outcome = await ApplyAsync(new CallbackDelivered { EventId = "callback-ok:1", Attempt = 1, IdempotencyKey = key });
        var nothingLeft = await _activities.DeliverCallbackAsync(
            new DeliverCallbackInput { TenantId = Tenant, RequestId = "r1", IdempotencyKey = key }, CancellationToken.None);

        Assert.False(outcome.Snapshot.Open);
        Assert.Null(await _runtime.Requests.GetOutboxAsync(Tenant, "r1", OutboxItem.CallbackRowKey(key)));
        Assert.Equal(CallbackStatus.Delivered, (await _runtime.Requests.GetAsync(Tenant, "r1"))!.State.Callback.Status);
        Assert.Equal(0, nothingLeft);
        Assert.Empty(_sender.Sent);
    }

    [Fact]
    public async Task ApplyEventAsync_CallbackGaveUp_KeepsTheRequestOpenForAnAdminRetry()
    {
        var key = await ApproveAndGetCallbackKeyAsync();

        var outcome = await ApplyAsync(new CallbackAttemptFailed
        {
            EventId = "callback-failed:1", Attempt = 3, IdempotencyKey = key, Error = "HTTP 500", GaveUp = true,
        });

        Assert.True(outcome.Snapshot.Open);
        Assert.Equal(CallbackStatus.Failed, (await _runtime.Requests.GetAsync(Tenant, "r1"))!.State.Callback.Status);
        Assert.Null(await _runtime.Requests.GetOutboxAsync(Tenant, "r1", OutboxItem.CallbackRowKey(key)));
    }

    [Fact]
    public async Task ApplyEventAsync_GiveUpOfTheRoundBeforeAnAdminRetry_LeavesTheRetriedRoundPendingWithItsRow()
    {
        var key = await ApproveAndGetCallbackKeyAsync();
        await ApplyAsync(new CallbackAttemptFailed { EventId = "callback-failed:1", Attempt = 3, IdempotencyKey = key, Error = "HTTP 500", GaveUp = true, Round = 0 });
        var retried = await ApplyAsync(new CallbackRetryRequested { EventId = "retry:1", Actor = new Actor("admin", IsAdmin: true) });
        Assert.Contains(new DeliverCallback("approved", key, Round: 1), retried.Intents.Select(StateJson.DeserializeIntent));

        // A give-up of round 0 reported again (an activity replayed after the retry) settles nothing and keeps the new row.
        await ApplyAsync(new CallbackAttemptFailed { EventId = "callback-failed:1b", Attempt = 3, IdempotencyKey = key, Error = "HTTP 500", GaveUp = true, Round = 0 });

        var state = (await _runtime.Requests.GetAsync(Tenant, "r1"))!.State;
        Assert.Equal((CallbackStatus.Pending, 1), (state.Callback.Status, state.Callback.Round));
        Assert.Equal(1, (await _runtime.Requests.GetOutboxAsync(Tenant, "r1", OutboxItem.CallbackRowKey(key)))!.Round);
    }

    [Fact]
    public async Task ApplyEventAsync_UnknownRequest_IsNotFoundAndFinishes()
    {
        var outcome = await _activities.ApplyEventAsync(
            new ApplyEventInput { TenantId = Tenant, RequestId = "nope", Event = StateJson.SerializeEvent(Approve()) }, CancellationToken.None);

        Assert.Equal(ApplyOutcome.NotFound.Status, outcome.Status);
        Assert.False(outcome.Snapshot.Open);
    }

    private static Decided Approve() => new()
    {
        EventId = "decide:alice", StageId = "review", Actor = new Actor("alice"), Decision = DecisionKind.Approve,
    };

    private Task<ApplyOutcome> ApplyAsync(ApprovalEvent evt) =>
        _activities.ApplyEventAsync(new ApplyEventInput { TenantId = Tenant, RequestId = "r1", Event = StateJson.SerializeEvent(evt) }, CancellationToken.None);

    private async Task<string> ApproveAndGetCallbackKeyAsync() =>
        (await ApplyAsync(Approve())).Intents.Select(StateJson.DeserializeIntent).OfType<DeliverCallback>().Single().IdempotencyKey;

    private sealed class ScriptedSender : IDeliverySender
    {
        public Queue<DeliveryResult> Script { get; } = new();

        public List<DeliveryRequest> Sent { get; } = [];

        public Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken)
        {
            Sent.Add(request);
            return Task.FromResult(Script.Count > 0 ? Script.Dequeue() : DeliveryResult.Failed("nothing scripted"));
        }
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
