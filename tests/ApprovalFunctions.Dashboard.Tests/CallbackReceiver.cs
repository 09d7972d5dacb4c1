using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>One request the receiver got: method, headers and the exact body bytes (the signature covers them).</summary>
public sealed record ReceivedCallback(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>
/// A stand-in for the ERP: an HTTP listener on 127.0.0.1 that answers 200 to anything and records every request.
/// </summary>
public sealed class CallbackReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<ReceivedCallback> _received = new();
    private readonly Task _loop;

    public CallbackReceiver()
    {
        var port = FreePort();
        Url = new Uri($"http://127.0.0.1:{port}/erp/approvals/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The URL to put in a workflow's callback.</summary>
    public Uri Url { get; }

    public IReadOnlyCollection<ReceivedCallback> Received => _received;

    /// <summary>Waits until a request matching <paramref name="match"/> arrives.</summary>
    public async Task<ReceivedCallback> WaitForAsync(Func<ReceivedCallback, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var hit = _received.FirstOrDefault(match);
            if (hit is not null)
            {
                return hit;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"No matching callback within {timeout.TotalSeconds:0} s; received {_received.Count} request(s).");
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends by the listener being closed under it.
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var buffer = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(buffer);
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null)
                .ToDictionary(k => k!, k => context.Request.Headers[k] ?? "", StringComparer.OrdinalIgnoreCase);
            _received.Enqueue(new ReceivedCallback(context.Request.HttpMethod, context.Request.Url?.AbsolutePath ?? "", headers, buffer.ToArray()));
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
