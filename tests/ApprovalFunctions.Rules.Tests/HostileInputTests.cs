using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalFunctions.Rules;

namespace ApprovalFunctions.Rules.Tests;

/// <summary>Rules and data built to crash or exhaust the evaluator must come back as errors.</summary>
public sealed class HostileInputTests
{
    [Theory]
    [InlineData(100_000)]
    [InlineData(200)]
    public void Compile_DeeplyNestedArraysText_IsRefusedWithoutCrash(int depth)
    {
        var text = new string('[', depth) + new string(']', depth);

        var result = JsonLogicRule.Compile(text);

        Assert.False(result.Succeeded);
        Assert.Contains("deeper than", Assert.Single(result.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_DeeplyNestedOperatorsText_IsRefusedWithoutCrash()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < 100_000; i++)
        {
            sb.Append("{\"!\":");
        }

        sb.Append("true").Append('}', 100_000);

        Assert.False(JsonLogicRule.Compile(sb.ToString()).Succeeded);
    }

    [Fact]
    public void Compile_DeepElementParsedByCaller_IsRefusedAtDepthLimitWithoutCrash()
    {
        // A caller may parse with a larger MaxDepth than ours; compiling must still not recurse 100k frames.
        const int depth = 100_000;
        var text = new string('[', depth) + new string(']', depth);
        using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = depth + 1 });

        var result = JsonLogicRule.Compile(doc.RootElement);

        var error = Assert.Single(result.Errors);
        Assert.Contains("deeper than 128", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("$[0][0][0]", error.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_RuleNestedJustInsideLimit_Compiles()
    {
        // 60 nested "!" operators use 120 JSON levels: within the 128 limit.
        var text = string.Concat(Enumerable.Repeat("{\"!\":[", 60)) + "true" + string.Concat(Enumerable.Repeat("]}", 60));

        var result = JsonLogicRule.Compile(text);

        Assert.True(result.Succeeded, string.Join("; ", result.Errors));
        Assert.True(result.Rule!.Evaluate(default(JsonElement)).IsTruthy);
    }

    [Fact]
    public void Compile_TooManyValues_IsRefused()
    {
        var text = "[" + string.Join(',', Enumerable.Repeat("1", JsonLogicLimits.MaxRuleNodes + 1)) + "]";

        var error = Assert.Single(JsonLogicRule.Compile(text).Errors);

        Assert.Contains("more than", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_MapOverHugeArray_FailsOnStepLimit()
    {
        var rule = JsonLogicRule.Compile("""{"map":[{"var":"xs"},{"+":[{"var":""},1]}]}""").Rule!;
        using var data = JsonDocument.Parse("{\"xs\":[" + string.Join(',', Enumerable.Range(0, 600_000)) + "]}");

        var result = rule.Evaluate(data.RootElement);

        Assert.False(result.Succeeded);
        Assert.Contains("steps", result.Error, StringComparison.Ordinal);
        Assert.False(result.IsTruthy);
        Assert.Null(result.Value);
    }

    [Fact]
    public void Evaluate_FilterOverLargeButBoundedArray_Succeeds()
    {
        var rule = JsonLogicRule.Compile("""{"filter":[{"var":"xs"},{">=":[{"var":""},9990]}]}""").Rule!;
        using var data = JsonDocument.Parse("{\"xs\":[" + string.Join(',', Enumerable.Range(0, 10_000)) + "]}");

        var result = rule.Evaluate(data.RootElement);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(10, result.Value!.AsArray().Count);
    }

    [Fact]
    public void Evaluate_ReduceThatDoublesAString_FailsOnStringLimit()
    {
        var rule = JsonLogicRule.Compile(
            """{"reduce":[{"var":"xs"},{"cat":[{"var":"accumulator"},{"var":"accumulator"}]},"ab"]}""").Rule!;
        using var data = JsonDocument.Parse("{\"xs\":[" + string.Join(',', Enumerable.Range(0, 64)) + "]}");

        var result = rule.Evaluate(data.RootElement);

        Assert.False(result.Succeeded);
        Assert.Contains("string longer than", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_MergeOfHugeArrays_FailsOnStepLimit()
    {
        var rule = JsonLogicRule.Compile("""{"merge":[{"var":"xs"},{"var":"xs"},{"var":"xs"}]}""").Rule!;
        using var data = JsonDocument.Parse("{\"xs\":[" + string.Join(',', Enumerable.Repeat("0", 400_000)) + "]}");

        Assert.False(rule.Evaluate(data.RootElement).Succeeded);
    }

    [Fact]
    public void Evaluate_DeeplyNestedDataInCat_FailsInsteadOfOverflowing()
    {
        const int depth = 10_000;
        var rule = JsonLogicRule.Compile("""{"cat":[{"var":"deep"}]}""").Rule!;
        using var data = JsonDocument.Parse(
            "{\"deep\":" + new string('[', depth) + new string(']', depth) + "}",
            new JsonDocumentOptions { MaxDepth = depth + 2 });

        var result = rule.Evaluate(data.RootElement);

        Assert.False(result.Succeeded);
        Assert.Contains("deeper than", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_DeeplyNestedDataAsResult_FailsInsteadOfOverflowing()
    {
        const int depth = 10_000;
        var rule = JsonLogicRule.Compile("""{"var":"deep"}""").Rule!;
        using var data = JsonDocument.Parse(
            "{\"deep\":" + new string('[', depth) + new string(']', depth) + "}",
            new JsonDocumentOptions { MaxDepth = depth + 2 });

        var result = rule.Evaluate(data.RootElement);

        Assert.False(result.Succeeded);
    }

    [Fact]
    public void Evaluate_DeepVarPathIntoDeepData_IsIterativeAndSucceeds()
    {
        const int depth = 5_000;
        var path = string.Join('.', Enumerable.Repeat("0", depth));
        var rule = JsonLogicRule.Compile($$"""{"var":"{{path}}"}""").Rule!;
        using var data = JsonDocument.Parse(
            new string('[', depth) + "7" + new string(']', depth),
            new JsonDocumentOptions { MaxDepth = depth + 2 });

        var result = rule.Evaluate(data.RootElement);

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(7, result.Value!.GetValue<int>());
    }

    [Fact]
    public void Evaluate_DeepJsonNodeData_FailsInsteadOfThrowing()
    {
        JsonNode node = new JsonArray();
        var root = node;
        for (var i = 0; i < 2_000; i++)
        {
            var child = new JsonArray();
            node.AsArray().Add(child);
            node = child;
        }

        var rule = JsonLogicRule.Compile("""{"var":"x"}""").Rule!;

        var result = rule.Evaluate(root);

        Assert.False(result.Succeeded);
        Assert.NotNull(result.Error);
    }

    [Fact]
    public void Evaluate_DisposedDataDocument_FailsInsteadOfThrowing()
    {
        var rule = JsonLogicRule.Compile("""{"var":"a"}""").Rule!;
        var doc = JsonDocument.Parse("""{"a":1}""");
        var element = doc.RootElement;
        doc.Dispose();

        var result = rule.Evaluate(element);

        Assert.False(result.Succeeded);
    }
}
