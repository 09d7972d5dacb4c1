using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Storage.Tests;

/// <summary>
/// The one place storage tests get their connection: APPROVALS_TEST_STORAGE, set by scripts/test.sh after it
/// starts a throw-away Azurite. Missing variable = failing tests, never silently skipped ones.
/// </summary>
public sealed class AzuriteFixture
{
    public const string Variable = "APPROVALS_TEST_STORAGE";

    private readonly string? _connectionString = Environment.GetEnvironmentVariable(Variable);
    private TableServiceClient? _service;

    /// <summary>The connection string; throws with instructions when the variable is not set.</summary>
    public string ConnectionString => string.IsNullOrWhiteSpace(_connectionString)
        ? throw new InvalidOperationException(
            $"{Variable} is not set. Storage tests run against Azurite: run scripts/test.sh (it starts Azurite and sets {Variable}).")
        : _connectionString;

    public TableServiceClient Service => _service ??= new TableServiceClient(ConnectionString);

    /// <summary>A fresh, unique table name per call so tests never see each other's data.</summary>
    public static string UniqueTableName(string prefix = "t") => prefix + Guid.NewGuid().ToString("N")[..24];

    /// <summary>Creates a new empty table for one test.</summary>
    public async Task<TableClient> CreateTableAsync(string prefix = "t")
    {
        var table = Service.GetTableClient(UniqueTableName(prefix));
        await table.CreateIfNotExistsAsync();
        return table;
    }
}
