using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>The first answer recorded for an <c>Idempotency-Key</c>.</summary>
/// <param name="RequestHash">Hash of the route and body of the first request; a different one is a misuse of the key.</param>
/// <param name="Status">The HTTP status of the answer; null while the first request is still running.</param>
/// <param name="ResponseJson">The answer body; null while running.</param>
/// <param name="ContentType">The answer's content type.</param>
/// <param name="CreatedAt">When the key was first seen.</param>
public sealed record IdempotencyRecord(string RequestHash, int? Status, string? ResponseJson, string? ContentType, DateTimeOffset? CreatedAt);

/// <summary>The result of <see cref="IdempotencyStore.TryBeginAsync"/>: started (this caller owns the key) or the existing record.</summary>
public sealed record IdempotencyBegin(bool Started, IdempotencyRecord? Existing)
{
    /// <summary>This caller inserted the key and must complete or abandon it.</summary>
    public static readonly IdempotencyBegin StartedNew = new(true, null);
}

/// <summary>
/// Idempotency keys in <c>{hub}Idempotency</c>, partition <c>{tenant}|{scope}</c> (scope = the calling user),
/// row <c>{key}</c>. Begin is an atomic insert (a conflict returns the existing record), never check-then-insert.
/// </summary>
public sealed class IdempotencyStore
{
    /// <summary>How long an unfinished first request holds its key before a retry may take it over.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(2);

    private readonly TableClient _table;
    private readonly TimeProvider _time;

    /// <summary>Creates the store.</summary>
    public IdempotencyStore(StorageTables tables, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(time);
        _table = tables.Idempotency;
        _time = time;
    }

    /// <summary>Inserts the key atomically: <see cref="IdempotencyBegin.Started"/>, or the record a first request left.</summary>
    public async Task<IdempotencyBegin> TryBeginAsync(string tenantId, string scope, string key, string requestHash, CancellationToken cancellationToken = default)
    {
        var entity = new TableEntity(Keys.Join(tenantId, scope), TableKey.Encode(key))
        {
            ["RequestHash"] = requestHash,
            ["CreatedAt"] = _time.GetUtcNow(),
        };
        try
        {
            await _table.InsertAsync(entity, cancellationToken).ConfigureAwait(false);
            return IdempotencyBegin.StartedNew;
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.Conflict)
        {
            var existing = await _table.GetAsync(entity.PartitionKey, entity.RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (existing is null)
            {
                // Abandoned between our insert and read: try once more.
                return await TryBeginAsync(tenantId, scope, key, requestHash, cancellationToken).ConfigureAwait(false);
            }

            // A first request that never completed (its process died) would hold the key forever; after
            // StaleAfter one caller takes it over, atomically (If-Match), so two retries cannot both run.
            if (existing.GetInt32("Status") is null && existing.GetDateTimeOffset("CreatedAt") is { } created
                && _time.GetUtcNow() - created > StaleAfter)
            {
                try
                {
                    await _table.UpdateAsync(entity, existing.ETag!, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                    return IdempotencyBegin.StartedNew;
                }
                catch (TableException race) when (race.Kind is TableErrorKind.PreconditionFailed or TableErrorKind.NotFound)
                {
                    return await TryBeginAsync(tenantId, scope, key, requestHash, cancellationToken).ConfigureAwait(false);
                }
            }

            return new IdempotencyBegin(false, new IdempotencyRecord(
                existing.GetString("RequestHash") ?? "",
                existing.GetInt32("Status"),
                Chunks.Read(existing, "R"),
                existing.GetString("ContentType"),
                existing.GetDateTimeOffset("CreatedAt")));
        }
    }

    /// <summary>Records the answer; later requests with the key get it back.</summary>
    public async Task CompleteAsync(string tenantId, string scope, string key, int status, string responseJson, string? contentType,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(responseJson);
        var entity = new TableEntity(Keys.Join(tenantId, scope), TableKey.Encode(key)) { ["Status"] = status, ["ContentType"] = contentType };
        Chunks.Write(entity, "R", responseJson);
        await _table.UpsertAsync(entity, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets a key whose first request failed, so a retry runs again.</summary>
    public Task AbandonAsync(string tenantId, string scope, string key, CancellationToken cancellationToken = default) =>
        _table.DeleteAsync(Keys.Join(tenantId, scope), TableKey.Encode(key), "*", cancellationToken);
}
