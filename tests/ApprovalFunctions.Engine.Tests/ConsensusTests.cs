using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class ConsensusTests
{
    // Pools: u1..u5 listed as users, so N is exactly the number listed.
    private static string Users(int n) =>
        "[" + string.Join(",", Enumerable.Range(1, n).Select(i => "{'type':'user','id':'u" + i + "'}")) + "]";

    private static Run StartSingle(string consensus, int pool, string rejection = "veto") =>
        Run.Start(Kit.Stages("[{'id':'s','order':1,'approvers':" + Users(pool) + ",'consensus':" + consensus + ",'rejection':'" + rejection + "'}]"));

    [Theory]
    [InlineData("{'mode':'any'}", 3, 1)]
    [InlineData("{'mode':'all'}", 1, 1)]
    [InlineData("{'mode':'all'}", 3, 3)]
    [InlineData("{'mode':'count','count':1}", 3, 1)]
    [InlineData("{'mode':'count','count':2}", 3, 2)]
    [InlineData("{'mode':'count','count':3}", 3, 3)]
    [InlineData("{'mode':'majority'}", 1, 1)]
    [InlineData("{'mode':'majority'}", 2, 2)]
    [InlineData("{'mode':'majority'}", 3, 2)]
    [InlineData("{'mode':'majority'}", 4, 3)]
    [InlineData("{'mode':'majority'}", 5, 3)]
    [InlineData("{'mode':'percent','percent':1}", 5, 1)]
    [InlineData("{'mode':'percent','percent':33}", 3, 1)]
    [InlineData("{'mode':'percent','percent':34}", 3, 2)]
    [InlineData("{'mode':'percent','percent':50}", 4, 2)]
    [InlineData("{'mode':'percent','percent':51}", 4, 3)]
    [InlineData("{'mode':'percent','percent':100}", 4, 4)]
    public void Approve_AtBoundary_ApprovesExactlyAtRequired(string consensus, int pool, int required)
    {
        var run = StartSingle(consensus, pool);
        Assert.Equal(required, run.Stage("s").Required);
        for (var i = 1; i < required; i++)
        {
            run.Approve("u" + i, "s");
            Assert.Equal(StageStatus.Pending, run.Stage("s").Status);
            Assert.Equal(required - i, run.Stage("s").Remaining);
        }

        run.Approve("u" + required, "s");
        Assert.Equal(StageStatus.Approved, run.Stage("s").Status);
        Assert.Equal(0, run.Stage("s").Remaining);
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Fact]
    public void Approve_GroupsModeSamePersonInBothGroups_CoversOnlyOneGroup()
    {
        // frank is in finance and legal; two groups need two distinct people.
        var run = Run.Start(Kit.Stages(
            "[{'id':'s','approvers':[{'type':'group','id':'finance'},{'type':'group','id':'legal'}],'consensus':{'mode':'groups','groups':['finance','legal']}}]"));
        Assert.Equal(2, run.Stage("s").Required);

        run.Approve("frank", "s");
        Assert.Equal(StageStatus.Pending, run.Stage("s").Status);
        Assert.Equal(1, run.Stage("s").Remaining);

        run.Approve("erin", "s"); // finance only: frank moves to legal in the matching
        Assert.Equal(StageStatus.Approved, run.Stage("s").Status);
    }

    [Fact]
    public void Approve_GroupsModeTwoFromSameGroup_StaysPending()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'s','approvers':[{'type':'group','id':'finance'},{'type':'group','id':'ops'}],'consensus':{'mode':'groups','groups':['finance','ops']}}]"));
        run.Approve("erin", "s");
        run.Approve("gina", "s");
        Assert.Equal(StageStatus.Pending, run.Stage("s").Status);
        Assert.Equal(1, run.Stage("s").Remaining);
        run.Approve("ivan", "s");
        Assert.Equal(StageStatus.Approved, run.Stage("s").Status);
    }

    [Fact]
    public void Activate_GroupsModeUncoverable_IsVisiblyUnassignable()
    {
        // legal's members are frank and hank; hank is not an approver, so legal and finance would both need frank.
        var run = Run.Start(Kit.Stages(
            "[{'id':'s','approvers':[{'type':'user','id':'frank'}],'consensus':{'mode':'groups','groups':['finance','legal']}}]"));
        var stage = run.Stage("s");
        Assert.True(stage.Unassignable);
        Assert.Contains("cover only 1", stage.Note, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("veto", StageStatus.Rejected)]
    [InlineData("quorum", StageStatus.Pending)]
    public void Reject_CountTwoWithOneApprovalAndOneDenial_DependsOnRejectionStyle(string rejection, StageStatus expected)
    {
        var run = StartSingle("{'mode':'count','count':2}", 3, rejection);
        run.Approve("u1", "s");
        run.Reject("u2", "s");
        Assert.Equal(expected, run.Stage("s").Status);
        Assert.Equal(expected == StageStatus.Rejected ? RequestStatus.Rejected : RequestStatus.Pending, run.State.Status);
    }

    [Fact]
    public void Reject_QuorumUntilUnreachable_RejectsOnlyWhenApprovalCanNoLongerBeReached()
    {
        var run = StartSingle("{'mode':'count','count':2}", 3, "quorum");
        run.Approve("u1", "s");
        run.Reject("u2", "s");
        Assert.Equal(StageStatus.Pending, run.Stage("s").Status); // u3 could still make it 2

        run.Reject("u3", "s");
        Assert.Equal(StageStatus.Rejected, run.Stage("s").Status);
        Assert.Equal(RequestStatus.Rejected, run.State.Status);
        Assert.Equal("approval can no longer be reached", run.Stage("s").Note);
    }

    [Theory]
    [InlineData("{'mode':'all'}", 3, 1)]
    [InlineData("{'mode':'count','count':3}", 4, 2)]
    [InlineData("{'mode':'majority'}", 4, 2)]
    [InlineData("{'mode':'majority'}", 5, 3)]
    [InlineData("{'mode':'any'}", 3, 3)]
    public void Reject_Quorum_RejectsAtExactlyTheUnreachableCount(string consensus, int pool, int rejectionsToFail)
    {
        var run = StartSingle(consensus, pool, "quorum");
        for (var i = 1; i < rejectionsToFail; i++)
        {
            run.Reject("u" + i, "s");
            Assert.Equal(StageStatus.Pending, run.Stage("s").Status);
        }

        run.Reject("u" + rejectionsToFail, "s");
        Assert.Equal(StageStatus.Rejected, run.Stage("s").Status);
    }

    [Fact]
    public void Reject_VetoWithDenialMessage_RecordsTheMessageAndTheOutcome()
    {
        var run = Run.Start(Kit.Stages("[{'id':'s','approvers':[{'type':'user','id':'bob'}],'denialMessage':'Rejected by the line manager.'}]"));
        run.Reject("bob", "s");
        Assert.Equal(RequestStatus.Rejected, run.State.Status);
        Assert.Contains(run.Ledger, e => e.Action == "stage.rejected" && e.Comment == "Rejected by the line manager.");
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "approval.rejected");
    }

    [Fact]
    public void Approve_ThreeStagesNeedingOneTwoTwo_AdvanceOneByOneAndApproveAfterTheLast()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'a','order':1,'approvers':[{'type':'user','id':'bob'}]}," +
            "{'id':'b','order':2,'approvers':[{'type':'group','id':'finance'}],'consensus':{'mode':'count','count':2}}," +
            "{'id':'c','order':3,'approvers':[{'type':'group','id':'legal'},{'type':'user','id':'ivan'}],'consensus':{'mode':'count','count':2}}]"));
        Assert.Equal([StageStatus.Pending, StageStatus.Waiting, StageStatus.Waiting], run.State.Stages.Select(s => s.Status));

        run.Approve("bob", "a");
        Assert.Equal([StageStatus.Approved, StageStatus.Pending, StageStatus.Waiting], run.State.Stages.Select(s => s.Status));
        Assert.Equal(["erin", "frank", "gina"], run.Stage("b").Approvers);

        run.Approve("erin", "b");
        Assert.Equal(StageStatus.Pending, run.Stage("b").Status);
        run.Approve("gina", "b");
        Assert.Equal([StageStatus.Approved, StageStatus.Approved, StageStatus.Pending], run.State.Stages.Select(s => s.Status));

        run.Approve("frank", "c");
        Assert.Equal(RequestStatus.Pending, run.State.Status);
        run.Approve("ivan", "c");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
        Assert.Equal(Kit.T0, run.State.DecidedAt);
        Assert.True(run.Verify().IsValid);
    }
}
