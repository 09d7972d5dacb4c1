using System.Security.Cryptography;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>A registered integration: it signs decision webhooks with <see cref="Secret"/>.</summary>
public sealed record Integration(string TenantId, string Id, string Name, string Secret, DateTimeOffset CreatedAt);

/// <summary>
/// Integrations in <c>{hub}Integrations</c>: partition <c>{tenant}</c> for the admin list and partition
/// <c>integration</c> for the id → tenant lookup a webhook needs (it names only the integration id).
/// </summary>
public sealed class IntegrationStore
{
    private const string LookupPartition = "integration";
    private readonly TableClient _table;

    /// <summary>Creates the store.</summary>
    public IntegrationStore(StorageTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        _table = tables.Integrations;
    }

    /// <summary>Registers an integration with a fresh random id and a 256-bit random secret.</summary>
    public async Task<Integration> CreateAsync(string tenantId, string name, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tenantId);
        var integration = new Integration(tenantId, "int_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), name ?? "",
            Base64Url(RandomNumberGenerator.GetBytes(32)), now);
        // Lookup row first: a crash in between leaves an unlisted but harmless lookup, never a listed integration that cannot sign.
        await _table.InsertAsync(Row(LookupPartition, integration), cancellationToken).ConfigureAwait(false);
        await _table.InsertAsync(Row(TableKey.Encode(tenantId), integration), cancellationToken).ConfigureAwait(false);
        return integration;
    }

    /// <summary>The tenant's integrations.</summary>
    public async Task<IReadOnlyList<Integration>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var result = new List<Integration>();
        await foreach (var row in _table.QueryAsync(TableFilter.PartitionKeyEquals(TableKey.Encode(tenantId)), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            result.Add(Read(row));
        }

        return result;
    }

    /// <summary>Finds an integration by id across tenants (webhooks carry only the id); null when unknown.</summary>
    public async Task<Integration?> FindAsync(string integrationId, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(integrationId) || integrationId.Length > 200)
        {
            return null;
        }

        var row = await _table.GetAsync(LookupPartition, TableKey.Encode(integrationId), cancellationToken: cancellationToken).ConfigureAwait(false);
        return row is null ? null : Read(row);
    }

    /// <summary>Removes an integration; false when it is not the tenant's.</summary>
    public async Task<bool> DeleteAsync(string tenantId, string integrationId, CancellationToken cancellationToken = default)
    {
        var found = await FindAsync(integrationId, cancellationToken).ConfigureAwait(false);
        if (found is null || !string.Equals(found.TenantId, tenantId, StringComparison.Ordinal))
        {
            return false;
        }

        await _table.DeleteAsync(TableKey.Encode(tenantId), TableKey.Encode(integrationId), "*", cancellationToken).ConfigureAwait(false);
        await _table.DeleteAsync(LookupPartition, TableKey.Encode(integrationId), "*", cancellationToken).ConfigureAwait(false);
        return true;
    }

    internal static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static TableEntity Row(string pk, Integration i) => new(pk, TableKey.Encode(i.Id))
    {
        ["TenantId"] = i.TenantId,
        ["Id"] = i.Id,
        ["Name"] = i.Name,
        ["Secret"] = i.Secret,
        ["CreatedAt"] = i.CreatedAt,
    };

    private static Integration Read(TableEntity row) => new(
        row.GetString("TenantId") ?? "", row.GetString("Id") ?? "", row.GetString("Name") ?? "", row.GetString("Secret") ?? "",
        row.GetDateTimeOffset("CreatedAt") ?? default);
}

/// <summary>
/// Webhook replay guard in <c>{hub}Replay</c>: partition <c>{integrationId}</c>, row <c>{eventId}</c>. An atomic
/// insert; a conflict means the event was already received.
/// </summary>
public sealed class ReplayGuard
{
    private readonly TableClient _table;

    /// <summary>Creates the guard.</summary>
    public ReplayGuard(StorageTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        _table = tables.Replay;
    }

    /// <summary>True the first time an event id is seen for the integration; false for a replay.</summary>
    public async Task<bool> TryRecordAsync(string integrationId, string eventId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(integrationId);
        ArgumentException.ThrowIfNullOrEmpty(eventId);
        try
        {
            await _table.InsertAsync(new TableEntity(TableKey.Encode(integrationId), TableKey.Encode(eventId)) { ["At"] = now }, cancellationToken)
                .ConfigureAwait(false);
            return true;
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.Conflict)
        {
            return false;
        }
    }
}
