using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Tests;

public sealed class PreviewTests
{
    private static readonly WorkflowDefinition Invoice = Kit.Def(
        "{'name':'High-value invoice','model':'account.move','event':'create','condition':{'>':[{'var':'record.amount'},10000]},'priority':10," +
        "'stages':[{'id':'manager','order':1,'approvers':[{'type':'manager','levels':1}]}," +
        "{'id':'cfo','order':2,'approvers':[{'type':'user','id':'carol'}]}," +
        "{'id':'legal','order':2,'condition':{'in':['contract',{'var':'record.tags'}]},'approvers':[{'type':'group','id':'legal'}],'consensus':{'mode':'count','count':2}}," +
        "{'id':'team','order':3,'approvers':[{'type':'group','id':'team'}],'consensus':{'mode':'all'}}]}",
        "invoice");

    private static PreviewInput Input(string record) =>
        new() { TenantId = Kit.Tenant, Model = "account.move", Event = "create", Requester = "alice", Record = Kit.Json(record) };

    [Fact]
    public void Run_MatchingWorkflow_ListsStagesSkipsAndApprovers()
    {
        var preview = WorkflowPreview.Run(Input("{'amount':25000,'tags':['chairs']}"), [Invoice], Kit.Directory, Kit.T0);
        Assert.Equal(RequestStatus.Pending, preview.Status);
        Assert.Equal(new WorkflowRef("invoice", 1), preview.Workflow);
        Assert.Equal(["manager", "cfo", "legal", "team"], preview.Stages.Select(s => s.Id));
        Assert.Equal(["bob"], preview.Stages[0].Approvers);
        Assert.True(preview.Stages[2].Skipped);
        Assert.Equal("condition is false", preview.Stages[2].SkipReason);
        Assert.Equal(["bob", "erin"], preview.Stages[3].Approvers);
        Assert.Equal(["alice"], preview.Stages[3].Excluded);
        Assert.Equal(2, preview.Stages[3].Required);
    }

    [Fact]
    public void Run_NoMatch_ExplainsWhichConditionsFailed()
    {
        var preview = WorkflowPreview.Run(Input("{'amount':5}"), [Invoice], Kit.Directory, Kit.T0);
        Assert.Equal(RequestStatus.NotRequired, preview.Status);
        Assert.Equal(CandidateOutcome.ConditionFalse, Assert.Single(preview.Candidates).Outcome);
        Assert.Empty(preview.Stages);
    }

    [Fact]
    public void Run_SameInputAsSubmit_AgreesWithTheEngine()
    {
        var input = Input("{'amount':25000,'tags':['contract']}");
        var preview = WorkflowPreview.Run(input, [Invoice], Kit.Directory, Kit.T0);
        var submitted = ApprovalEngine.Submit(Kit.Submission(record: "{'amount':25000,'tags':['contract']}") with { Model = "account.move" }, [Invoice], Kit.Directory, Kit.T0);
        Assert.Equal(submitted.State.Workflow, preview.Workflow);
        Assert.Equal(submitted.State.Stage("manager").Approvers, preview.Stages[0].Approvers);
        Assert.Equal(["frank", "hank"], preview.Stages[2].Approvers);
        Assert.False(preview.Stages[2].Unassignable);
    }

    [Fact]
    public void Run_LowerCandidates_AreExplainedAsOutrankedOrFalse()
    {
        var fallback = Kit.Def("{'name':'F','model':'account.move','event':'create','stages':[{'id':'s','approvers':[{'type':'user','id':'bob'}]}]}", "fallback", 0);
        var small = Kit.Def("{'name':'S','model':'account.move','event':'create','condition':{'<':[{'var':'record.amount'},100]},'stages':[{'id':'s','approvers':[{'type':'user','id':'bob'}]}]}", "small", 5);
        var preview = WorkflowPreview.Run(Input("{'amount':25000}"), [fallback, small, Invoice], Kit.Directory, Kit.T0);
        Assert.Equal(
            [("invoice", CandidateOutcome.Selected), ("small", CandidateOutcome.ConditionFalse), ("fallback", CandidateOutcome.Outranked)],
            preview.Candidates.Select(c => (c.WorkflowId, c.Outcome)));
    }
}
