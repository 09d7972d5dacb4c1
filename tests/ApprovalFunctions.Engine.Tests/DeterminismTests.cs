using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class DeterminismTests
{
    private static (string State, string[] Hashes, string[] Intents) Scenario()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'a','approvers':[{'type':'group','id':'finance'}],'consensus':{'mode':'majority'},'reminderEvery':'PT4H','escalation':[{'after':'PT8H','approvers':[{'type':'user','id':'ivan'}]}]}," +
            "{'id':'b','order':2,'approvers':[{'type':'manager','levels':2}]}]",
            "'expiresIn':'P2D','callback':{'url':'https://x.example/cb','events':['approved','rejected','expired','cancelled']},"));
        var intents = new List<string>();
        void Track() => intents.AddRange(run.Last.Intents.Select(StateJson.SerializeIntent));
        Track();
        run.Now = Kit.T0.AddHours(4);
        run.Fire(new TimerKey(TimerKind.Reminder, "a", 1, 1, Kit.T0.AddHours(4)));
        Track();
        run.Approve("erin", "a");
        Track();
        run.Decide("gina", "a", DecisionKind.RequestChanges, "needs a PO");
        Track();
        run.Apply(new Resubmitted { EventId = "rs", Actor = new Actor("alice"), Record = Kit.Json("{'po':'PO-1'}") });
        Track();
        run.Approve("frank", "a");
        run.Approve("gina", "a");
        run.Approve("carol", "b");
        Track();
        return (StateJson.Serialize(run.State), [.. run.Ledger.Select(e => e.Hash.ToString())], [.. intents]);
    }

    [Fact]
    public void Engine_SameInputs_ProduceIdenticalStatesLedgersAndIntents()
    {
        var first = Scenario();
        var second = Scenario();
        Assert.Equal(first.State, second.State);
        Assert.Equal(first.Hashes, second.Hashes);
        Assert.Equal(first.Intents, second.Intents);
        Assert.Contains("\"status\":\"approved\"", first.State, StringComparison.Ordinal);
    }

    /// <summary>
    /// The step scratchpad is reused per thread: a result must not change when later steps run,
    /// also after a step that was refused halfway (it abandons its scratchpad) or runs on another request.
    /// </summary>
    [Fact]
    public void Results_AreNotTouchedByLaterSteps_OnTheSameThread()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]},{'id':'b','order':2,'approvers':[{'type':'user','id':'carol'}]}]"));
        var first = run.Approve("bob", "a");
        var ledger = first.Ledger.Select(e => e.Action).ToArray();
        var intents = first.Intents.Select(StateJson.SerializeIntent).ToArray();
        var stateJson = StateJson.Serialize(first.State);

        var refused = run.Apply(new Reassigned { EventId = run.NextId(), Actor = new Actor("admin", IsAdmin: true), StageId = "nope", From = "carol", To = "dave" });
        Assert.NotNull(refused.Refusal);
        var other = Run.Start(Kit.Stages("[{'id':'x','approvers':[{'type':'user','id':'erin'}]}]"));
        other.Approve("erin", "x");
        run.Approve("carol", "b");

        Assert.Equal(ledger, first.Ledger.Select(e => e.Action).ToArray());
        Assert.Equal(["approve", "stage.approved", "stage.activated"], ledger);
        Assert.Equal(intents, first.Intents.Select(StateJson.SerializeIntent).ToArray());
        Assert.Equal(stateJson, StateJson.Serialize(first.State));
        Assert.Equal(RequestStatus.Approved, run.State.Status);
        Assert.True(run.Verify().IsValid);
    }

    [Fact]
    public void Expiry_WhileChangesRequested_ExpiresTheRequest()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]", "'expiresIn':'P1D',"));
        run.Decide("bob", "a", DecisionKind.RequestChanges, "fix");
        run.Now = Kit.T0.AddDays(1);
        run.Fire(new TimerKey(TimerKind.RequestExpiry, null, 1, 0, Kit.T0.AddDays(1)));
        Assert.Equal(RequestStatus.Expired, run.State.Status);
    }

    [Fact]
    public void Submit_StageWithoutTimers_SchedulesNothing()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        Assert.Empty(run.Scheduled());
    }

    [Fact]
    public void Reject_QuorumGroupsModeWhenAGroupCanNoLongerBeCovered_Rejects()
    {
        // ops has only ivan; once ivan rejects, the ops group can never be covered.
        var run = Run.Start(Kit.Stages(
            "[{'id':'s','approvers':[{'type':'group','id':'finance'},{'type':'group','id':'ops'}],'consensus':{'mode':'groups','groups':['finance','ops']},'rejection':'quorum'}]"));
        run.Reject("erin", "s");
        Assert.Equal(StageStatus.Pending, run.Stage("s").Status);
        run.Reject("ivan", "s");
        Assert.Equal(StageStatus.Rejected, run.Stage("s").Status);
    }
}
