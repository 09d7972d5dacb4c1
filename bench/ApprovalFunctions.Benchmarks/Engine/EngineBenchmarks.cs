using System.Text.Json;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.Rules;
using ApprovalFunctions.Engine.State;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace ApprovalFunctions.Benchmarks.Engine;

/// <summary>ShortRun keeps the run to about a minute on the 2-core build machine; figures are indicative.</summary>
public sealed class EngineBenchmarkConfig : ManualConfig
{
    public EngineBenchmarkConfig()
    {
        AddJob(Job.ShortRun);
        AddDiagnoser(MemoryDiagnoser.Default);
        // The build machine is shared with other builds; the median and minimum are steadier than the mean there.
        AddColumn(StatisticColumn.Median, StatisticColumn.Min);
    }
}

/// <summary>
/// <c>ApprovalEngine.Apply</c> per event on a 3-stage request (targets: at least 500k events/s per
/// core, at most 2 KB allocated per decision). Every invocation applies one event to the same
/// immutable state, so each measures exactly one decision including its SHA-256 ledger entry.
/// Figures: docs/benchmarks-engine.md.
/// </summary>
[Config(typeof(EngineBenchmarkConfig))]
public class EngineBenchmarks
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    private WorkflowDefinition _definition = null!;
    private DirectorySnapshot _directory = null!;
    private ApprovalState _fresh = null!;
    private ApprovalState _oneApproved = null!;
    private Decided _approve = null!;
    private Decided _approveCompleting = null!;
    private Decided _comment = null!;
    private ApprovalState _lastVote = null!;
    private Decided _approveFinal = null!;
    private Decided _reject = null!;
    private TimerFired _staleTimer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = new DirectorySnapshot(
            [
                new DirectoryUser { Id = "alice", Manager = "bob", Department = "sales" },
                new DirectoryUser { Id = "bob", Manager = "carol" },
                new DirectoryUser { Id = "carol" },
            ],
            [
                new DirectoryGroup { Id = "finance", Members = ["erin", "frank", "gina"] },
                new DirectoryGroup { Id = "legal", Members = ["hank", "ivan", "judy"] },
            ],
            [new DirectoryDepartment { Id = "sales", Manager = "sam" }],
            []);

        const string body = """
            {"name":"Invoice","model":"account.move","event":"create","expiresIn":"P14D",
             "callback":{"url":"https://erp.example/cb","events":["approved","rejected"]},
             "stages":[
               {"id":"finance","order":1,"approvers":[{"type":"group","id":"finance"}],"consensus":{"mode":"count","count":2},
                "reminderEvery":"PT8H","escalation":[{"after":"PT24H","approvers":[{"type":"manager","levels":2}]}],
                "timeout":{"after":"P3D","action":"reject"}},
               {"id":"manager","order":2,"approvers":[{"type":"manager","levels":1}]},
               {"id":"legal","order":3,"approvers":[{"type":"group","id":"legal"}],"consensus":{"mode":"count","count":2}}]}
            """;
        var parsed = WorkflowDefinitionParser.Parse("t1", "invoice", JsonDocument.Parse(body).RootElement, new NoRules(), _directory);
        _definition = parsed.Definition ?? throw new InvalidOperationException(string.Join("; ", parsed.Errors));

        var submitted = new Submitted
        {
            EventId = "submit-1",
            // The shape of id the API assigns (a version-7 GUID, 32 hex digits): keys built from it are as long as in production.
            RequestId = "019a8f3c5e2b7d41a6c09e8f7b3d2a15",
            TenantId = "t1",
            Requester = new Actor("alice"),
            Model = "account.move",
            RecordId = "INV-1001",
            Event = "create",
            Record = JsonDocument.Parse("""{"amount":25000,"currency":"USD"}""").RootElement.Clone(),
        };
        _fresh = ApprovalEngine.Submit(submitted, [_definition], _directory, T0).State;
        _approve = new Decided { EventId = "ev-approve", StageId = "finance", Actor = new Actor("erin"), Decision = DecisionKind.Approve, Comment = "ok" };
        _oneApproved = ApprovalEngine.Apply(_fresh, _approve, _definition, _directory, T0.AddMinutes(5)).State;
        _approveCompleting = new Decided { EventId = "ev-approve-2", StageId = "finance", Actor = new Actor("frank"), Decision = DecisionKind.Approve };
        _comment = new Decided { EventId = "ev-comment", StageId = "finance", Actor = new Actor("gina"), Decision = DecisionKind.Comment, Comment = "looking" };
        _staleTimer = new TimerFired { EventId = "ev-timer", Timer = new TimerKey(TimerKind.Escalation, "finance", 1, 2, T0.AddHours(48)) };
        if (_oneApproved.Stages[0].Remaining != 1)
        {
            throw new InvalidOperationException("setup did not record the first approval");
        }

        // Through stage 1 (erin, frank) and stage 2 (bob) to one approval of legal's two: the next approval ends the request.
        var state = ApprovalEngine.Apply(_oneApproved, _approveCompleting, _definition, _directory, T0.AddMinutes(10)).State;
        state = ApprovalEngine.Apply(state, new Decided { EventId = "ev-bob", StageId = "manager", Actor = new Actor("bob"), Decision = DecisionKind.Approve }, _definition, _directory, T0.AddMinutes(20)).State;
        _lastVote = ApprovalEngine.Apply(state, new Decided { EventId = "ev-hank", StageId = "legal", Actor = new Actor("hank"), Decision = DecisionKind.Approve }, _definition, _directory, T0.AddMinutes(30)).State;
        _approveFinal = new Decided { EventId = "ev-ivan", StageId = "legal", Actor = new Actor("ivan"), Decision = DecisionKind.Approve };
        _reject = new Decided { EventId = "ev-reject", StageId = "finance", Actor = new Actor("erin"), Decision = DecisionKind.Reject, Comment = "over budget" };
        if (_lastVote.Stages[2].Remaining != 1)
        {
            throw new InvalidOperationException("setup did not reach the last vote");
        }
    }

    /// <summary>The common decision: an approval that does not complete the stage (1 of 2).</summary>
    [Benchmark(Baseline = true)]
    public EngineResult ApproveDecision() => ApprovalEngine.Apply(_fresh, _approve, _definition, _directory, T0.AddMinutes(5));

    /// <summary>An approval that completes stage 1 and activates stage 2 (resolution, timers, inbox, events).</summary>
    [Benchmark]
    public EngineResult ApproveAdvancingStage() => ApprovalEngine.Apply(_oneApproved, _approveCompleting, _definition, _directory, T0.AddMinutes(10));

    /// <summary>The approval that completes the last stage: the request is approved and its callback starts.</summary>
    [Benchmark]
    public EngineResult ApproveFinal() => ApprovalEngine.Apply(_lastVote, _approveFinal, _definition, _directory, T0.AddMinutes(40));

    /// <summary>A rejection under veto: the stage and the request close, remaining inbox entries go, the callback starts.</summary>
    [Benchmark]
    public EngineResult RejectClosing() => ApprovalEngine.Apply(_fresh, _reject, _definition, _directory, T0.AddMinutes(5));

    /// <summary>A comment: one ledger entry, no state change beyond the chain head.</summary>
    [Benchmark]
    public EngineResult Comment() => ApprovalEngine.Apply(_fresh, _comment, _definition, _directory, T0.AddMinutes(5));

    /// <summary>A stale timer: the no-op path.</summary>
    [Benchmark]
    public EngineResult StaleTimer() => ApprovalEngine.Apply(_fresh, _staleTimer, _definition, _directory, T0.AddHours(48));

    /// <summary>One ledger entry alone (canonical encoding + SHA-256 + hex), to see its share of a decision.</summary>
    [Benchmark]
    public LedgerEntry LedgerAppend() =>
        LedgerChain.Append(_fresh.LedgerHead, _fresh.LedgerLength + 1, T0, "erin", null, "approve", "finance", "ok", null, 1);

    /// <summary>The benchmark definition has no rules; preparing one is a setup bug.</summary>
    private sealed class NoRules : IRuleEvaluator
    {
        public RulePreparation Prepare(JsonElement rule) => new(null, [new RuleProblem("$", "the engine benchmark uses no rules")]);
    }
}
