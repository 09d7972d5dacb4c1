using Azure.Core;
using Azure.Core.Pipeline;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Entry point: one HTTP pipeline (retries, logging, tracing, auth) per storage account, shared by every
/// <see cref="TableClient"/> it hands out. Create one per process and keep it.
/// </summary>
public sealed class TableServiceClient
{
    /// <summary>Uses a connection string (account key, or UseDevelopmentStorage=true for Azurite).</summary>
    public TableServiceClient(string connectionString, TableClientOptions? options = null)
    {
        var cs = TableConnectionString.Parse(connectionString);
        options ??= new TableClientOptions();
        Endpoint = cs.TableEndpoint;
        AccountName = cs.AccountName;
        Pipeline = HttpPipelineBuilder.Build(options, [], [new SharedKeyLitePolicy(cs.AccountName, cs.AccountKey, options.TimeProvider)], responseClassifier: null);
    }

    /// <summary>Uses Entra ID (managed identity, DefaultAzureCredential…) against an account's table endpoint.</summary>
    public TableServiceClient(Uri endpoint, TokenCredential credential, TableClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(credential);
        options ??= new TableClientOptions();
        Endpoint = new Uri(endpoint.AbsoluteUri.TrimEnd('/'));
        AccountName = endpoint.Host.Split('.')[0];
        Pipeline = HttpPipelineBuilder.Build(options, [], [new BearerTokenAuthenticationPolicy(credential, options.TokenScope)], responseClassifier: null);
    }

    /// <summary>The table service endpoint, without a trailing slash.</summary>
    public Uri Endpoint { get; }

    /// <summary>The storage account name.</summary>
    public string AccountName { get; }

    internal HttpPipeline Pipeline { get; }

    /// <summary>A client for one table; cheap, no I/O. Validates the name against Azure's rules.</summary>
    public TableClient GetTableClient(string tableName)
    {
        ValidateTableName(tableName);
        return new TableClient(this, tableName);
    }

    private static void ValidateTableName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var ok = name.Length is >= 3 and <= 63 && char.IsAsciiLetter(name[0]);
        foreach (var c in name)
        {
            ok &= char.IsAsciiLetterOrDigit(c);
        }

        if (!ok || name.Equals("tables", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Table name '{name}' must match ^[A-Za-z][A-Za-z0-9]{{2,62}}$ and not be 'tables'.", nameof(name));
        }
    }
}
