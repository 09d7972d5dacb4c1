using System.Globalization;
using System.Text;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;

namespace ApprovalFunctions.Benchmarks.Rules;

/// <summary>
/// Writes docs/benchmarks-rules.md (found by walking up to ApprovalFunctions.sln) with operations per
/// second per core and bytes allocated per operation. Each benchmark runs on one thread, so
/// 1e9 / mean-ns is the per-core rate.
/// </summary>
public sealed class RulesMarkdownExporter : IExporter
{
    private const double TargetOpsPerSecond = 1_000_000;

    public string Name => nameof(RulesMarkdownExporter);

    public void ExportToLog(Summary summary, ILogger logger) => logger.WriteLine(Render(summary));

    public IEnumerable<string> ExportToFiles(Summary summary, ILogger consoleLogger)
    {
        var root = FindRepositoryRoot();
        if (root is null)
        {
            consoleLogger.WriteLineError("RulesMarkdownExporter: ApprovalFunctions.sln not found above the working directory; figures not written.");
            return [];
        }

        // A run whose build failed (say, another project mid-edit) must not overwrite good figures.
        if (!summary.Reports.Any(r => r.ResultStatistics is not null))
        {
            consoleLogger.WriteLineError("RulesMarkdownExporter: no benchmark produced results; docs/benchmarks-rules.md left unchanged.");
            return [];
        }

        var path = Path.Combine(root, "docs", "benchmarks-rules.md");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, Render(summary));
        return [path];
    }

    private static string Render(Summary summary)
    {
        var c = CultureInfo.InvariantCulture;
        var env = summary.HostEnvironmentInfo;
        var sb = new StringBuilder();
        sb.AppendLine("# JSON Logic rule benchmarks");
        sb.AppendLine();
        sb.AppendLine("Written by `bench/ApprovalFunctions.Benchmarks/Rules/RulesMarkdownExporter.cs`. Regenerate with");
        sb.AppendLine();
        sb.AppendLine("    dotnet run -c Release --project bench/ApprovalFunctions.Benchmarks -- --filter '*RulesBenchmarks*'");
        sb.AppendLine();
        sb.AppendLine(c, $"Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {env.OsVersion.Value}; {env.CpuInfo.Value?.ProcessorName ?? "unknown CPU"}, {Environment.ProcessorCount} logical cores; " +
            $"{env.RuntimeVersion}; BenchmarkDotNet {env.BenchmarkDotNetVersion}; job ShortRun (3 iterations: indicative figures).");
        sb.AppendLine();
        if (File.Exists("/proc/loadavg"))
        {
            // The build machine is shared with parallel builds; a high load explains noisy means.
            sb.AppendLine(c, $"Load average at export (1/5/15 min): {string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}.");
            sb.AppendLine();
        }

        sb.AppendLine("Each benchmark evaluates a compiled rule on one thread against a pre-parsed `JsonElement`, so ops/s is per core.");
        sb.AppendLine(c, $"Target (issue 3): the typical condition `{{\">\":[{{\"var\":\"record.amount\"}},10000]}}` at >= {TargetOpsPerSecond:N0} ops/s per core.");
        sb.AppendLine();
        sb.AppendLine("| Benchmark | Mean (ns) | StdDev (ns) | Ops/s per core | Allocated (B/op) | Meets 1M/s |");
        sb.AppendLine("|---|---:|---:|---:|---:|:---:|");
        foreach (var report in summary.Reports)
        {
            var name = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
            var stats = report.ResultStatistics;
            if (stats is null)
            {
                sb.AppendLine(c, $"| {name} | failed | | | | |");
                continue;
            }

            var opsPerSecond = 1e9 / stats.Mean;
            var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
            sb.AppendLine(c, $"| {name} | {stats.Mean:N1} | {stats.StandardDeviation:N1} | {opsPerSecond:N0} | {allocated?.ToString("N0", c) ?? "n/a"} | {Verdict(name, opsPerSecond)} |");
        }

        return sb.ToString();
    }

    // Compiling happens once when a workflow is published; the per-second target is for evaluation.
    private static string Verdict(string name, double opsPerSecond) =>
        name.StartsWith("Compile", StringComparison.Ordinal) ? "n/a (once at publish)"
        : opsPerSecond >= TargetOpsPerSecond ? "yes" : "no";

    private static string? FindRepositoryRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ApprovalFunctions.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }
}
