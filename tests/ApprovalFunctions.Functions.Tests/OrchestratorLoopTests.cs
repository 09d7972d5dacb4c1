using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Functions.Orchestration;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.DurableTask;
using Moq;

namespace ApprovalFunctions.Functions.Tests;

/// <summary>
/// The orchestration loop against a strict mock of <see cref="TaskOrchestrationContext"/>: only its abstract members are
/// set up (the event wait with a token, the DateTime timer, the generic activity call, ContinueAsNew, NewGuid), so any
/// other call — a virtual convenience overload that would silently complete — fails the test.
/// </summary>
public sealed class OrchestratorLoopTests
{
    private static readonly TimerKey Reminder = new(TimerKind.Reminder, "review", 1, 1, new DateTimeOffset(2026, 3, 2, 17, 0, 0, TimeSpan.Zero));

    private readonly Mock<TaskOrchestrationContext> _context = new(MockBehavior.Strict);
    private readonly Queue<Task<string>> _events = new();
    private readonly List<CancellationToken> _eventTokens = [];
    private readonly List<(DateTime FireAt, CancellationToken Token)> _timers = [];
    private readonly List<ApprovalEvent> _applied = [];
    private readonly Queue<ApplyOutcome> _outcomes = new();
    private Task _timerTask = new TaskCompletionSource().Task;

    public OrchestratorLoopTests()
    {
        _context.Setup(c => c.WaitForExternalEvent<string>(OrchestrationNames.EventName, It.IsAny<CancellationToken>()))
            .Returns((string _, CancellationToken token) =>
            {
                _eventTokens.Add(token);
                // Past the scripted events the external event never comes.
                return _events.Count > 0 ? _events.Dequeue() : new TaskCompletionSource<string>().Task;
            });
        _context.Setup(c => c.CreateTimer(It.IsAny<DateTime>(), It.IsAny<CancellationToken>()))
            .Returns((DateTime fireAt, CancellationToken token) =>
            {
                _timers.Add((fireAt, token));
                return _timerTask;
            });
        _context.Setup(c => c.CallActivityAsync<ApplyOutcome>(nameof(Activities.ApplyEvent), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName _, object? input, TaskOptions? _) =>
            {
                _applied.Add(StateJson.DeserializeEvent(Assert.IsType<ApplyEventInput>(input).Event));
                return Task.FromResult(_outcomes.Count > 0 ? _outcomes.Dequeue() : ApplyOutcome.NotFound);
            });
        var guids = 0;
        _context.Setup(c => c.NewGuid()).Returns(() => new Guid(++guids, 0, 0, new byte[8]));
    }

    [Fact]
    public async Task RunAsync_DecisionWinsTheRace_AppliesItAndCancelsTheTimer()
    {
        Start(OpenWith(Reminder));
        RaiseDecision("decide:alice");
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        var result = await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal(ApprovalOrchestrator.FinishedResult, result);
        var decided = Assert.IsType<Decided>(Assert.Single(_applied));
        Assert.Equal("decide:alice", decided.EventId);
        var timer = Assert.Single(_timers);
        Assert.Equal(Reminder.DueAt.UtcDateTime, timer.FireAt);
        Assert.Equal(DateTimeKind.Utc, timer.FireAt.Kind);
        Assert.True(timer.Token.IsCancellationRequested, "the losing timer must be cancelled, or the instance stays alive until it fires");
        Assert.False(Assert.Single(_eventTokens).IsCancellationRequested);
    }

    [Fact]
    public async Task RunAsync_TimerWinsTheRace_AppliesTimerFiredAndCancelsTheWait()
    {
        Start(OpenWith(Reminder));
        _timerTask = Task.CompletedTask;
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        var fired = Assert.IsType<TimerFired>(Assert.Single(_applied));
        Assert.Equal(Reminder, fired.Timer);
        Assert.Equal("timer:" + Reminder, fired.EventId);
        Assert.True(Assert.Single(_eventTokens).IsCancellationRequested, "the losing wait must be cancelled");
        Assert.False(Assert.Single(_timers).Token.IsCancellationRequested);
    }

    [Fact]
    public async Task RunAsync_NothingDue_WaitsForAnEventWithoutATimer()
    {
        Start(OpenWith(null));
        RaiseDecision("decide:alice");
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Empty(_timers);
        Assert.IsType<Decided>(Assert.Single(_applied));
    }

    [Fact]
    public async Task RunAsync_DeadlineAlreadyFired_IsNotFiredAgain()
    {
        // The engine accepted the timer but its next deadline is still the same one: no tight loop of no-op timers.
        Start(OpenWith(Reminder), recent: ["timer:" + Reminder]);
        _timerTask = Task.CompletedTask;
        RaiseDecision("decide:alice");
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Empty(_timers);
        Assert.Equal("decide:alice", Assert.Single(_applied).EventId);
    }

    [Fact]
    public async Task RunAsync_SameEventIdTwice_AppliesItOnce()
    {
        Start(OpenWith(null));
        RaiseDecision("decide:alice");
        RaiseDecision("decide:alice");
        RaiseDecision("decide:carol");
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = OpenWith(null) });
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal(["decide:alice", "decide:carol"], _applied.Select(e => e.EventId));
        Assert.Equal(3, _eventTokens.Count);
    }

    [Fact]
    public async Task RunAsync_EventIdSeenBeforeContinueAsNew_IsStillIgnored()
    {
        Start(OpenWith(null), recent: ["decide:alice"]);
        RaiseDecision("decide:alice");
        RaiseDecision("decide:carol");
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal("decide:carol", Assert.Single(_applied).EventId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("""{"type":"noSuchEvent","eventId":"x"}""")]
    public async Task RunAsync_UnreadablePayload_IsDroppedAndTheLoopGoesOn(string payload)
    {
        Start(OpenWith(null));
        _events.Enqueue(Task.FromResult(payload));
        RaiseDecision("decide:alice");
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal("decide:alice", Assert.Single(_applied).EventId);
    }

    [Fact]
    public async Task RunAsync_AfterTheBound_ContinuesAsNewWithSnapshotAndRecentIds()
    {
        var open = OpenWith(Reminder);
        Start(open, generation: 3);
        for (var i = 0; i < ApprovalOrchestrator.MaxEventsPerGeneration + 5; i++)
        {
            RaiseDecision($"comment:{i}");
            _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = open });
        }

        OrchestratorInput? next = null;
        bool? preserve = null;
        _context.Setup(c => c.ContinueAsNew(It.IsAny<object?>(), It.IsAny<bool>()))
            .Callback((object? input, bool preserveEvents) => (next, preserve) = ((OrchestratorInput?)input, preserveEvents));

        var result = await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal(ApprovalOrchestrator.ContinuedResult, result);
        Assert.Equal(ApprovalOrchestrator.MaxEventsPerGeneration, _applied.Count);
        Assert.Equal(ApprovalOrchestrator.MaxEventsPerGeneration, _eventTokens.Count);
        Assert.NotNull(next);
        Assert.True(preserve, "events raised meanwhile must survive the restart");
        Assert.Equal(4, next.Generation);
        Assert.Equal("r1", next.RequestId);
        Assert.Equal(open, next.Snapshot);
        Assert.Empty(next.PendingIntents);
        Assert.Equal(_applied.Select(e => e.EventId), next.RecentEventIds);
    }

    [Fact]
    public async Task RunAsync_CallbackIntent_DeliversWithTheWorkflowRetryPolicyAndRecordsDelivery()
    {
        var retry = new RetrySettings { MaxAttempts = 5, FirstRetryMilliseconds = 2_000, MaxRetryMilliseconds = 60_000 };
        Start(new RequestSnapshot { Open = true, CallbackRetry = retry },
            pending: [StateJson.SerializeIntent(new DeliverCallback("approved", "cb-key"))]);
        TaskOptions? options = null;
        DeliverCallbackInput? delivery = null;
        _context.Setup(c => c.CallActivityAsync<int>(nameof(Activities.DeliverCallback), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback((TaskName _, object? input, TaskOptions? taskOptions) => (delivery, options) = ((DeliverCallbackInput?)input, taskOptions))
            .ReturnsAsync(3);
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal("cb-key", delivery?.IdempotencyKey);
        var policy = options?.Retry?.Policy;
        Assert.NotNull(policy);
        Assert.Equal(5, policy.MaxNumberOfAttempts);
        Assert.Equal(TimeSpan.FromSeconds(2), policy.FirstRetryInterval);
        Assert.Equal(2.0, policy.BackoffCoefficient);
        Assert.Equal(TimeSpan.FromMinutes(1), policy.MaxRetryInterval);
        var delivered = Assert.IsType<CallbackDelivered>(Assert.Single(_applied));
        Assert.Equal(3, delivered.Attempt);
        Assert.Equal("cb-key", delivered.IdempotencyKey);
    }

    [Fact]
    public async Task RunAsync_CallbackRetriesExhausted_AppliesGaveUpWithTheLastError()
    {
        var retry = new RetrySettings { MaxAttempts = 4, FirstRetryMilliseconds = 1_000, MaxRetryMilliseconds = 10_000 };
        Start(new RequestSnapshot { Open = true, CallbackRetry = retry },
            pending: [StateJson.SerializeIntent(new DeliverCallback("rejected", "cb-key"))]);
        _context.Setup(c => c.CallActivityAsync<int>(nameof(Activities.DeliverCallback), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .ThrowsAsync(new TaskFailedException(nameof(Activities.DeliverCallback), 7,
                new TaskFailureDetails(typeof(CallbackDeliveryException).FullName!, "HTTP 503 Service Unavailable", null, null)));
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        var failed = Assert.IsType<CallbackAttemptFailed>(Assert.Single(_applied));
        Assert.True(failed.GaveUp);
        Assert.Equal(4, failed.Attempt);
        Assert.Equal("cb-key", failed.IdempotencyKey);
        Assert.Equal("HTTP 503 Service Unavailable", failed.Error);
    }

    [Fact]
    public async Task RunAsync_NothingLeftToDeliver_AppliesNothing()
    {
        Start(new RequestSnapshot { Open = false, CallbackRetry = new RetrySettings { MaxAttempts = 3 } },
            pending: [StateJson.SerializeIntent(new DeliverCallback("approved", "cb-key"))]);
        _context.Setup(c => c.CallActivityAsync<int>(nameof(Activities.DeliverCallback), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .ReturnsAsync(0);

        var result = await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal(ApprovalOrchestrator.FinishedResult, result);
        Assert.Empty(_applied);
    }

    [Fact]
    public async Task RunAsync_EmitIntent_DeliversOnceWithoutHoldingTheLoopOnFailure()
    {
        Start(OpenWith(null), pending: [StateJson.SerializeIntent(new EmitEvent("stage.activated", "review", ["alice"], "emit-1"))]);
        DeliverEventInput? emitted = null;
        _context.Setup(c => c.CallActivityAsync<int>(nameof(Activities.DeliverEvent), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Callback((TaskName _, object? input, TaskOptions? _) => emitted = (DeliverEventInput?)input)
            .ThrowsAsync(new TaskFailedException(nameof(Activities.DeliverEvent), 1, new TaskFailureDetails("System.Exception", "storage down", null, null)));
        RaiseDecision("decide:alice");
        _outcomes.Enqueue(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });

        await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal(("emit-1", "stage.activated"), (emitted?.IdempotencyKey, emitted?.EventType));
        Assert.Equal("decide:alice", Assert.Single(_applied).EventId);
    }

    [Fact]
    public async Task RunAsync_EventThatCanNeverCommit_IsDroppedAndTheLoopGoesOn()
    {
        Start(OpenWith(null));
        RaiseDecision("resubmit:huge");
        RaiseDecision("decide:alice");
        var calls = 0;
        _context.Setup(c => c.CallActivityAsync<ApplyOutcome>(nameof(Activities.ApplyEvent), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName _, object? input, TaskOptions? _) =>
            {
                _applied.Add(StateJson.DeserializeEvent(((ApplyEventInput)input!).Event));
                return ++calls == 1
                    ? Task.FromException<ApplyOutcome>(new TaskFailedException(nameof(Activities.ApplyEvent), 1,
                        new TaskFailureDetails("Host.InvocationException", "invocation failed", null,
                            new TaskFailureDetails(typeof(StateTooLargeException).FullName!, "too large", null, null))))
                    : Task.FromResult(new ApplyOutcome { Status = "Applied", Snapshot = RequestSnapshot.Finished });
            });

        var result = await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal(ApprovalOrchestrator.FinishedResult, result);
        Assert.Equal(["resubmit:huge", "decide:alice"], _applied.Select(e => e.EventId));
    }

    [Fact]
    public async Task RunAsync_ApplyFailsForAnyOtherReason_FailsTheOrchestrationVisibly()
    {
        Start(OpenWith(null));
        RaiseDecision("decide:alice");
        _context.Setup(c => c.CallActivityAsync<ApplyOutcome>(nameof(Activities.ApplyEvent), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .ThrowsAsync(new TaskFailedException(nameof(Activities.ApplyEvent), 1,
                new TaskFailureDetails(typeof(StorageBusyException).FullName!, "storage busy", null, null)));

        await Assert.ThrowsAsync<TaskFailedException>(() => ApprovalOrchestrator.RunAsync(_context.Object));
    }

    [Fact]
    public async Task RunAsync_ClosedSnapshot_FinishesWithoutWaiting()
    {
        Start(RequestSnapshot.Finished);

        var result = await ApprovalOrchestrator.RunAsync(_context.Object);

        Assert.Equal(ApprovalOrchestrator.FinishedResult, result);
        Assert.Empty(_eventTokens);
        Assert.Empty(_timers);
    }

    [Theory]
    [InlineData(0, 0, 0, 1, 1_000, 1_000)]
    [InlineData(8, 2_000, 600_000, 8, 2_000, 600_000)]
    [InlineData(3, 5_000, 1_000, 3, 5_000, 5_000)]
    [InlineData(-2, 500, 60_000, 1, 1_000, 60_000)]
    public void RetrySettings_ToPolicy_ClampsIntoWhatRetryPolicyAccepts(
        int attempts, long firstMs, long maxMs, int expectedAttempts, long expectedFirstMs, long expectedMaxMs)
    {
        var policy = new RetrySettings { MaxAttempts = attempts, FirstRetryMilliseconds = firstMs, MaxRetryMilliseconds = maxMs }.ToPolicy();

        Assert.Equal(expectedAttempts, policy.MaxNumberOfAttempts);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedFirstMs), policy.FirstRetryInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMaxMs), policy.MaxRetryInterval);
        Assert.Equal(2.0, policy.BackoffCoefficient);
    }

    private static RequestSnapshot OpenWith(TimerKey? timer) =>
        new() { Open = true, NextTimer = timer is null ? null : StateJson.SerializeTimer(timer) };

    private void Start(RequestSnapshot snapshot, IReadOnlyList<string>? pending = null, IReadOnlyList<string>? recent = null, int generation = 0) =>
        _context.Setup(c => c.GetInput<OrchestratorInput>()).Returns(new OrchestratorInput
        {
            TenantId = TestWorkflow.TenantId,
            RequestId = "r1",
            Snapshot = snapshot,
            PendingIntents = pending ?? [],
            RecentEventIds = recent ?? [],
            Generation = generation,
        });

    private void RaiseDecision(string eventId) =>
        _events.Enqueue(Task.FromResult(StateJson.SerializeEvent(new Decided
        {
            EventId = eventId,
            StageId = "review",
            Actor = new Actor("alice"),
            Decision = DecisionKind.Comment,
            Comment = "ok",
        })));
}
