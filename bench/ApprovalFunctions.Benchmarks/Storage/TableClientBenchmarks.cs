using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Storage.Tables;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace ApprovalFunctions.Benchmarks.Storage;

/// <summary>
/// BenchmarkDotNet view of the client against raw HttpClient (times and allocations per call). Client and
/// raw run one after the other here, so Azurite's drift between blocks shows up as noise in the ratio;
/// the figures file comes from <see cref="TableClientInterleavedRun"/>, which alternates them call by call.
/// Needs APPROVALS_BENCH_STORAGE (an Azurite connection string). Run with
/// <c>dotnet run -c Release --project bench/ApprovalFunctions.Benchmarks -- --filter '*TableClientBenchmarks*'</c>.
/// </summary>
[Config(typeof(StorageBenchmarkConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TableClientBenchmarks
{
    private TableClient _table = null!;
    private TableEntity _entity = null!;
    private string _clientETag = "";
    private string _rawETag = "";
    private RawTable _raw = null!;
    private byte[] _rawEntityJson = [];

    [GlobalSetup]
    public void Setup()
    {
        var connectionString = Environment.GetEnvironmentVariable(RawTable.Variable)
            ?? throw new InvalidOperationException($"{RawTable.Variable} is not set: start Azurite and pass its connection string (see docs/benchmarks-storage.md).");
        var service = new TableServiceClient(connectionString);
        _table = service.GetTableClient("bench" + Guid.NewGuid().ToString("N")[..16]);
        _table.CreateIfNotExistsAsync().GetAwaiter().GetResult();
        _entity = new TableEntity("p", "r")
        {
            ["Title"] = "Purchase order 4711",
            ["Amount"] = 25_000L,
            ["Step"] = 2,
            ["Due"] = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero),
            ["Open"] = true,
        };
        _clientETag = _table.UpsertAsync(_entity, TableUpdateMode.Replace).GetAwaiter().GetResult();
        _raw = new RawTable(TableConnectionString.Parse(connectionString), _table.Name);
        _rawEntityJson = Encoding.UTF8.GetBytes(
            """{"PartitionKey":"p","RowKey":"q","Title":"Purchase order 4711","Amount@odata.type":"Edm.Int64","Amount":"25000","Step":2,"Due@odata.type":"Edm.DateTime","Due":"2025-06-01T12:00:00.0000000Z","Open":true}""");
        var seed = new TableEntity("p", "q");
        foreach (var (k, v) in _entity.Properties)
        {
            seed[k] = v;
        }

        _rawETag = _table.UpsertAsync(seed, TableUpdateMode.Replace).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _table.DeleteTableAsync().GetAwaiter().GetResult();
        _raw.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("PointRead")]
    public Task<long> PointRead_Raw() => _raw.GetAmountAsync("p", "q");

    [Benchmark, BenchmarkCategory("PointRead")]
    public async Task<long> PointRead_Client() => (await _table.GetAsync("p", "r").ConfigureAwait(false))!.GetInt64("Amount")!.Value;

    [Benchmark(Baseline = true), BenchmarkCategory("ConditionalUpdate")]
    public async Task ConditionalUpdate_Raw() => _rawETag = await _raw.ReplaceAsync("p", "q", _rawEntityJson, _rawETag).ConfigureAwait(false);

    [Benchmark, BenchmarkCategory("ConditionalUpdate")]
    public async Task ConditionalUpdate_Client() => _clientETag = await _table.UpdateAsync(_entity, _clientETag).ConfigureAwait(false);

    [Benchmark(Baseline = true), BenchmarkCategory("Batch2")]
    public Task Batch2_Raw() => _raw.BatchUpsert2Async("b", _rawEntityJson);

    [Benchmark, BenchmarkCategory("Batch2")]
    public Task Batch2_Client() => _table.SubmitTransactionAsync(
    [
        TableTransactionAction.Upsert(Copy(_entity, "b", "1"), TableUpdateMode.Replace),
        TableTransactionAction.Upsert(Copy(_entity, "b", "2"), TableUpdateMode.Replace),
    ]);

    private static TableEntity Copy(TableEntity source, string pk, string rk)
    {
        var e = new TableEntity(pk, rk);
        foreach (var (k, v) in source.Properties)
        {
            e[k] = v;
        }

        return e;
    }
}
