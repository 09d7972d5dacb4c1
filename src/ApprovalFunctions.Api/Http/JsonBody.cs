using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ApprovalFunctions.Api.Http;

/// <summary>A request body read within limits: the raw bytes (for signatures and idempotency hashes) and the parsed JSON.</summary>
public sealed class JsonBody : IDisposable
{
    /// <summary>The largest body any route accepts.</summary>
    public const int MaxBytes = 256 * 1024;

    // Duplicate property names are refused: the signed or hashed bytes must mean one thing, not whatever the last
    // duplicate says to this parser and the first says to another (signature and idempotency confusion).
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    private JsonBody(byte[] raw, JsonDocument document)
    {
        Raw = raw;
        Document = document;
    }

    /// <summary>The bytes as received.</summary>
    public byte[] Raw { get; }

    /// <summary>The parsed document.</summary>
    public JsonDocument Document { get; }

    /// <summary>The root element.</summary>
    public JsonElement Root => Document.RootElement;

    /// <summary>
    /// Reads and parses the body. Returns a problem result instead of throwing for any client mistake:
    /// wrong media type (415), too large (413), not JSON (400), not an object when one is required (400).
    /// </summary>
    public static async Task<(JsonBody? Body, IResult? Problem)> ReadAsync(HttpRequest request, bool requireObject = true, bool allowEmpty = false)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength is > MaxBytes)
        {
            return (null, Problems.TooLarge(MaxBytes));
        }

        var contentType = request.ContentType;
        var hasBody = request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0;
        if (!hasBody && allowEmpty)
        {
            return (new JsonBody([], JsonDocument.Parse("{}")), null);
        }

        if (contentType is null || !contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, Problems.UnsupportedMediaType());
        }

        byte[] raw;
        try
        {
            raw = await ReadLimitedAsync(request.Body, request.HttpContext.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidDataException)
        {
            return (null, Problems.TooLarge(MaxBytes));
        }

        if (raw.Length == 0)
        {
            return allowEmpty ? (new JsonBody(raw, JsonDocument.Parse("{}")), null) : (null, Problems.MalformedBody("The body is empty; a JSON object is required."));
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(raw, DocumentOptions);
        }
        catch (JsonException ex)
        {
            return (null, Problems.MalformedBody("The body is not valid JSON: " + ex.Message));
        }

        if (requireObject && document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return (null, Problems.MalformedBody("The body must be a JSON object."));
        }

        return (new JsonBody(raw, document), null);
    }

    /// <inheritdoc />
    public void Dispose() => Document.Dispose();

    private static async Task<byte[]> ReadLimitedAsync(Stream body, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var read = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + read > MaxBytes)
            {
                throw new InvalidDataException("Body too large.");
            }

            buffer.Write(chunk, 0, read);
        }
    }
}
