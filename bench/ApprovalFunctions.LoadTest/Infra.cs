using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Api.Auth;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.LoadTest;

/// <summary>Where things are: the repository root, the built host, the storage and the dev signing key.</summary>
internal sealed record Environment2(string Root, string HostDll, string Storage, string SigningKey, string? PidDir)
{
    public static Environment2 Detect()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ApprovalFunctions.sln")))
        {
            dir = dir.Parent;
        }

        var root = dir?.FullName ?? Directory.GetCurrentDirectory();
        var dll = System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_HOST_DLL")
            ?? Path.Combine(root, "src/ApprovalFunctions.LocalHost/bin/Release/net10.0/ApprovalFunctions.LocalHost.dll");
        var storage = System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_STORAGE")
            ?? System.Environment.GetEnvironmentVariable("APPROVALS_TEST_STORAGE")
            ?? throw new InvalidOperationException("Set APPROVALS_BENCH_STORAGE (or APPROVALS_TEST_STORAGE) to an Azurite connection string.");
        return new Environment2(root, dll, storage, "loadtest-dev-signing-key-0123456789abcdef-0123456789",
            System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_PIDDIR"));
    }
}

internal static class Net
{
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static string NewHub(string prefix) => prefix + Guid.NewGuid().ToString("N")[..12];
}

/// <summary>One local host process (the built ApprovalFunctions.LocalHost), started with its own environment; killable with SIGKILL.</summary>
internal sealed class HostProcess : IDisposable
{
    private static readonly ConcurrentDictionary<int, HostProcess> Live = new();
    private readonly Environment2 _env;
    private readonly string _hub;
    private readonly string _storage;
    private readonly string _log;
    private Process? _process;

    static HostProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        Console.CancelKeyPress += (_, _) => KillAll();
    }

    private readonly IReadOnlyDictionary<string, string> _settings;

    /// <param name="settings">Extra settings (environment variables) for this host, e.g. a feature turned off.</param>
    public HostProcess(Environment2 env, string hub, string? storage = null, string name = "host", IReadOnlyDictionary<string, string>? settings = null)
    {
        _settings = settings ?? new Dictionary<string, string>();
        _env = env;
        _hub = hub;
        _storage = storage ?? env.Storage;
        _log = Path.Combine(Path.GetTempPath(), $"loadtest-{name}-{System.Environment.ProcessId}-{Guid.NewGuid():N}.log");
    }

    public int Port { get; private set; }

    public string Hub => _hub;

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    public string LogPath => _log;

    public static void KillAll()
    {
        foreach (var h in Live.Values)
        {
            h.Kill();
        }
    }

    /// <summary>Starts the process on a fresh port (no wait).</summary>
    public void Start()
    {
        Port = Net.FreePort();
        // exec keeps the PID, so the SIGKILL reaches the host itself; output goes to a file so no pipe can fill up.
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"exec dotnet \"{_env.HostDll}\" >>\"{_log}\" 2>&1"])
        {
            WorkingDirectory = _env.Root,
            UseShellExecute = false,
        };
        psi.Environment["AzureWebJobsStorage"] = _storage;
        psi.Environment["Approvals__HubName"] = _hub;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        psi.Environment["Auth__DevSigningKey"] = _env.SigningKey;
        psi.Environment["ASPNETCORE_URLS"] = BaseUrl;
        psi.Environment["Approvals__SeedDemoData"] = "false";
        psi.Environment["Approvals__PollMilliseconds"] = "200";
        // Logging as the host ships (Information: a line per commit, to this host's log file) unless asked otherwise.
        if (System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_HOST_LOGLEVEL") is { Length: > 0 } level)
        {
            psi.Environment["Logging__LogLevel__Default"] = level;
        }

        foreach (var (key, value) in _settings)
        {
            psi.Environment[key] = value;
        }

        // GC settings are left as the host ships them (Server GC, from the Web SDK): the memory figure is the product's.
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the host");
        Live[_process.Id] = this;
        if (_env.PidDir is { } dir)
        {
            File.WriteAllText(Path.Combine(dir, _process.Id + ".pid"), _process.Id.ToString());
        }
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_process is null || _process.HasExited)
            {
                throw new InvalidOperationException($"host exited during start-up; log {_log}:\n" + Tail());
            }

            try
            {
                using var r = await http.GetAsync(BaseUrl + "/readyz");
                if (r.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"host not ready within {timeout}; log {_log}:\n" + Tail());
    }

    public async Task<bool> IsReadyAsync()
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
            using var r = await http.GetAsync(BaseUrl + "/healthz");
            return r.IsSuccessStatusCode;
        }
        catch
        {
            return false;
        }
    }

    /// <summary>SIGKILL (Process.Kill sends SIGKILL on Linux): no shutdown hooks, no lease release.</summary>
    public void Kill()
    {
        var p = _process;
        if (p is null)
        {
            return;
        }

        try
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        Live.TryRemove(p.Id, out _);
        if (_env.PidDir is { } dir)
        {
            File.Delete(Path.Combine(dir, p.Id + ".pid"));
        }
    }

    /// <summary>Resident set size of the host process, from /proc.</summary>
    public long RssBytes()
    {
        var pid = Pid ?? throw new InvalidOperationException("host not running");
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0]) * 1024;
            }
        }

        return 0;
    }

    public string Tail()
    {
        try
        {
            var lines = File.ReadAllLines(_log);
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 30)));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    public void Dispose() => Kill();
}

/// <summary>
/// A dedicated Azurite (table service, in memory) started with <c>--debug</c>: it logs one
/// <c>TableStorageContextMiddleware: RequestMethod=</c> line per HTTP request it serves (a $batch is one request),
/// so counting those lines counts the storage requests of the one host that uses it.
/// </summary>
internal sealed class CountingAzurite(Environment2 env) : IDisposable
{
    private const string Marker = "TableStorageContextMiddleware: RequestMethod=";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "loadtest-azurite-" + Guid.NewGuid().ToString("N"));
    private Process? _process;
    private int _port;

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={TableConnectionString.DevelopmentAccountName};AccountKey={TableConnectionString.DevelopmentAccountKey};" +
        $"TableEndpoint=http://127.0.0.1:{_port}/{TableConnectionString.DevelopmentAccountName};";

    private string LogFile => Path.Combine(_dir, "debug.log");

    public async Task StartAsync()
    {
        Directory.CreateDirectory(_dir);
        _port = Net.FreePort();
        var psi = new ProcessStartInfo(Path.Combine(env.Root, "node_modules/.bin/azurite-table"),
            ["--tableHost", "127.0.0.1", "--tablePort", _port.ToString(), "--inMemoryPersistence", "--skipApiVersionCheck",
             "--disableTelemetry", "--silent", "--debug", LogFile])
        {
            WorkingDirectory = _dir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start Azurite");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (env.PidDir is { } dir)
        {
            File.WriteAllText(Path.Combine(dir, _process.Id + ".pid"), _process.Id.ToString());
        }

        for (var i = 0; i < 150; i++)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(IPAddress.Loopback, _port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(200);
            }
        }

        throw new TimeoutException("the counting Azurite did not start");
    }

    /// <summary>Requests served so far, as "METHOD table" in order (the hub prefix is cut off the table name).</summary>
    public List<string> Log(string hub)
    {
        var list = new List<string>();
        foreach (var rest in RequestLines())
        {
            var method = rest.Split(' ')[0];
            var url = rest.Split("RequestURL=", 2) is [_, var u] ? u.Split(' ')[0] : "";
            var path = url.Split($"/{TableConnectionString.DevelopmentAccountName}/", 2) is [_, var p] ? p : url;
            var table = path.Split('(', '?')[0].Replace(hub, "", StringComparison.Ordinal);
            var query = method == "GET" && (path.Contains("()", StringComparison.Ordinal) || !path.Contains('(', StringComparison.Ordinal)) ? " (query)" : "";
            list.Add($"{method} {table}{query}");
        }

        return list;
    }

    /// <summary>Requests served so far (the debug log is written asynchronously: the last few may not be in it yet).</summary>
    public long Requests() => RequestLines().LongCount();

    /// <summary>The debug log's one line per served request, from just after its marker.</summary>
    private IEnumerable<string> RequestLines()
    {
        using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            var at = line.IndexOf(Marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                yield return line[(at + Marker.Length)..];
            }
        }
    }

    public void Dispose()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill();
            p.WaitForExit(5000);
            if (env.PidDir is { } dir)
            {
                File.Delete(Path.Combine(dir, p.Id + ".pid"));
            }
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A callback receiver on loopback: answers 200 and records every delivery with its Idempotency-Key.</summary>
internal sealed class CallbackReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<long>> _firstArrival = new();

    public CallbackReceiver()
    {
        Port = Net.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = LoopAsync();
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/callback";

    /// <summary>Deliveries per approval id: the idempotency keys seen (with repeats).</summary>
    public ConcurrentDictionary<string, ConcurrentBag<string>> Deliveries { get; } = new();

    public long Total;

    /// <summary>Completes with the Stopwatch timestamp of the first delivery for <paramref name="approvalId"/>.</summary>
    public Task<long> WaitFor(string approvalId) =>
        _firstArrival.GetOrAdd(approvalId, _ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch
            {
                return;
            }

            var at = Stopwatch.GetTimestamp();
            _ = Task.Run(async () =>
            {
                try
                {
                    using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
                    var body = await reader.ReadToEndAsync();
                    var key = ctx.Request.Headers["Idempotency-Key"] ?? "(none)";
                    using var doc = JsonDocument.Parse(body);
                    var id = doc.RootElement.GetProperty("approvalId").GetString() ?? "";
                    Deliveries.GetOrAdd(id, _ => []).Add(key);
                    Interlocked.Increment(ref Total);
                    _firstArrival.GetOrAdd(id, _ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(at);
                    ctx.Response.StatusCode = 200;
                }
                catch
                {
                    ctx.Response.StatusCode = 400;
                }
                finally
                {
                    ctx.Response.Close();
                }
            });
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
    }
}

/// <summary>An HTTP client for the approvals API with tokens minted locally from the dev key.</summary>
internal sealed class ApiClient
{
    public const string Tenant = "bench";
    private static readonly HttpClient Shared = new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 512,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    })
    { Timeout = TimeSpan.FromSeconds(60) };

    private readonly ConcurrentDictionary<string, string> _tokens = new();
    private readonly string _key;

    public ApiClient(string key) => _key = key;

    public HttpClient Http => Shared;

    public string Token(string user, params string[] roles) =>
        _tokens.GetOrAdd(user + "|" + string.Join(',', roles), _ => DevTokens.Mint(_key, Tenant, user,
            roles.Length == 0 ? ["approver", "requester"] : roles, DateTimeOffset.UtcNow, TimeSpan.FromHours(12)));

    public async Task<(int Status, string Body)> SendAsync(string baseUrl, HttpMethod method, string path, string? user,
        string? json = null, string? idempotencyKey = null, CancellationToken ct = default, params string[] roles)
    {
        using var request = new HttpRequestMessage(method, baseUrl + path);
        if (user is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token(user, roles));
        }

        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await Shared.SendAsync(request, ct);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(ct));
    }

    public async Task<string> Ok(string baseUrl, HttpMethod method, string path, string? user, string? json = null, params string[] roles)
    {
        var (status, body) = await SendAsync(baseUrl, method, path, user, json, null, default, roles);
        if (status is < 200 or > 299)
        {
            throw new InvalidOperationException($"{method} {path} answered {status}: {body}");
        }

        return body;
    }

    public static string Id(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Directory for the bench tenant: requester, two approvers, a filler approver, 20 racers in one group.</summary>
    public async Task SetUpTenantAsync(string baseUrl, string callbackUrl)
    {
        var users = new List<object>
        {
            new { id = "req", name = "Requester", email = "req@bench.example", groups = Array.Empty<string>() },
            new { id = "ap1", name = "Approver 1", email = "ap1@bench.example", groups = Array.Empty<string>() },
            new { id = "ap2", name = "Approver 2", email = "ap2@bench.example", groups = Array.Empty<string>() },
            new { id = "filler", name = "Filler", email = "f@bench.example", groups = Array.Empty<string>() },
        };
        var racers = Enumerable.Range(1, 20).Select(i => $"r{i:00}").ToArray();
        users.AddRange(racers.Select(r => new { id = r, name = r, email = r + "@bench.example", groups = new[] { "racers" } }));
        var import = JsonSerializer.Serialize(new
        {
            users,
            groups = new[] { new { id = "racers", name = "Racers", members = racers } },
        });
        await Ok(baseUrl, HttpMethod.Post, "/api/v1/directory/import", "admin", import, "admin");

        var callback = $$"""{"url":"{{callbackUrl}}","events":["approved","rejected","expired","cancelled"],"secret":"bench-callback-secret-0123456789"}""";
        var workflows = new Dictionary<string, string>
        {
            ["decide"] = """{"name":"decide","model":"bench.decide","event":"create","stages":[{"id":"s1","order":1,"approvers":[{"type":"user","id":"ap1"}]}]}""",
            ["one"] = $$"""{"name":"one","model":"bench.one","event":"create","callback":{{callback}},"stages":[{"id":"s1","order":1,"approvers":[{"type":"user","id":"ap1"}]}]}""",
            ["two"] = $$"""{"name":"two","model":"bench.two","event":"create","callback":{{callback}},"stages":[{"id":"s1","order":1,"approvers":[{"type":"user","id":"ap1"}]},{"id":"s2","order":2,"approvers":[{"type":"user","id":"ap2"}]}]}""",
            ["fill"] = """{"name":"fill","model":"bench.fill","event":"create","stages":[{"id":"s1","order":1,"approvers":[{"type":"user","id":"filler"}],"timeout":{"after":"P3D","action":"reject"}}]}""",
            ["timer"] = """{"name":"timer","model":"bench.timer","event":"create","stages":[{"id":"s1","order":1,"approvers":[{"type":"user","id":"ap1"}],"timeout":{"after":"PT15S","action":"reject"}}]}""",
            ["race"] = """{"name":"race","model":"bench.race","event":"create","stages":[{"id":"s1","order":1,"approvers":[{"type":"group","id":"racers"}],"consensus":{"mode":"any"}}]}""",
        };
        foreach (var (id, body) in workflows)
        {
            await Ok(baseUrl, HttpMethod.Put, "/api/v1/workflows/" + id, "admin", body, "admin");
        }
    }

    public static string SubmitBody(string model, string recordId) =>
        $$$"""{"model":"{{{model}}}","recordId":"{{{recordId}}}","event":"create","title":"Bench {{{recordId}}}","record":{"amount":100,"currency":"USD"}}""";

    public async Task<string> SubmitAsync(string baseUrl, string model, string recordId)
    {
        var body = await Ok(baseUrl, HttpMethod.Post, "/api/v1/approvals", "req", SubmitBody(model, recordId));
        return Id(body);
    }
}

/// <summary>Percentiles from sorted samples (nearest rank).</summary>
internal static class Stats
{
    public static double Percentile(IReadOnlyList<double> samples, double p)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var sorted = samples.OrderBy(x => x).ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public static double Median(IEnumerable<double> values) => Percentile(values.ToList(), 50);

    public static double Ms(long startTimestamp, long endTimestamp) => Stopwatch.GetElapsedTime(startTimestamp, endTimestamp).TotalMilliseconds;

    /// <summary>Runs <paramref name="work"/> over <paramref name="items"/> with at most <paramref name="concurrency"/> in flight.</summary>
    public static Task ForEach<T>(IEnumerable<T> items, int concurrency, Func<T, Task> work) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (item, _) => await work(item));
}
