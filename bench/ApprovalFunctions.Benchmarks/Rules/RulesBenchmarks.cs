using System.Text.Json;
using ApprovalFunctions.Rules;
using BenchmarkDotNet.Attributes;

namespace ApprovalFunctions.Benchmarks.Rules;

/// <summary>
/// JSON Logic evaluation speed. Target (issue 3): a compiled typical condition evaluates at least
/// 1M times per second per core against a pre-parsed JsonElement. Run with
/// <c>dotnet run -c Release --project bench/ApprovalFunctions.Benchmarks -- --filter *RulesBenchmarks*</c>;
/// <see cref="RulesMarkdownExporter"/> writes docs/benchmarks-rules.md.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(RulesBenchmarkConfig))]
public class RulesBenchmarks
{
    private const string TypicalConditionJson = """{">":[{"var":"record.amount"},10000]}""";

    private JsonDocument _data = null!;
    private JsonElement _element;
    private JsonLogicRule _typical = null!;
    private JsonLogicRule _compound = null!;
    private JsonLogicRule _approvers = null!;
    private JsonLogicRule _lines = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = JsonDocument.Parse("""
            {"record":{"amount":25000,"currency":"EUR","kind":"invoice","department":"finance",
             "manager":"u-17","lines":[{"sku":"a","qty":2},{"sku":"b","qty":3},{"sku":"c","qty":1}]}}
            """);
        _element = _data.RootElement;
        _typical = Compile(TypicalConditionJson);
        _compound = Compile("""
            {"and":[{">=":[{"var":"record.amount"},10000]},
                    {"in":[{"var":"record.kind"},["invoice","credit-note"]]},
                    {"==":[{"var":"record.currency"},"EUR"]},
                    {"!":{"missing":["record.department"]}}]}
            """);
        _approvers = Compile("""
            {"if":[{">":[{"var":"record.amount"},10000]},
                   {"merge":[{"var":"record.manager"},"cfo"]},
                   {"var":"record.manager"}]}
            """);
        _lines = Compile("""{"some":[{"var":"record.lines"},{">=":[{"var":"qty"},3]}]}""");
    }

    [GlobalCleanup]
    public void Cleanup() => _data.Dispose();

    /// <summary>The reference condition; the 1M/s/core target applies here.</summary>
    [Benchmark(Baseline = true)]
    public bool TypicalCondition() => _typical.Evaluate(_element).IsTruthy;

    [Benchmark]
    public bool CompoundCondition() => _compound.Evaluate(_element).IsTruthy;

    [Benchmark]
    public bool SomeOverLines() => _lines.Evaluate(_element).IsTruthy;

    [Benchmark]
    public int FieldApproverExpression() => _approvers.Evaluate(_element).AsStrings()!.Count;

    [Benchmark]
    public bool CompileTypicalCondition() => JsonLogicRule.Compile(TypicalConditionJson).Succeeded;

    private static JsonLogicRule Compile(string json) =>
        JsonLogicRule.Compile(json).Rule ?? throw new InvalidOperationException("benchmark rule does not compile: " + json);
}
