using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>How the receiver answers.</summary>
public enum ReceiverMode
{
    /// <summary>200.</summary>
    Up,

    /// <summary>503.</summary>
    Unavailable,

    /// <summary>Reads the request and never answers (until disposed).</summary>
    Hang,
}

/// <summary>One POST the receiver saw.</summary>
public sealed record ReceivedCall(string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset At, int Answered)
{
    /// <summary>A header (case-insensitive), or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

    /// <summary>True when <c>X-Approvals-Signature</c> is sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)), recomputed here.</summary>
    public bool SignatureValid(string secret)
    {
        var timestamp = Header("X-Approvals-Timestamp");
        var signature = Header("X-Approvals-Signature");
        if (timestamp is null || signature is null || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return false;
        }

        var expected = "sha256=" + Convert.ToHexStringLower(
            HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(timestamp + "." + Body)));
        return string.Equals(expected, signature, StringComparison.Ordinal);
    }
}

/// <summary>
/// A callback target on 127.0.0.1 (HttpListener on a free port) that records every POST and answers per
/// <see cref="Mode"/>. Switch it between up and down while a test runs.
/// </summary>
#pragma warning disable CA1001 // the token source is cancelled, never disposed (see Dispose)
public sealed class CallbackReceiver : IDisposable
#pragma warning restore CA1001
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<ReceivedCall> _calls = new();
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Listens on <paramref name="port"/> (a free one when null).</summary>
    public CallbackReceiver(ReceiverMode mode = ReceiverMode.Up, int? port = null)
    {
        Mode = mode;
        Port = port ?? FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(AcceptLoopAsync);
    }

    /// <summary>How the next requests are answered.</summary>
    public ReceiverMode Mode { get; set; }

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>The callback URL (path <c>/cb</c>).</summary>
    public Uri Url => new($"http://127.0.0.1:{Port}/cb");

    /// <summary>Every call so far, in arrival order.</summary>
    public IReadOnlyList<ReceivedCall> Calls => [.. _calls];

    /// <summary>The calls answered 2xx.</summary>
    public IReadOnlyList<ReceivedCall> Acknowledged => [.. _calls.Where(c => c.Answered is >= 200 and < 300)];

    /// <summary>A port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _listener.Close();
        }
        catch (ObjectDisposedException)
        {
        }

        // _stop is not disposed: handlers still parked on its token would throw ObjectDisposedException.
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            string body;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
            {
                body = await reader.ReadToEndAsync().ConfigureAwait(false);
            }

            var headers = context.Request.Headers.AllKeys.Where(k => k is not null)
                .ToDictionary(k => k!, k => context.Request.Headers[k] ?? "", StringComparer.OrdinalIgnoreCase);
            var mode = Mode;
            var status = mode switch { ReceiverMode.Up => 200, ReceiverMode.Unavailable => 503, _ => 0 };
            _calls.Enqueue(new ReceivedCall(context.Request.Url?.AbsolutePath ?? "", headers, body, DateTimeOffset.UtcNow, status));
            if (mode == ReceiverMode.Hang)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token).ConfigureAwait(false);
                return;
            }

            context.Response.StatusCode = status;
            context.Response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // The listener was closed or the client went away: nothing to record.
        }
    }
}
