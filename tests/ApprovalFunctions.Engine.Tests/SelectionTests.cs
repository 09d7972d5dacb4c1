using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class SelectionTests
{
    private static WorkflowDefinition Wf(string id, int priority, string? condition, string model = "m", bool active = true)
    {
        var body = "{'name':'" + id + "','model':'" + model + "','event':'create'," +
                   (condition is null ? "" : "'condition':" + condition + ",") +
                   "'stages':[{'id':'s','approvers':[{'type':'user','id':'bob'}]}]}";
        return Kit.Def(body, id, priority) with { Active = active };
    }

    private static readonly WorkflowDefinition[] Candidates =
    [
        Wf("fallback", 0, null),
        Wf("high-value", 10, "{'>':[{'var':'record.amount'},10000]}"),
        Wf("mid-value", 5, "{'>':[{'var':'record.amount'},1000]}"),
        Wf("inactive", 100, null, active: false),
        Wf("other-model", 50, null, model: "other"),
    ];

    [Theory]
    [InlineData("{'amount':25000}", "high-value")]
    [InlineData("{'amount':5000}", "mid-value")]
    [InlineData("{'amount':10}", "fallback")]
    [InlineData("{}", "fallback")]
    public void Select_HighestPriorityMatchingWins_UnconstrainedLowerIsTheFallback(string record, string expected)
    {
        var selection = WorkflowSelector.Select(Candidates, "m", "create", RuleData.Build(Kit.Json(record), "alice", Kit.Directory, null));
        var selected = Assert.IsType<Selected>(selection);
        Assert.Equal(expected, selected.Definition.Id);
        Assert.DoesNotContain(selection.Candidates, c => c.WorkflowId is "inactive" or "other-model");
        Assert.Equal(["high-value", "mid-value", "fallback"], selection.Candidates.Select(c => c.WorkflowId));
    }

    [Fact]
    public void Select_ExplainsEachCandidateInPriorityOrder()
    {
        var selection = WorkflowSelector.Select(Candidates, "m", "create", RuleData.Build(Kit.Json("{'amount':5000}"), "alice", Kit.Directory, null));
        Assert.Equal(
            [CandidateOutcome.ConditionFalse, CandidateOutcome.Selected, CandidateOutcome.NotEvaluated],
            selection.Candidates.Select(c => c.Outcome));
    }

    [Fact]
    public void Select_NoMatch_IsNotRequired()
    {
        var selection = WorkflowSelector.Select([Candidates[1]], "m", "create", RuleData.Build(Kit.Json("{'amount':1}"), "alice", Kit.Directory, null));
        Assert.IsType<NotRequired>(selection);
    }

    [Fact]
    public void Select_MalformedRuleAboveAnyMatch_Quarantines()
    {
        var broken = Wf("broken", 20, "{'fail':'no such field'}");
        var selection = WorkflowSelector.Select([.. Candidates, broken], "m", "create", RuleData.Build(Kit.Json("{'amount':25000}"), "alice", Kit.Directory, null));
        var quarantined = Assert.IsType<Quarantined>(selection);
        Assert.Contains("broken", quarantined.Reason, StringComparison.Ordinal);
        Assert.Equal(CandidateOutcome.RuleFailed, selection.Candidates[0].Outcome);
    }

    [Fact]
    public void Select_MalformedRuleBelowTheWinner_IsNeverEvaluated()
    {
        var broken = Wf("broken", 1, "{'fail':'x'}");
        var selection = WorkflowSelector.Select([.. Candidates, broken], "m", "create", RuleData.Build(Kit.Json("{'amount':25000}"), "alice", Kit.Directory, null));
        Assert.Equal("high-value", Assert.IsType<Selected>(selection).Definition.Id);
    }

    [Fact]
    public void Select_SeveralVersionsOfOneWorkflow_UsesTheHighest()
    {
        var v1 = Wf("w", 1, null);
        var v2 = v1 with { Version = 2 };
        var selected = Assert.IsType<Selected>(WorkflowSelector.Select([v2, v1], "m", "create", Kit.Json("{}")));
        Assert.Equal(2, selected.Definition.Version);
    }

    [Fact]
    public void Select_ConditionOnRequester_SeesManagerDepartmentAndGroups()
    {
        var byDepartment = Wf("sales", 5, "{'and':[{'==':[{'var':'requester.department'},'sales']},{'in':['team',{'var':'requester.groups'}]},{'==':[{'var':'requester.manager'},'bob']}]}");
        var selection = WorkflowSelector.Select([byDepartment], "m", "create", RuleData.Build(Kit.Json("{}"), "alice", Kit.Directory, Kit.Json("{'x':1}")));
        Assert.IsType<Selected>(selection);
    }

    [Fact]
    public void Submit_NoWorkflowApplies_IsNotRequiredWithOneLedgerEntry()
    {
        var result = ApprovalEngine.Submit(Kit.Submission(record: "{'amount':1}"), [Candidates[1]], Kit.Directory, Kit.T0);
        Assert.Equal(RequestStatus.NotRequired, result.State.Status);
        Assert.Null(result.State.Workflow);
        Assert.Equal("notRequired", Assert.Single(result.Ledger).Action);
        Assert.True(result.Changed);
    }

    [Fact]
    public void Submit_MalformedRule_QuarantinesWithAReason()
    {
        var result = ApprovalEngine.Submit(Kit.Submission(), [Wf("broken", 1, "{'fail':'bad'}")], Kit.Directory, Kit.T0);
        Assert.Equal(RequestStatus.Quarantined, result.State.Status);
        Assert.Contains("bad", result.State.QuarantineReason, StringComparison.Ordinal);
        Assert.Equal("quarantined", Assert.Single(result.Ledger).Action);
    }

    [Fact]
    public void Submit_Selected_NamesTheWorkflowVersion()
    {
        var result = ApprovalEngine.Submit(Kit.Submission(record: "{'amount':25000}"), Candidates, Kit.Directory, Kit.T0);
        Assert.Equal(RequestStatus.Pending, result.State.Status);
        Assert.Equal(new WorkflowRef("high-value", 1), result.State.Workflow);
        Assert.Equal("submitted", result.Ledger[0].Action);
    }

    [Fact]
    public void Submit_AnotherTenantsDefinition_IsNeverSelected()
    {
        var foreign = Wf("foreign", 99, null) with { TenantId = "t2" };
        var result = ApprovalEngine.Submit(Kit.Submission(), [foreign], Kit.Directory, Kit.T0);
        Assert.Equal(RequestStatus.NotRequired, result.State.Status);
    }
}
