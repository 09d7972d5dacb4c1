using BenchmarkDotNet.Running;

namespace ApprovalFunctions.Benchmarks.Rules;

/// <summary>
/// The <c>rules</c> verb: <c>dotnet run -c Release --project bench/ApprovalFunctions.Benchmarks -- rules</c>.
/// Program.cs can route to it with <c>if (RulesBenchmarkRunner.TryRun(args)) return;</c>; until then
/// <c>-- --filter '*RulesBenchmarks*'</c> through BenchmarkSwitcher does the same.
/// </summary>
public static class RulesBenchmarkRunner
{
    public static bool TryRun(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || !string.Equals(args[0], "rules", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // RulesBenchmarkConfig (via the class attribute) adds the job, memory diagnoser and markdown exporter.
        BenchmarkRunner.Run<RulesBenchmarks>(args: args[1..]);
        return true;
    }
}
