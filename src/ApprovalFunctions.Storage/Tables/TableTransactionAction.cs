namespace ApprovalFunctions.Storage.Tables;

/// <summary>The kind of one operation inside an entity-group transaction.</summary>
public enum TableTransactionActionType
{
    /// <summary>Insert; the transaction fails with <see cref="TableErrorKind.Conflict"/> if the entity exists.</summary>
    Add,

    /// <summary>Insert or merge, unconditional.</summary>
    UpsertMerge,

    /// <summary>Insert or replace, unconditional.</summary>
    UpsertReplace,

    /// <summary>Merge into an existing entity, conditional on the ETag ("*" = any version).</summary>
    UpdateMerge,

    /// <summary>Replace an existing entity, conditional on the ETag ("*" = any version).</summary>
    UpdateReplace,

    /// <summary>Delete, conditional on the ETag ("*" = any version).</summary>
    Delete,
}

/// <summary>One operation in <see cref="TableClient.SubmitTransactionAsync"/>.</summary>
/// <param name="ActionType">What to do.</param>
/// <param name="Entity">The entity; for a delete only its keys are used.</param>
/// <param name="ETag">For updates and deletes: the If-Match value; null means "*".</param>
public sealed record TableTransactionAction(TableTransactionActionType ActionType, TableEntity Entity, string? ETag = null)
{
    /// <summary>An insert that fails the transaction if the entity exists.</summary>
    public static TableTransactionAction Add(TableEntity entity) => new(TableTransactionActionType.Add, entity);

    /// <summary>An unconditional upsert.</summary>
    public static TableTransactionAction Upsert(TableEntity entity, TableUpdateMode mode = TableUpdateMode.Merge) =>
        new(mode == TableUpdateMode.Merge ? TableTransactionActionType.UpsertMerge : TableTransactionActionType.UpsertReplace, entity);

    /// <summary>A conditional update.</summary>
    public static TableTransactionAction Update(TableEntity entity, string etag, TableUpdateMode mode = TableUpdateMode.Replace) =>
        new(mode == TableUpdateMode.Merge ? TableTransactionActionType.UpdateMerge : TableTransactionActionType.UpdateReplace, entity, etag);

    /// <summary>A conditional delete of the entity with these keys.</summary>
    public static TableTransactionAction Delete(string partitionKey, string rowKey, string etag = "*") =>
        new(TableTransactionActionType.Delete, new TableEntity(partitionKey, rowKey), etag);
}
