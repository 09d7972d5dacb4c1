using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class GuardTests
{
    private static Run TwoStages(string extra = "") => Run.Start(Kit.Stages(
        "[{'id':'a','order':1,'approvers':[{'type':'group','id':'team'},{'type':'user','id':'dan'}],'consensus':{'mode':'count','count':2}}," +
        "{'id':'b','order':2,'approvers':[{'type':'user','id':'carol'}]}]", extra));

    [Fact]
    public void Decide_OnWaitingStage_IsRefusedAsNotStarted()
    {
        var run = TwoStages();
        var result = run.Approve("carol", "b");
        Assert.Equal(RefusalCode.StageWaiting, result.Refusal!.Code);
        Assert.Equal(403, result.Refusal.HttpStatus);
    }

    [Fact]
    public void Decide_OnClosedStageOfPendingRequest_IsRefusedAsNotActive()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'a','approvers':[{'type':'user','id':'bob'},{'type':'user','id':'dan'}]},{'id':'b','order':2,'approvers':[{'type':'user','id':'carol'}]}]"));
        run.Approve("bob", "a");
        var result = run.Approve("dan", "a");
        Assert.Equal(RefusalCode.StageNotActive, result.Refusal!.Code);
        Assert.Equal(409, result.Refusal.HttpStatus);
    }

    [Fact]
    public void Apply_WithAnotherDefinitionVersion_Throws()
    {
        var run = TwoStages();
        var evt = new Decided { EventId = "x", StageId = "a", Actor = new Actor("bob"), Decision = DecisionKind.Approve };
        Assert.Throws<ArgumentException>(() => ApprovalEngine.Apply(run.State, evt, run.Definition with { Version = 2 }, run.Directory, run.Now));
    }

    [Fact]
    public void Decide_UnknownStage_IsRefused()
    {
        var result = TwoStages().Approve("bob", "nope");
        Assert.Equal(RefusalCode.UnknownStage, result.Refusal!.Code);
        Assert.Equal(404, result.Refusal.HttpStatus);
    }

    [Fact]
    public void Activate_RequesterInApproverGroup_IsExcludedWithAVisibleNote()
    {
        var run = TwoStages();
        Assert.Equal(["bob", "dan", "erin"], run.Stage("a").Approvers);
        Assert.Contains("alice", run.Stage("a").Note, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice")] // the requester, also a member of the approver group
    [InlineData("erin")]  // a subject, also a member of the approver group
    public void Approve_ByRequesterOrSubject_IsRefusedAsSelfApproval(string user)
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'group','id':'team'}]}]"), submission: Kit.Submission("alice", "{}", "erin"));
        Assert.Equal(["bob"], run.Stage("a").Approvers);
        var result = run.Approve(user, "a");
        Assert.Equal(RefusalCode.SelfApproval, result.Refusal!.Code);
        Assert.Equal(422, result.Refusal.HttpStatus);
    }

    [Fact]
    public void Approve_RequesterActingAsDelegateOfAnApprover_IsRefusedAsSelfApproval()
    {
        var directory = Kit.BuildDirectory([Kit.Delegate("bob", "alice")]);
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"), directory);
        Assert.DoesNotContain(run.Last.Intents.OfType<InboxAdd>(), i => i.UserId == "alice");
        var result = run.Approve("alice", "a");
        Assert.Equal(RefusalCode.SelfApproval, result.Refusal!.Code);
    }

    [Fact]
    public void Approve_AllowSelfApproval_LetsTheRequesterApprove()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'group','id':'team'}]}]", "'allowSelfApproval':true,"));
        Assert.Contains("alice", run.Stage("a").Approvers);
        run.Approve("alice", "a");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Fact]
    public void Approve_NonApprover_IsRefused()
    {
        var result = TwoStages().Approve("ivan", "a");
        Assert.Equal(RefusalCode.NotAnApprover, result.Refusal!.Code);
        Assert.Equal(403, result.Refusal.HttpStatus);
    }

    [Theory]
    [InlineData(DecisionKind.Approve)]
    [InlineData(DecisionKind.Reject)]
    public void Decide_SecondVoteBySamePerson_IsRefusedAsDuplicateVote(DecisionKind second)
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'group','id':'finance'}],'consensus':{'mode':'count','count':2},'rejection':'quorum'}]"));
        run.Approve("erin", "a");
        var result = run.Decide("erin", "a", second);
        Assert.Equal(RefusalCode.DuplicateVote, result.Refusal!.Code);
        Assert.Equal(1, run.Stage("a").Remaining);
    }

    [Fact]
    public void Approve_DelegateActingForTwoApprovers_CountsOnce()
    {
        var directory = Kit.BuildDirectory([Kit.Delegate("erin", "ivan"), Kit.Delegate("gina", "ivan")]);
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'group','id':'finance'}],'consensus':{'mode':'count','count':2}}]"), directory);
        Assert.Contains(run.Last.Intents.OfType<InboxAdd>(), i => i.UserId == "ivan" && i.OnBehalfOf == "erin");
        Assert.Contains(run.Last.Intents.OfType<InboxAdd>(), i => i.UserId == "ivan" && i.OnBehalfOf == "gina");

        run.Approve("ivan", "a");
        var response = Assert.Single(run.Stage("a").Responses);
        Assert.Equal("erin", response.OnBehalfOf);
        Assert.Equal("erin", run.Ledger[^1].OnBehalfOf);

        var second = run.Approve("ivan", "a");
        Assert.Equal(RefusalCode.DuplicateVote, second.Refusal!.Code);
        Assert.Equal(StageStatus.Pending, run.Stage("a").Status);
    }

    [Fact]
    public void Approve_PrincipalAfterTheirDelegateVoted_IsRefusedAsDuplicateVote()
    {
        var directory = Kit.BuildDirectory([Kit.Delegate("erin", "ivan")]);
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'group','id':'finance'}],'consensus':{'mode':'count','count':3}}]"), directory);
        run.Approve("ivan", "a");
        var result = run.Approve("erin", "a");
        Assert.Equal(RefusalCode.DuplicateVote, result.Refusal!.Code);
    }

    [Fact]
    public void Approve_DelegationOutsideItsWindow_IsNotHonoured()
    {
        var expired = Kit.Delegate("bob", "ivan") with { EndsAt = Kit.T0.AddHours(-1) };
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"), Kit.BuildDirectory([expired]));
        Assert.Equal(RefusalCode.NotAnApprover, run.Approve("ivan", "a").Refusal!.Code);
    }

    [Theory]
    [InlineData(DecisionKind.Approve)]
    [InlineData(DecisionKind.Reject)]
    [InlineData(DecisionKind.RequestChanges)]
    [InlineData(DecisionKind.Comment)]
    public void Decide_OnClosedRequest_IsRefusedWithAReason(DecisionKind decision)
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'},{'type':'user','id':'dan'}]}]"));
        run.Approve("bob", "a");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
        var result = run.Decide("dan", "a", decision);
        Assert.Equal(RefusalCode.RequestClosed, result.Refusal!.Code);
        Assert.Contains("approved", result.Refusal.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DecisionKind.Reject)]
    [InlineData(DecisionKind.RequestChanges)]
    [InlineData(DecisionKind.Comment)]
    public void Decide_WithoutRequiredComment_IsInvalid(DecisionKind decision)
    {
        var run = TwoStages();
        var result = run.Apply(new Decided { EventId = "x", StageId = "a", Actor = new Actor("bob"), Decision = decision, Comment = " " });
        Assert.Equal(RefusalCode.Invalid, result.Refusal!.Code);
        Assert.Equal(400, result.Refusal.HttpStatus);
    }

    [Fact]
    public void Apply_RepeatedEventId_IsADuplicateAndChangesNothing()
    {
        var run = TwoStages();
        var evt = new Decided { EventId = "same", StageId = "a", Actor = new Actor("bob"), Decision = DecisionKind.Approve };
        run.Apply(evt);
        var before = run.State;
        var again = run.Apply(evt);
        Assert.True(again.Duplicate);
        Assert.False(again.Changed);
        Assert.Same(before, again.State);
        Assert.Single(run.Stage("a").Responses);
    }

    [Fact]
    public void Apply_RecentEventIds_KeepsTheLast64()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        for (var i = 0; i < 70; i++)
        {
            run.Decide("bob", "a", DecisionKind.Comment, "c" + i);
        }

        Assert.Equal(64, run.State.RecentEventIds.Count);
        Assert.Equal("e70", run.State.RecentEventIds[^1]);
    }

    [Fact]
    public void Comment_ByApprover_AppendsLedgerWithoutChangingStatus()
    {
        var run = TwoStages();
        var before = run.State;
        var result = run.Decide("bob", "a", DecisionKind.Comment, "looks fine");
        Assert.True(result.Changed);
        Assert.Equal("comment", Assert.Single(result.Ledger).Action);
        Assert.Empty(result.Intents);
        Assert.Equal(before.Status, run.State.Status);
        Assert.Equal(before.Stage("a").Remaining, run.Stage("a").Remaining);
        Assert.Equal(before.LedgerLength + 1, run.State.LedgerLength);

        // Comments never count as votes: bob can still approve.
        Assert.Null(run.Approve("bob", "a").Refusal);
    }

    [Fact]
    public void Approve_ThroughASignedIntegration_RecordsTheIntegrationOnTheLedger()
    {
        var run = TwoStages();
        run.Apply(new Decided { EventId = "w1", StageId = "a", Actor = new Actor("bob", IntegrationId: "slack"), Decision = DecisionKind.Approve });
        Assert.Equal(("bob", "{\"integration\":\"slack\"}"), (run.Ledger[^1].Actor, run.Ledger[^1].Detail));
    }

    [Fact]
    public void Comment_ByOutsider_IsRefused()
    {
        var result = TwoStages().Decide("ivan", "a", DecisionKind.Comment, "hi");
        Assert.Equal(RefusalCode.NotAnApprover, result.Refusal!.Code);
    }
}

internal static class StateExtensions
{
    public static StageState Stage(this ApprovalState state, string id) => state.Stages.Single(s => s.Id == id);
}
