using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalFunctions.Rules;

namespace ApprovalFunctions.Rules.Tests;

/// <summary>Runs every case of the shared JSON Logic conformance suite straight from its file.</summary>
public sealed class ConformanceTests
{
    private const string SuiteInShared = "conformance/jsonlogic/compatible.json";
    private const string SuiteRelativePath = "shared/" + SuiteInShared;

    private static readonly Lazy<JsonElement[]> Cases = new(LoadCases);

    public static TheoryData<int, string> CaseNames()
    {
        var data = new TheoryData<int, string>();
        var cases = Cases.Value;
        for (var i = 0; i < cases.Length; i++)
        {
            data.Add(i, cases[i].GetProperty("description").GetString()!);
        }

        return data;
    }

    [Fact]
    public void Suite_IsFoundAndNotEmpty()
    {
        Assert.True(Cases.Value.Length >= 250, $"expected the full suite, found {Cases.Value.Length} cases");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Evaluate_ConformanceCase_MatchesExpectedResult(int index, string description)
    {
        var testCase = Cases.Value[index];
        Assert.Equal(description, testCase.GetProperty("description").GetString());

        var compiled = JsonLogicRule.Compile(testCase.GetProperty("rule"));
        Assert.True(compiled.Succeeded, string.Join("; ", compiled.Errors));

        var data = testCase.TryGetProperty("data", out var d) ? d : default;
        var result = compiled.Rule!.Evaluate(data);

        if (testCase.TryGetProperty("error", out _))
        {
            Assert.False(result.Succeeded, $"expected an error, got {result}");
            return;
        }

        Assert.True(result.Succeeded, result.Error);
        var expected = JsonNode.Parse(testCase.GetProperty("result").GetRawText());
        Assert.True(
            JsonTestEquality.AreEqual(expected, result.Value),
            $"expected {expected?.ToJsonString() ?? "null"}, got {result}");

        // The JsonNode overload must agree with the JsonElement one.
        var viaNode = compiled.Rule.Evaluate(data.ValueKind == JsonValueKind.Undefined ? null : JsonNode.Parse(data.GetRawText()));
        Assert.True(JsonTestEquality.AreEqual(expected, viaNode.Value), $"JsonNode data: expected {expected?.ToJsonString() ?? "null"}, got {viaNode}");
    }

    private static JsonElement[] LoadCases()
    {
        var path = FindSuite();
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return [.. document.RootElement.EnumerateArray()
            .Where(e => e.ValueKind == JsonValueKind.Object)
            .Select(e => e.Clone())];
    }

    /// <summary>
    /// The shared suite: under <c>APPROVALS_SHARED_DIR</c> when set (scripts/test.sh sets it), otherwise found by walking
    /// up from the test assembly until a directory holds it (shared/ sits beside the repo).
    /// </summary>
    internal static string FindSuite()
    {
        if (Environment.GetEnvironmentVariable("APPROVALS_SHARED_DIR") is { Length: > 0 } shared)
        {
            var given = Path.Combine(shared, SuiteInShared);
            if (File.Exists(given))
            {
                return given;
            }
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, SuiteRelativePath);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"No directory above {AppContext.BaseDirectory} contains {SuiteRelativePath}; the shared/ folder must sit beside the repository.");
    }
}

internal static class JsonTestEquality
{
    /// <summary>Structural JSON equality where numbers compare by value (2 equals 2.0).</summary>
    public static bool AreEqual(JsonNode? a, JsonNode? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }

        switch (a)
        {
            case JsonArray xa when b is JsonArray xb:
                return xa.Count == xb.Count && xa.Zip(xb).All(p => AreEqual(p.First, p.Second));
            case JsonObject oa when b is JsonObject ob:
                return oa.Count == ob.Count && oa.All(p => ob.TryGetPropertyValue(p.Key, out var v) && AreEqual(p.Value, v));
            case JsonValue va when b is JsonValue vb:
                var ka = va.GetValueKind();
                var kb = vb.GetValueKind();
                if (ka != kb)
                {
                    return false;
                }

                return ka == JsonValueKind.Number
                    ? double.Parse(va.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) == double.Parse(vb.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)
                    : va.ToJsonString() == vb.ToJsonString();
            default:
                return false;
        }
    }
}
