// Micro-benchmarks (BenchmarkDotNet). Each suite writes its figures file under docs/:
//   dotnet run -c Release --project bench/ApprovalFunctions.Benchmarks -- rules                      -> docs/benchmarks-rules.md
//   dotnet run -c Release --project bench/ApprovalFunctions.Benchmarks -- --filter '*Engine*'         -> docs/benchmarks-engine.md
//   APPROVALS_BENCH_STORAGE=<conn> dotnet run -c Release --project bench/ApprovalFunctions.Benchmarks -- --filter '*TableClientInterleavedRun*'
//                                                                                                       -> docs/benchmarks-storage.md
// The service-level figures (throughput, latency, chaos) come from scripts/bench.sh.
if (ApprovalFunctions.Benchmarks.Rules.RulesBenchmarkRunner.TryRun(args))
{
    return;
}

BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
