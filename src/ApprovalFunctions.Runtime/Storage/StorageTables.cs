using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>
/// The hub's tables (docs/decisions/007-storage-layout.md): every name is <c>{hub}{Kind}</c>, so several apps
/// can share one storage account. Create one per process; call <see cref="EnsureCreatedAsync"/> once at start-up.
/// </summary>
public sealed class StorageTables
{
    private readonly Lock _createLock = new();
    private Task? _created;

    /// <summary>Creates the table clients (no I/O). <paramref name="hubName"/> is reduced to ASCII letters and digits.</summary>
    public StorageTables(TableServiceClient service, string hubName)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentException.ThrowIfNullOrWhiteSpace(hubName);
        Service = service;
        HubName = Sanitize(hubName);
        Requests = Table("Requests");
        Inbox = Table("Inbox");
        Requesters = Table("Requesters");
        Records = Table("Records");
        FailedCallbacks = Table("FailedCallbacks");
        DueWork = Table("DueWork");
        Leases = Table("Leases");
        Definitions = Table("Definitions");
        Directory = Table("Directory");
        Idempotency = Table("Idempotency");
        Integrations = Table("Integrations");
        Replay = Table("Replay");
        Subscriptions = Table("Subscriptions");
    }

    /// <summary>
    /// Group commit for the writes that are safe to repeat (index rows, due rows): concurrent writes to one partition share
    /// a transaction (docs/decisions/007-storage-layout.md).
    /// </summary>
    public TableWriteCoalescer Writes { get; } = new(count => Diagnostics.RuntimeTelemetry.SharedWrites.Add(count));

    /// <summary>The service client the tables share.</summary>
    public TableServiceClient Service { get; }

    /// <summary>The sanitised hub name (table-name prefix).</summary>
    public string HubName { get; }

    /// <summary>Request partitions: state, ledger, outbox, projection manifest.</summary>
    public TableClient Requests { get; }

    /// <summary>Approver inbox: pending and decided entries per user.</summary>
    public TableClient Inbox { get; }

    /// <summary>Requests per requester, newest first.</summary>
    public TableClient Requesters { get; }

    /// <summary>Requests per record, newest first.</summary>
    public TableClient Records { get; }

    /// <summary>Requests whose callback failed, per tenant (admin retry list).</summary>
    public TableClient FailedCallbacks { get; }

    /// <summary>Timers, outbox deliveries and projection repairs in due order, 16 shards.</summary>
    public TableClient DueWork { get; }

    /// <summary>Due-work shard leases.</summary>
    public TableClient Leases { get; }

    /// <summary>Published workflow versions.</summary>
    public TableClient Definitions { get; }

    /// <summary>Tenant directories.</summary>
    public TableClient Directory { get; }

    /// <summary>Idempotency-Key answers.</summary>
    public TableClient Idempotency { get; }

    /// <summary>Registered integrations.</summary>
    public TableClient Integrations { get; }

    /// <summary>Webhook replay guard.</summary>
    public TableClient Replay { get; }

    /// <summary>Outbound event subscriptions.</summary>
    public TableClient Subscriptions { get; }

    /// <summary>Every table, in a fixed order.</summary>
    public IReadOnlyList<TableClient> All =>
        [Requests, Inbox, Requesters, Records, FailedCallbacks, DueWork, Leases, Definitions, Directory, Idempotency, Integrations, Replay, Subscriptions];

    /// <summary>
    /// Creates every table that does not exist yet; runs once per instance, later calls await the same work. A failed
    /// attempt (storage not reachable yet) is not kept: the next call tries again.
    /// </summary>
    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        Task created;
        lock (_createLock)
        {
            if (_created is null || _created.IsFaulted || _created.IsCanceled)
            {
                _created = CreateAllAsync();
            }

            created = _created;
        }

        return created.WaitAsync(cancellationToken);
    }

    /// <summary>One cheap point read to prove storage answers (readiness probe). Throws when it does not.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default) =>
        await Leases.GetAsync("ping", "ping", ["PartitionKey"], cancellationToken).ConfigureAwait(false);

    private async Task CreateAllAsync()
    {
        foreach (var table in All)
        {
            await table.CreateIfNotExistsAsync().ConfigureAwait(false);
        }

        await CheckLayoutAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The requests table records the layout of its request partitions in one row (<c>!layout</c>). A new table gets
    /// this build's layout; a table of another layout, or one holding requests but no marker (written before layout 2),
    /// stops the start with what to do, instead of serving requests it cannot find.
    /// </summary>
    private async Task CheckLayoutAsync()
    {
        const string LayoutKey = "!layout";
        for (var look = 0; look < 2; look++)
        {
            var marker = await Requests.GetAsync(LayoutKey, LayoutKey, ["Layout"]).ConfigureAwait(false);
            if (marker is not null)
            {
                var layout = marker.GetInt32("Layout") ?? 0;
                if (layout != RequestStore.Layout)
                {
                    throw new StorageLayoutException(LayoutMessage(layout.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                }

                return;
            }

            var holdsRows = false;
            await foreach (var _ in Requests.QueryAsync(select: ["PartitionKey"], top: 1).ConfigureAwait(false))
            {
                holdsRows = true;
                break;
            }

            if (!holdsRows)
            {
                await Requests.UpsertAsync(new TableEntity(LayoutKey, LayoutKey) { ["Layout"] = RequestStore.Layout }, TableUpdateMode.Replace)
                    .ConfigureAwait(false);
                return;
            }

            // Rows but no marker: an earlier build's requests, or another host of this build just wrote its marker. Look again.
        }

        throw new StorageLayoutException(LayoutMessage("1 (no layout marker)"));
    }

    private string LayoutMessage(string found) =>
        $"Table {Requests.Name} holds requests in storage layout {found}; this build reads and writes layout {RequestStore.Layout} " +
        "(row keys start with the request id: docs/decisions/011-request-row-keys.md). No release used another layout, so there is " +
        "no migration: point this build at a new hub (setting Approvals:HubName), or on a laptop stop the service and delete the " +
        "local Azurite data (rm -rf .azurite) so that run.sh seeds it again.";

    private TableClient Table(string kind) => Service.GetTableClient(HubName + kind);

    private static string Sanitize(string hubName)
    {
        var chars = hubName.Where(char.IsAsciiLetterOrDigit).ToArray();
        var name = new string(chars);
        if (name.Length == 0 || !char.IsAsciiLetter(name[0]))
        {
            name = "h" + name;
        }

        // Longest kind is "FailedCallbacks" (15): table names allow 63 characters.
        return name.Length > 40 ? name[..40] : name;
    }
}

/// <summary>
/// Builds the <see cref="TableServiceClient"/> from the same settings the Functions host reads:
/// <c>AzureWebJobsStorage</c> (a connection string) or <c>ApprovalsStorage:tableServiceUri</c> with Entra ID.
/// </summary>
public static class ConnectionSettings
{
    /// <summary>The connection-string setting.</summary>
    public const string ConnectionStringKey = "AzureWebJobsStorage";

    /// <summary>The identity-based endpoint setting (also accepted as <c>ApprovalsStorage__tableServiceUri</c>).</summary>
    public const string TableServiceUriKey = "ApprovalsStorage:tableServiceUri";

    /// <summary>The managed identity client id, when a user-assigned identity is used.</summary>
    public const string ClientIdKey = "ApprovalsStorage:clientId";

    /// <summary>
    /// Creates the client from configuration values looked up by <paramref name="getValue"/> (e.g.
    /// <c>key =&gt; configuration[key]</c>). A table service URI wins over a connection string; with a URI the
    /// credential is a managed identity (when <c>ApprovalsStorage:clientId</c> is set) or DefaultAzureCredential.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither setting is present.</exception>
    public static TableServiceClient CreateServiceClient(Func<string, string?> getValue, TableClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(getValue);
        var uri = getValue(TableServiceUriKey) ?? getValue("ApprovalsStorage__tableServiceUri");
        if (!string.IsNullOrWhiteSpace(uri))
        {
            var clientId = getValue(ClientIdKey) ?? getValue("ApprovalsStorage__clientId");
            Azure.Core.TokenCredential credential = string.IsNullOrWhiteSpace(clientId)
                ? new Azure.Identity.DefaultAzureCredential()
                : new Azure.Identity.ManagedIdentityCredential(Azure.Identity.ManagedIdentityId.FromUserAssignedClientId(clientId));
            return new TableServiceClient(new Uri(uri), credential, options);
        }

        var connectionString = getValue(ConnectionStringKey);
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return new TableServiceClient(connectionString, options);
        }

        throw new InvalidOperationException(
            $"No storage configured: set {ConnectionStringKey} (a connection string, 'UseDevelopmentStorage=true' for Azurite) or {TableServiceUriKey} (identity-based).");
    }
}

/// <summary>Another writer kept winning the ETag race for the same request; the caller may retry shortly (HTTP 503).</summary>
public sealed class StorageBusyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StorageBusyException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public StorageBusyException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public StorageBusyException() : base("Storage is busy.") { }
}

/// <summary>The storage holds data in a layout this build does not read (see <see cref="RequestStore.Layout"/>).</summary>
public sealed class StorageLayoutException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StorageLayoutException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public StorageLayoutException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public StorageLayoutException() : base("The storage holds data in a layout this build does not read.") { }
}

/// <summary>A request's state (or a batch for it) is over the size the layout can commit atomically.</summary>
public sealed class StateTooLargeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StateTooLargeException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public StateTooLargeException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public StateTooLargeException() : base("The request state is too large.") { }
}
