using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalFunctions.Rules;

namespace ApprovalFunctions.Rules.Tests;

public sealed class EvaluateTests
{
    private static RuleEvaluation Run(string rule, string data = "null")
    {
        var compiled = JsonLogicRule.Compile(rule);
        Assert.True(compiled.Succeeded, string.Join("; ", compiled.Errors));
        using var doc = JsonDocument.Parse(data);
        return compiled.Rule!.Evaluate(doc.RootElement);
    }

    private static string Json(RuleEvaluation r)
    {
        Assert.True(r.Succeeded, r.Error);
        return r.Value?.ToJsonString() ?? "null";
    }

    [Theory]
    // + and * read operands like parseFloat; -, / and % like Number() (jsonlogic.com / json-logic-js).
    [InlineData("""{"+":["12px",1]}""", "13")]
    [InlineData("""{"*":["3","4"]}""", "12")]
    [InlineData("""{"+":[" 2.5e1",0]}""", "25")]
    [InlineData("""{"-":[null,1]}""", "-1")]
    [InlineData("""{"-":[true,1]}""", "0")]
    [InlineData("""{"-":[" 5 ",1]}""", "4")]
    [InlineData("""{"-":["",1]}""", "-1")]
    [InlineData("""{"/":[[6],"2"]}""", "3")]
    [InlineData("""{"%":[-7,3]}""", "-1")]
    [InlineData("""{"+":[0.1,0.2]}""", "0.30000000000000004")]
    [InlineData("""{"max":["3",2]}""", "3")]
    [InlineData("""{"min":[1,"-2"]}""", "-2")]
    [InlineData("""{"-":["0x10",0]}""", "16")]
    public void Evaluate_ArithmeticCoercion_FollowsJsonLogicJs(string rule, string expected)
    {
        Assert.Equal(expected, Json(Run(rule)));
    }

    [Theory]
    [InlineData("""{"+":["abc",1]}""", "'+': argument 0 (\"abc\") is not a number")]
    [InlineData("""{"*":[2,null]}""", "'*': argument 1 (null) is not a number")]
    [InlineData("""{"-":["1x",1]}""", "'-': argument 0 (\"1x\") is not a number")]
    [InlineData("""{"/":[1,{"var":"missing"}]}""", "'/': division by zero")]
    [InlineData("""{"/":[1,0]}""", "'/': division by zero")]
    [InlineData("""{"%":[1,0]}""", "'%': modulo by zero")]
    [InlineData("""{"max":[1,"x"]}""", "'max': argument 1 (\"x\") is not a number")]
    [InlineData("""{"*":[1e308,10]}""", "'*': result is not a finite number")]
    [InlineData("""{"+":[{"var":"o"},1]}""", "'+': argument 0 (object) is not a number")]
    public void Evaluate_ArithmeticWithoutANumber_FailsWithReason(string rule, string reason)
    {
        var result = Run(rule, """{"o":{"a":1}}""");

        Assert.False(result.Succeeded);
        Assert.Equal(reason, result.Error);
        Assert.False(result.IsTruthy);
        Assert.Null(result.Value);
    }

    [Theory]
    [InlineData("""{"==":[null,0]}""", false)]
    [InlineData("""{"==":[null,null]}""", true)]
    [InlineData("""{"==":[false,0]}""", true)]
    [InlineData("""{"==":["",0]}""", true)]
    [InlineData("""{"==":["1",true]}""", true)]
    [InlineData("""{"==":[[1],1]}""", true)]
    [InlineData("""{"==":[[1,2],"1,2"]}""", true)]
    [InlineData("""{"===":[[1],[1]]}""", false)]
    [InlineData("""{"!=":["a","b"]}""", true)]
    [InlineData("""{"<":["a","b"]}""", true)]
    [InlineData("""{"<":["b","a"]}""", false)]
    [InlineData("""{"<":["a",1]}""", false)]
    [InlineData("""{">=":["a",1]}""", false)]
    [InlineData("""{"<":["10",9]}""", false)]
    [InlineData("""{"<":[null,1]}""", true)]
    [InlineData("""{"<=":[1,{"var":"amount"},100]}""", true)]
    [InlineData("""{"<":[1,{"var":"amount"},51]}""", true)]
    [InlineData("""{"<":[1,{"var":"amount"},50]}""", false)]
    [InlineData("""{"<":[50,{"var":"amount"},100]}""", false)]
    [InlineData("""{"==":[{"var":"name"},"Ann"]}""", true)]
    [InlineData("""{"===":["Ann",{"var":"name"}]}""", true)]
    [InlineData("""{"===":[{"var":"name"},{"var":"name"}]}""", true)]
    [InlineData("""{"in":["nn",{"var":"name"}]}""", true)]
    [InlineData("""{"in":[2,[1,"2"]]}""", false)]
    [InlineData("""{"in":["a",5]}""", false)]
    [InlineData("""{"in":["a",null]}""", false)]
    public void Evaluate_ComparisonSemantics_FollowJavaScript(string rule, bool expected)
    {
        var result = Run(rule, """{"amount":50,"name":"Ann"}""");

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(expected, result.IsTruthy);
        Assert.Equal(expected ? "true" : "false", Json(result));
    }

    [Theory]
    [InlineData("""{"var":"record.lines.1.sku"}""", "\"b\"")]
    [InlineData("""{"var":"record.lines.length"}""", "2")]
    [InlineData("""{"var":"record.lines.9.sku"}""", "null")]
    [InlineData("""{"var":["record.lines.9.sku","none"]}""", "\"none\"")]
    [InlineData("""{"var":["record.nothing",{"cat":["de","fault"]}]}""", "\"default\"")]
    [InlineData("""{"var":"record.empty"}""", "null")]
    [InlineData("""{"var":["record.empty",5]}""", "null")]
    [InlineData("""{"var":"record.amount.x"}""", "null")]
    [InlineData("""{"var":[{"cat":["record.","amount"]}]}""", "25000")]
    [InlineData("""{"missing":["record.amount","record.empty","record.blank","record.nope"]}""", """["record.empty","record.blank","record.nope"]""")]
    [InlineData("""{"missing_some":[1,["record.nope","record.amount"]]}""", "[]")]
    [InlineData("""{"map":[{"var":"record.lines"},{"var":"sku"}]}""", """["a","b"]""")]
    [InlineData("""{"reduce":[{"var":"record.lines"},{"+":[{"var":"accumulator"},{"var":"current.qty"}]},0]}""", "5")]
    [InlineData("""{"var":"record"}""", """{"amount":25000,"empty":null,"blank":"","lines":[{"sku":"a","qty":2},{"sku":"b","qty":3}]}""")]
    [InlineData("""{"substr":["jsonlogic",-3,-1]}""", "\"gi\"")]
    [InlineData("""{"substr":["abc",10]}""", "\"\"")]
    [InlineData("""{"cat":[1.5,null,true,[1,[2,3]]]}""", "\"1.5nulltrue1,2,3\"")]
    [InlineData("""{"merge":[[1],2,[[3]]]}""", "[1,2,[3]]")]
    [InlineData("""{"if":[]}""", "null")]
    [InlineData("""{"/":[1,3]}""", "0.3333333333333333")]
    public void Evaluate_DataAccessAndArrays_ProduceJson(string rule, string expected)
    {
        const string data = """{"record":{"amount":25000,"empty":null,"blank":"","lines":[{"sku":"a","qty":2},{"sku":"b","qty":3}]}}""";

        Assert.Equal(expected, Json(Run(rule, data)));
    }

    [Theory]
    [InlineData("\"u1\"", new[] { "u1" })]
    [InlineData("""["u1","u2"]""", new[] { "u1", "u2" })]
    [InlineData("[]", new string[0])]
    public void AsStrings_StringOrArrayOfStrings_ReturnsUserIds(string value, string[] expected)
    {
        var result = Run("""{"var":"approvers"}""", $$"""{"approvers":{{value}}}""");

        Assert.Equal(expected, result.AsStrings());
    }

    [Theory]
    [InlineData("""["u1",2]""")]
    [InlineData("7")]
    [InlineData("null")]
    [InlineData("""{"a":"b"}""")]
    public void AsStrings_AnythingElse_ReturnsNull(string value)
    {
        var result = Run("""{"var":"approvers"}""", $$"""{"approvers":{{value}}}""");

        Assert.True(result.Succeeded);
        Assert.Null(result.AsStrings());
    }

    [Fact]
    public void Evaluate_FieldApproverExpression_BuildsUserList()
    {
        var result = Run(
            """{"if":[{">":[{"var":"record.amount"},10000]},{"merge":[{"var":"record.manager"},"cfo"]},{"var":"record.manager"}]}""",
            """{"record":{"amount":25000,"manager":"u-17"}}""");

        Assert.Equal(["u-17", "cfo"], result.AsStrings());
        Assert.False(result.IsString);
    }

    [Fact]
    public void Evaluate_ResultOutlivesDataDocument()
    {
        var rule = JsonLogicRule.Compile("""{"var":"a"}""").Rule!;
        RuleEvaluation result;
        using (var doc = JsonDocument.Parse("""{"a":["x",{"y":1}]}"""))
        {
            result = rule.Evaluate(doc.RootElement);
        }

        Assert.Equal("""["x",{"y":1}]""", result.Value!.ToJsonString());
    }

    [Fact]
    public void Value_EachReadIsAFreshNode()
    {
        var result = Run("""{"merge":[1,2]}""");

        var first = result.Value!;
        var holder = new JsonArray { first };

        Assert.NotSame(first, result.Value);
        Assert.Single(holder);
    }

    [Fact]
    public void Value_NumberReadableAsIntLongDoubleDecimal()
    {
        var value = Run("""{"+":[20000,5000]}""").Value!;

        Assert.Equal(25000, value.GetValue<int>());
        Assert.Equal(25000L, value.GetValue<long>());
        Assert.Equal(25000d, value.GetValue<double>());
        Assert.Equal(25000m, value.GetValue<decimal>());
    }

    [Fact]
    public void Evaluate_JsonNodeData_MatchesElementData()
    {
        var rule = JsonLogicRule.Compile("""{"and":[{">":[{"var":"record.amount"},10000]},{"in":[{"var":"record.kind"},["a","b"]]}]}""").Rule!;
        var node = new JsonObject { ["record"] = new JsonObject { ["amount"] = 25000, ["kind"] = "b" } };

        Assert.True(rule.Evaluate(node).IsTruthy);
        Assert.False(rule.Evaluate((JsonNode?)null).IsTruthy);
        Assert.True(rule.Evaluate((JsonNode?)null).Succeeded);
    }

    [Fact]
    public void Failed_CarriesReason()
    {
        var failed = RuleEvaluation.Failed("boom");

        Assert.False(failed.Succeeded);
        Assert.Equal("boom", failed.Error);
        Assert.Equal("error: boom", failed.ToString());
    }

    [Fact]
    public void Evaluate_TypicalConditionOnElement_DoesNotAllocate()
    {
        var rule = JsonLogicRule.Compile("""{">":[{"var":"record.amount"},10000]}""").Rule!;
        using var doc = JsonDocument.Parse("""{"record":{"amount":25000,"kind":"invoice"}}""");
        var data = doc.RootElement;
        for (var i = 0; i < 1_000; i++)
        {
            rule.Evaluate(data);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var truthy = 0;
        for (var i = 0; i < 10_000; i++)
        {
            truthy += rule.Evaluate(data).IsTruthy ? 1 : 0;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(10_000, truthy);
        Assert.True(allocated < 1_000, $"allocated {allocated} bytes over 10,000 evaluations");
    }
}

public sealed class ExplainTests
{
    [Fact]
    public void ReadVariables_ReportsValueAndPresenceOfEachPath()
    {
        var rule = JsonLogicRule.Compile(
            """{"and":[{">":[{"var":"record.amount"},10000]},{"!":{"var":"record.flagged"}},{"in":[{"var":"record.kind"},["a"]]}]}""").Rule!;
        using var doc = JsonDocument.Parse("""{"record":{"amount":25000,"kind":null}}""");

        var variables = rule.ReadVariables(doc.RootElement);

        Assert.Collection(
            variables,
            v => Assert.Equal(("record.amount", true, "25000"), (v.Path, v.Found, v.Value!.ToJsonString())),
            v => Assert.Equal(("record.flagged", false, (JsonNode?)null), (v.Path, v.Found, v.Value)),
            v => Assert.Equal(("record.kind", true, (JsonNode?)null), (v.Path, v.Found, v.Value)));
    }

    [Theory]
    [InlineData("""{"missing":["a","b.c"]}""", """{"a":1,"b":{"c":""}}""", """["b.c"]""")]
    [InlineData("""{"missing":"a"}""", """{"a":"x"}""", "[]")]
    [InlineData("""{"missing":[["a","z"]]}""", """{"a":"x"}""", """["z"]""")]
    [InlineData("""{"missing":[1, "0"]}""", """["x"]""", "[1]")]
    public void Evaluate_MissingWithLiteralKeys_ListsAbsentNullOrEmptyKeys(string rule, string data, string expected)
    {
        var literal = JsonLogicRule.Compile(rule).Rule!;
        using var doc = JsonDocument.Parse(data);

        Assert.Equal(expected, literal.Evaluate(doc.RootElement).Value!.ToJsonString());
    }
}

public sealed class TruthinessTests
{
    [Theory]
    [InlineData("null", false)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    [InlineData("0", false)]
    [InlineData("-0.0", false)]
    [InlineData("0.5", true)]
    [InlineData("\"\"", false)]
    [InlineData("\"0\"", true)]
    [InlineData("\"false\"", true)]
    [InlineData("[]", false)]
    [InlineData("[0]", true)]
    [InlineData("{}", true)]
    public void IsTruthy_DataValue_FollowsJsonLogic(string value, bool expected)
    {
        var rule = JsonLogicRule.Compile("""{"var":"v"}""").Rule!;
        using var doc = JsonDocument.Parse($$"""{"v":{{value}}}""");

        var result = rule.Evaluate(doc.RootElement);

        Assert.True(result.Succeeded);
        Assert.Equal(expected, result.IsTruthy);
        Assert.Equal(expected, JsonLogicRule.Compile("""{"!!":{"var":"v"}}""").Rule!.Evaluate(doc.RootElement).IsTruthy);
    }

    [Fact]
    public void Evaluate_SharedRuleOnManyThreads_GivesEachItsOwnResult()
    {
        var rule = JsonLogicRule.Compile(
            """{"reduce":[{"var":"xs"},{"+":[{"var":"accumulator"},{"var":"current"}]},0]}""").Rule!;
        var failures = 0;

        Parallel.For(0, 2_000, i =>
        {
            using var doc = JsonDocument.Parse($"{{\"xs\":[{i},{i},1]}}");
            var value = rule.Evaluate(doc.RootElement).Value!.GetValue<int>();
            if (value != (2 * i) + 1)
            {
                Interlocked.Increment(ref failures);
            }
        });

        Assert.Equal(0, failures);
    }
}
