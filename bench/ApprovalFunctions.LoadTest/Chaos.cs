using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace ApprovalFunctions.LoadTest;

/// <summary>The outcome of a chaos run: the verdict line and the counts behind it.</summary>
internal sealed record ChaosResult(bool Pass, int Requests, int Acknowledged, int Kills, long Callbacks, int Missing, int Doubled,
    int WrongState, int BadChains, int NoCallback, int ExtraKeys, int Retried, double Seconds, IReadOnlyList<string> Reasons)
{
    public string Verdict =>
        $"chaos: {(Pass ? "PASS" : "FAIL")} requests={Requests} acknowledged={Acknowledged} kills={Kills} callbacks={Callbacks} " +
        $"missing={Missing} doubled={Doubled} wrongState={WrongState} noCallback={NoCallback} extraKeys={ExtraKeys} retriedCalls={Retried} " +
        $"chains={(BadChains == 0 ? "ok" : BadChains + " broken")} seconds={Seconds:F0}" +
        (Reasons.Count > 0 ? " reasons: " + string.Join("; ", Reasons.Take(10)) : "");
}

/// <summary>
/// Two host processes on one storage; concurrent clients approve two-stage requests through both (alternating, failing
/// over on errors, same Idempotency-Key on retries); a killer SIGKILLs a random host at random moments and restarts
/// it. Approvals are paced by kill progress so the kills spread over the whole run. Afterwards every request, ledger
/// and callback is checked against the decisions that were acknowledged with 2xx.
/// </summary>
internal static class Chaos
{
    public static async Task<ChaosResult> RunAsync(Environment2 env, int requests, int killsTarget, int clients, TextWriter log)
    {
        var sw = Stopwatch.StartNew();
        var hub = Net.NewHub("chaos");
        var api = new ApiClient(env.SigningKey);
        using var receiver = new CallbackReceiver();
        var hosts = new[] { new HostProcess(env, hub, name: "chaosA"), new HostProcess(env, hub, name: "chaosB") };
        var reasons = new ConcurrentQueue<string>();
        try
        {
            foreach (var h in hosts)
            {
                h.Start();
            }

            foreach (var h in hosts)
            {
                await h.WaitReadyAsync(TimeSpan.FromSeconds(90));
            }

            await api.SetUpTenantAsync(hosts[0].BaseUrl, receiver.Url);
            log.WriteLine($"chaos: hub {hub}, hosts ready, submitting {requests} two-stage requests");

            // Submissions also go through the retrying client: a kill may land here too.
            var ids = new string[requests];
            var hostTurn = 0;
            // Each call starts on the next host in turn and each retry moves to the other one, so a dead host is left at once.
            Func<int, string> NextHost()
            {
                var first = Interlocked.Increment(ref hostTurn);
                return attempt => hosts[(first + attempt) % hosts.Length].BaseUrl;
            }
            await Stats.ForEach(Enumerable.Range(0, requests), clients, async i =>
            {
                var (status, body, _) = await RetryingAsync(NextHost(), HttpMethod.Post, "/api/v1/approvals", "req",
                    ApiClient.SubmitBody("bench.two", $"C-{i}"), "submit-" + hub + "-" + i, api);
                ids[i] = status is 200 or 201 ? ApiClient.Id(body) : throw new InvalidOperationException($"submit {i}: {status} {body}");
            });

            var acknowledged = new ConcurrentDictionary<(string Id, string Stage), bool>();
            var kills = 0;
            var refusedRetries = 0;
            var retriedCalls = 0;
            var retryRefusals = new ConcurrentDictionary<(string Id, string Stage), string>();
            var started = 0;
            var total = requests * 2;
            using var stop = new CancellationTokenSource();

            var killer = Task.Run(async () =>
            {
                var random = new Random(12345);
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(random.Next(300, 1500));
                    foreach (var h in hosts.Where(h => h.Pid is null))
                    {
                        log.WriteLine($"chaos:   a host exited by itself (not killed); restarting it. Log tail:\n{h.Tail()}");
                        h.Start();
                    }

                    var victim = random.Next(hosts.Length);
                    // Kill only while the other host serves, so the clients always have somewhere to go.
                    if (!await hosts[1 - victim].IsReadyAsync() || stop.IsCancellationRequested)
                    {
                        continue;
                    }

                    hosts[victim].Kill();
                    Interlocked.Increment(ref kills);
                    hosts[victim].Start();
                }
            });

            await Stats.ForEach(ids, clients, async id =>
            {
                foreach (var (stage, user) in new[] { ("s1", "ap1"), ("s2", "ap2") })
                {
                    // Pace approvals by kill progress: approval n (1-based) may start once kills >= n * target / total,
                    // so the last approval starts only after the target number of kills.
                    var n = Interlocked.Increment(ref started);
                    while (Volatile.Read(ref kills) < (long)n * killsTarget / total)
                    {
                        await Task.Delay(20);
                    }

                    var (status, body, attempts) = await RetryingAsync(NextHost(), HttpMethod.Post, $"/api/v1/approvals/{id}/stages/{stage}/approve",
                        user, """{"comment":"chaos"}""", $"approve-{id}-{stage}", api);
                    if (attempts > 1)
                    {
                        Interlocked.Increment(ref retriedCalls);
                    }

                    if (status is >= 200 and < 300)
                    {
                        acknowledged[(id, stage)] = true;
                    }
                    else if (attempts > 1 && status is 409 or 422)
                    {
                        // A retry after a lost answer may find its own vote already applied: not acknowledged, not an error.
                        Interlocked.Increment(ref refusedRetries);
                        retryRefusals[(id, stage)] = $"{status} {Trim(body)}";
                    }
                    else
                    {
                        reasons.Enqueue($"{id}/{stage}: {status} {Trim(body)}");
                    }
                }
            });

            stop.Cancel();
            await killer;
            var approveSeconds = sw.Elapsed.TotalSeconds;
            foreach (var h in hosts)
            {
                if (!await h.IsReadyAsync())
                {
                    h.Kill();
                    h.Start();
                }

                await h.WaitReadyAsync(TimeSpan.FromSeconds(90));
            }

            log.WriteLine($"chaos: {acknowledged.Count} acknowledged approvals ({retriedCalls} needed a retry after a dead host, {refusedRetries} retries found their vote already applied), {kills} kills in {approveSeconds:F0} s; waiting for callbacks");

            foreach (var (key, refusal) in retryRefusals.Take(5))
            {
                log.WriteLine($"chaos:   retry refused {key.Id}/{key.Stage}: {refusal}");
            }

            // Callbacks: a killed host's shard leases expire (15 s by default) before the other host takes its outbox over.
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(120) && ids.Any(id => !receiver.Deliveries.ContainsKey(id)))
            {
                await Task.Delay(250);
            }

            await Task.Delay(1000); // let any in-flight duplicate land, so duplicates are counted too

            int missing = 0, doubled = 0, wrongState = 0, badChains = 0, noCallback = 0, extraKeys = 0;
            await Stats.ForEach(ids, 8, async id =>
            {
                var view = await api.Ok(hosts[0].BaseUrl, HttpMethod.Get, "/api/v1/approvals/" + id, "admin", null, "admin");
                var history = await api.Ok(hosts[0].BaseUrl, HttpMethod.Get, $"/api/v1/approvals/{id}/history", "admin", null, "admin");
                using var v = JsonDocument.Parse(view);
                using var h = JsonDocument.Parse(history);
                var status = v.RootElement.GetProperty("status").GetString();
                if (!h.RootElement.GetProperty("chainVerified").GetBoolean())
                {
                    Interlocked.Increment(ref badChains);
                    reasons.Enqueue($"{id}: chain does not verify");
                }

                var approvals = h.RootElement.GetProperty("entries").EnumerateArray()
                    .Where(e => e.GetProperty("action").GetString() == "approve")
                    .Select(e => (Stage: e.GetProperty("stageId").GetString() ?? "", Actor: e.GetProperty("actor").GetString() ?? ""))
                    .ToList();
                foreach (var stage in new[] { "s1", "s2" })
                {
                    var count = approvals.Count(a => a.Stage == stage);
                    if (acknowledged.ContainsKey((id, stage)) && count == 0)
                    {
                        Interlocked.Increment(ref missing);
                        reasons.Enqueue($"{id}/{stage}: acknowledged but not in the ledger");
                    }

                    if (retryRefusals.TryGetValue((id, stage), out var refusal) && count == 0)
                    {
                        Interlocked.Increment(ref missing);
                        reasons.Enqueue($"{id}/{stage}: a retry was refused ({refusal}) but the vote is not in the ledger");
                    }

                    if (count > 1)
                    {
                        Interlocked.Increment(ref doubled);
                        reasons.Enqueue($"{id}/{stage}: {count} approvals in the ledger");
                    }
                }

                // Every acknowledged decision implies the state: s2 acknowledged => approved; s1 only => still pending.
                var expected = acknowledged.ContainsKey((id, "s2")) ? "approved" : "pending";
                if (status != expected && !(expected == "pending" && approvals.Any(a => a.Stage == "s2")))
                {
                    Interlocked.Increment(ref wrongState);
                    reasons.Enqueue($"{id}: status {status}, acknowledged decisions imply {expected}");
                }

                if (status == "approved")
                {
                    if (!receiver.Deliveries.TryGetValue(id, out var keys) || keys.IsEmpty)
                    {
                        Interlocked.Increment(ref noCallback);
                        reasons.Enqueue($"{id}: approved but no callback reached the receiver");
                    }
                    else if (keys.Distinct().Count() != 1)
                    {
                        Interlocked.Increment(ref extraKeys);
                        reasons.Enqueue($"{id}: {keys.Distinct().Count()} idempotency keys");
                    }
                }
            });

            var pass = missing == 0 && doubled == 0 && wrongState == 0 && badChains == 0 && noCallback == 0 && extraKeys == 0
                && kills >= killsTarget && reasons.IsEmpty;
            if (kills < killsTarget)
            {
                reasons.Enqueue($"only {kills} kills (target {killsTarget})");
            }

            return new ChaosResult(pass, requests, acknowledged.Count, kills, Interlocked.Read(ref receiver.Total), missing, doubled,
                wrongState, badChains, noCallback, extraKeys, retriedCalls, sw.Elapsed.TotalSeconds, [.. reasons]);
        }
        finally
        {
            foreach (var h in hosts)
            {
                h.Kill();
            }
        }
    }

    /// <summary>
    /// Sends with the same Idempotency-Key until a definitive answer: connection failures, timeouts and 5xx (a host
    /// dying mid-request) are retried on the next host; 2xx and 4xx are answers.
    /// </summary>
    private static async Task<(int Status, string Body, int Attempts)> RetryingAsync(Func<int, string> host, HttpMethod method, string path, string user,
        string json, string key, ApiClient api)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var (status, body) = await api.SendAsync(host(attempt), method, path, user, json, key, cts.Token);
                // 409 idempotency-in-progress: the first attempt holds the key (perhaps on a host that was just killed); retry.
                var inProgress = status == 409 && body.Contains("idempotency-in-progress", StringComparison.Ordinal);
                if ((status < 500 && status != 408 && !inProgress) || attempt > 400)
                {
                    return (status, body, attempt + 1);
                }
            }
            catch (Exception ex)
            {
                if (attempt >= 400)
                {
                    return (-1, $"gave up after {attempt + 1} attempts: {ex.GetType().Name}: {ex.Message}", attempt + 1);
                }
            }

            await Task.Delay(Math.Min(50 * (attempt + 1), 500));
        }
    }

    private static string Trim(string s) => s.Length > 200 ? s[..200] : s;
}
