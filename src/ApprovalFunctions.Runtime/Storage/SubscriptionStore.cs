using System.Collections.Concurrent;
using System.Security.Cryptography;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>An outbound event subscription (API.md): events are POSTed to <see cref="Url"/>, signed with <see cref="Secret"/>.</summary>
public sealed record Subscription(string TenantId, string Id, Uri Url, IReadOnlyList<string> Events, string Secret, DateTimeOffset CreatedAt)
{
    /// <summary>True when the subscription wants <paramref name="eventType"/> (an empty list or <c>*</c> means every event).</summary>
    public bool Wants(string eventType) =>
        Events.Count == 0 || Events.Any(e => e == "*" || string.Equals(e, eventType, StringComparison.Ordinal));
}

/// <summary>
/// Subscriptions in <c>{hub}Subscriptions</c>, partition <c>{tenant}</c>, row <c>{id}</c>. A short-lived per-tenant
/// cache answers "who wants this event" at commit time, so a tenant without subscriptions costs no outbox rows.
/// </summary>
public sealed class SubscriptionStore
{
    private readonly TableClient _table;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly ConcurrentDictionary<string, (DateTimeOffset At, IReadOnlyList<Subscription> Items)> _cache = new(StringComparer.Ordinal);

    /// <summary>Creates the store.</summary>
    public SubscriptionStore(StorageTables tables, TimeProvider time, TimeSpan? cacheTtl = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(time);
        _table = tables.Subscriptions;
        _time = time;
        _ttl = cacheTtl ?? TimeSpan.FromSeconds(10);
    }

    /// <summary>Creates a subscription with a random id.</summary>
    public async Task<Subscription> CreateAsync(string tenantId, Uri url, IReadOnlyList<string> events, string secret, DateTimeOffset now,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(events);
        ArgumentException.ThrowIfNullOrEmpty(secret);
        var subscription = new Subscription(tenantId, "sub_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), url, [.. events], secret, now);
        var row = new TableEntity(TableKey.Encode(tenantId), TableKey.Encode(subscription.Id))
        {
            ["Id"] = subscription.Id,
            ["Url"] = url.AbsoluteUri,
            ["Events"] = RuntimeJson.Serialize(events.ToList()),
            ["Secret"] = secret,
            ["CreatedAt"] = now,
        };
        await _table.InsertAsync(row, cancellationToken).ConfigureAwait(false);
        _cache.TryRemove(tenantId, out _);
        return subscription;
    }

    /// <summary>The tenant's subscriptions.</summary>
    public async Task<IReadOnlyList<Subscription>> ListAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var result = new List<Subscription>();
        await foreach (var row in _table.QueryAsync(TableFilter.PartitionKeyEquals(TableKey.Encode(tenantId)), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            result.Add(Read(tenantId, row));
        }

        return result;
    }

    /// <summary>One subscription, or null.</summary>
    public async Task<Subscription?> GetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        var row = await _table.GetAsync(TableKey.Encode(tenantId), TableKey.Encode(id), cancellationToken: cancellationToken).ConfigureAwait(false);
        return row is null ? null : Read(tenantId, row);
    }

    /// <summary>Deletes a subscription; false when unknown.</summary>
    public async Task<bool> DeleteAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        var (pk, rk) = (TableKey.Encode(tenantId), TableKey.Encode(id));
        var row = await _table.GetAsync(pk, rk, ["Id"], cancellationToken).ConfigureAwait(false);
        if (row is null)
        {
            return false;
        }

        // Not row.PartitionKey: a $select read does not return the keys.
        await _table.DeleteAsync(pk, rk, "*", cancellationToken).ConfigureAwait(false);
        _cache.TryRemove(tenantId, out _);
        return true;
    }

    /// <summary>The subscriptions that want <paramref name="eventType"/> (cached for a few seconds).</summary>
    public async Task<IReadOnlyList<Subscription>> GetMatchingAsync(string tenantId, string eventType, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        if (!_cache.TryGetValue(tenantId, out var cached) || now - cached.At >= _ttl)
        {
            cached = (now, await ListAsync(tenantId, cancellationToken).ConfigureAwait(false));
            _cache[tenantId] = cached;
        }

        return [.. cached.Items.Where(s => s.Wants(eventType))];
    }

    private static Subscription Read(string tenantId, TableEntity row) => new(
        tenantId,
        row.GetString("Id") ?? "",
        new Uri(row.GetString("Url") ?? "http://invalid/"),
        RuntimeJson.Deserialize<List<string>>(row.GetString("Events") ?? "[]"),
        row.GetString("Secret") ?? "",
        row.GetDateTimeOffset("CreatedAt") ?? default);
}
