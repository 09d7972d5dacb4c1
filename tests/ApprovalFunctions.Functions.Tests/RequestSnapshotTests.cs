using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Functions.Orchestration;

namespace ApprovalFunctions.Functions.Tests;

/// <summary>When an orchestration may finish: only once its request can never change again.</summary>
public sealed class RequestSnapshotTests
{
    [Theory]
    [InlineData(RequestStatus.Pending, CallbackStatus.None, true)]
    [InlineData(RequestStatus.ChangesRequested, CallbackStatus.None, true)]   // the requester may resubmit
    [InlineData(RequestStatus.Rejected, CallbackStatus.Delivered, true)]      // ... after a rejection too
    [InlineData(RequestStatus.Approved, CallbackStatus.Pending, true)]        // the callback is still going out
    [InlineData(RequestStatus.Approved, CallbackStatus.Failed, true)]         // an admin may retry it
    [InlineData(RequestStatus.Approved, CallbackStatus.Delivered, false)]
    [InlineData(RequestStatus.Approved, CallbackStatus.None, false)]
    [InlineData(RequestStatus.Expired, CallbackStatus.Delivered, false)]
    [InlineData(RequestStatus.Cancelled, CallbackStatus.None, false)]
    public void From_StatusAndCallback_OpenOnlyWhileTheRequestCanChange(RequestStatus status, CallbackStatus callback, bool open)
    {
        var state = TestWorkflow.Submit().State with { Status = status, Callback = new CallbackState { Status = callback } };

        Assert.Equal(open, RequestSnapshot.From(state, TestWorkflow.Definition).Open);
    }

    [Fact]
    public void From_PendingRequest_CarriesTheEnginesNextDeadline()
    {
        var state = TestWorkflow.Submit().State;

        var snapshot = RequestSnapshot.From(state, TestWorkflow.Definition);

        var next = ApprovalEngine.NextTimer(state, TestWorkflow.Definition);
        Assert.NotNull(next);
        Assert.Equal(next, StateJson.DeserializeTimer(snapshot.NextTimer!));
        Assert.Null(snapshot.CallbackRetry);
    }

    [Fact]
    public void From_RequestWithoutWorkflow_IsFinished()
    {
        var state = TestWorkflow.Submit().State with { Workflow = null, Status = RequestStatus.NotRequired };

        Assert.Equal(RequestSnapshot.Finished, RequestSnapshot.From(state, null));
    }
}
