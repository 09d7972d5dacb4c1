using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class LifecycleTests
{
    private const string Parallel =
        "[{'id':'mgr','order':1,'approvers':[{'type':'manager','levels':1}]}," +
        "{'id':'cfo','order':2,'approvers':[{'type':'user','id':'carol'}]}," +
        "{'id':'legal','order':2,'approvers':[{'type':'group','id':'legal'}]}," +
        "{'id':'final','order':3,'approvers':[{'type':'user','id':'dan'}]}]";

    [Fact]
    public void Approve_ParallelStages_NextOrderStartsOnlyWhenAllAreApproved()
    {
        var run = Run.Start(Kit.Stages(Parallel));
        run.Approve("bob", "mgr");
        Assert.Equal(StageStatus.Pending, run.Stage("cfo").Status);
        Assert.Equal(StageStatus.Pending, run.Stage("legal").Status);

        run.Approve("hank", "legal");
        Assert.Equal(StageStatus.Approved, run.Stage("legal").Status);
        Assert.Equal(StageStatus.Waiting, run.Stage("final").Status);

        run.Approve("carol", "cfo");
        Assert.Equal(StageStatus.Pending, run.Stage("final").Status);
        run.Approve("dan", "final");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Fact]
    public void Reject_InOneParallelStage_RejectsRequestAndCancelsSiblings()
    {
        var run = Run.Start(Kit.Stages(Parallel));
        run.Approve("bob", "mgr");
        run.Reject("carol", "cfo");
        Assert.Equal(RequestStatus.Rejected, run.State.Status);
        Assert.Equal(StageStatus.Rejected, run.Stage("cfo").Status);
        Assert.Equal(StageStatus.Cancelled, run.Stage("legal").Status);
        Assert.Equal(StageStatus.Cancelled, run.Stage("final").Status);
        Assert.Contains(new InboxRemove("frank", "legal", false), run.Last.Intents);
        Assert.Contains(new InboxRemove("hank", "legal", false), run.Last.Intents);
        Assert.Equal(RefusalCode.RequestClosed, run.Approve("hank", "legal").Refusal!.Code);
    }

    [Fact]
    public void Submit_StageConditionFalse_SkipsTheStageWithAReason()
    {
        var definition = Kit.Stages(
            "[{'id':'mgr','order':1,'approvers':[{'type':'user','id':'bob'}]}," +
            "{'id':'legal','order':2,'condition':{'in':['contract',{'var':'record.tags'}]},'approvers':[{'type':'group','id':'legal'}]}," +
            "{'id':'cfo','order':2,'approvers':[{'type':'user','id':'carol'}]}]");
        var run = Run.Start(definition, submission: Kit.Submission(record: "{'tags':['chairs']}"));
        run.Approve("bob", "mgr");
        Assert.Equal(StageStatus.Skipped, run.Stage("legal").Status);
        Assert.Equal("condition is false", run.Stage("legal").Note);
        Assert.Contains(run.Ledger, e => e.Action == "stage.skipped" && e.StageId == "legal");
        run.Approve("carol", "cfo");
        Assert.Equal(RequestStatus.Approved, run.State.Status);

        var withContract = Run.Start(definition, submission: Kit.Submission(record: "{'tags':['contract']}"));
        withContract.Approve("bob", "mgr");
        Assert.Equal(StageStatus.Pending, withContract.Stage("legal").Status);
    }

    [Fact]
    public void Submit_EveryStageSkipped_ApprovesAtOnce()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','condition':{'==':[1,2]},'approvers':[{'type':'user','id':'bob'}]}]"));
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Theory]
    [InlineData("{'type':'user','id':'ivan'}", "ivan")]
    [InlineData("{'type':'group','id':'legal'}", "frank,hank")]
    [InlineData("{'type':'manager','levels':1}", "bob")]
    [InlineData("{'type':'manager','levels':2}", "carol")]
    [InlineData("{'type':'manager','levels':3}", "dan")]
    [InlineData("{'type':'departmentManager'}", "sam")]
    [InlineData("{'type':'field','expr':{'var':'record.reviewers'}}", "gina,hank")]
    [InlineData("{'type':'field','expr':{'var':'record.owner'}}", "ivan")]
    public void Activate_ApproverSpec_ResolvesFromTheDirectory(string spec, string expected)
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[" + spec + "]}]"),
            submission: Kit.Submission(record: "{'reviewers':['hank','gina','hank'],'owner':'ivan'}"));
        Assert.Equal(expected.Split(','), run.Stage("a").Approvers);
        Assert.False(run.Stage("a").Unassignable);
        Assert.Equal(expected.Split(',').Select(u => new InboxAdd(u, "a")), run.Last.Intents.OfType<InboxAdd>());
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "stage.activated" && e.Users.SequenceEqual(expected.Split(',')));
    }

    [Theory]
    [InlineData("[{'type':'group','id':'empty'}]", "{'mode':'any'}", "no eligible approvers")]
    [InlineData("[{'type':'manager','levels':5}]", "{'mode':'any'}", "no eligible approvers")]
    [InlineData("[{'type':'field','expr':{'var':'record.nobody'}}]", "{'mode':'all'}", "no eligible approvers")]
    [InlineData("[{'type':'group','id':'legal'}]", "{'mode':'count','count':3}", "needs 3 approvals but only 2 eligible approvers")]
    public void Activate_NobodyCanComplete_IsAVisibleUnassignableState(string approvers, string consensus, string note)
    {
        var run = Run.Start(Kit.Def(
            "{'name':'W','model':'m','event':'create','stages':[{'id':'a','approvers':" + approvers + ",'consensus':" + consensus + "}]}"));
        var stage = run.Stage("a");
        Assert.Equal(RequestStatus.Pending, run.State.Status);
        Assert.Equal(StageStatus.Pending, stage.Status);
        Assert.True(stage.Unassignable);
        Assert.Contains(note, stage.Note, StringComparison.Ordinal);
        Assert.Contains(run.Ledger, e => e.Action == "stage.unassignable");
        Assert.Contains(run.Last.Intents.OfType<Notify>(), n => n.Kind == NotificationKind.NoApprovers && n.Users.SequenceEqual(["alice"]));
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "stage.unassignable");
    }

    [Fact]
    public void Cancel_UnassignableStage_AdminCanCloseIt()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'alice'}]}]"));
        Assert.True(run.Stage("a").Unassignable);
        Assert.Empty(run.Stage("a").Approvers);

        // 'alice' is excluded, so there is no one to reassign from; an admin adds by escalation or cancels.
        run.Apply(new CancelRequested { EventId = "c", Actor = new Actor("root", IsAdmin: true), Reason = "nobody can approve" });
        Assert.Equal(RequestStatus.Cancelled, run.State.Status);
    }

    [Fact]
    public void Escalation_AddingEnoughApprovers_ClearsUnassignable()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'a','approvers':[{'type':'user','id':'bob'}],'consensus':{'mode':'count','count':2}," +
            "'escalation':[{'after':'PT1H','approvers':[{'type':'user','id':'dan'}]}]}]"));
        Assert.True(run.Stage("a").Unassignable);
        run.Now = Kit.T0.AddHours(1);
        run.Fire(new TimerKey(TimerKind.Escalation, "a", 1, 1, Kit.T0.AddHours(1)));
        Assert.False(run.Stage("a").Unassignable);
        run.Approve("bob", "a");
        run.Approve("dan", "a");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Fact]
    public void Activate_FieldExpressionFails_QuarantinesInsteadOfThrowing()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'a','approvers':[{'type':'user','id':'bob'}]},{'id':'b','order':2,'approvers':[{'type':'field','expr':{'fail':'boom'}}]}]"));
        Assert.Equal(RequestStatus.Pending, run.State.Status);
        run.Approve("bob", "a");
        Assert.Equal(RequestStatus.Quarantined, run.State.Status);
        Assert.Contains("boom", run.State.QuarantineReason, StringComparison.Ordinal);
        Assert.Contains(run.Ledger, e => e.Action == "quarantined");
    }

    [Fact]
    public void RequestChanges_ThenResubmit_StartsANewIterationKeepingHistory()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'a','approvers':[{'type':'user','id':'bob'}]},{'id':'b','order':2,'approvers':[{'type':'user','id':'carol'}],'reminderEvery':'PT1H'}]",
            "'expiresIn':'P7D',"));
        run.Approve("bob", "a");
        run.Decide("carol", "b", DecisionKind.RequestChanges, "add the quote");
        Assert.Equal(RequestStatus.ChangesRequested, run.State.Status);
        Assert.Equal(StageStatus.Cancelled, run.Stage("b").Status);
        Assert.Contains(run.Last.Intents.OfType<Notify>(), n => n.Kind == NotificationKind.Outcome && n.Users.SequenceEqual(["alice"]));
        Assert.Equal(RefusalCode.RequestClosed, run.Approve("carol", "b").Refusal!.Code);

        var notRequester = run.Apply(new Resubmitted { EventId = "rs0", Actor = new Actor("bob"), Record = Kit.Json("{'quote':1}") });
        Assert.Equal(RefusalCode.Forbidden, notRequester.Refusal!.Code);

        run.Now = Kit.T0.AddHours(2);
        run.Apply(new Resubmitted { EventId = "rs1", Actor = new Actor("alice"), Record = Kit.Json("{'quote':1}"), Comment = "added" });
        Assert.Equal(RequestStatus.Pending, run.State.Status);
        Assert.Equal(2, run.State.Iteration);
        var previous = Assert.Single(run.State.PreviousIterations);
        Assert.Equal(1, previous.Iteration);
        Assert.Equal(RequestStatus.ChangesRequested, previous.Outcome);
        Assert.Equal(StageStatus.Approved, previous.Stages.Single(s => s.Id == "a").Status);
        Assert.Equal(StageStatus.Pending, run.Stage("a").Status);
        Assert.Empty(run.Stage("a").Responses);
        Assert.Equal(1, run.State.Record.GetProperty("quote").GetInt32());
        Assert.Contains(new TimerKey(TimerKind.RequestExpiry, null, 2, 0, Kit.T0.AddHours(2).AddDays(7)), run.Scheduled());

        // Timers of iteration 1 are stale now.
        Assert.False(run.Fire(new TimerKey(TimerKind.RequestExpiry, null, 1, 0, Kit.T0.AddDays(7))).Changed);

        // bob approved in iteration 1 and may approve again in iteration 2.
        run.Approve("bob", "a");
        run.Approve("carol", "b");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
        Assert.True(run.Verify().IsValid);
        Assert.Equal([1, 2], run.Ledger.Select(e => e.Iteration).Distinct());
    }

    [Fact]
    public void Resubmit_AfterRejection_IsAllowedButNotWhilePendingOrApproved()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        var pending = run.Apply(new Resubmitted { EventId = "x1", Actor = new Actor("alice"), Record = Kit.Json("{}") });
        Assert.Equal(RefusalCode.InvalidState, pending.Refusal!.Code);

        run.Reject("bob", "a");
        run.Apply(new Resubmitted { EventId = "x2", Actor = new Actor("alice"), Record = Kit.Json("{}") });
        Assert.Equal(2, run.State.Iteration);
        run.Approve("bob", "a");
        var approved = run.Apply(new Resubmitted { EventId = "x3", Actor = new Actor("alice"), Record = Kit.Json("{}") });
        Assert.Equal(RefusalCode.RequestClosed, approved.Refusal!.Code);
    }

    [Theory]
    [InlineData("alice", false, null)]
    [InlineData("root", true, null)]
    [InlineData("bob", false, RefusalCode.Forbidden)]
    public void Cancel_ByWhom_OnlyRequesterOrAdmin(string user, bool admin, RefusalCode? refusal)
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        var result = run.Apply(new CancelRequested { EventId = "c", Actor = new Actor(user, admin) });
        Assert.Equal(refusal, result.Refusal?.Code);
        Assert.Equal(refusal is null ? RequestStatus.Cancelled : RequestStatus.Pending, run.State.Status);
        if (refusal is null)
        {
            Assert.Equal(StageStatus.Cancelled, run.Stage("a").Status);
            Assert.Contains(new InboxRemove("bob", "a", false), result.Intents);
            Assert.Equal(user, result.Ledger[^1].Actor);
        }
    }

    [Fact]
    public void Cancel_AfterApproval_IsRefusedAsClosed()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        run.Approve("bob", "a");
        Assert.Equal(RefusalCode.RequestClosed, run.Apply(new CancelRequested { EventId = "c", Actor = new Actor("alice") }).Refusal!.Code);
    }

    [Theory]
    [InlineData(false, "bob", "ivan", RefusalCode.Forbidden)]
    [InlineData(true, "ivan", "dan", RefusalCode.Invalid)]       // from is not an approver
    [InlineData(true, "erin", "dan", RefusalCode.InvalidState)]  // from already voted
    [InlineData(true, "bob", "alice", RefusalCode.SelfApproval)] // to is the requester
    [InlineData(true, "bob", "gina", RefusalCode.Invalid)]       // to already an approver
    public void Reassign_Guards_AreEnforced(bool admin, string from, string to, RefusalCode expected)
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'},{'type':'user','id':'erin'},{'type':'user','id':'gina'}],'consensus':{'mode':'all'}}]"));
        run.Approve("erin", "a");
        var result = run.Apply(new Reassigned { EventId = "ra", StageId = "a", From = from, To = to, Actor = new Actor("root", admin) });
        Assert.Equal(expected, result.Refusal!.Code);
    }

    [Fact]
    public void Reassign_ByAdmin_MovesTheInboxAndTheRightToDecide()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        run.Apply(new Reassigned { EventId = "ra", StageId = "a", From = "bob", To = "ivan", Actor = new Actor("root", true) });
        Assert.Equal(["ivan"], run.Stage("a").Approvers);
        Assert.Contains(new InboxRemove("bob", "a", false), run.Last.Intents);
        Assert.Contains(new InboxAdd("ivan", "a"), run.Last.Intents);
        Assert.Equal(RefusalCode.NotAnApprover, run.Approve("bob", "a").Refusal!.Code);
        run.Approve("ivan", "a");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Fact]
    public void DelegationInEffect_ForPendingApprover_AddsDelegateInboxOnBehalfOf()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        var delegation = Kit.Delegate("bob", "ivan");
        run.Directory = Kit.BuildDirectory([delegation]);
        run.Apply(new DelegationInEffect { EventId = "d1", Delegation = delegation });
        Assert.Equal([new InboxAdd("ivan", "a", "bob")], run.Last.Intents);
        Assert.Equal("delegation.applied", Assert.Single(run.Last.Ledger).Action);

        run.Approve("ivan", "a");
        Assert.Equal("bob", run.Stage("a").Responses[0].OnBehalfOf);
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Fact]
    public void Reassign_ToAnApproverWithADelegate_AddsTheDelegateInboxToo()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"), Kit.BuildDirectory([Kit.Delegate("ivan", "hank")]));
        run.Apply(new Reassigned { EventId = "ra", StageId = "a", From = "bob", To = "ivan", Actor = new Actor("root", true) });
        Assert.Contains(new InboxAdd("hank", "a", "ivan"), run.Last.Intents);
        run.Approve("hank", "a");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
    }

    [Fact]
    public void DelegationInEffect_ToTheRequester_AddsNothing()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        var result = run.Apply(new DelegationInEffect { EventId = "d1", Delegation = Kit.Delegate("bob", "alice") });
        Assert.False(result.Changed);
        Assert.Empty(result.Intents);
    }

    private static Run WithCallback(string events = "['approved','rejected']") =>
        Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]",
            "'callback':{'url':'https://erp.example/cb','events':" + events + ",'secret':'s3cret'},"));

    [Fact]
    public void Approve_WithCallbackForTheOutcome_StartsDeliveryWithAStableKey()
    {
        var run = WithCallback();
        run.Approve("bob", "a");
        Assert.Equal(CallbackStatus.Pending, run.State.Callback.Status);
        Assert.Equal("r1:1:approved", run.State.Callback.IdempotencyKey);
        Assert.Contains(new DeliverCallback("approved", "r1:1:approved"), run.Last.Intents);
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "approval.approved");
    }

    [Fact]
    public void Cancel_WithCallbackNotListingCancelled_HasNoCallback()
    {
        var run = WithCallback();
        run.Apply(new CancelRequested { EventId = "c", Actor = new Actor("alice") });
        Assert.Equal(CallbackStatus.None, run.State.Callback.Status);
        Assert.Empty(run.Last.Intents.OfType<DeliverCallback>());
    }

    [Fact]
    public void Callback_FailuresGiveUpThenAdminRetryThenDelivered_UsesTheSameKeyThroughout()
    {
        var run = WithCallback();
        run.Approve("bob", "a");
        var key = run.State.Callback.IdempotencyKey!;

        run.Apply(new CallbackAttemptFailed { EventId = "f1", Attempt = 1, IdempotencyKey = key, Error = "503" });
        Assert.Equal(CallbackStatus.Pending, run.State.Callback.Status);
        Assert.Equal(1, run.State.Callback.Attempts);

        run.Apply(new CallbackAttemptFailed { EventId = "f2", Attempt = 2, IdempotencyKey = key, Error = "timeout", GaveUp = true });
        Assert.Equal(CallbackStatus.Failed, run.State.Callback.Status);
        Assert.Equal("timeout", run.State.Callback.LastError);
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "callback.failed");

        Assert.Equal(RefusalCode.Forbidden, run.Apply(new CallbackRetryRequested { EventId = "x", Actor = new Actor("alice") }).Refusal!.Code);
        run.Apply(new CallbackRetryRequested { EventId = "r", Actor = new Actor("root", true) });
        Assert.Equal(CallbackStatus.Pending, run.State.Callback.Status);
        Assert.Equal([new DeliverCallback("approved", key, Round: 1)], run.Last.Intents);
        Assert.Equal(1, run.State.Callback.Round);

        run.Apply(new CallbackDelivered { EventId = "ok", Attempt = 1, IdempotencyKey = key });
        Assert.Equal(CallbackStatus.Delivered, run.State.Callback.Status);
        Assert.Equal(RefusalCode.InvalidState, run.Apply(new CallbackRetryRequested { EventId = "r2", Actor = new Actor("root", true) }).Refusal!.Code);
        Assert.True(run.Verify().IsValid);
    }

    [Fact]
    public void Callback_GiveUpFromTheRoundBeforeAnAdminRetry_IsIgnoredButTheRetriedRoundCanStillFail()
    {
        var run = WithCallback();
        run.Approve("bob", "a");
        var key = run.State.Callback.IdempotencyKey!;
        Assert.Equal(0, run.State.Callback.Round);
        run.Apply(new CallbackAttemptFailed { EventId = "f1", Attempt = 3, IdempotencyKey = key, Error = "503", GaveUp = true, Round = 0 });
        run.Apply(new CallbackRetryRequested { EventId = "r", Actor = new Actor("root", true) });
        var ledger = run.Ledger.Count;

        // A second attempt of round 0 (another host, in flight across the retry) reports its give-up late.
        var stale = run.Apply(new CallbackAttemptFailed { EventId = "f1b", Attempt = 3, IdempotencyKey = key, Error = "timeout", GaveUp = true, Round = 0 });
        Assert.False(stale.Changed);
        Assert.Equal(CallbackStatus.Pending, run.State.Callback.Status);
        Assert.Equal(0, run.State.Callback.Attempts);
        Assert.Equal(ledger, run.Ledger.Count);

        // The retried round's own give-up counts, and so does an event without a round (recorded before rounds existed).
        run.Apply(new CallbackAttemptFailed { EventId = "f2", Attempt = 1, IdempotencyKey = key, Error = "500", GaveUp = false });
        Assert.Equal(1, run.State.Callback.Attempts);
        run.Apply(new CallbackAttemptFailed { EventId = "f3", Attempt = 2, IdempotencyKey = key, Error = "500", GaveUp = true, Round = 1 });
        Assert.Equal(CallbackStatus.Failed, run.State.Callback.Status);
        Assert.True(run.Verify().IsValid);
    }

    [Fact]
    public void Callback_ReportForAnotherKey_IsANoOp()
    {
        var run = WithCallback();
        run.Approve("bob", "a");
        var result = run.Apply(new CallbackDelivered { EventId = "ok", Attempt = 1, IdempotencyKey = "other" });
        Assert.False(result.Changed);
        Assert.Equal(CallbackStatus.Pending, run.State.Callback.Status);
    }

    [Fact]
    public void Apply_EveryScenario_LeavesAVerifiableLedgerMatchingTheState()
    {
        var run = Run.Start(Kit.Stages(Parallel));
        run.Approve("bob", "mgr");
        run.Decide("carol", "cfo", DecisionKind.Comment, "checking");
        run.Approve("carol", "cfo");
        run.Approve("frank", "legal");
        run.Approve("dan", "final");
        Assert.Equal(run.State.LedgerLength, run.Ledger.Count);
        Assert.Equal(Enumerable.Range(1, run.Ledger.Count).Select(i => (long)i), run.Ledger.Select(e => e.Sequence));
        var verification = run.Verify();
        Assert.True(verification.IsValid, verification.Reason);
        Assert.Equal(run.State.LedgerHead, verification.Head);
    }

    /// <summary>A management chain that loops ends the walk (no approver) instead of naming someone twice or spinning.</summary>
    [Theory]
    [InlineData(1, "b")]
    [InlineData(2, "c")]
    [InlineData(3, null)] // c's manager is b again
    [InlineData(4, null)]
    public void ManagerOf_ChainWithACycle_StopsAtTheCycle(int levels, string? expected)
    {
        var directory = new DirectorySnapshot(
            [new DirectoryUser { Id = "a", Manager = "b" }, new DirectoryUser { Id = "b", Manager = "c" }, new DirectoryUser { Id = "c", Manager = "b" }],
            [], [], []);
        Assert.Equal(expected, directory.ManagerOf("a", levels));
    }

    [Theory]
    [InlineData(1, "b")]
    [InlineData(2, null)] // b's manager is a, the user themself
    public void ManagerOf_ChainBackToTheUser_StopsThere(int levels, string? expected)
    {
        var directory = new DirectorySnapshot([new DirectoryUser { Id = "a", Manager = "b" }, new DirectoryUser { Id = "b", Manager = "a" }], [], [], []);
        Assert.Equal(expected, directory.ManagerOf("a", levels));
    }
}
