using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class TimerTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private const string Timed =
        "[{'id':'a','order':1,'approvers':[{'type':'user','id':'bob'}],'reminderEvery':'PT8H'," +
        "'escalation':[{'after':'PT24H','approvers':[{'type':'group','id':'finance'}]},{'after':'PT48H','approvers':[{'type':'user','id':'ivan'}]}]," +
        "'timeout':{'after':'P3D','action':'%ACTION%'}}," +
        "{'id':'b','order':2,'approvers':[{'type':'user','id':'carol'}],'escalation':[{'after':'PT24H','approvers':[{'type':'user','id':'dan'}]}]}]";

    private static Run StartTimed(string action = "reject") =>
        Run.Start(Kit.Stages(Timed.Replace("%ACTION%", action, StringComparison.Ordinal), "'expiresIn':'P14D',"));

    private static TimerKey Key(TimerKind kind, string? stage, int sequence, TimeSpan after, int iteration = 1) =>
        new(kind, stage, iteration, sequence, Kit.T0 + after);

    [Fact]
    public void Submit_StageWithTimers_SchedulesReminderEachEscalationTimeoutAndExpiry()
    {
        var run = StartTimed();
        Assert.Equal(
            [
                Key(TimerKind.RequestExpiry, null, 0, TimeSpan.FromDays(14)),
                Key(TimerKind.Reminder, "a", 1, 8 * Hour),
                Key(TimerKind.Escalation, "a", 1, 24 * Hour),
                Key(TimerKind.Escalation, "a", 2, 48 * Hour),
                Key(TimerKind.StageTimeout, "a", 0, TimeSpan.FromDays(3)),
            ],
            run.Scheduled());
        Assert.Equal(Kit.T0 + TimeSpan.FromDays(3), run.Stage("a").DueAt);
    }

    [Fact]
    public void Reminder_Fired_NotifiesPendingApproversAndSchedulesTheNext()
    {
        var run = StartTimed();
        run.Now = Kit.T0 + 8 * Hour;
        run.Fire(Key(TimerKind.Reminder, "a", 1, 8 * Hour));
        Assert.True(run.Last.Changed);
        Assert.Equal(["bob"], Assert.Single(run.Last.Intents.OfType<Notify>(), n => n.Kind == NotificationKind.Reminder).Users);
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "stage.reminder");
        Assert.Equal(Key(TimerKind.Reminder, "a", 2, 16 * Hour), Assert.Single(run.Scheduled()));
        Assert.Equal(1, run.Stage("a").RemindersSent);

        run.Now = Kit.T0 + 16 * Hour;
        run.Fire(Key(TimerKind.Reminder, "a", 2, 16 * Hour));
        Assert.Equal(2, run.Stage("a").RemindersSent);
        Assert.Equal(Key(TimerKind.Reminder, "a", 3, 24 * Hour), Assert.Single(run.Scheduled()));
    }

    [Fact]
    public void Reminder_FiredTwice_SecondIsANoOp()
    {
        var run = StartTimed();
        run.Now = Kit.T0 + 8 * Hour;
        run.Fire(Key(TimerKind.Reminder, "a", 1, 8 * Hour));
        var state = run.State;
        var again = run.Fire(Key(TimerKind.Reminder, "a", 1, 8 * Hour));
        Assert.True(again.Accepted);
        Assert.False(again.Changed);
        Assert.Empty(again.Intents);
        Assert.Same(state, run.State);
    }

    [Fact]
    public void Escalation_EachLevel_FiresOnceAndAddsApprovers()
    {
        var run = StartTimed();
        run.Now = Kit.T0 + 24 * Hour;
        run.Fire(Key(TimerKind.Escalation, "a", 1, 24 * Hour));
        Assert.Equal(1, run.Stage("a").EscalationLevel);
        Assert.Equal(["bob", "erin", "frank", "gina"], run.Stage("a").Approvers);
        Assert.Equal(["erin", "frank", "gina"], run.Last.Intents.OfType<InboxAdd>().Select(i => i.UserId));
        Assert.Equal(["erin", "frank", "gina"], Assert.Single(run.Last.Intents.OfType<Notify>()).Users);
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "stage.escalated");

        Assert.False(run.Fire(Key(TimerKind.Escalation, "a", 1, 24 * Hour)).Changed);

        run.Now = Kit.T0 + 48 * Hour;
        run.Fire(Key(TimerKind.Escalation, "a", 2, 48 * Hour));
        Assert.Equal(2, run.Stage("a").EscalationLevel);
        Assert.Contains("ivan", run.Stage("a").Approvers);

        // An escalated approver can decide.
        run.Approve("frank", "a");
        Assert.Equal(StageStatus.Approved, run.Stage("a").Status);
    }

    [Fact]
    public void Escalation_LevelOutOfTurn_IsANoOp()
    {
        var run = StartTimed();
        run.Now = Kit.T0 + 48 * Hour;
        Assert.False(run.Fire(Key(TimerKind.Escalation, "a", 2, 48 * Hour)).Changed);
        Assert.Equal(0, run.Stage("a").EscalationLevel);
    }

    [Fact]
    public void Escalation_AfterStageAdvanced_ResetsForTheNextStageAndOldTimersAreNoOps()
    {
        var run = StartTimed();
        run.Now = Kit.T0 + 24 * Hour;
        run.Fire(Key(TimerKind.Escalation, "a", 1, 24 * Hour));
        run.Now = Kit.T0 + 30 * Hour;
        run.Approve("bob", "a");
        Assert.Equal(0, run.Stage("b").EscalationLevel);
        Assert.Contains(Key(TimerKind.Escalation, "b", 1, 54 * Hour), run.Scheduled());

        run.Now = Kit.T0 + 48 * Hour;
        Assert.False(run.Fire(Key(TimerKind.Escalation, "a", 2, 48 * Hour)).Changed);
        Assert.False(run.Fire(Key(TimerKind.StageTimeout, "a", 0, TimeSpan.FromDays(3))).Changed);

        run.Now = Kit.T0 + 54 * Hour;
        run.Fire(Key(TimerKind.Escalation, "b", 1, 54 * Hour));
        Assert.Equal(1, run.Stage("b").EscalationLevel);
    }

    [Theory]
    [InlineData("reject", StageStatus.Rejected, RequestStatus.Rejected)]
    [InlineData("expire", StageStatus.Expired, RequestStatus.Expired)]
    public void Timeout_Fired_RejectsOrExpiresTheStageAndRequest(string action, StageStatus stageStatus, RequestStatus requestStatus)
    {
        var run = StartTimed(action);
        run.Now = Kit.T0 + TimeSpan.FromDays(3);
        run.Fire(Key(TimerKind.StageTimeout, "a", 0, TimeSpan.FromDays(3)));
        Assert.Equal(stageStatus, run.Stage("a").Status);
        Assert.Equal(requestStatus, run.State.Status);
        Assert.Equal(StageStatus.Cancelled, run.Stage("b").Status);
        Assert.Contains(new InboxRemove("bob", "a", false), run.Last.Intents);
    }

    [Fact]
    public void Expiry_Fired_ExpiresThePendingRequest()
    {
        var run = StartTimed();
        run.Now = Kit.T0 + TimeSpan.FromDays(14);
        run.Fire(Key(TimerKind.RequestExpiry, null, 0, TimeSpan.FromDays(14)));
        Assert.Equal(RequestStatus.Expired, run.State.Status);
        Assert.Equal(StageStatus.Expired, run.Stage("a").Status);
        Assert.Contains(run.Last.Intents.OfType<EmitEvent>(), e => e.EventType == "approval.expired");
    }

    [Theory]
    [InlineData(TimerKind.Reminder, 1, 8)]
    [InlineData(TimerKind.Escalation, 1, 24)]
    [InlineData(TimerKind.StageTimeout, 0, 72)]
    [InlineData(TimerKind.RequestExpiry, 0, 336)]
    public void Timer_AfterRequestClosed_IsANoOp(TimerKind kind, int sequence, int hours)
    {
        var run = StartTimed();
        run.Approve("bob", "a");
        run.Approve("carol", "b");
        Assert.Equal(RequestStatus.Approved, run.State.Status);
        var state = run.State;
        run.Now = Kit.T0 + hours * Hour;
        var result = run.Fire(Key(kind, kind == TimerKind.RequestExpiry ? null : "a", sequence, hours * Hour));
        Assert.True(result.Accepted);
        Assert.False(result.Changed);
        Assert.Same(state, run.State);
    }

    [Theory]
    [InlineData(TimerKind.Reminder, 1, 9, 1)]      // wrong due time
    [InlineData(TimerKind.Reminder, 2, 8, 1)]      // wrong reminder number
    [InlineData(TimerKind.Escalation, 1, 24, 2)]   // another iteration
    [InlineData(TimerKind.StageTimeout, 0, 71, 1)] // wrong due time
    [InlineData(TimerKind.RequestExpiry, 0, 335, 1)]
    public void Timer_WithKeyNotMatchingState_IsANoOp(TimerKind kind, int sequence, int hours, int iteration)
    {
        var run = StartTimed();
        var state = run.State;
        run.Now = Kit.T0 + TimeSpan.FromDays(20);
        var result = run.Fire(Key(kind, kind == TimerKind.RequestExpiry ? null : "a", sequence, hours * Hour, iteration));
        Assert.False(result.Changed);
        Assert.Same(state, run.State);
    }

    [Fact]
    public void Timers_AllFired_NeverApprove()
    {
        var run = StartTimed();
        var keys = new[]
        {
            Key(TimerKind.Reminder, "a", 1, 8 * Hour),
            Key(TimerKind.Escalation, "a", 1, 24 * Hour),
            Key(TimerKind.Escalation, "a", 2, 48 * Hour),
            Key(TimerKind.StageTimeout, "a", 0, TimeSpan.FromDays(3)),
            Key(TimerKind.RequestExpiry, null, 0, TimeSpan.FromDays(14)),
        };
        foreach (var key in keys)
        {
            run.Now = key.DueAt;
            run.Fire(key);
            Assert.NotEqual(RequestStatus.Approved, run.State.Status);
            Assert.DoesNotContain(run.State.Stages, s => s.Status == StageStatus.Approved);
        }

        Assert.Equal(RequestStatus.Rejected, run.State.Status);
    }

    [Fact]
    public void NextTimer_PendingStage_IsTheEarliestDeadlineAndFollowsState()
    {
        var run = StartTimed();
        var definition = run.Definition;
        Assert.Equal(Key(TimerKind.Reminder, "a", 1, 8 * Hour), ApprovalEngine.NextTimer(run.State, definition));

        run.Now = Kit.T0 + 8 * Hour;
        run.Fire(Key(TimerKind.Reminder, "a", 1, 8 * Hour));
        run.Now = Kit.T0 + 16 * Hour;
        run.Fire(Key(TimerKind.Reminder, "a", 2, 16 * Hour));
        // Reminder 3 and escalation 1 are both due at 24h; either is a correct answer, both are at 24h.
        Assert.Equal(Kit.T0 + 24 * Hour, ApprovalEngine.NextTimer(run.State, definition)!.DueAt);

        run.Approve("bob", "a");
        Assert.Equal(Key(TimerKind.Escalation, "b", 1, 40 * Hour), ApprovalEngine.NextTimer(run.State, definition));

        run.Approve("carol", "b");
        Assert.Null(ApprovalEngine.NextTimer(run.State, definition));
    }

    [Fact]
    public void NextTimer_OnlyExpiry_ReturnsExpiryAndNullWithoutTimers()
    {
        var withExpiry = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]", "'expiresIn':'P1D',"));
        Assert.Equal(Key(TimerKind.RequestExpiry, null, 0, TimeSpan.FromDays(1)), ApprovalEngine.NextTimer(withExpiry.State, withExpiry.Definition));
        var none = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]}]"));
        Assert.Null(ApprovalEngine.NextTimer(none.State, none.Definition));
    }

    [Fact]
    public void Reminder_FiredLate_SchedulesNextFromNowNotInThePast()
    {
        var run = StartTimed();
        run.Now = Kit.T0 + 30 * Hour;
        run.Fire(Key(TimerKind.Reminder, "a", 1, 8 * Hour));
        Assert.Equal(Kit.T0 + 38 * Hour, Assert.Single(run.Scheduled()).DueAt);
    }
}
