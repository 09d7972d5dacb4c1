namespace ApprovalFunctions.Storage.Tables;

/// <summary>What went wrong with a table request, in terms a caller can act on.</summary>
public enum TableErrorKind
{
    /// <summary>Anything not covered below (unexpected status or malformed response).</summary>
    Other = 0,

    /// <summary>404: the table or entity does not exist.</summary>
    NotFound,

    /// <summary>409: the entity or table already exists (atomic insert lost the race).</summary>
    Conflict,

    /// <summary>412: the ETag given with If-Match no longer matches (another writer won).</summary>
    PreconditionFailed,

    /// <summary>A value, entity or batch is over an Azure limit (refused locally or by the service).</summary>
    TooLarge,

    /// <summary>429 / 503 ServerBusy after the pipeline's retries were exhausted.</summary>
    Throttled,

    /// <summary>401 / 403: wrong key, expired token or missing role assignment.</summary>
    Unauthorized,

    /// <summary>400: the request breaks a service rule (bad key characters, batch spanning partitions, too many properties...).</summary>
    InvalidInput,
}

/// <summary>
/// A failed table request. <see cref="Kind"/> is the thing to branch on; <see cref="Status"/> and
/// <see cref="ErrorCode"/> are the service's own words. <see cref="Status"/> is 0 when the client refused
/// the request before sending it (it would have failed in Azure).
/// </summary>
public sealed class TableException : Exception
{
    /// <summary>Creates an exception; used by the client, public for test doubles in store tests.</summary>
    public TableException(TableErrorKind kind, int status, string? errorCode, string message, int? failedIndex = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Status = status;
        ErrorCode = errorCode;
        FailedIndex = failedIndex;
    }

    /// <summary>The category of the failure.</summary>
    public TableErrorKind Kind { get; }

    /// <summary>HTTP status, or 0 when the client refused the request itself.</summary>
    public int Status { get; }

    /// <summary>The service's error code (e.g. <c>EntityAlreadyExists</c>), or a <c>Client…</c> code for local refusals.</summary>
    public string? ErrorCode { get; }

    /// <summary>For transactions: the zero-based index of the action that failed, when known.</summary>
    public int? FailedIndex { get; }

    /// <summary>True when the request never left the process.</summary>
    public bool IsClientSide => Status == 0;

    /// <summary>Parameterless constructors exist for serializers; not used by the client.</summary>
    public TableException() : this(TableErrorKind.Other, 0, null, "Table request failed.") { }

    /// <summary>See <see cref="TableException()"/>.</summary>
    public TableException(string message) : this(TableErrorKind.Other, 0, null, message) { }

    /// <summary>See <see cref="TableException()"/>.</summary>
    public TableException(string message, Exception innerException) : this(TableErrorKind.Other, 0, null, message, null, innerException) { }

    internal static TableException Refused(TableErrorKind kind, string code, string message, int? index = null) =>
        new(kind, 0, code, message, index);

    internal static TableErrorKind Classify(int status, string? code)
    {
        switch (code)
        {
            case "EntityTooLarge" or "PropertyValueTooLarge" or "RequestBodyTooLarge" or "KeyValueTooLarge":
                return TableErrorKind.TooLarge;
            case "UpdateConditionNotSatisfied" or "ConditionNotMet":
                return TableErrorKind.PreconditionFailed;
            case "ServerBusy" or "OperationTimedOut" when status is 503 or 500:
                return TableErrorKind.Throttled;
        }

        return status switch
        {
            404 => TableErrorKind.NotFound,
            409 => TableErrorKind.Conflict,
            412 => TableErrorKind.PreconditionFailed,
            413 => TableErrorKind.TooLarge,
            429 or 503 => TableErrorKind.Throttled,
            401 or 403 => TableErrorKind.Unauthorized,
            400 => TableErrorKind.InvalidInput,
            _ => TableErrorKind.Other,
        };
    }
}
