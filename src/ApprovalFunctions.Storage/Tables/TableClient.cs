using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Operations on one table. Every write validates Azure's limits first (see <see cref="TableLimits"/>);
/// every failure is a <see cref="TableException"/> with a <see cref="TableErrorKind"/>.
/// </summary>
public sealed class TableClient
{
    private const string ApiVersion = "2019-02-02"; // what Azure.Data.Tables sends
    private const string JsonMinimal = "application/json;odata=minimalmetadata";
    private static readonly RequestMethod Merge = new("MERGE");

    private readonly HttpPipeline _pipeline;
    private readonly string _endpoint;
    private readonly string _tableUrl;

    internal TableClient(TableServiceClient service, string name)
    {
        _pipeline = service.Pipeline;
        _endpoint = service.Endpoint.AbsoluteUri.TrimEnd('/');
        Name = name;
        _tableUrl = _endpoint + "/" + name;
    }

    /// <summary>The table name.</summary>
    public string Name { get; }

    /// <summary>Creates the table; a no-op when it already exists.</summary>
    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        var body = new ArrayBufferWriter<byte>(64);
        TableJson.WriteCreateTable(body, Name);
        using var message = Create(RequestMethod.Post, _endpoint + "/Tables", body.WrittenMemory);
        message.Request.Headers.SetValue("Prefer", "return-no-content");
        var response = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.Status is 201 or 204)
        {
            return;
        }

        var error = Error(response);
        if (error.Kind != TableErrorKind.Conflict)
        {
            throw error;
        }
    }

    /// <summary>Deletes the table; a no-op when it does not exist.</summary>
    public async Task DeleteTableAsync(CancellationToken cancellationToken = default)
    {
        using var message = Create(RequestMethod.Delete, _endpoint + "/Tables('" + Name + "')", default);
        var response = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.Status is not (204 or 404))
        {
            throw Error(response);
        }
    }

    private static readonly string[] KeyProperties = ["PartitionKey", "RowKey"];

    /// <summary>
    /// Reads one entity; null when it does not exist. <paramref name="select"/> limits the properties returned;
    /// the keys always come back.
    /// </summary>
    public async Task<TableEntity?> GetAsync(string partitionKey, string rowKey, IEnumerable<string>? select = null, CancellationToken cancellationToken = default)
    {
        TableLimits.ValidateKey(partitionKey, "PartitionKey");
        TableLimits.ValidateKey(rowKey, "RowKey");
        var url = EntityUrl(partitionKey, rowKey);
        if (select is not null)
        {
            // The service omits the keys unless they are selected; a caller always gets them back.
            url += "?$select=" + Uri.EscapeDataString(string.Join(',', select.Concat(KeyProperties).Distinct(StringComparer.Ordinal)));
        }

        using var message = Create(RequestMethod.Get, url, default);
        var response = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.Status == 200)
        {
            return TableJson.ReadEntity(response.Content.ToMemory().Span, Header(response, "ETag"));
        }

        var error = Error(response);
        if (error.Kind == TableErrorKind.NotFound && error.ErrorCode != "TableNotFound")
        {
            return null;
        }

        throw error;
    }

    /// <summary>Inserts; fails with <see cref="TableErrorKind.Conflict"/> when the entity exists. Returns the new ETag.</summary>
    public async Task<string> InsertAsync(TableEntity entity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        TableLimits.ValidateEntity(entity);
        using var message = Create(RequestMethod.Post, _tableUrl, Json(entity));
        message.Request.Headers.SetValue("Prefer", "return-no-content");
        return await WriteAsync(message, entity, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Inserts or merges/replaces, unconditionally. Returns the new ETag.</summary>
    public async Task<string> UpsertAsync(TableEntity entity, TableUpdateMode mode = TableUpdateMode.Merge, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        TableLimits.ValidateEntity(entity);
        using var message = Create(mode == TableUpdateMode.Merge ? Merge : RequestMethod.Put, EntityUrl(entity.PartitionKey, entity.RowKey), Json(entity));
        return await WriteAsync(message, entity, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Updates an existing entity if its ETag still equals <paramref name="etag"/> ("*" = any version);
    /// <see cref="TableErrorKind.PreconditionFailed"/> when another writer got there first,
    /// <see cref="TableErrorKind.NotFound"/> when it is gone. Returns the new ETag.
    /// </summary>
    public async Task<string> UpdateAsync(TableEntity entity, string etag, TableUpdateMode mode = TableUpdateMode.Replace, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        ArgumentException.ThrowIfNullOrEmpty(etag);
        TableLimits.ValidateEntity(entity);
        using var message = Create(mode == TableUpdateMode.Merge ? Merge : RequestMethod.Put, EntityUrl(entity.PartitionKey, entity.RowKey), Json(entity));
        message.Request.Headers.SetValue("If-Match", etag);
        return await WriteAsync(message, entity, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes if the ETag matches ("*" = any version). Deleting a missing entity is not an error.</summary>
    public async Task DeleteAsync(string partitionKey, string rowKey, string etag = "*", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(etag);
        TableLimits.ValidateKey(partitionKey, "PartitionKey");
        TableLimits.ValidateKey(rowKey, "RowKey");
        using var message = Create(RequestMethod.Delete, EntityUrl(partitionKey, rowKey), default);
        message.Request.Headers.SetValue("If-Match", etag);
        var response = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.Status == 204)
        {
            return;
        }

        var error = Error(response);
        if (error.Kind == TableErrorKind.NotFound && error.ErrorCode != "TableNotFound")
        {
            return;
        }

        throw error;
    }

    /// <summary>
    /// All entities matching <paramref name="filter"/> (build it with <see cref="TableFilter.Format"/>),
    /// following continuation tokens. <paramref name="top"/> is the page size (≤ 1000), not a total limit.
    /// </summary>
    public async IAsyncEnumerable<TableEntity> QueryAsync(string? filter = null, IEnumerable<string>? select = null, int? top = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var selectList = select?.ToArray();
        TableContinuation? continuation = null;
        do
        {
            var page = await QueryPageAsync(filter, selectList, top, continuation, cancellationToken).ConfigureAwait(false);
            foreach (var entity in page.Entities)
            {
                yield return entity;
            }

            continuation = page.Continuation;
        }
        while (continuation is not null);
    }

    /// <summary>One page of a query; pass the returned continuation back to get the next. A page can be empty yet have a continuation.</summary>
    public async Task<TablePage> QueryPageAsync(string? filter = null, IEnumerable<string>? select = null, int? top = null,
        TableContinuation? continuation = null, CancellationToken cancellationToken = default)
    {
        if (top is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(top), top, "Page size must be 1..1000.");
        }

        var url = new StringBuilder(_tableUrl).Append("()");
        var sep = '?';
        void Add(string name, string value)
        {
            url.Append(sep).Append(name).Append('=').Append(Uri.EscapeDataString(value));
            sep = '&';
        }

        if (!string.IsNullOrEmpty(filter))
        {
            Add("$filter", filter);
        }

        if (select is not null)
        {
            Add("$select", string.Join(',', select));
        }

        if (top is not null)
        {
            Add("$top", top.Value.ToString(CultureInfo.InvariantCulture));
        }

        if (continuation is not null)
        {
            Add("NextPartitionKey", continuation.NextPartitionKey);
            if (continuation.NextRowKey is not null)
            {
                Add("NextRowKey", continuation.NextRowKey);
            }
        }

        using var message = Create(RequestMethod.Get, url.ToString(), default);
        var response = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 200)
        {
            throw Error(response);
        }

        var entities = TableJson.ReadQuery(response.Content.ToMemory().Span);
        var nextPk = Header(response, "x-ms-continuation-NextPartitionKey");
        return new TablePage(entities, nextPk is null ? null : new TableContinuation(nextPk, Header(response, "x-ms-continuation-NextRowKey")));
    }

    /// <summary>
    /// Applies unconditional upserts and deletes ("*") of one partition: one transaction when there are several; when
    /// that transaction meets a row already gone (it then applies nothing) they are applied one by one, where deleting a
    /// missing row is fine. So not atomic: for writes that are safe to repeat and to see half done (index rows, clean-up).
    /// </summary>
    public async Task ApplyAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        EnsureUnconditional(actions);

        if (actions.Count > 1)
        {
            try
            {
                await SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (TableException ex) when (ex.Kind == TableErrorKind.NotFound)
            {
                // A row to delete was already gone; the transaction applied nothing.
            }
        }

        foreach (var action in actions)
        {
            await (action.ActionType == TableTransactionActionType.Delete
                ? DeleteAsync(action.Entity.PartitionKey, action.Entity.RowKey, "*", cancellationToken)
                : UpsertAsync(action.Entity, action.ActionType == TableTransactionActionType.UpsertMerge ? TableUpdateMode.Merge : TableUpdateMode.Replace,
                    cancellationToken)).ConfigureAwait(false);
        }
    }

    /// <summary>Throws unless every action is an unconditional upsert or delete (what <see cref="ApplyAsync"/> may repeat).</summary>
    internal static void EnsureUnconditional(IReadOnlyList<TableTransactionAction> actions)
    {
        ArgumentNullException.ThrowIfNull(actions);
        foreach (var action in actions)
        {
            if (action.ActionType is not (TableTransactionActionType.UpsertMerge or TableTransactionActionType.UpsertReplace or TableTransactionActionType.Delete)
                || action.ETag is not (null or "*"))
            {
                throw new ArgumentException("ApplyAsync takes unconditional upserts and deletes only.", nameof(actions));
            }
        }
    }

    /// <summary>
    /// Runs up to 100 actions on one partition atomically: all apply or none. Returns each action's new
    /// ETag (null for deletes). On failure the <see cref="TableException.FailedIndex"/> names the action.
    /// </summary>
    public async Task<IReadOnlyList<string?>> SubmitTransactionAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actions);
        var body = BuildBatch(actions, out var boundary);
        using var message = Create(RequestMethod.Post, _endpoint + "/$batch", body.WrittenMemory, "multipart/mixed; boundary=" + boundary);
        var response = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 202)
        {
            throw Error(response);
        }

        var parts = TableBatch.ParseResponse(response.Content.ToString());
        if (parts.Count == 0)
        {
            throw new TableException(TableErrorKind.Other, response.Status, null, "Transaction response had no operation results.");
        }

        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            if (part.Status >= 400)
            {
                var (code, text) = TableJson.ReadError(Encoding.UTF8.GetBytes(part.Body));
                var index = TableBatch.FailedIndex(text) ?? (parts.Count == actions.Count ? i : (actions.Count == 1 ? 0 : null));
                throw new TableException(TableException.Classify(part.Status, code), part.Status, code,
                    $"Transaction failed at action {index?.ToString(CultureInfo.InvariantCulture) ?? "?"} ({code ?? part.Status.ToString(CultureInfo.InvariantCulture)}): {text}; nothing was applied.",
                    index);
            }
        }

        if (parts.Count != actions.Count)
        {
            throw new TableException(TableErrorKind.Other, response.Status, null, $"Transaction response had {parts.Count} results for {actions.Count} actions.");
        }

        var etags = new string?[parts.Count];
        for (var i = 0; i < parts.Count; i++)
        {
            etags[i] = parts[i].ETag;
            if (actions[i].ActionType != TableTransactionActionType.Delete)
            {
                actions[i].Entity.ETag = parts[i].ETag;
            }
        }

        return etags;
    }

    internal ArrayBufferWriter<byte> BuildBatch(IReadOnlyList<TableTransactionAction> actions, out string boundary)
    {
        if (actions.Count == 0)
        {
            throw new ArgumentException("A transaction needs at least one action.", nameof(actions));
        }

        if (actions.Count > TableLimits.MaxBatchOperations)
        {
            throw TableException.Refused(TableErrorKind.InvalidInput, "ClientBatchTooManyOperations",
                $"Transaction has {actions.Count} actions; Azure allows {TableLimits.MaxBatchOperations}.");
        }

        var pk = actions[0].Entity.PartitionKey;
        var rowKeys = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < actions.Count; i++)
        {
            var e = actions[i].Entity;
            if (!string.Equals(e.PartitionKey, pk, StringComparison.Ordinal))
            {
                throw TableException.Refused(TableErrorKind.InvalidInput, "ClientBatchSpansPartitions",
                    $"Transaction action {i}: PartitionKey '{e.PartitionKey}' differs from action 0's '{pk}'; a transaction covers one partition.", i);
            }

            if (!rowKeys.Add(e.RowKey))
            {
                throw TableException.Refused(TableErrorKind.InvalidInput, "ClientBatchDuplicateRow",
                    $"Transaction action {i}: RowKey '{e.RowKey}' appears twice; Azure allows one action per entity.", i);
            }

            if (actions[i].ActionType == TableTransactionActionType.Delete)
            {
                TableLimits.ValidateKey(e.PartitionKey, "PartitionKey", i);
                TableLimits.ValidateKey(e.RowKey, "RowKey", i);
            }
            else
            {
                TableLimits.ValidateEntity(e, i);
            }
        }

        var body = TableBatch.Build(_tableUrl, actions, EntityUrl, out boundary);
        if (body.WrittenCount > TableLimits.MaxBatchPayload)
        {
            throw TableException.Refused(TableErrorKind.TooLarge, "ClientBatchTooLarge",
                $"Transaction payload is {body.WrittenCount} bytes; Azure allows {TableLimits.MaxBatchPayload} (4 MiB).");
        }

        return body;
    }

    internal string EntityUrl(string partitionKey, string rowKey) =>
        _tableUrl + "(PartitionKey='" + Uri.EscapeDataString(partitionKey.Replace("'", "''", StringComparison.Ordinal)) +
        "',RowKey='" + Uri.EscapeDataString(rowKey.Replace("'", "''", StringComparison.Ordinal)) + "')";

    private async Task<string> WriteAsync(HttpMessage message, TableEntity entity, CancellationToken cancellationToken)
    {
        var response = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        if (response.Status is 204 or 201)
        {
            var etag = Header(response, "ETag") ?? throw new TableException(TableErrorKind.Other, response.Status, null, "Write succeeded but returned no ETag.");
            entity.ETag = etag;
            return etag;
        }

        throw Error(response);
    }

    private HttpMessage Create(RequestMethod method, string url, ReadOnlyMemory<byte> body, string contentType = "application/json")
    {
        var message = _pipeline.CreateMessage();
        var request = message.Request;
        request.Method = method;
        request.Uri.Reset(new Uri(url));
        request.Headers.SetValue("x-ms-version", ApiVersion);
        request.Headers.SetValue("DataServiceVersion", "3.0");
        request.Headers.SetValue("MaxDataServiceVersion", "3.0;NetFx");
        request.Headers.SetValue("Accept", JsonMinimal);
        if (!body.IsEmpty)
        {
            request.Headers.SetValue("Content-Type", contentType);
            request.Content = RequestContent.Create(body);
        }

        return message;
    }

    private async ValueTask<Response> SendAsync(HttpMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await _pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            // Transport failure after the retries (connection refused, DNS, timeout).
            throw new TableException(ex.Status == 0 ? TableErrorKind.Other : TableException.Classify(ex.Status, ex.ErrorCode), ex.Status, ex.ErrorCode,
                "Table request could not be completed: " + ex.Message, null, ex);
        }

        return message.Response;
    }

    private static ReadOnlyMemory<byte> Json(TableEntity entity)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        TableJson.WriteEntity(buffer, entity);
        return buffer.WrittenMemory;
    }

    private static string? Header(Response response, string name) =>
        response.Headers.TryGetValue(name, out var value) ? value : null;

    internal static TableException Error(Response response)
    {
        var content = response.Content;
        var (code, text) = content is null ? (null, null) : TableJson.ReadError(content.ToMemory().Span);
        code ??= Header(response, "x-ms-error-code");
        var kind = TableException.Classify(response.Status, code);
        var detail = text is null ? response.ReasonPhrase : text.Split('\n')[0];
        return new TableException(kind, response.Status, code,
            string.Create(CultureInfo.InvariantCulture, $"Table request failed: {response.Status} {code}: {detail}"));
    }
}
