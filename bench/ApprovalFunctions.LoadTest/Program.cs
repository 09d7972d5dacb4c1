using System.Globalization;
using ApprovalFunctions.LoadTest;

// Usage:
//   bench [--quick] [--scale N] [--out docs/benchmarks.md]   every suite; writes the figures file
//   chaos [--short] [--requests N] [--kills N]                two hosts, kill -9 at random, verify; prints the verdict
//   latency [--reps N] [--ops N]                              only the one-client decision latency (diagnostics)
//   decisions [--reps N] [--n N]                              only decisions/s with 64 clients (diagnostics)
//   lifecycles [--reps N] [--n N]                             only full lifecycles/s with 32 clients (diagnostics)
//   page [--reps N] [--n N] [--ops N]                         only the page at N pending, host up and host stopped (diagnostics)
// Storage: APPROVALS_BENCH_STORAGE or APPROVALS_TEST_STORAGE (an Azurite connection string). scripts/bench.sh sets it up.
var mode = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "bench";
string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
bool Flag(string name) => args.Contains(name);
int IntOption(string name, int fallback) => Option(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
string Join(IEnumerable<double> values, string format) => string.Join(", ", values.Select(v => v.ToString(format, CultureInfo.InvariantCulture)));

var env = Environment2.Detect();
if (!File.Exists(env.HostDll))
{
    Console.Error.WriteLine($"The host is not built: {env.HostDll}. Build it first: dotnet build src/ApprovalFunctions.LocalHost -c Release");
    return 2;
}

try
{
    switch (mode)
    {
        case "bench":
        {
            var sizes = Flag("--quick") ? BenchSizes.Quick : BenchSizes.Full(IntOption("--scale", 100_000));
            var output = Option("--out") ?? Path.Combine(env.Root, "docs", "benchmarks.md");
            return await Bench.RunAsync(env, sizes, output, Console.Out);
        }

        case "chaos":
        {
            var isShort = Flag("--short");
            var requests = IntOption("--requests", isShort ? 50 : 500);
            var kills = IntOption("--kills", isShort ? 5 : 50);
            var result = await Chaos.RunAsync(env, requests, kills, 16, Console.Out);
            Console.WriteLine(result.Verdict);
            return result.Pass ? 0 : 1;
        }

        case "latency":
        {
            // Diagnostics: only the one-client decision latency, --reps runs of --ops decisions (p50 and p99 per run).
            var (p50s, p99s, floorP50s) = await Bench.LatencyOnlyAsync(env, IntOption("--reps", 5), IntOption("--ops", 300));
            Console.WriteLine("p50 ms: " + Join(p50s, "F2"));
            Console.WriteLine("p99 ms: " + Join(p99s, "F2"));
            Console.WriteLine("storage floor p50 ms (the same round trips straight to Azurite): " + Join(floorP50s, "F2"));
            return 0;
        }

        case "decisions":
        {
            // Diagnostics: only decisions/s with 64 clients, --reps runs of --n submissions then --n decisions.
            var (decided, submitted) = await Bench.DecisionsOnlyAsync(env, IntOption("--reps", 3), IntOption("--n", 1000));
            Console.WriteLine("decisions/s: " + Join(decided, "F1"));
            Console.WriteLine("submissions/s: " + Join(submitted, "F1"));
            return 0;
        }

        case "lifecycles":
        {
            // Diagnostics: only full lifecycles/s with 32 clients, --reps runs of --n lifecycles.
            var rates = await Bench.LifecyclesOnlyAsync(env, IntOption("--reps", 3), IntOption("--n", 300));
            Console.WriteLine("lifecycles/s: " + Join(rates, "F1"));
            return 0;
        }

        case "page":
        {
            // Diagnostics: only the 'my approvals' page at --n pending, with the host up and its queries with the host stopped.
            foreach (var line in await Bench.PageOnlyAsync(env, IntOption("--reps", 3), IntOption("--n", 10_000), IntOption("--ops", 200)))
            {
                Console.WriteLine(line);
            }

            return 0;
        }

        case "count":
        {
            // Diagnostics: only the storage-requests-per-lifecycle suite.
            using var receiver = new CallbackReceiver();
            var result = await Bench.CountRequestsAsync(env, new ApiClient(env.SigningKey), receiver, IntOption("--n", 5), 1);
            Console.WriteLine(result);
            return 0;
        }

        default:
            Console.Error.WriteLine($"Unknown mode '{mode}': use bench, chaos, latency, decisions, lifecycles, page or count.");
            return 2;
    }
}
finally
{
    HostProcess.KillAll();
}
