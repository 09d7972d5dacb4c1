using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace ApprovalFunctions.Benchmarks.Rules;

/// <summary>ShortRun keeps a full run to about a minute on the 2-core build machine; figures are indicative, not lab-grade.</summary>
public sealed class RulesBenchmarkConfig : ManualConfig
{
    public RulesBenchmarkConfig()
    {
        AddJob(Job.ShortRun);
        AddDiagnoser(MemoryDiagnoser.Default);
        AddExporter(new RulesMarkdownExporter());
    }
}
