using ApprovalFunctions.Api;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Functions.Orchestration;
using ApprovalFunctions.Runtime.Processing;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Moq;

namespace ApprovalFunctions.Functions.Tests;

/// <summary>
/// <see cref="DurableApprovalCommands"/> against a mocked <see cref="DurableTaskClient"/> (its abstract members set up;
/// <c>CallBase</c> routes the convenience overloads into them) and a request source holding a real engine state.
/// </summary>
public sealed class DurableApprovalCommandsTests
{
    private readonly Mock<DurableTaskClient> _client = new("test") { CallBase = true };
    private readonly FakeRequestSource _source = new();
    private readonly List<(string InstanceId, string EventName, object? Payload)> _raised = [];

    public DurableApprovalCommandsTests()
    {
        _client.Setup(c => c.RaiseEventAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<object?>(), It.IsAny<CancellationToken>()))
            .Callback((string id, string name, object? payload, CancellationToken _) => _raised.Add((id, name, payload)))
            .Returns(Task.CompletedTask);
    }

    private DurableApprovalCommands Commands => new(_source, () => _client.Object, new FixedTime(TestWorkflow.Now.AddMinutes(5)));

    [Fact]
    public async Task ApplyAsync_RunningInstance_RaisesTheEventAndAccepts()
    {
        _source.Store(TestWorkflow.Submit().State);
        Instance("r1", OrchestrationRuntimeStatus.Running);

        var result = await Commands.ApplyAsync(TestWorkflow.TenantId, "r1", TestWorkflow.Approve("alice"), CancellationToken.None);

        Assert.Equal(CommandStatus.Accepted, result.Status);
        Assert.Equal(RequestStatus.Pending, result.State!.Status);
        var raised = Assert.Single(_raised);
        Assert.Equal(("r1", OrchestrationNames.EventName), (raised.InstanceId, raised.EventName));
        var evt = Assert.IsType<Decided>(StateJson.DeserializeEvent(Assert.IsType<string>(raised.Payload)));
        Assert.Equal(("decide:alice:review", "alice", DecisionKind.Approve), (evt.EventId, evt.Actor.UserId, evt.Decision));
    }

    [Fact]
    public async Task ApplyAsync_NoSuchRequest_NotFoundAndNothingRaised()
    {
        var result = await Commands.ApplyAsync(TestWorkflow.TenantId, "missing", TestWorkflow.Approve("alice"), CancellationToken.None);

        Assert.Equal(CommandStatus.NotFound, result.Status);
        Assert.Empty(_raised);
    }

    [Fact]
    public async Task ApplyAsync_StoredRequestWithoutOrchestration_StartsItThenRaisesTheEvent()
    {
        // A crash between the submit's commit and the orchestration's start: the request is stored, the instance is not.
        _source.Store(TestWorkflow.Submit().State);
        Instance("r1", null);
        var order = new List<string>();
        (TaskName Name, OrchestratorInput? Input, StartOrchestrationOptions? Options)? started = null;
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(),
                It.IsAny<CancellationToken>()))
            .Callback((TaskName name, object? input, StartOrchestrationOptions? options, CancellationToken _) =>
            {
                order.Add("start");
                started = (name, (OrchestratorInput?)input, options);
            })
            .ReturnsAsync("r1");
        _client.Setup(c => c.RaiseEventAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<object?>(), It.IsAny<CancellationToken>()))
            .Callback((string id, string name, object? payload, CancellationToken _) =>
            {
                order.Add("raise");
                _raised.Add((id, name, payload));
            })
            .Returns(Task.CompletedTask);

        var result = await Commands.ApplyAsync(TestWorkflow.TenantId, "r1", TestWorkflow.Approve("alice"), CancellationToken.None);

        Assert.Equal(CommandStatus.Accepted, result.Status);
        Assert.Equal(["start", "raise"], order);
        Assert.Equal(OrchestrationNames.Orchestrator, started!.Value.Name);
        Assert.Equal("r1", started.Value.Options!.InstanceId);
        Assert.Equal(("r1", TestWorkflow.TenantId), (started.Value.Input!.RequestId, started.Value.Input.TenantId));
        Assert.True(started.Value.Input.Snapshot!.Open);
        Assert.Equal("r1", Assert.Single(_raised).InstanceId);
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Completed)]
    [InlineData(OrchestrationRuntimeStatus.Failed)]
    [InlineData(OrchestrationRuntimeStatus.Terminated)]
    public async Task ApplyAsync_FinishedInstance_ConflictAndNothingRaised(OrchestrationRuntimeStatus status)
    {
        _source.Store(TestWorkflow.Submit().State);
        Instance("r1", status);

        var result = await Commands.ApplyAsync(TestWorkflow.TenantId, "r1", TestWorkflow.Approve("alice"), CancellationToken.None);

        Assert.Equal(CommandStatus.Refused, result.Status);
        Assert.Equal(409, result.Refusal!.HttpStatus);
        Assert.Empty(_raised);
    }

    [Theory]
    [InlineData("bob", "review", "", 403)]           // not an approver of the stage
    [InlineData("dave", "final", "", 403)]           // his stage is not active, so he is nobody's approver yet
    [InlineData("alice", "review", "cancelled", 409)] // the request is closed
    [InlineData("alice", "review", "voted", 422)]     // she already voted
    [InlineData("alice", "nope", "", 404)]            // no such stage
    public async Task ApplyAsync_EngineRefuses_AnswersItsStatusAndNeverRaises(string user, string stageId, string before, int expected)
    {
        var state = TestWorkflow.Submit().State;
        ApprovalEvent? earlier = before switch
        {
            "voted" => TestWorkflow.Approve(user, stageId, "first-vote"),
            "cancelled" => new CancelRequested { EventId = "cancel", Actor = new Actor("rita") },
            _ => null,
        };
        if (earlier is not null)
        {
            var applied = ApprovalEngine.Apply(state, earlier, TestWorkflow.Definition, TestWorkflow.Directory, TestWorkflow.Now.AddMinutes(1));
            Assert.Null(applied.Refusal);
            state = applied.State;
        }

        _source.Store(state);
        Instance("r1", OrchestrationRuntimeStatus.Running);

        var result = await Commands.ApplyAsync(TestWorkflow.TenantId, "r1", TestWorkflow.Approve(user, stageId), CancellationToken.None);

        Assert.Equal(CommandStatus.Refused, result.Status);
        Assert.Equal(expected, result.Refusal!.HttpStatus);
        Assert.Empty(_raised);
        _client.Verify(c => c.RaiseEventAsync(It.IsAny<string>(), It.IsAny<string>(), It.IsAny<object?>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task ApplyAsync_RequestWithoutWorkflow_ConflictAndNothingRaised()
    {
        var state = TestWorkflow.Submit().State with { Workflow = null, Status = RequestStatus.NotRequired };
        _source.Store(state);

        var result = await Commands.ApplyAsync(TestWorkflow.TenantId, "r1", TestWorkflow.Approve("alice"), CancellationToken.None);

        Assert.Equal(409, result.Refusal!.HttpStatus);
        Assert.Empty(_raised);
    }

    [Fact]
    public async Task SubmitAsync_PendingRequest_StartsOneOrchestrationNamedByTheRequestId()
    {
        var submitted = TestWorkflow.Submit("r9");
        _source.NextSubmit = new ProcessResult(ProcessStatus.Applied, submitted, submitted.State);
        Instance("r9", null);
        (TaskName Name, OrchestratorInput? Input, StartOrchestrationOptions? Options)? started = null;
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(),
                It.IsAny<CancellationToken>()))
            .Callback((TaskName name, object? input, StartOrchestrationOptions? options, CancellationToken _) =>
                started = (name, (OrchestratorInput?)input, options))
            .ReturnsAsync("r9");

        var result = await Commands.SubmitAsync(new Submitted
        {
            EventId = "s", RequestId = "r9", TenantId = TestWorkflow.TenantId, Requester = new Actor("rita"), Model = "doc", RecordId = "d-1", Event = "create",
        }, CancellationToken.None);

        Assert.Equal(CommandStatus.Applied, result.Status);
        Assert.NotNull(started);
        Assert.Equal(new TaskName(OrchestrationNames.Orchestrator), started.Value.Name);
        Assert.Equal("r9", started.Value.Options?.InstanceId);
        var input = started.Value.Input!;
        Assert.Equal(("r9", TestWorkflow.TenantId), (input.RequestId, input.TenantId));
        Assert.True(input.Snapshot.Open);
        Assert.Equal(ApprovalEngine.NextTimer(submitted.State, TestWorkflow.Definition), StateJson.DeserializeTimer(input.Snapshot.NextTimer!));
        Assert.Equal(submitted.Intents.Select(StateJson.SerializeIntent), input.PendingIntents);
    }

    [Fact]
    public async Task SubmitAsync_InstanceAlreadyExists_DoesNotScheduleAgain()
    {
        var submitted = TestWorkflow.Submit("r9");
        _source.NextSubmit = new ProcessResult(ProcessStatus.Duplicate, submitted with { Duplicate = true }, submitted.State);
        Instance("r9", OrchestrationRuntimeStatus.Running);

        var result = await Commands.SubmitAsync(new Submitted
        {
            EventId = "s", RequestId = "r9", TenantId = TestWorkflow.TenantId, Requester = new Actor("rita"), Model = "doc", RecordId = "d-1", Event = "create",
        }, CancellationToken.None);

        Assert.Equal(CommandStatus.Applied, result.Status);
        _client.Verify(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(),
            It.IsAny<CancellationToken>()), Times.Never);
    }

    [Fact]
    public async Task SubmitAsync_NoWorkflowApplies_AnswersWithoutAnOrchestration()
    {
        var submitted = TestWorkflow.Submit("r9");
        var notRequired = submitted.State with { Workflow = null, Status = RequestStatus.NotRequired };
        _source.NextSubmit = new ProcessResult(ProcessStatus.Applied, submitted with { State = notRequired }, notRequired);

        var result = await Commands.SubmitAsync(new Submitted
        {
            EventId = "s", RequestId = "r9", TenantId = TestWorkflow.TenantId, Requester = new Actor("rita"), Model = "doc", RecordId = "d-1", Event = "create",
        }, CancellationToken.None);

        Assert.Equal(RequestStatus.NotRequired, result.State!.Status);
        _client.Verify(c => c.GetInstancesAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()), Times.Never);
    }

    private void Instance(string id, OrchestrationRuntimeStatus? status) =>
        _client.Setup(c => c.GetInstancesAsync(id, It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(status is null ? null : new OrchestrationMetadata(OrchestrationNames.Orchestrator, id) { RuntimeStatus = status.Value });

    private sealed class FakeRequestSource : IRequestSource
    {
        private readonly Dictionary<string, ApprovalState> _states = new(StringComparer.Ordinal);

        public ProcessResult? NextSubmit { get; set; }

        public void Store(ApprovalState state) => _states[state.TenantId + "/" + state.Id] = state;

        public Task<ProcessResult> SubmitAsync(Submitted submitted, CancellationToken cancellationToken) =>
            Task.FromResult(NextSubmit ?? throw new InvalidOperationException("no submit scripted"));

        public Task<StoredRequestContext?> LoadAsync(string tenantId, string requestId, CancellationToken cancellationToken) =>
            Task.FromResult(_states.TryGetValue(tenantId + "/" + requestId, out var state)
                ? new StoredRequestContext(state, state.Workflow is null ? null : TestWorkflow.Definition, TestWorkflow.Directory)
                : null);

        public Task<WorkflowDefinition?> GetDefinitionAsync(string tenantId, WorkflowRef workflow, CancellationToken cancellationToken) =>
            Task.FromResult<WorkflowDefinition?>(workflow.Id == TestWorkflow.Definition.Id ? TestWorkflow.Definition : null);
    }
}

/// <summary>A clock that always says the same time.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
