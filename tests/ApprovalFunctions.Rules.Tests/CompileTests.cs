using System.Text.Json;
using ApprovalFunctions.Rules;

namespace ApprovalFunctions.Rules.Tests;

public sealed class CompileTests
{
    [Theory]
    [InlineData("""{"and":[true,{">":[{"bogus":1},2]}]}""", "$.and[1].>[0]", "unknown operator 'bogus'")]
    [InlineData("""{"frobnicate":[1]}""", "$", "unknown operator 'frobnicate'")]
    [InlineData("""[1,{"or":[{"nope":true}]}]""", "$[1].or[0]", "unknown operator 'nope'")]
    [InlineData("""{"if":[{"var":"a"},{"x":1,"y":2},3]}""", "$.if[1]", "exactly one key")]
    [InlineData("""{"==":[{},1]}""", "$.==[0]", "empty object")]
    public void Compile_InvalidOperation_ReportsPathAndReason(string rule, string path, string message)
    {
        var result = JsonLogicRule.Compile(rule);

        Assert.False(result.Succeeded);
        Assert.Null(result.Rule);
        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.Path);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"and":[true,{">":[1]}]}""", "$.and[1].>", "'>' takes exactly 2 arguments, got 1")]
    [InlineData("""{">":[1,2,3]}""", "$.>", "'>' takes exactly 2 arguments, got 3")]
    [InlineData("""{"<":[1,2,3,4]}""", "$.<", "'<' takes 2 to 3 arguments, got 4")]
    [InlineData("""{"!":[]}""", "$.!", "'!' takes exactly 1 argument, got 0")]
    [InlineData("""{"!":[1,2]}""", "$.!", "'!' takes exactly 1 argument, got 2")]
    [InlineData("""{"and":[]}""", "$.and", "'and' takes at least 1 arguments, got 0")]
    [InlineData("""{"==":1}""", "$.==", "'==' takes exactly 2 arguments, got 1")]
    [InlineData("""{"/":[1]}""", "$./", "'/' takes exactly 2 arguments, got 1")]
    [InlineData("""{"var":["a",1,2]}""", "$.var", "'var' takes 0 to 2 arguments, got 3")]
    [InlineData("""{"reduce":[[1],{"var":"current"},0,9]}""", "$.reduce", "'reduce' takes 2 to 3 arguments, got 4")]
    [InlineData("""{"substr":["abc"]}""", "$.substr", "'substr' takes 2 to 3 arguments, got 1")]
    [InlineData("""{"missing_some":[1]}""", "$.missing_some", "'missing_some' takes exactly 2 arguments, got 1")]
    [InlineData("""{"?:":[true,1]}""", "$.?:", "'?:' takes exactly 3 arguments, got 2")]
    public void Compile_WrongArity_ReportsOperatorPath(string rule, string path, string message)
    {
        var error = Assert.Single(JsonLogicRule.Compile(rule).Errors);

        Assert.Equal(path, error.Path);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("""{"var":true}""", "$.var")]
    [InlineData("""{"var":[["a"]]}""", "$.var[0]")]
    [InlineData("""{"var":[{"x":1,"y":2}]}""", "$.var[0]")]
    public void Compile_BadVarPath_IsRefused(string rule, string path)
    {
        var result = JsonLogicRule.Compile(rule);

        Assert.False(result.Succeeded);
        Assert.Contains(result.Errors, e => e.Path == path);
    }

    [Fact]
    public void Compile_SeveralProblems_ReportsEveryOne()
    {
        var result = JsonLogicRule.Compile("""{"and":[{"foo":1},{">":[1]},{"var":"ok"},{"bar":[]}]}""");

        Assert.Equal(["$.and[0]", "$.and[1].>", "$.and[3]"], result.Errors.Select(e => e.Path));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("")]
    [InlineData("""{"==":[1,2]} trailing""")]
    [InlineData("""{"==":[1,2]""")]
    public void Compile_NonJsonText_IsRefusedAtRoot(string text)
    {
        var result = JsonLogicRule.Compile(text);

        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        Assert.Contains("not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_NullText_IsRefused()
    {
        Assert.False(JsonLogicRule.Compile((string)null!).Succeeded);
    }

    [Fact]
    public void Compile_UndefinedElement_IsRefused()
    {
        Assert.False(JsonLogicRule.Compile(default(JsonElement)).Succeeded);
    }

    [Fact]
    public void Compile_NumberOutOfRange_IsRefused()
    {
        var error = Assert.Single(JsonLogicRule.Compile("""{">":[{"var":"a"},1e400]}""").Errors);

        Assert.Equal("$.>[1]", error.Path);
    }

    [Fact]
    public void Text_IsCompactCanonicalJsonWithReadableOperators()
    {
        var rule = JsonLogicRule.Compile("""
            { ">" : [ { "var" : "record.amount" } , 10000 ] }
            """).Rule!;

        Assert.Equal("""{">":[{"var":"record.amount"},10000]}""", rule.Text);
        Assert.Equal(rule.Text, rule.ToString());
        Assert.True(JsonLogicRule.Compile(rule.Text).Succeeded);
    }

    [Fact]
    public void Variables_ListsLiteralVarPathsOnce()
    {
        var rule = JsonLogicRule.Compile(
            """{"and":[{">":[{"var":"record.amount"},1]},{"==":[{"var":["record.kind","x"]},"a"]},{"<":[{"var":"record.amount"},9]},{"var":[{"cat":["a","b"]}]}]}""").Rule!;

        Assert.Equal(["record.amount", "record.kind"], rule.Variables);
    }

    [Fact]
    public void Compile_ElementFromDisposedDocument_RuleStillEvaluates()
    {
        JsonLogicRule rule;
        using (var doc = JsonDocument.Parse("""{"cat":["a",{"var":"x"},["lit"]]}"""))
        {
            rule = JsonLogicRule.Compile(doc.RootElement).Rule!;
        }

        using var data = JsonDocument.Parse("""{"x":"b"}""");
        Assert.Equal("\"ablit\"", rule.Evaluate(data.RootElement).Value!.ToJsonString());
    }
}
