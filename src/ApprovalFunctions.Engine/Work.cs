using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.Ledger;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine;

/// <summary>
/// The mutable scratchpad of one engine step: it collects stage changes, ledger entries and intents,
/// then builds the new immutable state once. Never escapes the engine.
/// </summary>
internal sealed class Work
{
    private const int RecentEventCapacity = 64;

    private readonly ApprovalState _original;
    private JsonElement? _ruleData;
    private List<LedgerEntry>? _ledger;
    private List<EngineIntent>? _intents;

    public Work(ApprovalState original, WorkflowDefinition? definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        _original = original;
        Definition = definition;
        Directory = directory;
        Now = now;
        Stages = [.. original.Stages];
        Status = original.Status;
        DecidedAt = original.DecidedAt;
        ExpiresAt = original.ExpiresAt;
        Callback = original.Callback;
        QuarantineReason = original.QuarantineReason;
        LedgerHead = original.LedgerHead;
        LedgerLength = original.LedgerLength;
        Iteration = original.Iteration;
        Record = original.Record;
        Title = original.Title;
        PreviousIterations = original.PreviousIterations;
        Workflow = original.Workflow;
    }

    public WorkflowDefinition? Definition { get; }

    public DirectorySnapshot Directory { get; }

    public DateTimeOffset Now { get; }

    public StageState[] Stages { get; set; }

    public RequestStatus Status { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public CallbackState Callback { get; set; }

    public string? QuarantineReason { get; set; }

    public string LedgerHead { get; private set; }

    public long LedgerLength { get; private set; }

    public int Iteration { get; set; }

    public JsonElement Record { get; set; }

    public string? Title { get; set; }

    public WorkflowRef? Workflow { get; set; }

    public IReadOnlyList<IterationSummary> PreviousIterations { get; set; }

    public ApprovalState Original => _original;

    public string Requester => _original.Requester;

    public IReadOnlyList<string> Subjects => _original.Subjects;

    public bool AllowSelfApproval => Definition?.AllowSelfApproval ?? false;

    public int LedgerCount => _ledger?.Count ?? 0;

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
        (_ledger ??= new List<LedgerEntry>(4)).Add(entry);
        return entry;
    }

    public void Do(EngineIntent intent) => (_intents ??= new List<EngineIntent>(4)).Add(intent);

    /// <summary>A stable idempotency key for an outbound emission: request, iteration, event, stage and the ledger position it follows.</summary>
    public string EmissionKey(string eventType, string? stageId) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{_original.Id}:{Iteration}:{eventType}:{stageId}:{LedgerLength}");

    public void Emit(string eventType, string? stageId, IReadOnlyList<string> users) =>
        Do(new EmitEvent(eventType, stageId, users, EmissionKey(eventType, stageId)));

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
        return new EngineResult(state, (IReadOnlyList<LedgerEntry>?)_ledger ?? [], (IReadOnlyList<EngineIntent>?)_intents ?? []);
    }
}
