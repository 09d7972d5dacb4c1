using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace ApprovalFunctions.Benchmarks.Storage;

/// <summary>
/// In-process (the Azurite connection string comes from the environment, and there is no codegen build to
/// wait for), 1 launch, 3 warm-up and 15 measured iterations: enough for a stable median of a ~1 ms network call.
/// </summary>
public sealed class StorageBenchmarkConfig : ManualConfig
{
    public StorageBenchmarkConfig()
    {
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(15)
            .WithId("Storage"));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
