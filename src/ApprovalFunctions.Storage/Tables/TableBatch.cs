using System.Buffers;
using System.Globalization;
using System.Text;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// The entity-group transaction wire format: a multipart/mixed batch holding one changeset whose parts are
/// HTTP requests (CRLF line ends), and the matching response parser.
/// </summary>
internal static class TableBatch
{
    internal sealed record Part(int Status, string? ETag, string Body);

    public static ArrayBufferWriter<byte> Build(string tableUrl, IReadOnlyList<TableTransactionAction> actions,
        Func<string, string, string> entityUrl, out string boundary)
    {
        var id = Guid.NewGuid().ToString("N");
        boundary = "batch_" + id;
        var changeset = "changeset_" + id;
        var buffer = new ArrayBufferWriter<byte>(1024 + actions.Count * 512);
        Ascii(buffer, $"--{boundary}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n");
        for (var i = 0; i < actions.Count; i++)
        {
            var a = actions[i];
            Ascii(buffer, $"--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n");
            var (method, url, withBody, ifMatch) = a.ActionType switch
            {
                TableTransactionActionType.Add => ("POST", tableUrl, true, null),
                TableTransactionActionType.UpsertMerge => ("MERGE", entityUrl(a.Entity.PartitionKey, a.Entity.RowKey), true, null),
                TableTransactionActionType.UpsertReplace => ("PUT", entityUrl(a.Entity.PartitionKey, a.Entity.RowKey), true, null),
                TableTransactionActionType.UpdateMerge => ("MERGE", entityUrl(a.Entity.PartitionKey, a.Entity.RowKey), true, a.ETag ?? "*"),
                TableTransactionActionType.UpdateReplace => ("PUT", entityUrl(a.Entity.PartitionKey, a.Entity.RowKey), true, a.ETag ?? "*"),
                TableTransactionActionType.Delete => ("DELETE", entityUrl(a.Entity.PartitionKey, a.Entity.RowKey), false, a.ETag ?? "*"),
                _ => throw new ArgumentOutOfRangeException(nameof(actions), a.ActionType, "Unknown action type."),
            };
            Ascii(buffer, $"{method} {url} HTTP/1.1\r\nAccept: application/json;odata=minimalmetadata\r\nDataServiceVersion: 3.0\r\n");
            if (ifMatch is not null)
            {
                Ascii(buffer, $"If-Match: {ifMatch}\r\n");
            }

            if (withBody)
            {
                Ascii(buffer, "Content-Type: application/json\r\nPrefer: return-no-content\r\n\r\n");
                TableJson.WriteEntity(buffer, a.Entity);
                Ascii(buffer, "\r\n");
            }
            else
            {
                Ascii(buffer, "\r\n");
            }
        }

        Ascii(buffer, $"--{changeset}--\r\n\r\n--{boundary}--\r\n");
        return buffer;
    }

    /// <summary>Splits the batch response into its HTTP responses, in order.</summary>
    public static List<Part> ParseResponse(string text)
    {
        var parts = new List<Part>();
        var pos = 0;
        while (true)
        {
            var http = text.IndexOf("HTTP/1.1 ", pos, StringComparison.Ordinal);
            if (http < 0)
            {
                break;
            }

            var status = int.Parse(text.AsSpan(http + 9, 3), NumberStyles.None, CultureInfo.InvariantCulture);
            var headersEnd = text.IndexOf("\r\n\r\n", http, StringComparison.Ordinal);
            if (headersEnd < 0)
            {
                headersEnd = text.Length;
            }

            string? etag = null;
            foreach (var line in text.AsSpan(http, headersEnd - http).EnumerateLines())
            {
                if (line.StartsWith("ETag:", StringComparison.OrdinalIgnoreCase))
                {
                    etag = line[5..].Trim().ToString();
                }
            }

            var bodyStart = Math.Min(headersEnd + 4, text.Length);
            var next = text.IndexOf("\r\n--", bodyStart, StringComparison.Ordinal);
            if (next < 0)
            {
                next = text.Length;
            }

            parts.Add(new Part(status, etag, text[bodyStart..next].Trim()));
            pos = next;
        }

        return parts;
    }

    /// <summary>The service prefixes a failed transaction's message with the failing action's index: "2:The specified…".</summary>
    public static int? FailedIndex(string? message)
    {
        if (string.IsNullOrEmpty(message))
        {
            return null;
        }

        var colon = message.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && int.TryParse(message.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : null;
    }

    private static void Ascii(ArrayBufferWriter<byte> buffer, string s)
    {
        var span = buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(s.Length));
        buffer.Advance(Encoding.UTF8.GetBytes(s, span));
    }
}
