using System.Buffers;
using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.Intents;
using ApprovalFunctions.Engine.Stages;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine;

/// <summary>
/// The approval state machine: (state, event, now) → (new state, ledger entries, intents).
/// Pure and deterministic: no I/O, no clock (time is the <c>now</c> argument), no randomness, so a
/// Durable Functions orchestrator can replay it and tests need no fakes.
/// </summary>
/// <remarks>
/// <para>Guards enforced here, not in hosts: only a pending stage of a pending request accepts
/// decisions; the requester and subjects never decide (not as approvers, not through a group, not
/// as a delegate, not for a principal who is one); one vote per distinct human per stage (a
/// delegate acting for two approvers still votes once), and a principal whose slot a delegate used
/// cannot vote again; decisions on a closed request are refused with <see cref="RefusalCode.RequestClosed"/>.</para>
/// <para>Timers are scheduled, never cancelled. A <see cref="TimerFired"/> whose key does not match the
/// state (other iteration, stage no longer pending, escalation level not the next one, reminder not the
/// next one, due time not the one the state implies) is accepted and changes nothing
/// (<see cref="EngineResult.Changed"/> is false). Nothing is ever approved by a timer.</para>
/// <para>Every accepted state-changing event appends at least one ledger entry (comments included),
/// so <see cref="EngineResult.Changed"/> is exactly "there is something to persist". Event ids are
/// remembered (the last 64); a repeated id returns <see cref="EngineResult.Duplicate"/> and changes nothing.</para>
/// </remarks>
public static class ApprovalEngine
{
    private const string SystemActor = "system";
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>
    /// Starts a request: selects the workflow among <paramref name="candidates"/> (only the submitting
    /// tenant's active definitions for the model and event count; see <see cref="WorkflowSelector"/>),
    /// then activates the first order of stages.
    /// </summary>
    /// <returns>
    /// A result whose state is <see cref="RequestStatus.Pending"/> (stages activated;
    /// <see cref="ApprovalState.Workflow"/> names the selected version), <see cref="RequestStatus.NotRequired"/>
    /// (no workflow applies; the ledger gets one <c>notRequired</c> entry) or
    /// <see cref="RequestStatus.Quarantined"/> (a rule failed; see <see cref="ApprovalState.QuarantineReason"/>).
    /// A workflow whose every stage is skipped approves at once.
    /// </returns>
    public static EngineResult Submit(Submitted submitted, IReadOnlyList<WorkflowDefinition> candidates, DirectorySnapshot directory, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(submitted);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(directory);
        var record = submitted.Record.ValueKind == JsonValueKind.Undefined ? EmptyObject : submitted.Record;
        var state = new ApprovalState
        {
            TenantId = submitted.TenantId,
            Id = submitted.RequestId,
            Status = RequestStatus.Pending,
            Model = submitted.Model,
            RecordId = submitted.RecordId,
            Event = submitted.Event,
            Title = submitted.Title,
            Description = submitted.Description,
            Requester = submitted.Requester.UserId,
            Subjects = [.. submitted.Subjects],
            Record = record,
            Context = submitted.Context is { ValueKind: not JsonValueKind.Undefined } context ? context : null,
            CreatedAt = now,
            UpdatedAt = now,
            LedgerHead = Ledger.LedgerChain.Genesis(submitted.TenantId, submitted.RequestId),
        };

        var tenantCandidates = new List<WorkflowDefinition>(candidates.Count);
        foreach (var candidate in candidates)
        {
            if (string.Equals(candidate.TenantId, submitted.TenantId, StringComparison.Ordinal))
            {
                tenantCandidates.Add(candidate);
            }
        }

        var ruleData = RuleData.Build(record, state.Requester, directory, state.Context);
        var selection = WorkflowSelector.Select(tenantCandidates, submitted.Model, submitted.Event, ruleData);
        var requester = submitted.Requester.UserId;
        switch (selection)
        {
            case Selected selected:
            {
                var definition = selected.Definition;
                var work = Work.Start(state, definition, directory, now);
                work.Workflow = new WorkflowRef(definition.Id, definition.Version);
                work.Stages = NewStages(definition);
                work.Log(requester, null, "submitted", null, null,
                    Detail.Object("workflow", definition.Id, "version", definition.Version));
                work.Emit("approval.created", null, []);
                if (definition.ExpiresIn is { } expiresIn)
                {
                    work.ExpiresAt = now + expiresIn;
                    work.Do(new ScheduleTimer(new TimerKey(TimerKind.RequestExpiry, null, work.Iteration, 0, now + expiresIn)));
                }

                ActivateNext(work);
                return work.Result(submitted.EventId);
            }

            case Quarantined quarantined:
            {
                var work = Work.Start(state, null, directory, now);
                work.Status = RequestStatus.Quarantined;
                work.QuarantineReason = quarantined.Reason;
                work.DecidedAt = now;
                work.Log(requester, null, "quarantined", null, quarantined.Reason, null);
                work.Emit("approval.quarantined", null, []);
                return work.Result(submitted.EventId);
            }

            default:
            {
                var work = Work.Start(state, null, directory, now);
                work.Status = RequestStatus.NotRequired;
                work.DecidedAt = now;
                work.Log(requester, null, "notRequired", null, selection.Explanation, null);
                return work.Result(submitted.EventId);
            }
        }
    }

    /// <summary>
    /// Applies any event after submission.
    /// </summary>
    /// <param name="state">The current state.</param>
    /// <param name="evt">The event. A <see cref="Submitted"/> here is refused (use <see cref="Submit"/>).</param>
    /// <param name="definition">The workflow version the request runs (<see cref="ApprovalState.Workflow"/>); another id or version throws <see cref="ArgumentException"/>.</param>
    /// <param name="directory">The tenant directory now (for delegations, group membership, escalation and rework resolution).</param>
    /// <param name="now">The current time; the only clock the engine knows.</param>
    public static EngineResult Apply(ApprovalState state, ApprovalEvent evt, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(evt);
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(directory);
        if (state.Workflow is { } running && (!string.Equals(running.Id, definition.Id, StringComparison.Ordinal) || running.Version != definition.Version))
        {
            // A host bug, not a client mistake: applying another version would silently change the rules mid-request.
            throw new ArgumentException(
                FormattableString.Invariant($"the request runs workflow '{running.Id}' v{running.Version}, not '{definition.Id}' v{definition.Version}"),
                nameof(definition));
        }

        if (IsRecent(state, evt.EventId))
        {
            return new EngineResult(state, [], [], null, Duplicate: true);
        }

        return evt switch
        {
            Decided decided => Decide(state, decided, definition, directory, now),
            TimerFired timer => FireTimer(state, timer, definition, directory, now),
            CancelRequested cancel => Cancel(state, cancel, definition, directory, now),
            Resubmitted resubmit => Resubmit(state, resubmit, definition, directory, now),
            Reassigned reassign => Reassign(state, reassign, definition, directory, now),
            DelegationInEffect delegation => ApplyDelegation(state, delegation, definition, directory, now),
            CallbackDelivered delivered => CallbackOk(state, delivered, definition, directory, now),
            CallbackAttemptFailed failed => CallbackFailed(state, failed, definition, directory, now),
            CallbackRetryRequested retry => CallbackRetry(state, retry, definition, directory, now),
            Submitted => Refuse(state, RefusalCode.InvalidState, "the request was already submitted"),
            _ => Refuse(state, RefusalCode.Invalid, "unknown event type " + evt.GetType().Name),
        };
    }

    /// <summary>
    /// The earliest deadline the state implies — a pending stage's next reminder, next escalation
    /// level or timeout, or the request's expiry — or null when nothing is due (closed, or no timers).
    /// The Durable Functions orchestrator races one CreateTimer for it against external events; the
    /// due time may be in the past, in which case the host fires it at once.
    /// </summary>
    public static TimerKey? NextTimer(ApprovalState state, WorkflowDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(definition);
        TimerKey? best = null;
        if (state.Status is RequestStatus.Pending)
        {
            foreach (var stage in state.Stages)
            {
                if (stage.Status != StageStatus.Pending || stage.ActivatedAt is not { } activated)
                {
                    continue;
                }

                var stageDefinition = definition.FindStage(stage.Id);
                if (stage.NextReminderAt is { } reminderAt)
                {
                    best = Earlier(best, new TimerKey(TimerKind.Reminder, stage.Id, state.Iteration, stage.RemindersSent + 1, reminderAt));
                }

                if (stageDefinition is not null && stage.EscalationLevel < stageDefinition.Escalation.Count)
                {
                    var level = stageDefinition.Escalation[stage.EscalationLevel];
                    best = Earlier(best, new TimerKey(TimerKind.Escalation, stage.Id, state.Iteration, stage.EscalationLevel + 1, activated + level.After));
                }

                if (stage.DueAt is { } dueAt)
                {
                    best = Earlier(best, new TimerKey(TimerKind.StageTimeout, stage.Id, state.Iteration, 0, dueAt));
                }
            }
        }

        if (state.Status is RequestStatus.Pending or RequestStatus.ChangesRequested && state.ExpiresAt is { } expiresAt)
        {
            best = Earlier(best, new TimerKey(TimerKind.RequestExpiry, null, state.Iteration, 0, expiresAt));
        }

        return best;
    }

    private static TimerKey Earlier(TimerKey? current, TimerKey candidate) =>
        current is null || candidate.DueAt < current.DueAt ? candidate : current;

    private static bool IsRecent(ApprovalState state, string eventId)
    {
        var recent = state.RecentEventIds;
        for (var i = recent.Count - 1; i >= 0; i--)
        {
            if (string.Equals(recent[i], eventId, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static EngineResult Refuse(ApprovalState state, RefusalCode code, string message) =>
        new(state, [], [], new Refusal(code, message));

    private static EngineResult NoOp(ApprovalState state) => new(state, [], []);

    private static EngineResult RefuseClosed(ApprovalState state) =>
        Refuse(state, RefusalCode.RequestClosed, "the request is " + StatusName(state.Status) + " and accepts no decisions");

    // ---------------------------------------------------------------- decisions

    private static EngineResult Decide(ApprovalState state, Decided decided, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        if (state.Status != RequestStatus.Pending)
        {
            return RefuseClosed(state);
        }

        StageState? stage = null;
        var index = -1;
        for (var i = 0; i < state.Stages.Count; i++)
        {
            if (string.Equals(state.Stages[i].Id, decided.StageId, StringComparison.Ordinal))
            {
                stage = state.Stages[i];
                index = i;
                break;
            }
        }

        var stageDefinition = definition.FindStage(decided.StageId);
        if (stage is null || stageDefinition is null)
        {
            return Refuse(state, RefusalCode.UnknownStage, "no stage '" + decided.StageId + "'");
        }

        if (stage.Status != StageStatus.Pending)
        {
            return stage.Status == StageStatus.Waiting
                ? Refuse(state, RefusalCode.StageWaiting, "stage '" + stage.Id + "' has not started yet")
                : Refuse(state, RefusalCode.StageNotActive, "stage '" + stage.Id + "' is " + StageStatusName(stage.Status) + ", not active");
        }

        var needsComment = decided.Decision is DecisionKind.Reject or DecisionKind.RequestChanges or DecisionKind.Comment;
        if (needsComment && string.IsNullOrWhiteSpace(decided.Comment))
        {
            return Refuse(state, RefusalCode.Invalid, "a comment is required to " + DecisionName(decided.Decision));
        }

        var actor = decided.Actor.UserId;
        var selfGuard = !definition.AllowSelfApproval;
        if (decided.Decision == DecisionKind.Comment)
        {
            return Comment(state, decided, definition, directory, now, stage, actor);
        }

        if (selfGuard && ApproverResolver.IsSelf(actor, state.Requester, state.Subjects))
        {
            return Refuse(state, RefusalCode.SelfApproval, "the requester and the request's subjects cannot decide on it");
        }

        if (Consensus.HasVoted(stage, actor))
        {
            return Refuse(state, RefusalCode.DuplicateVote, actor + " has already decided on stage '" + stage.Id + "'");
        }

        string? onBehalfOf = null;
        if (Contains(stage.Approvers, actor))
        {
            if (Consensus.SlotUsed(stage, actor))
            {
                return Refuse(state, RefusalCode.DuplicateVote, "a delegate has already decided for " + actor + " on stage '" + stage.Id + "'");
            }
        }
        else
        {
            var sawUsed = false;
            var sawSelf = false;
            foreach (var principal in directory.PrincipalsOf(actor, now))
            {
                if (!Contains(stage.Approvers, principal))
                {
                    continue;
                }

                if (selfGuard && ApproverResolver.IsSelf(principal, state.Requester, state.Subjects))
                {
                    sawSelf = true;
                    continue;
                }

                if (Consensus.SlotUsed(stage, principal))
                {
                    sawUsed = true;
                    continue;
                }

                if (onBehalfOf is null || string.CompareOrdinal(principal, onBehalfOf) < 0)
                {
                    onBehalfOf = principal;
                }
            }

            if (onBehalfOf is null)
            {
                return sawUsed
                    ? Refuse(state, RefusalCode.DuplicateVote, "every approver " + actor + " may act for has already decided on stage '" + stage.Id + "'")
                    : sawSelf
                        ? Refuse(state, RefusalCode.SelfApproval, "the requester and the request's subjects cannot decide on it")
                        : Refuse(state, RefusalCode.NotAnApprover, actor + " is not an approver of stage '" + stage.Id + "'");
            }
        }

        var work = Work.Start(state, definition, directory, now);
        var responses = Append(stage.Responses, new StageResponse(actor, decided.Decision, decided.Comment, onBehalfOf, now));
        var achieved = decided.Decision == DecisionKind.Approve ? Consensus.Achieved(responses, stageDefinition, directory) : 0;
        var completes = decided.Decision == DecisionKind.Approve && achieved >= stage.Required;
        string? rejectedNote = null;
        if (decided.Decision == DecisionKind.Reject)
        {
            if (stageDefinition.Rejection == RejectionStyle.Veto)
            {
                rejectedNote = "rejected by " + actor;
            }
            else if (!Consensus.Reachable(responses, stage.Approvers, stage.Required, stageDefinition, directory))
            {
                rejectedNote = "approval can no longer be reached";
            }
        }

        // One copy of the stage for "voted and closed" instead of two: approving and rejecting ones are the hot paths.
        var updated = completes
            ? stage with { Responses = responses, Remaining = 0, Status = StageStatus.Approved, ClosedAt = now, Unassignable = false }
            : rejectedNote is not null
                ? stage with { Responses = responses, Status = StageStatus.Rejected, ClosedAt = now, Note = rejectedNote, Unassignable = false }
                : decided.Decision == DecisionKind.Approve
                    ? stage with { Responses = responses, Remaining = Math.Max(0, stage.Required - achieved) }
                    : stage with { Responses = responses };
        work.Log(actor, onBehalfOf, DecisionName(decided.Decision), stage.Id, decided.Comment,
            decided.Actor.IntegrationId is { } integration ? Detail.Object("integration", integration) : null);
        work.Do(new InboxRemove(actor, stage.Id, Decided: true));
        if (onBehalfOf is not null)
        {
            work.Do(new InboxRemove(onBehalfOf, stage.Id, Decided: false));
        }

        switch (decided.Decision)
        {
            case DecisionKind.Approve:
            {
                work.Stages[index] = updated;
                if (completes)
                {
                    RemoveOpenInbox(work, updated, actor);
                    work.Log(SystemActor, null, "stage.approved", stage.Id, null, null);
                    AdvanceAfter(work, updated.Order);
                }

                break;
            }

            case DecisionKind.Reject:
            {
                work.Stages[index] = updated;
                if (rejectedNote is not null)
                {
                    RemoveOpenInbox(work, updated, actor);
                    work.Log(SystemActor, null, "stage.rejected", stage.Id, stageDefinition.DenialMessage, Detail.Object("reason", rejectedNote));
                    Finish(work, RequestStatus.Rejected, SystemActor, stageDefinition.DenialMessage);
                }

                break;
            }

            default:
            {
                work.Stages[index] = updated;
                RequestChanges(work, actor, decided.Comment);
                break;
            }
        }

        return work.Result(decided.EventId);
    }

    private static EngineResult Comment(ApprovalState state, Decided decided, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now, StageState stage, string actor)
    {
        // Who may comment: the stage's approvers, their delegates in effect, the requester, subjects and admins.
        var allowed = decided.Actor.IsAdmin
            || Contains(stage.Approvers, actor)
            || ApproverResolver.IsSelf(actor, state.Requester, state.Subjects);
        if (!allowed)
        {
            foreach (var principal in directory.PrincipalsOf(actor, now))
            {
                if (Contains(stage.Approvers, principal))
                {
                    allowed = true;
                    break;
                }
            }
        }

        if (!allowed)
        {
            return Refuse(state, RefusalCode.NotAnApprover, actor + " may not comment on stage '" + stage.Id + "'");
        }

        var work = Work.Start(state, definition, directory, now);
        var index = work.IndexOfStage(stage.Id);
        work.Stages[index] = stage with { Responses = Append(stage.Responses, new StageResponse(actor, DecisionKind.Comment, decided.Comment, null, now)) };
        work.Log(actor, null, "comment", stage.Id, decided.Comment, null);
        return work.Result(decided.EventId);
    }

    private static void RequestChanges(Work work, string actor, string? comment)
    {
        CloseOpenStages(work, StageStatus.Cancelled, "changes requested by " + actor);
        work.Status = RequestStatus.ChangesRequested;
        work.DecidedAt = work.Now;
        work.Log(SystemActor, null, "approval.changesRequested", null, comment, null);
        TellRequester(work, "approval.changesRequested");
    }

    // ---------------------------------------------------------------- stage lifecycle

    private static StageState[] NewStages(WorkflowDefinition definition)
    {
        var stages = new StageState[definition.Stages.Count];
        for (var i = 0; i < stages.Length; i++)
        {
            var d = definition.Stages[i];
            stages[i] = new StageState { Id = d.Id, Name = d.Name ?? d.Id, Order = d.Order, Status = StageStatus.Waiting };
        }

        return stages;
    }

    /// <summary>After a stage of <paramref name="order"/> approved: when every stage of that order is done, start the next order.</summary>
    private static void AdvanceAfter(Work work, int order)
    {
        foreach (var stage in work.Stages)
        {
            if (stage.Order == order && stage.Status is not (StageStatus.Approved or StageStatus.Skipped))
            {
                return;
            }
        }

        ActivateNext(work);
    }

    /// <summary>
    /// Activates the lowest order that still has waiting stages; stages whose condition is false are
    /// skipped, and an order whose stages are all skipped is passed over. No order left: approved.
    /// </summary>
    private static void ActivateNext(Work work)
    {
        var definition = work.Definition!;
        while (true)
        {
            var order = int.MaxValue;
            foreach (var stage in work.Stages)
            {
                if (stage.Status == StageStatus.Waiting && stage.Order < order)
                {
                    order = stage.Order;
                }
            }

            if (order == int.MaxValue)
            {
                Finish(work, RequestStatus.Approved, SystemActor, null);
                return;
            }

            var activated = false;
            for (var i = 0; i < work.Stages.Length; i++)
            {
                var stage = work.Stages[i];
                if (stage.Status != StageStatus.Waiting || stage.Order != order)
                {
                    continue;
                }

                var stageDefinition = definition.FindStage(stage.Id)!;
                if (stageDefinition.Condition is { } condition)
                {
                    var outcome = condition.Evaluate(work.GetRuleData());
                    if (!outcome.Succeeded)
                    {
                        Quarantine(work, "the condition of stage '" + stage.Id + "' failed to evaluate: " + outcome.Error);
                        return;
                    }

                    if (!outcome.IsTruthy)
                    {
                        work.Stages[i] = stage with { Status = StageStatus.Skipped, Note = "condition is false", ClosedAt = work.Now };
                        work.Log(SystemActor, null, "stage.skipped", stage.Id, null, Detail.Object("reason", "condition is false"));
                        continue;
                    }
                }

                if (!Activate(work, i, stageDefinition))
                {
                    return;
                }

                activated = true;
            }

            if (activated)
            {
                return;
            }
        }
    }

    /// <summary>Resolves and opens one stage; false when the request was quarantined instead.</summary>
    private static bool Activate(Work work, int index, StageDefinition definition)
    {
        var now = work.Now;
        var stage = work.Stages[index];
        var resolution = ApproverResolver.Resolve(definition.Approvers, work.Requester, work.Subjects, work.AllowSelfApproval, work.Directory, work);
        if (resolution.Error is not null)
        {
            Quarantine(work, "stage '" + stage.Id + "': " + resolution.Error);
            return false;
        }

        var approvers = resolution.Approvers;
        var required = Consensus.Required(definition.Consensus, approvers.Count);
        string? note = resolution.Excluded.Count > 0
            ? "excluded from approving their own request: " + string.Join(", ", resolution.Excluded)
            : null;
        var unassignable = Consensus.UnassignableReason(approvers, required, definition, work.Directory);
        stage = stage with
        {
            Status = StageStatus.Pending,
            Approvers = approvers,
            Required = required,
            Remaining = required,
            EscalationLevel = 0,
            RemindersSent = 0,
            Responses = [],
            ActivatedAt = now,
            DueAt = definition.Timeout is { } timeout ? now + timeout.After : null,
            NextReminderAt = definition.ReminderEvery is { } every ? now + every : null,
            ClosedAt = null,
            Note = Join(note, unassignable),
            Unassignable = unassignable is not null,
        };
        work.Stages[index] = stage;

        work.Log(SystemActor, null, "stage.activated", stage.Id, null, Detail.Approvers(approvers, required));
        foreach (var approver in approvers)
        {
            AddInbox(work, stage.Id, approver);
        }

        if (approvers.Count > 0)
        {
            work.Do(new Notify(NotificationKind.StageActivated, stage.Id, approvers));
        }

        work.Emit("stage.activated", stage.Id, approvers);
        if (unassignable is not null)
        {
            work.Log(SystemActor, null, "stage.unassignable", stage.Id, unassignable, null);
            work.Do(new Notify(NotificationKind.NoApprovers, stage.Id, [work.Requester]));
            work.Emit("stage.unassignable", stage.Id, []);
        }

        var iteration = work.Iteration;
        if (stage.NextReminderAt is { } reminderAt)
        {
            work.Do(new ScheduleTimer(new TimerKey(TimerKind.Reminder, stage.Id, iteration, 1, reminderAt)));
        }

        for (var level = 0; level < definition.Escalation.Count; level++)
        {
            work.Do(new ScheduleTimer(new TimerKey(TimerKind.Escalation, stage.Id, iteration, level + 1, now + definition.Escalation[level].After)));
        }

        if (stage.DueAt is { } dueAt)
        {
            work.Do(new ScheduleTimer(new TimerKey(TimerKind.StageTimeout, stage.Id, iteration, 0, dueAt)));
        }

        return true;
    }

    /// <summary>Adds the approver's inbox entry and one for each delegate in effect (never for the requester or a subject).</summary>
    private static void AddInbox(Work work, string stageId, string approver)
    {
        work.Do(new InboxAdd(approver, stageId));
        if (work.Directory.Delegations.Count == 0)
        {
            return;
        }

        foreach (var delegateId in work.Directory.DelegatesOf(approver, work.Now))
        {
            if (work.AllowSelfApproval || !ApproverResolver.IsSelf(delegateId, work.Requester, work.Subjects))
            {
                work.Do(new InboxAdd(delegateId, stageId, approver));
            }
        }
    }

    private static string? UnassignableReason(StageState stage, StageDefinition definition, DirectorySnapshot directory) =>
        Consensus.UnassignableReason(stage.Approvers, stage.Required, definition, directory);

    private static void CloseStage(Work work, int index, StageStatus status, string? note, string? decidedBy)
    {
        var stage = work.Stages[index];
        work.Stages[index] = stage with { Status = status, ClosedAt = work.Now, Note = note ?? stage.Note, Unassignable = false };
        RemoveOpenInbox(work, stage, decidedBy);
    }

    /// <summary>Removes the inbox entries of approvers who have not voted (and their delegates in effect).</summary>
    private static void RemoveOpenInbox(Work work, StageState stage, string? except)
    {
        var approvers = stage.Approvers;
        for (var i = 0; i < approvers.Count; i++)
        {
            var approver = approvers[i];
            if (string.Equals(approver, except, StringComparison.Ordinal) || Consensus.SlotUsed(stage, approver))
            {
                continue;
            }

            work.Do(new InboxRemove(approver, stage.Id, Decided: false));
            if (work.Directory.Delegations.Count == 0)
            {
                continue;
            }

            foreach (var delegateId in work.Directory.DelegatesOf(approver, work.Now))
            {
                if (!string.Equals(delegateId, except, StringComparison.Ordinal))
                {
                    work.Do(new InboxRemove(delegateId, stage.Id, Decided: false));
                }
            }
        }
    }

    /// <summary>Closes every pending stage (removing inbox entries) and marks waiting stages cancelled.</summary>
    private static void CloseOpenStages(Work work, StageStatus pendingBecomes, string note)
    {
        for (var i = 0; i < work.Stages.Length; i++)
        {
            var stage = work.Stages[i];
            if (stage.Status == StageStatus.Pending)
            {
                CloseStage(work, i, pendingBecomes, note, null);
            }
            else if (stage.Status == StageStatus.Waiting)
            {
                work.Stages[i] = stage with { Status = StageStatus.Cancelled, Note = note, ClosedAt = work.Now };
            }
        }
    }

    /// <summary>An outcome for the requester: the outbound event and the notification, sharing one immutable list.</summary>
    private static void TellRequester(Work work, string eventType)
    {
        IReadOnlyList<string> requester = [work.Requester];
        work.Emit(eventType, null, requester);
        work.Do(new Notify(NotificationKind.Outcome, null, requester));
    }

    private static void Quarantine(Work work, string reason)
    {
        CloseOpenStages(work, StageStatus.Cancelled, "quarantined");
        work.Status = RequestStatus.Quarantined;
        work.QuarantineReason = reason;
        work.DecidedAt = work.Now;
        work.Log(SystemActor, null, "quarantined", null, reason, null);
        work.Emit("approval.quarantined", null, []);
    }

    /// <summary>
    /// Makes the outcome final: closes what is open, records <c>approval.{outcome}</c>, emits the
    /// outbound event, notifies the requester, and starts the callback when the definition asks for
    /// this outcome (idempotency key <c>{requestId}:{iteration}:{outcome}</c>, stable across retries).
    /// </summary>
    private static void Finish(Work work, RequestStatus outcome, string actor, string? comment)
    {
        var name = StatusName(outcome);
        var (action, closedNote) = OutcomeTexts(outcome);
        CloseOpenStages(work, outcome == RequestStatus.Expired ? StageStatus.Expired : StageStatus.Cancelled, closedNote);
        work.Status = outcome;
        work.DecidedAt = work.Now;
        work.Log(actor, null, action, null, comment, null);
        TellRequester(work, action);
        var callback = work.Definition?.Callback;
        if (callback is not null && Contains(callback.Events, name))
        {
            var key = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{work.Original.Id}:{work.Iteration}:{name}");
            work.Callback = new CallbackState { Status = CallbackStatus.Pending, Outcome = name, IdempotencyKey = key };
            work.Do(new DeliverCallback(name, key));
        }
        else
        {
            work.Callback = CallbackState.NotConfigured;
        }
    }

    // ---------------------------------------------------------------- timers

    private static EngineResult FireTimer(ApprovalState state, TimerFired fired, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        var key = fired.Timer;
        if (key.Iteration != state.Iteration)
        {
            return NoOp(state);
        }

        if (key.Kind == TimerKind.RequestExpiry)
        {
            if (state.Status is not (RequestStatus.Pending or RequestStatus.ChangesRequested) || state.ExpiresAt != key.DueAt)
            {
                return NoOp(state);
            }

            var expiring = Work.Start(state, definition, directory, now);
            Finish(expiring, RequestStatus.Expired, SystemActor, null);
            return expiring.Result(fired.EventId);
        }

        if (state.Status != RequestStatus.Pending || key.StageId is null)
        {
            return NoOp(state);
        }

        var index = -1;
        for (var i = 0; i < state.Stages.Count; i++)
        {
            if (string.Equals(state.Stages[i].Id, key.StageId, StringComparison.Ordinal))
            {
                index = i;
                break;
            }
        }

        var stageDefinition = definition.FindStage(key.StageId);
        if (index < 0 || stageDefinition is null)
        {
            return NoOp(state);
        }

        var stage = state.Stages[index];
        if (stage.Status != StageStatus.Pending || stage.ActivatedAt is not { } activatedAt)
        {
            return NoOp(state);
        }

        // Built only once the key matched: a stale timer (the common late case) allocates nothing but its result.
        Work? lazyWork = null;
        Work WorkFor() => lazyWork ??= Work.Start(state, definition, directory, now);

        switch (key.Kind)
        {
            case TimerKind.Reminder:
            {
                if (key.Sequence != stage.RemindersSent + 1 || stage.NextReminderAt != key.DueAt || stageDefinition.ReminderEvery is not { } every)
                {
                    return NoOp(state);
                }

                // Next reminder from the due time, but never in the past: a late timer does not cause a burst.
                var next = key.DueAt + every;
                if (next <= now)
                {
                    next = now + every;
                }

                var waitingOn = OpenApprovers(stage);
                WorkFor().Stages[index] = stage with { RemindersSent = key.Sequence, NextReminderAt = next };
                WorkFor().Log(SystemActor, null, "stage.reminder", stage.Id, null, Detail.Object("reminder", key.Sequence));
                if (waitingOn.Count > 0)
                {
                    WorkFor().Do(new Notify(NotificationKind.Reminder, stage.Id, waitingOn));
                }

                WorkFor().Emit("stage.reminder", stage.Id, waitingOn);
                WorkFor().Do(new ScheduleTimer(new TimerKey(TimerKind.Reminder, stage.Id, state.Iteration, key.Sequence + 1, next)));
                break;
            }

            case TimerKind.Escalation:
            {
                var level = stage.EscalationLevel + 1;
                if (key.Sequence != level || level > stageDefinition.Escalation.Count)
                {
                    return NoOp(state);
                }

                var escalation = stageDefinition.Escalation[level - 1];
                if (activatedAt + escalation.After != key.DueAt)
                {
                    return NoOp(state);
                }

                Escalate(WorkFor(), index, stageDefinition, escalation, level);
                break;
            }

            case TimerKind.StageTimeout:
            {
                if (stage.DueAt != key.DueAt || stageDefinition.Timeout is not { } timeout)
                {
                    return NoOp(state);
                }

                var expire = timeout.Action == TimeoutAction.Expire;
                CloseStage(WorkFor(), index, expire ? StageStatus.Expired : StageStatus.Rejected, "timed out", null);
                WorkFor().Log(SystemActor, null, expire ? "stage.expired" : "stage.rejected", stage.Id,
                    expire ? null : stageDefinition.DenialMessage, Detail.Object("reason", "timed out"));
                Finish(WorkFor(), expire ? RequestStatus.Expired : RequestStatus.Rejected, SystemActor, expire ? null : stageDefinition.DenialMessage);
                break;
            }

            default:
                return NoOp(state);
        }

        return WorkFor().Result(fired.EventId);
    }

    private static void Escalate(Work work, int index, StageDefinition definition, EscalationLevel escalation, int level)
    {
        var stage = work.Stages[index];
        var resolution = ApproverResolver.Resolve(escalation.Approvers, work.Requester, work.Subjects, work.AllowSelfApproval, work.Directory, work);
        if (resolution.Error is not null)
        {
            Quarantine(work, "stage '" + stage.Id + "' escalation " + level.ToString(System.Globalization.CultureInfo.InvariantCulture) + ": " + resolution.Error);
            return;
        }

        var added = new List<string>();
        var merged = new List<string>(stage.Approvers);
        foreach (var id in resolution.Approvers)
        {
            if (!Contains(stage.Approvers, id))
            {
                added.Add(id);
                merged.Add(id);
            }
        }

        merged.Sort(StringComparer.Ordinal);
        var updated = stage with { Approvers = merged, EscalationLevel = level };
        var unassignable = UnassignableReason(updated, definition, work.Directory);
        updated = updated with { Unassignable = unassignable is not null, Note = unassignable ?? (stage.Unassignable ? null : stage.Note) };
        work.Stages[index] = updated;
        work.Log(SystemActor, null, "stage.escalated", stage.Id, null, Detail.Escalation(level, added));
        foreach (var id in added)
        {
            AddInbox(work, stage.Id, id);
        }

        work.Do(new Notify(NotificationKind.Escalated, stage.Id, added));
        work.Emit("stage.escalated", stage.Id, added);
    }

    private static List<string> OpenApprovers(StageState stage)
    {
        var open = new List<string>(stage.Approvers.Count);
        foreach (var approver in stage.Approvers)
        {
            if (!Consensus.SlotUsed(stage, approver))
            {
                open.Add(approver);
            }
        }

        return open;
    }

    // ---------------------------------------------------------------- cancel, resubmit, reassign, delegation

    private static EngineResult Cancel(ApprovalState state, CancelRequested cancel, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        var actor = cancel.Actor.UserId;
        if (!cancel.Actor.IsAdmin && !string.Equals(actor, state.Requester, StringComparison.Ordinal))
        {
            return Refuse(state, RefusalCode.Forbidden, "only the requester or an admin may cancel");
        }

        if (state.Status is not (RequestStatus.Pending or RequestStatus.ChangesRequested))
        {
            return RefuseClosed(state);
        }

        var work = Work.Start(state, definition, directory, now);
        Finish(work, RequestStatus.Cancelled, actor, cancel.Reason);
        return work.Result(cancel.EventId);
    }

    private static EngineResult Resubmit(ApprovalState state, Resubmitted resubmit, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        var actor = resubmit.Actor.UserId;
        if (!string.Equals(actor, state.Requester, StringComparison.Ordinal))
        {
            return Refuse(state, RefusalCode.Forbidden, "only the requester may resubmit");
        }

        if (state.Status is not (RequestStatus.ChangesRequested or RequestStatus.Rejected))
        {
            return state.Status == RequestStatus.Pending
                ? Refuse(state, RefusalCode.InvalidState, "the request is pending; resubmit after changes were requested or it was rejected")
                : RefuseClosed(state);
        }

        var work = Work.Start(state, definition, directory, now);
        var history = new IterationSummary[state.PreviousIterations.Count + 1];
        for (var i = 0; i < state.PreviousIterations.Count; i++)
        {
            history[i] = state.PreviousIterations[i];
        }

        history[^1] = new IterationSummary(state.Iteration, state.Status, state.Record, state.Stages, now);
        work.PreviousIterations = history;
        work.Iteration = state.Iteration + 1;
        work.Record = resubmit.Record.ValueKind == JsonValueKind.Undefined ? EmptyObject : resubmit.Record;
        work.InvalidateRuleData();
        work.Title = resubmit.Title ?? state.Title;
        work.Status = RequestStatus.Pending;
        work.DecidedAt = null;
        // A callback for the previous iteration's outcome is superseded; late reports for its key are ignored.
        work.Callback = CallbackState.NotConfigured;
        work.Stages = NewStages(definition);
        work.Log(actor, null, "resubmitted", null, resubmit.Comment, Detail.Object("iteration", work.Iteration));
        work.Emit("approval.resubmitted", null, []);
        if (definition.ExpiresIn is { } expiresIn)
        {
            work.ExpiresAt = now + expiresIn;
            work.Do(new ScheduleTimer(new TimerKey(TimerKind.RequestExpiry, null, work.Iteration, 0, now + expiresIn)));
        }

        ActivateNext(work);
        return work.Result(resubmit.EventId);
    }

    private static EngineResult Reassign(ApprovalState state, Reassigned reassign, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        if (!reassign.Actor.IsAdmin)
        {
            return Refuse(state, RefusalCode.Forbidden, "only an admin may reassign");
        }

        if (state.Status != RequestStatus.Pending)
        {
            return RefuseClosed(state);
        }

        var work = Work.Start(state, definition, directory, now);
        var index = work.IndexOfStage(reassign.StageId);
        var stageDefinition = definition.FindStage(reassign.StageId);
        if (index < 0 || stageDefinition is null)
        {
            return Refuse(state, RefusalCode.UnknownStage, "no stage '" + reassign.StageId + "'");
        }

        var stage = work.Stages[index];
        if (stage.Status != StageStatus.Pending)
        {
            return Refuse(state, RefusalCode.StageNotActive, "stage '" + stage.Id + "' is " + StageStatusName(stage.Status) + ", not active");
        }

        if (!Contains(stage.Approvers, reassign.From))
        {
            return Refuse(state, RefusalCode.Invalid, reassign.From + " is not an approver of stage '" + stage.Id + "'");
        }

        if (Consensus.SlotUsed(stage, reassign.From))
        {
            return Refuse(state, RefusalCode.InvalidState, reassign.From + " has already decided on stage '" + stage.Id + "'");
        }

        if (!definition.AllowSelfApproval && ApproverResolver.IsSelf(reassign.To, state.Requester, state.Subjects))
        {
            return Refuse(state, RefusalCode.SelfApproval, "the requester and the request's subjects cannot approve it");
        }

        if (Contains(stage.Approvers, reassign.To) || Consensus.HasVoted(stage, reassign.To))
        {
            return Refuse(state, RefusalCode.Invalid, reassign.To + " is already an approver of stage '" + stage.Id + "'");
        }

        var approvers = new List<string>(stage.Approvers.Count);
        foreach (var approver in stage.Approvers)
        {
            if (!string.Equals(approver, reassign.From, StringComparison.Ordinal))
            {
                approvers.Add(approver);
            }
        }

        approvers.Add(reassign.To);
        approvers.Sort(StringComparer.Ordinal);
        var updated = stage with { Approvers = approvers };
        var unassignable = UnassignableReason(updated, stageDefinition, directory);
        updated = updated with { Unassignable = unassignable is not null, Note = unassignable ?? (stage.Unassignable ? null : stage.Note) };
        work.Stages[index] = updated;
        work.Log(reassign.Actor.UserId, null, "stage.reassigned", stage.Id, null, Detail.Object("from", reassign.From, "to", reassign.To));
        work.Do(new InboxRemove(reassign.From, stage.Id, Decided: false));
        AddInbox(work, stage.Id, reassign.To);
        work.Do(new Notify(NotificationKind.StageActivated, stage.Id, [reassign.To]));
        return work.Result(reassign.EventId);
    }

    private static EngineResult ApplyDelegation(ApprovalState state, DelegationInEffect evt, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        var delegation = evt.Delegation;
        if (state.Status != RequestStatus.Pending
            || (!definition.AllowSelfApproval && ApproverResolver.IsSelf(delegation.To, state.Requester, state.Subjects)))
        {
            return NoOp(state);
        }

        Work? work = null;
        foreach (var stage in state.Stages)
        {
            if (stage.Status == StageStatus.Pending
                && Contains(stage.Approvers, delegation.From)
                && !Consensus.SlotUsed(stage, delegation.From)
                && !Contains(stage.Approvers, delegation.To))
            {
                work ??= Work.Start(state, definition, directory, now);
                work.Do(new InboxAdd(delegation.To, stage.Id, delegation.From));
                work.Log(SystemActor, null, "delegation.applied", stage.Id, null,
                    Detail.Object("delegation", delegation.Id, "from", delegation.From, "to", delegation.To));
            }
        }

        return work is null ? NoOp(state) : work.Result(evt.EventId);
    }

    // ---------------------------------------------------------------- callback

    private static EngineResult CallbackOk(ApprovalState state, CallbackDelivered delivered, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        var callback = state.Callback;
        if (callback.Status is not (CallbackStatus.Pending or CallbackStatus.Failed)
            || !string.Equals(callback.IdempotencyKey, delivered.IdempotencyKey, StringComparison.Ordinal))
        {
            return NoOp(state);
        }

        var work = Work.Start(state, definition, directory, now);
        work.Callback = callback with
        {
            Status = CallbackStatus.Delivered,
            Attempts = Math.Max(callback.Attempts, delivered.Attempt),
            DeliveredAt = now,
            LastAttemptAt = now,
        };
        work.Log(SystemActor, null, "callback.delivered", null, null, Detail.Object("attempt", delivered.Attempt));
        return work.Result(delivered.EventId);
    }

    private static EngineResult CallbackFailed(ApprovalState state, CallbackAttemptFailed failed, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        var callback = state.Callback;
        if (callback.Status != CallbackStatus.Pending
            || !string.Equals(callback.IdempotencyKey, failed.IdempotencyKey, StringComparison.Ordinal)
            || (failed.Round is { } round && round != callback.Round))
        {
            return NoOp(state);
        }

        var work = Work.Start(state, definition, directory, now);
        work.Callback = callback with
        {
            Status = failed.GaveUp ? CallbackStatus.Failed : CallbackStatus.Pending,
            Attempts = Math.Max(callback.Attempts, failed.Attempt),
            LastError = failed.Error,
            LastAttemptAt = now,
        };
        work.Log(SystemActor, null, failed.GaveUp ? "callback.failed" : "callback.attemptFailed", null, failed.Error, Detail.Object("attempt", failed.Attempt));
        if (failed.GaveUp)
        {
            work.Emit("callback.failed", null, []);
        }

        return work.Result(failed.EventId);
    }

    private static EngineResult CallbackRetry(ApprovalState state, CallbackRetryRequested retry, WorkflowDefinition definition, DirectorySnapshot directory, DateTimeOffset now)
    {
        if (!retry.Actor.IsAdmin)
        {
            return Refuse(state, RefusalCode.Forbidden, "only an admin may retry a callback");
        }

        var callback = state.Callback;
        if (callback.Status != CallbackStatus.Failed || callback.IdempotencyKey is null || callback.Outcome is null)
        {
            return Refuse(state, RefusalCode.InvalidState, "only a failed callback can be retried (callback is " + CallbackName(callback.Status) + ")");
        }

        var work = Work.Start(state, definition, directory, now);
        work.Callback = callback with { Status = CallbackStatus.Pending, Attempts = 0, Round = callback.Round + 1 };
        work.Log(retry.Actor.UserId, null, "callback.retry", null, null, null);
        work.Do(new DeliverCallback(callback.Outcome, callback.IdempotencyKey, callback.Round + 1));
        return work.Result(retry.EventId);
    }

    // ---------------------------------------------------------------- helpers

    private static bool Contains(IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static StageResponse[] Append(IReadOnlyList<StageResponse> responses, StageResponse response)
    {
        var next = new StageResponse[responses.Count + 1];
        for (var i = 0; i < responses.Count; i++)
        {
            next[i] = responses[i];
        }

        next[^1] = response;
        return next;
    }

    private static string? Join(string? a, string? b) => a is null ? b : b is null ? a : a + "; " + b;

    /// <summary>The API.md (camelCase) name of a request status.</summary>
    public static string StatusName(RequestStatus status) => status switch
    {
        RequestStatus.Pending => "pending",
        RequestStatus.ChangesRequested => "changesRequested",
        RequestStatus.Approved => "approved",
        RequestStatus.Rejected => "rejected",
        RequestStatus.Expired => "expired",
        RequestStatus.Cancelled => "cancelled",
        RequestStatus.Quarantined => "quarantined",
        _ => "notRequired",
    };

    /// <summary>The ledger action and outbound event (<c>approval.{outcome}</c>) and the note on stages it closes, as constants.</summary>
    private static (string Action, string ClosedNote) OutcomeTexts(RequestStatus outcome) => outcome switch
    {
        RequestStatus.Approved => ("approval.approved", "request approved"),
        RequestStatus.Rejected => ("approval.rejected", "request rejected"),
        RequestStatus.Expired => ("approval.expired", "request expired"),
        RequestStatus.Cancelled => ("approval.cancelled", "request cancelled"),
        _ => ("approval." + StatusName(outcome), "request " + StatusName(outcome)),
    };

    private static string StageStatusName(StageStatus status) => status switch
    {
        StageStatus.Waiting => "waiting",
        StageStatus.Pending => "pending",
        StageStatus.Approved => "approved",
        StageStatus.Rejected => "rejected",
        StageStatus.Expired => "expired",
        StageStatus.Skipped => "skipped",
        _ => "cancelled",
    };

    private static string CallbackName(CallbackStatus status) => status switch
    {
        CallbackStatus.None => "none",
        CallbackStatus.Pending => "pending",
        CallbackStatus.Delivered => "delivered",
        _ => "failed",
    };

    private static string DecisionName(DecisionKind kind) => kind switch
    {
        DecisionKind.Approve => "approve",
        DecisionKind.Reject => "reject",
        DecisionKind.RequestChanges => "requestChanges",
        _ => "comment",
    };
}

/// <summary>Compact JSON for <see cref="Ledger.LedgerEntry.Detail"/> (no closures: it runs on stage activation).</summary>
internal static class Detail
{
    public static string Object(string name, string value)
    {
        var (buffer, w) = Start();
        w.WriteString(name, value);
        return End(buffer, w);
    }

    public static string Object(string name, int value)
    {
        var (buffer, w) = Start();
        w.WriteNumber(name, value);
        return End(buffer, w);
    }

    public static string Object(string name1, string value1, string name2, int value2)
    {
        var (buffer, w) = Start();
        w.WriteString(name1, value1);
        w.WriteNumber(name2, value2);
        return End(buffer, w);
    }

    public static string Object(string name1, string value1, string name2, string value2)
    {
        var (buffer, w) = Start();
        w.WriteString(name1, value1);
        w.WriteString(name2, value2);
        return End(buffer, w);
    }

    public static string Object(string name1, string value1, string name2, string value2, string name3, string value3)
    {
        var (buffer, w) = Start();
        w.WriteString(name1, value1);
        w.WriteString(name2, value2);
        w.WriteString(name3, value3);
        return End(buffer, w);
    }

    public static string Approvers(IReadOnlyList<string> approvers, int required)
    {
        var (buffer, w) = Start();
        w.WriteStartArray("approvers");
        foreach (var a in approvers)
        {
            w.WriteStringValue(a);
        }

        w.WriteEndArray();
        w.WriteNumber("required", required);
        return End(buffer, w);
    }

    public static string Escalation(int level, IReadOnlyList<string> added)
    {
        var (buffer, w) = Start();
        w.WriteNumber("level", level);
        w.WriteStartArray("added");
        foreach (var a in added)
        {
            w.WriteStringValue(a);
        }

        w.WriteEndArray();
        return End(buffer, w);
    }

    // One buffer and writer per thread, reset per use: invisible to callers (the engine stays pure),
    // and it keeps stage activation from allocating a writer per ledger detail.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private static (ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer) Start()
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        writer.WriteStartObject();
        return (buffer, writer);
    }

    private static string End(ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer)
    {
        writer.WriteEndObject();
        writer.Flush();
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
