using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.Stages;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine;

/// <summary>
/// The mutable scratchpad of one engine step: it collects stage changes, ledger entries and intents,
/// then builds the new immutable state once. Never escapes the engine.
/// </summary>
/// <remarks>
/// A step starts with <see cref="Start"/> and ends with <see cref="Result"/>, which hands the
/// scratchpad back for the thread's next step (its collecting lists included), so a decision does
/// not allocate one; the result gets exact-size copies. A step that takes one while another is in
/// progress on the thread gets a fresh one, and a step abandoned by an exception simply leaves its
/// scratchpad to the garbage collector.
/// </remarks>
internal sealed class Work : IRuleDataSource
{
    private const int RecentEventCapacity = 64;

    [ThreadStatic]
    private static Work? t_spare;

    // Eight intents cover a stage-advancing decision (inbox changes, notify, event, timers) without regrowing.
    private readonly List<LedgerEntry> _ledger = new(4);
    private readonly List<EngineIntent> _intents = new(8);
    private ApprovalState _original = null!;
    private JsonElement? _ruleData;

    private Work()
    {
    }

    /// <summary>A scratchpad for one step on <paramref name="original"/>.</summary>
    public static Work Start(ApprovalState original, WorkflowDefinition? definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        var work = t_spare ?? new Work();
        t_spare = null;
        work._original = original;
        work._ruleData = null;
        work.Definition = definition;
        work.Directory = directory;
        work.Now = now;
        work.Stages = [.. original.Stages];
        work.Status = original.Status;
        work.DecidedAt = original.DecidedAt;
        work.ExpiresAt = original.ExpiresAt;
        work.Callback = original.Callback;
        work.QuarantineReason = original.QuarantineReason;
        work.LedgerHead = original.LedgerHead;
        work.LedgerLength = original.LedgerLength;
        work.Iteration = original.Iteration;
        work.Record = original.Record;
        work.Title = original.Title;
        work.PreviousIterations = original.PreviousIterations;
        work.Workflow = original.Workflow;
        return work;
    }

    public WorkflowDefinition? Definition { get; private set; }

    public DirectorySnapshot Directory { get; private set; } = null!;

    public DateTimeOffset Now { get; private set; }

    public StageState[] Stages { get; set; } = [];

    public RequestStatus Status { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public CallbackState Callback { get; set; } = CallbackState.NotConfigured;

    public string? QuarantineReason { get; set; }

    public LedgerHash LedgerHead { get; private set; } = LedgerHash.None;

    public long LedgerLength { get; private set; }

    public int Iteration { get; set; }

    public JsonElement Record { get; set; }

    public string? Title { get; set; }

    public WorkflowRef? Workflow { get; set; }

    public IReadOnlyList<IterationSummary> PreviousIterations { get; set; } = [];

    public ApprovalState Original => _original;

    public string Requester => _original.Requester;

    public IReadOnlyList<string> Subjects => _original.Subjects;

    public bool AllowSelfApproval => Definition?.AllowSelfApproval ?? false;

    public int LedgerCount => _ledger.Count;

    /// <summary>The rule data for the current record, built once per step and only when a rule needs it.</summary>
    public JsonElement GetRuleData()
    {
        _ruleData ??= ApprovalFunctions.Engine.RuleData.Build(Record, _original.Requester, Directory, _original.Context);
        return _ruleData.Value;
    }

    public void InvalidateRuleData() => _ruleData = null;

    public LedgerEntry Log(string actor, string? onBehalfOf, string action, string? stageId, string? comment, string? detail)
    {
        var entry = LedgerChain.Append(LedgerHead, LedgerLength + 1, Now, actor, onBehalfOf, action, stageId, comment, detail, Iteration);
        LedgerHead = entry.Hash;
        LedgerLength = entry.Sequence;
        _ledger.Add(entry);
        return entry;
    }

    public void Do(EngineIntent intent) => _intents.Add(intent);

    /// <summary>An outbound emission; its idempotency key (request, iteration, event, stage, the ledger position it follows) is formatted only if a host reads it.</summary>
    public void Emit(string eventType, string? stageId, IReadOnlyList<string> users) =>
        Do(new EmitEvent(eventType, stageId, users, _original.Id, Iteration, LedgerLength));

    public int IndexOfStage(string stageId)
    {
        for (var i = 0; i < Stages.Length; i++)
        {
            if (string.Equals(Stages[i].Id, stageId, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    public EngineResult Result(string? eventId)
    {
        IReadOnlyList<string> recent = _original.RecentEventIds;
        if (eventId is not null)
        {
            var keep = Math.Min(recent.Count, RecentEventCapacity - 1);
            var next = new string[keep + 1];
            for (var i = 0; i < keep; i++)
            {
                next[i] = recent[recent.Count - keep + i];
            }

            next[keep] = eventId;
            recent = next;
        }

        var state = _original with
        {
            Status = Status,
            Stages = Stages,
            DecidedAt = DecidedAt,
            ExpiresAt = ExpiresAt,
            Callback = Callback,
            QuarantineReason = QuarantineReason,
            LedgerHead = LedgerHead,
            LedgerLength = LedgerLength,
            Iteration = Iteration,
            Record = Record,
            Title = Title,
            Workflow = Workflow,
            PreviousIterations = PreviousIterations,
            UpdatedAt = Now,
            RecentEventIds = recent,
        };
        var result = new EngineResult(state, _ledger.Count == 0 ? [] : _ledger.ToArray(), _intents.Count == 0 ? [] : _intents.ToArray());
        Release();
        return result;
    }

    /// <summary>Forgets this step (so nothing it referenced is kept alive) and offers the scratchpad to the thread's next step.</summary>
    private void Release()
    {
        _ledger.Clear();
        _intents.Clear();
        _original = null!;
        _ruleData = null;
        Definition = null;
        Directory = null!;
        Stages = [];
        Callback = CallbackState.NotConfigured;
        QuarantineReason = null;
        LedgerHead = LedgerHash.None;
        Record = default;
        Title = null;
        PreviousIterations = [];
        Workflow = null;
        t_spare = this;
    }
}
