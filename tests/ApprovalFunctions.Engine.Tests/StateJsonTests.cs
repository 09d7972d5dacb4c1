using System.Text.Json;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class StateJsonTests
{
    private static Run Busy()
    {
        var run = Run.Start(Kit.Stages(
            "[{'id':'a','approvers':[{'type':'user','id':'bob'}],'reminderEvery':'PT1H'},{'id':'b','order':2,'approvers':[{'type':'group','id':'finance'}],'consensus':{'mode':'count','count':2}}]",
            "'callback':{'url':'https://x.example/cb','events':['approved']},"));
        run.Decide("bob", "a", DecisionKind.RequestChanges, "more");
        run.Apply(new Resubmitted { EventId = "rs", Actor = new Actor("alice"), Record = Kit.Json("{'amount':2}") });
        run.Approve("bob", "a");
        run.Approve("erin", "b");
        return run;
    }

    [Fact]
    public void Serialize_StateRoundTrip_IsLossless()
    {
        var run = Busy();
        var json = StateJson.Serialize(run.State);
        var back = StateJson.Deserialize(json);
        Assert.Equal(json, StateJson.Serialize(back));
        Assert.Equal(run.State.LedgerHead, back.LedgerHead);
        Assert.Equal(2, back.Iteration);
        Assert.Single(back.PreviousIterations);

        // The restored state drives the engine exactly like the original.
        var evt = new Decided { EventId = "z", StageId = "b", Actor = new Actor("gina"), Decision = DecisionKind.Approve };
        var fromOriginal = ApprovalEngine.Apply(run.State, evt, run.Definition, run.Directory, run.Now);
        var fromRestored = ApprovalEngine.Apply(back, evt, run.Definition, run.Directory, run.Now);
        Assert.Equal(StateJson.Serialize(fromOriginal.State), StateJson.Serialize(fromRestored.State));
        Assert.Equal(fromOriginal.Ledger, fromRestored.Ledger);
        Assert.Equal(RequestStatus.Approved, fromRestored.State.Status);
    }

    [Fact]
    public void Serialize_State_UsesCamelCaseAndCamelCaseEnumStrings()
    {
        var json = JsonDocument.Parse(StateJson.Serialize(Busy().State)).RootElement;
        Assert.Equal("pending", json.GetProperty("status").GetString());
        Assert.Equal("approved", json.GetProperty("stages")[0].GetProperty("status").GetString());
        Assert.Equal("changesRequested", json.GetProperty("previousIterations")[0].GetProperty("outcome").GetString());
        Assert.Equal("requestChanges", json.GetProperty("previousIterations")[0].GetProperty("stages")[0].GetProperty("responses")[0].GetProperty("decision").GetString());
        Assert.False(json.TryGetProperty("isClosed", out _));
    }

    public static TheoryData<ApprovalEvent> Events =>
    [
        Kit.Submission(record: "{'amount':5}", subjects: ["dave"]),
        new Decided { EventId = "1", StageId = "s", Actor = new Actor("bob", true, "integ"), Decision = DecisionKind.RequestChanges, Comment = "c" },
        new Resubmitted { EventId = "2", Actor = new Actor("alice"), Record = Kit.Json("{'a':[1,2]}"), Title = "t" },
        new CancelRequested { EventId = "3", Actor = new Actor("alice"), Reason = "why" },
        new Reassigned { EventId = "4", StageId = "s", From = "a", To = "b", Actor = new Actor("root", true) },
        new DelegationInEffect { EventId = "5", Delegation = Kit.Delegate("bob", "ivan") },
        new TimerFired { EventId = "6", Timer = new TimerKey(TimerKind.Escalation, "s", 2, 1, Kit.T0) },
        new CallbackDelivered { EventId = "7", Attempt = 2, IdempotencyKey = "k" },
        new CallbackAttemptFailed { EventId = "8", Attempt = 1, IdempotencyKey = "k", Error = "503", GaveUp = true },
        new CallbackRetryRequested { EventId = "9", Actor = new Actor("root", true) },
    ];

    [Theory]
    [MemberData(nameof(Events))]
    public void SerializeEvent_EveryKind_RoundTripsWithTypeDiscriminator(ApprovalEvent evt)
    {
        var json = StateJson.SerializeEvent(evt);
        Assert.StartsWith("{\"type\":\"", json, StringComparison.Ordinal);
        var back = StateJson.DeserializeEvent(json);
        Assert.IsType(evt.GetType(), back);
        Assert.Equal(json, StateJson.SerializeEvent(back));
    }

    [Fact]
    public void DeserializeEvent_DiscriminatorNotFirst_IsAccepted()
    {
        var back = StateJson.DeserializeEvent("""{"eventId":"x","attempt":1,"idempotencyKey":"k","type":"callbackDelivered"}""");
        Assert.Equal(new CallbackDelivered { EventId = "x", Attempt = 1, IdempotencyKey = "k" }, back);
    }

    [Fact]
    public void SerializeIntent_AndLedgerAndTimer_RoundTrip()
    {
        var run = Busy();
        foreach (var intent in run.Last.Intents.Concat([new ScheduleTimer(new TimerKey(TimerKind.Reminder, "a", 1, 1, Kit.T0))]))
        {
            var json = StateJson.SerializeIntent(intent);
            Assert.Equal(json, StateJson.SerializeIntent(StateJson.DeserializeIntent(json)));
        }

        var entry = run.Ledger[^1];
        Assert.Equal(entry, StateJson.DeserializeLedgerEntry(StateJson.SerializeLedgerEntry(entry)));
        var timer = new TimerKey(TimerKind.StageTimeout, "a", 3, 0, Kit.T0);
        Assert.Equal(timer, StateJson.DeserializeTimer(StateJson.SerializeTimer(timer)));
        Assert.Contains("\"kind\":\"stageTimeout\"", StateJson.SerializeTimer(timer), StringComparison.Ordinal);
    }

    [Fact]
    public void EmitEvent_KeyFormattedOnDemand_EqualsTheSameKeyGivenExplicitly_AndSurvivesJson()
    {
        var run = Run.Start(Kit.Stages("[{'id':'a','approvers':[{'type':'user','id':'bob'}]},{'id':'b','order':2,'approvers':[{'type':'user','id':'carol'}]}]"));
        run.Approve("bob", "a");
        var emitted = run.Last.Intents.OfType<EmitEvent>().First(e => e.StageId == "b");
        var expected = $"{run.State.Id}:{run.State.Iteration}:{emitted.EventType}:{emitted.StageId}:";
        Assert.StartsWith(expected, emitted.IdempotencyKey, StringComparison.Ordinal);
        Assert.Equal(emitted.IdempotencyKey, emitted.IdempotencyKey); // stable across reads

        var explicitKey = new EmitEvent(emitted.EventType, emitted.StageId, emitted.Users, emitted.IdempotencyKey);
        Assert.Equal(explicitKey, emitted);
        Assert.Equal(explicitKey.GetHashCode(), emitted.GetHashCode());
        Assert.NotEqual(new EmitEvent(emitted.EventType, emitted.StageId, emitted.Users, emitted.IdempotencyKey + "x"), emitted);

        var back = (EmitEvent)StateJson.DeserializeIntent(StateJson.SerializeIntent(emitted));
        Assert.Equal(emitted.IdempotencyKey, back.IdempotencyKey);
        Assert.Equal(emitted.Users, back.Users);
        Assert.Contains("\"idempotencyKey\":\"" + emitted.IdempotencyKey + "\"", StateJson.SerializeIntent(emitted), StringComparison.Ordinal);
    }

    [Fact]
    public void Times_KeepTheirInstant_WithOffsetZero_AndNoneStaysNone()
    {
        var plus2 = new DateTimeOffset(2026, 3, 1, 12, 30, 0, TimeSpan.FromHours(2));
        var stage = new StageState { Id = "s", ActivatedAt = plus2, DueAt = DateTimeOffset.MinValue };
        Assert.Equal(plus2, stage.ActivatedAt); // the same instant ...
        Assert.Equal(TimeSpan.Zero, stage.ActivatedAt!.Value.Offset); // ... read back in UTC
        Assert.Equal(DateTimeOffset.MinValue, stage.DueAt); // the smallest instant is not "none"
        Assert.Null(stage.ClosedAt);
        Assert.Null(stage.NextReminderAt);
        Assert.Null((stage with { ActivatedAt = null }).ActivatedAt);
        Assert.Equal(stage, stage with { ActivatedAt = plus2.ToUniversalTime() }); // equality is by instant, as before

        var response = new StageResponse("bob", DecisionKind.Approve, null, null, plus2);
        Assert.Equal(plus2.UtcDateTime, response.At.UtcDateTime);
        Assert.Equal(plus2, (response with { Comment = "c" }).At);

        var json = StateJson.Serialize(Busy().State);
        var back = StateJson.Deserialize(json);
        Assert.Equal(json, StateJson.Serialize(back));
        Assert.Contains("+00:00\"", json, StringComparison.Ordinal);
    }
}
