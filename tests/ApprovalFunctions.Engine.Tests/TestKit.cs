using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

/// <summary>Shared fixtures: a directory, definitions from JSON, and a driver that feeds events to the engine.</summary>
internal static class Kit
{
    public const string Tenant = "t1";

    public static readonly DateTimeOffset T0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// alice (requester) → manager bob → carol → dan; alice's department "sales" is managed by sam.
    /// Groups: finance {erin, frank, gina}, legal {frank, hank}, ops {ivan}, team {alice, bob, erin}, empty {}.
    /// </summary>
    public static readonly DirectorySnapshot Directory = BuildDirectory([]);

    public static DirectorySnapshot BuildDirectory(IEnumerable<Delegation> delegations) => new(
        [
            new DirectoryUser { Id = "alice", Manager = "bob", Department = "sales" },
            new DirectoryUser { Id = "bob", Manager = "carol" },
            new DirectoryUser { Id = "carol", Manager = "dan" },
            new DirectoryUser { Id = "dan" },
            new DirectoryUser { Id = "erin", Groups = ["finance"] },
            new DirectoryUser { Id = "frank", Groups = ["finance", "legal"] },
            new DirectoryUser { Id = "gina", Groups = ["finance"] },
            new DirectoryUser { Id = "hank", Groups = ["legal"] },
            new DirectoryUser { Id = "ivan", Groups = ["ops"] },
            new DirectoryUser { Id = "sam" },
        ],
        [
            new DirectoryGroup { Id = "team", Members = ["alice", "bob", "erin"] },
            new DirectoryGroup { Id = "empty", Members = [] },
        ],
        [new DirectoryDepartment { Id = "sales", Manager = "sam" }],
        delegations);

    public static Delegation Delegate(string from, string to) =>
        new() { Id = "d-" + from + "-" + to, From = from, To = to, StartsAt = T0.AddDays(-1), EndsAt = T0.AddDays(30) };

    public static JsonElement Json(string json) => JsonDocument.Parse(json.Replace('\'', '"')).RootElement.Clone();

    /// <summary>Parses a definition body (single quotes allowed) and fails the test on any error.</summary>
    public static WorkflowDefinition Def(string body, string id = "wf", int priority = int.MinValue, DirectorySnapshot? directory = null)
    {
        var result = WorkflowDefinitionParser.Parse(Tenant, id, Json(body), TestRules.Instance, directory);
        Assert.True(result.Succeeded, string.Join("; ", result.Errors.Select(e => e.Path + ": " + e.Message)));
        var definition = result.Definition!;
        return priority == int.MinValue ? definition : definition with { Priority = priority };
    }

    /// <summary>A workflow with the given stages JSON (array body, single quotes allowed).</summary>
    public static WorkflowDefinition Stages(string stagesJson, string extra = "") =>
        Def("{'name':'W','model':'m','event':'create'," + extra + "'stages':" + stagesJson + "}");

    public static Submitted Submission(string requester = "alice", string record = "{}", params string[] subjects) => new()
    {
        EventId = "submit",
        RequestId = "r1",
        TenantId = Tenant,
        Requester = new Actor(requester),
        Model = "m",
        RecordId = "rec-1",
        Event = "create",
        Title = "Request",
        Record = Json(record),
        Subjects = subjects,
    };
}

/// <summary>Drives one request through the engine, keeping the full ledger, like a host would.</summary>
internal sealed class Run
{
    private int _next;

    private Run(WorkflowDefinition definition, DirectorySnapshot directory, EngineResult submitted, DateTimeOffset now)
    {
        Definition = definition;
        Directory = directory;
        Now = now;
        Last = submitted;
        State = submitted.State;
        Ledger.AddRange(submitted.Ledger);
    }

    public WorkflowDefinition Definition { get; }

    public DirectorySnapshot Directory { get; set; }

    public DateTimeOffset Now { get; set; }

    public ApprovalState State { get; private set; }

    public EngineResult Last { get; private set; }

    public List<LedgerEntry> Ledger { get; } = [];

    public static Run Start(WorkflowDefinition definition, DirectorySnapshot? directory = null, Submitted? submission = null)
    {
        var dir = directory ?? Kit.Directory;
        var result = ApprovalEngine.Submit(submission ?? Kit.Submission(), [definition], dir, Kit.T0);
        return new Run(definition, dir, result, Kit.T0);
    }

    public StageState Stage(string id) => State.Stages.Single(s => s.Id == id);

    public EngineResult Apply(ApprovalEvent evt)
    {
        Last = ApprovalEngine.Apply(State, evt, Definition, Directory, Now);
        if (Last.Refusal is null)
        {
            Assert.True(Last.Changed || Last.Ledger.Count == 0);
            State = Last.State;
            Ledger.AddRange(Last.Ledger);
        }
        else
        {
            Assert.Same(State, Last.State);
            Assert.Empty(Last.Ledger);
            Assert.Empty(Last.Intents);
        }

        return Last;
    }

    public string NextId() => "e" + (++_next).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public EngineResult Decide(string user, string stage, DecisionKind decision, string? comment = null, bool admin = false) =>
        Apply(new Decided
        {
            EventId = NextId(),
            StageId = stage,
            Actor = new Actor(user, admin),
            Decision = decision,
            Comment = comment ?? (decision == DecisionKind.Approve ? null : "because"),
        });

    public EngineResult Approve(string user, string stage) => Decide(user, stage, DecisionKind.Approve);

    public EngineResult Reject(string user, string stage) => Decide(user, stage, DecisionKind.Reject);

    public EngineResult Fire(TimerKey key) => Apply(new TimerFired { EventId = NextId(), Timer = key });

    /// <summary>The timers scheduled by the last result.</summary>
    public List<TimerKey> Scheduled() => [.. Last.Intents.OfType<ScheduleTimer>().Select(t => t.Timer)];

    public LedgerVerification Verify() => LedgerChain.Verify(State.TenantId, State.Id, Ledger, State.LedgerHead);
}
