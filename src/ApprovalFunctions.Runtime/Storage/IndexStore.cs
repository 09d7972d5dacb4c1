using System.Text;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>List filters applied to the denormalised summary inside the one range query of a page.</summary>
/// <param name="Status">A request status (API name, e.g. <c>pending</c>; any casing of the enum name is accepted); null for any.</param>
/// <param name="Model">A record model; null for any.</param>
public sealed record ListFilter(string? Status, string? Model)
{
    /// <summary>No filter.</summary>
    public static readonly ListFilter None = new(null, null);
}

/// <summary>One row of a list: the request summary, plus the stage for inbox rows.</summary>
public sealed record IndexSummary
{
    /// <summary>The request id.</summary>
    public required string Id { get; init; }

    /// <summary>Display title.</summary>
    public string? Title { get; init; }

    /// <summary>The record model.</summary>
    public required string Model { get; init; }

    /// <summary>The record id.</summary>
    public required string RecordId { get; init; }

    /// <summary>The requester.</summary>
    public required string Requester { get; init; }

    /// <summary>The request status (API name).</summary>
    public required string Status { get; init; }

    /// <summary>When the request was submitted.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the request expires, if it does.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Inbox rows: the stage.</summary>
    public string? StageId { get; init; }

    /// <summary>Inbox rows: the stage's display name.</summary>
    public string? StageName { get; init; }

    /// <summary>Pending inbox rows of a delegate: the principal the user acts for.</summary>
    public string? OnBehalfOf { get; init; }

    /// <summary>Decided inbox rows: the user's decision (API name).</summary>
    public string? Decision { get; init; }

    /// <summary>Decided inbox rows: when the user decided; requester rows: when the outcome became final.</summary>
    public DateTimeOffset? DecidedAt { get; init; }

    /// <summary>The workflow the request runs, when one was selected.</summary>
    public string? WorkflowId { get; init; }

    /// <summary>The workflow version the request runs.</summary>
    public int? WorkflowVersion { get; init; }

    /// <summary>Pending inbox rows: approvals the stage needs.</summary>
    public int? Required { get; init; }

    /// <summary>Pending inbox rows: approvals the stage still needs.</summary>
    public int? Remaining { get; init; }

    /// <summary>Pending inbox rows: when the stage became active.</summary>
    public DateTimeOffset? ActivatedAt { get; init; }

    /// <summary>Pending inbox rows: when the stage times out, if it has a timeout.</summary>
    public DateTimeOffset? DueAt { get; init; }
}

/// <summary>One page of a list; pass <see cref="ContinuationToken"/> back for the next (null when done).</summary>
public sealed record IndexPage(IReadOnlyList<IndexSummary> Items, string? ContinuationToken);

/// <summary>A request whose callback the retry policy gave up on (the admin's retry list).</summary>
public sealed record FailedCallbackSummary(string Id, string Model, string RecordId, string? Outcome, int Attempts, string? LastError, DateTimeOffset? LastAttemptAt);

/// <summary>
/// The cross-request indexes (docs/decisions/007-storage-layout.md): approver inbox (pending <c>p|…</c> and decided
/// <c>d|…</c>), requests per requester, per record, and failed callbacks. Rows are projected from committed state by
/// the <see cref="Processing.RequestProcessor"/>; a list page is ONE range query in one partition.
/// </summary>
public sealed class IndexStore
{
    internal const string InboxTable = "i";
    internal const string RequesterTable = "q";
    internal const string RecordTable = "r";
    internal const string FailedTable = "f";
    private readonly StorageTables _tables;

    /// <summary>Creates the store.</summary>
    public IndexStore(StorageTables tables)
    {
        ArgumentNullException.ThrowIfNull(tables);
        _tables = tables;
    }

    /// <summary>Stages waiting on the user (<paramref name="pending"/>) or ones the user decided, newest decisions first.</summary>
    /// <exception cref="FormatException">The continuation token is malformed or belongs to another list.</exception>
    public Task<IndexPage> ListInboxAsync(string tenantId, string userId, bool pending, ListFilter filter, int top, string? continuationToken,
        CancellationToken cancellationToken = default) =>
        PageAsync(_tables.Inbox, Keys.Join(tenantId, userId), pending ? "p|" : "d|", filter, top, continuationToken, cancellationToken);

    /// <summary>Requests the user submitted, newest first.</summary>
    /// <exception cref="FormatException">The continuation token is malformed or belongs to another list.</exception>
    public Task<IndexPage> ListRequestedAsync(string tenantId, string userId, ListFilter filter, int top, string? continuationToken,
        CancellationToken cancellationToken = default) =>
        PageAsync(_tables.Requesters, Keys.Join(tenantId, userId), null, filter, top, continuationToken, cancellationToken);

    /// <summary>Request ids for a record, newest first (at most <paramref name="max"/>).</summary>
    public async Task<IReadOnlyList<string>> ListRecordAsync(string tenantId, string model, string recordId, int max, CancellationToken cancellationToken = default)
    {
        var page = await _tables.Records.QueryPageAsync(TableFilter.PartitionKeyEquals(Keys.Join(tenantId, model, recordId)), ["Id"],
            Math.Clamp(max, 1, 1000), null, cancellationToken).ConfigureAwait(false);
        return [.. page.Entities.Select(e => e.GetString("Id") ?? "")];
    }

    /// <summary>Requests of the tenant whose callback failed.</summary>
    public async Task<IReadOnlyList<FailedCallbackSummary>> ListFailedCallbacksAsync(string tenantId, int max, CancellationToken cancellationToken = default)
    {
        var page = await _tables.FailedCallbacks.QueryPageAsync(TableFilter.PartitionKeyEquals(TableKey.Encode(tenantId)), null,
            Math.Clamp(max, 1, 1000), null, cancellationToken).ConfigureAwait(false);
        return [.. page.Entities.Select(e => new FailedCallbackSummary(
            e.GetString("Id") ?? "", e.GetString("Model") ?? "", e.GetString("RecordId") ?? "", e.GetString("Outcome"),
            e.GetInt32("Attempts") ?? 0, e.GetString("LastError"), e.GetDateTimeOffset("LastAttemptAt")))];
    }

    /// <summary>Applies index writes of one partition of the <paramref name="kind"/> table, sharing a transaction with concurrent ones.</summary>
    internal Task ApplyAsync(string kind, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken) =>
        _tables.Writes.ApplyAsync(Table(kind), actions, cancellationToken);

    internal TableClient Table(string kind) => kind switch
    {
        InboxTable => _tables.Inbox,
        RequesterTable => _tables.Requesters,
        RecordTable => _tables.Records,
        FailedTable => _tables.FailedCallbacks,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown index table"),
    };

    internal static string EncodeToken(string partitionKey, TableContinuation continuation) =>
        IntegrationStore.Base64Url(Encoding.UTF8.GetBytes(RuntimeJson.Serialize(
            new ContinuationPayload(partitionKey, continuation.NextPartitionKey, continuation.NextRowKey))));

    internal static TableContinuation DecodeToken(string token, string partitionKey)
    {
        ContinuationPayload payload;
        try
        {
            var base64 = token.Replace('-', '+').Replace('_', '/');
            base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
            payload = RuntimeJson.Deserialize<ContinuationPayload>(Encoding.UTF8.GetString(Convert.FromBase64String(base64)));
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException or ArgumentException)
        {
            throw new FormatException("The continuation token is not valid.", ex);
        }

        // Bound to the list it came from: a token can never page another user's or tenant's partition.
        if (!string.Equals(payload.L, partitionKey, StringComparison.Ordinal) || string.IsNullOrEmpty(payload.P))
        {
            throw new FormatException("The continuation token belongs to another list.");
        }

        return new TableContinuation(payload.P, payload.R);
    }

    internal static string? StatusFilterValue(string? status)
    {
        if (string.IsNullOrEmpty(status))
        {
            return null;
        }

        return Enum.TryParse<RequestStatus>(status, ignoreCase: true, out var parsed) && !int.TryParse(status, out _)
            ? ApprovalEngine.StatusName(parsed)
            : status;
    }

    internal static IndexSummary Read(TableEntity e) => new()
    {
        Id = e.GetString("Id") ?? "",
        Title = e.GetString("Title"),
        Model = e.GetString("Model") ?? "",
        RecordId = e.GetString("RecordId") ?? "",
        Requester = e.GetString("Requester") ?? "",
        Status = e.GetString("Status") ?? "",
        CreatedAt = e.GetDateTimeOffset("CreatedAt") ?? default,
        ExpiresAt = e.GetDateTimeOffset("ExpiresAt"),
        StageId = e.GetString("StageId"),
        StageName = e.GetString("StageName"),
        OnBehalfOf = e.GetString("OnBehalfOf"),
        Decision = e.GetString("Decision"),
        DecidedAt = e.GetDateTimeOffset("DecidedAt"),
        WorkflowId = e.GetString("WorkflowId"),
        WorkflowVersion = e.GetInt32("WorkflowVersion"),
        Required = e.GetInt32("Required"),
        Remaining = e.GetInt32("Remaining"),
        ActivatedAt = e.GetDateTimeOffset("ActivatedAt"),
        DueAt = e.GetDateTimeOffset("DueAt"),
    };

    private static async Task<IndexPage> PageAsync(TableClient table, string pk, string? prefix, ListFilter filter, int top, string? token,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var continuation = string.IsNullOrEmpty(token) ? null : DecodeToken(token, pk);
        var query = prefix is null ? TableFilter.PartitionKeyEquals(pk) : TableFilter.RowKeyStartsWith(pk, prefix);
        if (StatusFilterValue(filter.Status) is { } status)
        {
            query += TableFilter.Format($" and Status eq {status}");
        }

        if (!string.IsNullOrEmpty(filter.Model))
        {
            query += TableFilter.Format($" and Model eq {filter.Model}");
        }

        var page = await table.QueryPageAsync(query, null, Math.Clamp(top, 1, 1000), continuation, cancellationToken).ConfigureAwait(false);
        var next = page.Continuation is { } c ? EncodeToken(pk, c) : null;
        return new IndexPage([.. page.Entities.Select(Read)], next);
    }
}
