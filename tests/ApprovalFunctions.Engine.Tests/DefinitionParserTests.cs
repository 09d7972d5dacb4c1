using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;

namespace ApprovalFunctions.Engine.Tests;

public sealed class DefinitionParserTests
{
    private const string ApiExample = """
        {
          "name": "High-value invoice", "model": "account.move", "event": "create",
          "condition": {">": [{"var": "record.amount"}, 10000]},
          "priority": 10, "expiresIn": "P14D", "allowSelfApproval": false,
          "callback": {"url": "https://erp.example/approvals/callback",
                       "events": ["approved", "rejected", "expired", "cancelled"], "secret": "write-only"},
          "stages": [
            {"id": "manager", "name": "Manager", "order": 1,
             "approvers": [{"type": "manager", "levels": 1}],
             "consensus": {"mode": "any"}, "rejection": "veto", "reminderEvery": "PT8H",
             "escalation": [{"after": "PT24H", "approvers": [{"type": "group", "id": "finance-managers"}]}],
             "timeout": {"after": "P3D", "action": "reject"},
             "denialMessage": "Rejected by the line manager."},
            {"id": "cfo", "order": 2, "approvers": [{"type": "user", "id": "carol"}]},
            {"id": "legal", "order": 2, "condition": {"in": ["contract", {"var": "record.tags"}]},
             "approvers": [{"type": "group", "id": "legal"}], "consensus": {"mode": "count", "count": 2}}
          ]
        }
        """;

    private static DefinitionParseResult Parse(string json, Directory.DirectorySnapshot? directory = null) =>
        WorkflowDefinitionParser.Parse("t1", "invoice", JsonDocument.Parse(json).RootElement, TestRules.Instance, directory);

    [Fact]
    public void Parse_ApiExample_ProducesTheDefinition()
    {
        var result = Parse(ApiExample);
        Assert.True(result.Succeeded, string.Join("; ", result.Errors));
        var d = result.Definition!;
        Assert.Equal(("t1", "invoice", 10, TimeSpan.FromDays(14)), (d.TenantId, d.Id, d.Priority, d.ExpiresIn!.Value));
        Assert.Equal(["manager", "cfo", "legal"], d.Stages.Select(s => s.Id));
        var manager = d.Stages[0];
        Assert.Equal(TimeSpan.FromHours(8), manager.ReminderEvery);
        Assert.Equal(TimeSpan.FromHours(24), manager.Escalation[0].After);
        Assert.Equal(new StageTimeout { After = TimeSpan.FromDays(3), Action = TimeoutAction.Reject }, manager.Timeout);
        Assert.Equal(ConsensusMode.Count, d.Stages[2].Consensus.Mode);
        Assert.Equal(2, d.Stages[2].Consensus.Count);
        Assert.NotNull(d.Stages[2].Condition);
        Assert.Equal("write-only", d.Callback!.Secret);
    }

    [Theory]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[]}", "stages", "At least one stage")]
    [InlineData("{'name':'x','model':'m','event':'e'}", "stages", "At least one stage")]
    [InlineData("{'model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "name", "required")]
    [InlineData("{'name':'x','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "model", "required")]
    [InlineData("{'name':'x','model':'m','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "event", "required")]
    [InlineData("{'name':'x','model':'m','event':'e','extra':1,'stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "extra", "Unknown property")]
    [InlineData("{'name':'x','model':'m','event':'e','priority':1.5,'stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "priority", "integer")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'robot'}]}]}", "stages[0].approvers[0].type", "Unknown approver type 'robot'")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[]}]}", "stages[0].approvers", "At least one approver")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user'}]}]}", "stages[0].approvers[0].id", "needs an id")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'manager','levels':11}]}]}", "stages[0].approvers[0].levels", "1 to 10")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'field'}]}]}", "stages[0].approvers[0].expr", "needs an expr")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'field','expr':null}]}]}", "stages[0].approvers[0].expr", "not null")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'field','expr':{'nope':[1]}}]}]}", "stages[0].approvers[0].expr.nope", "unknown operator")]
    [InlineData("{'name':'x','model':'m','event':'e','condition':{'and':[{'bad':1}]},'stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "condition.and[0].bad", "unknown operator")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]},{'id':'a','approvers':[{'type':'user','id':'v'}]}]}", "stages[1].id", "Duplicate stage id")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'','approvers':[{'type':'user','id':'u'}]}]}", "stages[0].id", "required")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','order':0,'approvers':[{'type':'user','id':'u'}]}]}", "stages[0].order", "at least 1")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'},{'type':'user','id':'v'}],'consensus':{'mode':'count','count':3}}]}", "stages[0].consensus.count", "larger than the approver pool")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'consensus':{'mode':'count','count':0}}]}", "stages[0].consensus.count", "at least 1")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'consensus':{'mode':'count'}}]}", "stages[0].consensus.count", "needs a count")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'consensus':{'mode':'percent','percent':101}}]}", "stages[0].consensus.percent", "1 to 100")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'consensus':{'mode':'groups','groups':[]}}]}", "stages[0].consensus.groups", "at least one group")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'consensus':{'mode':'most'}}]}", "stages[0].consensus.mode", "any, all, count")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'rejection':'maybe'}]}", "stages[0].rejection", "veto")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'reminderEvery':'8 hours'}]}", "stages[0].reminderEvery", "not an ISO 8601 duration")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'reminderEvery':'PT0S'}]}", "stages[0].reminderEvery", "positive")]
    [InlineData("{'name':'x','model':'m','event':'e','expiresIn':'P1M','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "expiresIn", "months")]
    [InlineData("{'name':'x','model':'m','event':'e','expiresIn':'-P1D','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "expiresIn", "not an ISO 8601 duration")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'timeout':{'after':'P1D','action':'approve'}}]}", "stages[0].timeout.action", "nothing is ever approved by a timer")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'escalation':[{'after':'PT2H','approvers':[{'type':'user','id':'v'}]},{'after':'PT1H','approvers':[{'type':'user','id':'w'}]}]}]}", "stages[0].escalation[1].after", "ascending")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u'}],'escalation':[{'after':'P2D','approvers':[{'type':'user','id':'v'}]}],'timeout':{'after':'P1D','action':'reject'}}]}", "stages[0].escalation[0].after", "before the stage timeout")]
    [InlineData("{'name':'x','model':'m','event':'e','callback':{'url':'ftp://x/y','events':['approved']},'stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "callback.url", "absolute http")]
    [InlineData("{'name':'x','model':'m','event':'e','callback':{'url':'/relative','events':['approved']},'stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "callback.url", "absolute http")]
    [InlineData("{'name':'x','model':'m','event':'e','callback':{'url':'https://x/y','events':['done']},'stages':[{'id':'a','approvers':[{'type':'user','id':'u'}]}]}", "callback.events[0]", "Unknown callback event")]
    [InlineData("{'name':'x','model':'m','event':'e','stages':[{'id':'a','approvers':[{'type':'user','id':'u','colour':'red'}]}]}", "stages[0].approvers[0].colour", "Unknown property")]
    public void Parse_InvalidBody_ReportsAPreciseError(string body, string path, string message)
    {
        var result = Parse(body.Replace('\'', '"'));
        Assert.False(result.Succeeded);
        Assert.Null(result.Definition);
        Assert.Contains(result.Errors, e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_SeveralProblems_CollectsThemAll()
    {
        var result = Parse("""{"model":"m","event":"e","priority":"high","stages":[{"id":"a","approvers":[{"type":"robot"}],"rejection":"x"},{"id":"a","approvers":[]}]}""");
        Assert.Equal(
            ["name", "priority", "stages[0].approvers[0].type", "stages[0].rejection", "stages[1].approvers", "stages[1].id"],
            result.Errors.Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.Equal(6, result.ErrorsByPath().Count);
    }

    [Fact]
    public void Parse_CountAgainstGroupSizesFromTheDirectory_IsChecked()
    {
        const string body = """{"name":"x","model":"m","event":"e","stages":[{"id":"a","approvers":[{"type":"group","id":"legal"}],"consensus":{"mode":"count","count":3}}]}""";
        Assert.True(Parse(body).Succeeded); // pool unknown without a directory
        var withDirectory = Parse(body, Kit.Directory);
        Assert.Contains(withDirectory.Errors, e => e.Path == "stages[0].consensus.count");
    }

    [Fact]
    public void Parse_BadJsonKind_NeverThrows()
    {
        var result = WorkflowDefinitionParser.Parse("t1", "w", JsonDocument.Parse("[1,2]").RootElement, TestRules.Instance);
        Assert.Equal("$", Assert.Single(result.Errors).Path);
    }

    [Fact]
    public void ToStorageJson_RoundTrip_IsExactIncludingSecret()
    {
        var definition = Parse(ApiExample).Definition! with { Version = 3, PublishedAt = Kit.T0, Active = false };
        var stored = WorkflowDefinitionParser.ToStorageJson(definition);
        var back = WorkflowDefinitionParser.FromStorageJson(stored, TestRules.Instance);
        Assert.True(back.Succeeded, string.Join("; ", back.Errors));
        Assert.Equal(stored, WorkflowDefinitionParser.ToStorageJson(back.Definition!));
        Assert.Equal((3, false, Kit.T0, "write-only"), (back.Definition!.Version, back.Definition.Active, back.Definition.PublishedAt, back.Definition.Callback!.Secret));
    }

    [Fact]
    public void ToApiJson_NeverWritesTheSecret_AndCanBePutBack()
    {
        var definition = Parse(ApiExample).Definition!;
        var api = WorkflowDefinitionParser.ToApiJson(definition);
        Assert.False(api.GetProperty("callback").TryGetProperty("secret", out _));
        Assert.DoesNotContain("write-only", api.GetRawText(), StringComparison.Ordinal);
        Assert.Equal("P14D", api.GetProperty("expiresIn").GetString());
        Assert.Equal("PT8H", api.GetProperty("stages")[0].GetProperty("reminderEvery").GetString());

        var again = WorkflowDefinitionParser.Parse("t1", "invoice", api, TestRules.Instance);
        Assert.True(again.Succeeded, string.Join("; ", again.Errors));
        Assert.Equal(api.GetRawText(), WorkflowDefinitionParser.ToApiJson(again.Definition!).GetRawText());
    }

    [Theory]
    [InlineData("PT4H", 4 * 3600)]
    [InlineData("P3D", 3 * 86400)]
    [InlineData("P1DT2H", 86400 + 7200)]
    [InlineData("P1W", 7 * 86400)]
    [InlineData("PT1M30S", 90)]
    [InlineData("PT0.5S", 0.5)]
    public void IsoDuration_Valid_ParsesAndFormatsBack(string text, double seconds)
    {
        Assert.True(IsoDuration.TryParse(text, out var value, out _));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
        Assert.True(IsoDuration.TryParse(IsoDuration.Format(value), out var again, out _));
        Assert.Equal(value, again);
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("P1Y")]
    [InlineData("4h")]
    [InlineData("P1DT")]
    public void IsoDuration_Invalid_IsRefused(string text) => Assert.False(IsoDuration.TryParse(text, out _, out _));
}
