using System.Globalization;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// One table row: keys, concurrency token, service timestamp and an insertion-ordered bag of typed
/// properties. Supported property types: <see cref="string"/>, <see cref="long"/> (Edm.Int64),
/// <see cref="int"/> (Edm.Int32), <see cref="double"/>, <see cref="bool"/>, <see cref="DateTimeOffset"/>
/// (Edm.DateTime, stored as UTC), <see cref="Guid"/> and <see cref="byte"/>[] (Edm.Binary).
/// </summary>
public sealed class TableEntity
{
    private readonly OrderedDictionary<string, object> _properties;

    /// <summary>Creates an entity with the given keys and no properties.</summary>
    public TableEntity(string partitionKey, string rowKey)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        ArgumentNullException.ThrowIfNull(rowKey);
        PartitionKey = partitionKey;
        RowKey = rowKey;
        _properties = new OrderedDictionary<string, object>(StringComparer.Ordinal);
    }

    /// <summary>The partition key (also the transaction scope).</summary>
    public string PartitionKey { get; }

    /// <summary>The row key, unique within the partition.</summary>
    public string RowKey { get; }

    /// <summary>The ETag read with the entity or returned by the last write; null for a new entity.</summary>
    public string? ETag { get; set; }

    /// <summary>The service's last-modified time; ignored on writes.</summary>
    public DateTimeOffset? Timestamp { get; set; }

    /// <summary>The custom properties in insertion order (keys, ETag and Timestamp are not in here).</summary>
    public IReadOnlyDictionary<string, object> Properties => _properties;

    /// <summary>Number of custom properties.</summary>
    public int Count => _properties.Count;

    /// <summary>Gets or sets a property; setting null removes it. Throws for unsupported value types.</summary>
    public object? this[string name]
    {
        get => _properties.TryGetValue(name, out var v) ? v : null;
        set
        {
            ArgumentNullException.ThrowIfNull(name);
            if (value is null)
            {
                _properties.Remove(name);
                return;
            }

            _properties[name] = Normalize(name, value);
        }
    }

    /// <summary>Removes a property; true if it was there.</summary>
    public bool Remove(string name) => _properties.Remove(name);

    /// <summary>The string property, or null when absent.</summary>
    public string? GetString(string name) => Get<string>(name);

    /// <summary>The Int64 property (an Int32 widens), or null when absent.</summary>
    public long? GetInt64(string name) => this[name] switch
    {
        null => null,
        long l => l,
        int i => i,
        var other => throw WrongType(name, other, "Int64"),
    };

    /// <summary>The Int32 property, or null when absent.</summary>
    public int? GetInt32(string name) => this[name] switch
    {
        null => null,
        int i => i,
        var other => throw WrongType(name, other, "Int32"),
    };

    /// <summary>The Double property (an Int32 widens, since JSON "1.0" and "1" are the same number), or null when absent.</summary>
    public double? GetDouble(string name) => this[name] switch
    {
        null => null,
        double d => d,
        int i => i,
        var other => throw WrongType(name, other, "Double"),
    };

    /// <summary>The Boolean property, or null when absent.</summary>
    public bool? GetBoolean(string name) => this[name] switch
    {
        null => null,
        bool b => b,
        var other => throw WrongType(name, other, "Boolean"),
    };

    /// <summary>The DateTime property (UTC), or null when absent.</summary>
    public DateTimeOffset? GetDateTimeOffset(string name) => this[name] switch
    {
        null => null,
        DateTimeOffset d => d,
        var other => throw WrongType(name, other, "DateTime"),
    };

    /// <summary>The Guid property, or null when absent.</summary>
    public Guid? GetGuid(string name) => this[name] switch
    {
        null => null,
        Guid g => g,
        var other => throw WrongType(name, other, "Guid"),
    };

    /// <summary>The Binary property, or null when absent.</summary>
    public byte[]? GetBinary(string name) => Get<byte[]>(name);

    private T? Get<T>(string name) where T : class => this[name] switch
    {
        null => null,
        T t => t,
        var other => throw WrongType(name, other, typeof(T).Name),
    };

    internal void SetRaw(string name, object value) => _properties[name] = value;

    private static InvalidCastException WrongType(string name, object value, string wanted) =>
        new(string.Create(CultureInfo.InvariantCulture, $"Property '{name}' is {value.GetType().Name}, not {wanted}."));

    private static object Normalize(string name, object value) => value switch
    {
        string or long or int or double or bool or Guid or byte[] => value,
        DateTimeOffset d => d.ToUniversalTime(),
        DateTime d => new DateTimeOffset(d.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(d, DateTimeKind.Utc) : d.ToUniversalTime()),
        _ => throw new ArgumentException(
            $"Property '{name}' has type {value.GetType().Name}; supported: string, long, int, double, bool, DateTimeOffset, DateTime, Guid, byte[].",
            nameof(value)),
    };
}

/// <summary>How an upsert or update treats properties absent from the entity sent.</summary>
public enum TableUpdateMode
{
    /// <summary>MERGE: properties not sent are kept.</summary>
    Merge,

    /// <summary>PUT: the stored entity is replaced; properties not sent are removed.</summary>
    Replace,
}

/// <summary>One page of a query: the entities and the token for the next page (null when done).</summary>
public sealed record TablePage(IReadOnlyList<TableEntity> Entities, TableContinuation? Continuation);

/// <summary>The service's continuation (x-ms-continuation-NextPartitionKey / NextRowKey), opaque to callers.</summary>
public sealed record TableContinuation(string NextPartitionKey, string? NextRowKey);
