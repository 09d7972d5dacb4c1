using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.LoadTest;

/// <summary>Sizes for one bench run; <c>--quick</c> shrinks them for a smoke test.</summary>
internal sealed record BenchSizes(int Reps, double RawSeconds, int Decisions, int LatencyOps, int Lifecycles, int CountedLifecycles,
    int PageSmall, int PageLarge, int PageOps, int Timers, int RaceRequests, int Hostile, int ChaosRequests, int ChaosKills)
{
    public static BenchSizes Full(int scale) => new(3, 4, 1000, 300, 300, 20, 1000, scale, 200, 100, 500, 10_000, 500, 50);

    public static BenchSizes Quick => new(3, 1, 100, 30, 20, 5, 50, 150, 20, 10, 20, 300, 20, 3);
}

/// <summary>One figure and its target, as a row of the results table.</summary>
internal sealed record Figure(string Name, string Value, string Target, bool? Met, string Note);

internal static class Bench
{
    private const int Clients = 64;

    public static async Task<int> RunAsync(Environment2 env, BenchSizes sizes, string outPath, TextWriter log)
    {
        var figures = new List<Figure>();
        var failures = new List<string>();
        var started = DateTimeOffset.UtcNow;
        var loadBefore = File.ReadAllText("/proc/loadavg").Trim();
        var total = Stopwatch.StartNew();

        // ---- raw storage baseline ----
        log.WriteLine("raw Azurite baseline ...");
        var raw = await RawBaseline.RunAsync(env.Storage, Clients, sizes.RawSeconds, sizes.Reps);
        figures.Add(new("Raw point reads/s (64 clients)", F0(raw.Reads), "baseline", null, Runs(raw.ReadRuns)));
        figures.Add(new("Raw conditional updates/s (64 clients)", F0(raw.Updates), "baseline", null, Runs(raw.UpdateRuns)));
        figures.Add(new("Raw 2-operation batches/s (64 clients)", F0(raw.Batches), "baseline", null, Runs(raw.BatchRuns)));

        var api = new ApiClient(env.SigningKey);
        using var receiver = new CallbackReceiver();
        // Warmed up (JIT, connection pools, definition and directory caches) before anything is measured.
        using var host = await StartWarmHostAsync(env, api, receiver, "bench", null);
        var hub = host.Hub;
        var url = host.BaseUrl;

        // ---- decisions per second, 64 clients ----
        log.WriteLine("decisions with 64 clients ...");
        var (decisionRates, submitRates) = await DecisionRatesAsync(api, url, sizes.Reps, sizes.Decisions);

        const string copyNote = "; the hosts run with the default state copies (`Approvals__StateCopyChars` 4,000,000) and each request was submitted seconds before through this host, so the decision starts from the host's copy of its state (no read)";
        var decisions = Stats.Median(decisionRates);
        figures.Add(new("Decisions/s (64 clients)", $"{decisions:F0} ({decisions / raw.Batches:P0} of raw batch)",
            $">= {raw.Batches / 3:F0} (1/3 of raw batch)", decisions >= raw.Batches / 3, Runs(decisionRates) + copyNote +
            "; every client decides as the same approver (`ap1`) on requests of the same requester, so under load their inbox and requester rows share transactions (group commit, decision 007); deciders in different partitions would share only the due-work intents" +
            Miss(decisions, raw.Batches / 3, true)));
        figures.Add(new("Submissions/s (64 clients)", $"{Stats.Median(submitRates):F0} ({Stats.Median(submitRates) / raw.Batches:P0} of raw batch)",
            "—", null, Runs(submitRates)));

        // ---- decision latency, one client ----
        log.WriteLine("decision latency with one client ...");
        var (p50s, p99s, allLatencies) = await DecisionLatencyAsync(api, url, sizes, "L");
        var latP50 = Stats.Median(p50s);
        var latP99 = Stats.Median(p99s);
        figures.Add(new("Decision latency p50 (1 client)", Ms(latP50), "<= 3 ms", latP50 <= 3, Runs(p50s, "ms") + copyNote + Miss(latP50, 3, false)));
        figures.Add(new("Decision latency p99 (1 client)", Ms(latP99), "<= 15 ms", latP99 <= 15,
            Runs(p99s, "ms") + $"; pooled p99 {Ms(Stats.Percentile(allLatencies, 99))}" + Miss(latP99, 15, false)));

        // The floor under that latency: a decision's three storage round trips, in turn, sent straight to Azurite.
        var floor = await DecisionStorageFloorAsync(new TableServiceClient(env.Storage), sizes.LatencyOps, sizes.Reps);
        figures.Add(new("A decision's storage round trips straight to Azurite (no host, 1 client), p50 / p99", $"{Ms(floor.P50)} / {Ms(floor.P99)}", "—", null,
            "the floor under the decision latency: a journal row PUT, then the commit (If-Match replace of a 4,000-character state row and a ledger row " +
            "in one transaction), then the inbox transaction (decided row upsert, pending row delete) and the requester row PUT in parallel, " +
            "with the project's table client; p50 runs: " + string.Join(", ", floor.P50Runs.Select(v => Ms(v)))));

        // The same on a host that keeps no copies: what a decision costs on a request no process touched lately.
        log.WriteLine("decision latency with one client, state copies off ...");
        {
            using var cold = await StartWarmHostAsync(env, api, receiver, "benchcold", new Dictionary<string, string> { ["Approvals__StateCopyChars"] = "0" });
            var (coldP50s, coldP99s, _) = await DecisionLatencyAsync(api, cold.BaseUrl, sizes, "C");
            figures.Add(new("Decision latency p50 / p99 (1 client), host without state copies", $"{Ms(Stats.Median(coldP50s))} / {Ms(Stats.Median(coldP99s))}",
                "—", null, "`Approvals__StateCopyChars=0`, its own hub: every decision reads the request first (one point read more); p50 runs: " +
                string.Join(", ", coldP50s.Select(v => Ms(v)))));
        }

        // ---- full lifecycle: submit, two stages, callback acknowledged ----
        log.WriteLine("full lifecycles ...");
        var (lifecycleRates, callbackP50s, callbackDelays, lateCallbacks) = await LifecycleRatesAsync(api, url, receiver, sizes.Reps, sizes.Lifecycles);

        var lifecycles = Stats.Median(lifecycleRates);
        figures.Add(new("Full lifecycles/s (submit → 2 stages → callback acked, 32 clients)", F0(lifecycles), ">= 100/s", lifecycles >= 100,
            Runs(lifecycleRates) + Miss(lifecycles, 100, true)));
        var cbP50 = Stats.Median(callbackP50s);
        figures.Add(new("Callback delivered after the final decision was sent, p50", Ms(cbP50), "<= 100 ms", cbP50 <= 100,
            Runs(callbackP50s, "ms") + (lateCallbacks > 0 ? $"; **{lateCallbacks} callbacks had not arrived 20 s after the final decision (excluded from the percentiles; the lifecycle rate counts the wait)**" : "") + $"; pooled p99 {Ms(Stats.Percentile(callbackDelays, 99))}; from sending the final approval to the callback's arrival (so it includes that request's own round trip); the committing host starts the delivery at once (due-work poll 200 ms backing off to 1 s for work committed elsewhere)" + Miss(cbP50, 100, false)));

        // ---- storage requests per lifecycle, counted by a dedicated Azurite logging every request ----
        log.WriteLine("storage requests per lifecycle ...");
        Counted? counted = null;
        try
        {
            counted = await CountRequestsAsync(env, api, receiver, sizes.CountedLifecycles, sizes.Reps);
        }
        catch (Exception ex)
        {
            failures.Add($"storage requests per lifecycle: {ex.GetType().Name}: {ex.Message}");
        }

        if (counted is not null)
        {
        figures.Add(new("Storage requests per lifecycle (1 stage, 1 approver, callback)", $"{counted.OneStage:F1}", "<= 12",
            counted.OneStage <= 12, $"all requests host→Azurite while the lifecycles ran, minus the idle poller's rate ({counted.IdlePerSecond:F1}/s); " +
            $"without subtracting: {counted.OneStageRaw:F1}; runs {string.Join(", ", counted.OneStageRuns.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)))}" + Miss(counted.OneStage, 12, false)));
        figures.Add(new("Storage requests per lifecycle (2 stages, callback)", $"{counted.TwoStage:F1}", "—", null, $"without subtracting idle: {counted.TwoStageRaw:F1}"));
        }

        // ---- load safety (before populating: it checks correctness under contention, and on Azurite, which scans a whole
        // table for every query, 10,000 attempts against a store already holding the scale suites' rows would time out) ----
        log.WriteLine("load safety: racing decisions ...");
        var race = await Attempt("racing decisions", () => Safety.RaceAsync(api, url, sizes.RaceRequests, 20, Clients));
        log.WriteLine("load safety: hostile requests ...");
        var tables = new StorageTables(new TableServiceClient(env.Storage), hub);
        var hostile = await Attempt("hostile requests", async () =>
        {
            var pendingForHostile = await api.SubmitAsync(url, "bench.decide", "HOSTILE");
            await Task.Delay(1500);
            return await Safety.HostileAsync(api, url, tables, pendingForHostile, sizes.Hostile, Clients);
        });

        // ---- scale: my-approvals page, timers, memory ----
        log.WriteLine($"populating {sizes.PageSmall} pending requests ...");
        var populated = 0;
        var populateSw = Stopwatch.StartNew();
        var populateRate = 0.0;
        try
        {
        async Task PopulateTo(int n)
        {
            // Progress every tenth of the way (populating 100,000 takes many minutes).
            var from = populated;
            var done = 0;
            var step = Math.Max(1, (n - from) / 10);
            var sw = Stopwatch.StartNew();
            await Stats.ForEach(Enumerable.Range(from, n - from), Clients, async i =>
            {
                await api.SubmitAsync(url, "bench.fill", $"P-{i}");
                var count = Interlocked.Increment(ref done);
                if (count % step == 0)
                {
                    log.WriteLine($"  {from + count:N0} of {n:N0} submitted ({count / sw.Elapsed.TotalSeconds:F0}/s)");
                }
            });
            populated = n;
        }

        // Where the page's time goes: the same query sent straight to Azurite (no host), and a query that matches no row of the
        // same table, which Azurite still answers by testing every row (the least any query on that table can cost).
        async Task InboxQueryFloorAsync(int pending)
        {
            var direct = await StorageQueryLatencyAsync(tables.Inbox, PageQuery, 50, sizes.PageOps, sizes.Reps);
            figures.Add(new($"The page's query straight to Azurite (no host) at {pending:N0} pending", Ms(direct.P99), "—", null,
                $"p50 {Ms(direct.P50)}; the host's query (the user's partition, row keys from `p|`, top=50) with the project's table client; " + Runs(direct.P99Runs, "ms")));
            var none = await StorageQueryLatencyAsync(tables.Inbox, NoMatchQuery, 50, sizes.PageOps, sizes.Reps);
            figures.Add(new($"A query of the same table matching no row at {pending:N0} pending", Ms(none.P99), "—", null,
                $"p50 {Ms(none.P50)}; a partition with no rows: Azurite still tests every row of the table, so no query of it costs less (a point read does); " + Runs(none.P99Runs, "ms")));
        }

        await PopulateTo(sizes.PageSmall);
        var pageSmall = await PageLatencyAsync(api, url, sizes.PageOps, sizes.Reps);
        figures.Add(new($"'My approvals' page p99 at {sizes.PageSmall:N0} pending", Ms(pageSmall.P99), "<= 20 ms", pageSmall.P99 <= 20,
            $"p50 {Ms(pageSmall.P50)}; top=50; " + Runs(pageSmall.P99Runs, "ms") + Miss(pageSmall.P99, 20, false)));
        await InboxQueryFloorAsync(sizes.PageSmall);

        log.WriteLine($"populating {sizes.PageLarge} pending requests ...");
        await PopulateTo(sizes.PageLarge);
        populateRate = sizes.PageLarge / populateSw.Elapsed.TotalSeconds;
        var pageLarge = await PageLatencyAsync(api, url, sizes.PageOps, sizes.Reps);
        var largeNote = sizes.PageLarge < 100_000 ? $" (target is at 100,000; measured at {sizes.PageLarge:N0}: see below)" : "";
        figures.Add(new($"'My approvals' page p99 at {sizes.PageLarge:N0} pending", Ms(pageLarge.P99), "<= 20 ms" + largeNote, pageLarge.P99 <= 20,
            $"p50 {Ms(pageLarge.P50)}; top=50; " + Runs(pageLarge.P99Runs, "ms") + Miss(pageLarge.P99, 20, false)));
        await InboxQueryFloorAsync(sizes.PageLarge);

        log.WriteLine("timer lateness ...");
        var timers = await TimerLatenessAsync(api, url, sizes.Timers, sizes.Reps);
        figures.Add(new($"Timer lateness p99 with {sizes.PageLarge:N0} pending timers", Ms(timers.P99), "<= 1 s" + largeNote, timers.P99 <= 1000,
            $"p50 {Ms(timers.P50)}; {timers.Count} timers (PT15S stage timeouts) in {sizes.Reps} staggered batches; lateness = decidedAt − (createdAt + 15 s), both host clock" +
            (timers.Unfired > 0 ? $"; {timers.Unfired} had not fired 60 s after due" : "") + Miss(timers.P99, 1000, false)));

        GC.KeepAlive(host);
        var rss = host.RssBytes() / 1024.0 / 1024.0;
        figures.Add(new($"Host memory (RSS) at {sizes.PageLarge:N0} active requests", $"{rss:F0} MB", "<= 250 MB" + largeNote, rss <= 250,
            "VmRSS from /proc after populating; GC as the host ships (Server GC, 2 heaps on 2 cores)" + Miss(rss, 250, false)));
        }
        catch (Exception ex)
        {
            failures.Add($"scale suites (page latency, timers, memory) after populating {populated:N0}: {ex.GetType().Name}: {ex.Message}");
        }

        // ---- chaos ----
        log.WriteLine("chaos ...");
        host.Kill();
        var chaos = await Attempt("chaos", () => Chaos.RunAsync(env, sizes.ChaosRequests, sizes.ChaosKills, 16, log));
        log.WriteLine(chaos?.Verdict ?? "chaos: did not complete");

        var loadAfter = File.ReadAllText("/proc/loadavg").Trim();
        await File.WriteAllTextAsync(outPath, Markdown(env, sizes, figures, raw, race, hostile, chaos, counted, failures, started, total.Elapsed, loadBefore, loadAfter, populateRate));
        log.WriteLine($"wrote {outPath}");
        foreach (var f in figures)
        {
            log.WriteLine($"  {f.Name}: {f.Value} [{f.Target}] {(f.Met is null ? "" : f.Met.Value ? "met" : "MISSED")}");
        }

        foreach (var f in failures)
        {
            log.WriteLine("  DID NOT COMPLETE: " + f);
        }

        return chaos is { Pass: true } && race is { Pass: true } && hostile is { Pass: true } && failures.Count == 0 ? 0 : 1;

        async Task<T?> Attempt<T>(string name, Func<Task<T>> suite) where T : class
        {
            try
            {
                return await suite();
            }
            catch (Exception ex)
            {
                failures.Add($"{name}: {ex.GetType().Name}: {ex.Message}");
                return null;
            }
        }
    }

    internal sealed record Counted(double OneStage, double OneStageRaw, IReadOnlyList<double> OneStageRuns, double TwoStage, double TwoStageRaw, double IdlePerSecond,
        IReadOnlyList<(string Request, double PerLifecycle, double IdlePerSecond, double NetPerLifecycle)> Breakdown);

    /// <summary>
    /// A second host on a second Azurite that logs every request it serves (<c>--debug</c>); the count is the number of
    /// HTTP requests Azurite received (a $batch counts once). Lifecycles run one at a time.
    /// </summary>
    internal static async Task<Counted> CountRequestsAsync(Environment2 env, ApiClient api, CallbackReceiver receiver, int n, int reps)
    {
        using var azurite = new CountingAzurite(env);
        await azurite.StartAsync();
        var hub = Net.NewHub("count");
        using var host = new HostProcess(env, hub, azurite.ConnectionString, "count");
        host.Start();
        await host.WaitReadyAsync(TimeSpan.FromSeconds(90));
        await api.SetUpTenantAsync(host.BaseUrl, receiver.Url);
        for (var i = 0; i < 5; i++)
        {
            await LifecycleAsync("bench.one", $"CW-{i}");
        }

        // Idle rate: what the due-work poller costs with nothing to do.
        await Task.Delay(1000);
        var idleStart = azurite.Log(hub).Count;
        var idleSw = Stopwatch.StartNew();
        await Task.Delay(5000);
        var idleLog = azurite.Log(hub).Skip(idleStart).ToList();
        var idleSeconds = idleSw.Elapsed.TotalSeconds;
        var idlePerSecond = idleLog.Count / idleSeconds;
        List<string>? oneStageLog = null;
        var oneStageSeconds = 0.0;

        var runs = new List<double>();
        var rawRuns = new List<double>();
        for (var rep = 0; rep < reps; rep++)
        {
            var (net, gross) = await Measure("bench.one", $"C1{rep}");
            runs.Add(net);
            rawRuns.Add(gross);
        }

        var (twoNet, twoGross) = await Measure("bench.two", "C2");
        // Per request kind: the first one-stage run's requests per lifecycle beside the idle poller's rate.
        var breakdown = oneStageLog!.Concat(idleLog).Distinct().Select(k =>
                (k, oneStageLog!.Count(x => x == k) / (double)n, idleLog.Count(x => x == k) / idleSeconds,
                 (oneStageLog!.Count(x => x == k) - idleLog.Count(x => x == k) / idleSeconds * oneStageSeconds) / n))
            .OrderByDescending(t => t.Item2).ToList();
        return new Counted(Stats.Median(runs), Stats.Median(rawRuns), runs, twoNet, twoGross, idlePerSecond, breakdown);

        async Task<(double Net, double Gross)> Measure(string model, string prefix)
        {
            var start = azurite.Log(hub).Count;
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                await LifecycleAsync(model, $"{prefix}-{i}");
            }

            // The clean-up after the acknowledged callback: the outbox row, and the done due rows, which the host deletes in
            // one batch per shard within DueWorkStore.DeleteDelay (counted here, not left out of the window).
            await Task.Delay(ApprovalFunctions.Runtime.Storage.DueWorkStore.DeleteDelay + TimeSpan.FromMilliseconds(700));
            var window = azurite.Log(hub).Skip((int)start).ToList();
            var count = window.Count;
            if (oneStageLog is null)
            {
                oneStageLog = window;
                oneStageSeconds = sw.Elapsed.TotalSeconds;
            }

            return ((count - idlePerSecond * sw.Elapsed.TotalSeconds) / n, (double)count / n);
        }

        async Task LifecycleAsync(string model, string record)
        {
            var id = await api.SubmitAsync(host.BaseUrl, model, record);
            var arrived = receiver.WaitFor(id);
            await api.Ok(host.BaseUrl, HttpMethod.Post, $"/api/v1/approvals/{id}/stages/s1/approve", "ap1", "{}");
            if (model == "bench.two")
            {
                await api.Ok(host.BaseUrl, HttpMethod.Post, $"/api/v1/approvals/{id}/stages/s2/approve", "ap2", "{}");
            }

            try
            {
                await arrived.WaitAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"no callback for {id} within 60 s (requests so far {azurite.Requests()}); host log {host.LogPath}");
            }
        }
    }

    /// <summary>Diagnostics: a host of its own, warmed up, then only the one-client decision latency.</summary>
    public static Task<(List<double> P50s, List<double> P99s, IReadOnlyList<double> FloorP50s)> LatencyOnlyAsync(Environment2 env, int reps, int ops) =>
        OnWarmHostAsync(env, "latency", async (api, url, _) =>
        {
            var (p50s, p99s, _) = await DecisionLatencyAsync(api, url, BenchSizes.Quick with { Reps = reps, LatencyOps = ops }, "L");
            var floor = await DecisionStorageFloorAsync(new TableServiceClient(env.Storage), ops, reps);
            return (p50s, p99s, floor.P50Runs);
        });

    /// <summary>
    /// <paramref name="reps"/> runs of <paramref name="ops"/> decision-shaped storage sequences from one client, on tables
    /// of their own (deleted after): the journal row PUT, the commit transaction, then the inbox transaction and the
    /// requester PUT in parallel, each step waiting for the one before, as the host's decision does. Timed by
    /// <see cref="RepeatedLatencyAsync"/>; the rows each sequence changes are written first, unmeasured.
    /// </summary>
    private static async Task<RepeatedLatency> DecisionStorageFloorAsync(TableServiceClient service, int ops, int reps)
    {
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var journal = service.GetTableClient("floorj" + suffix);
        var requests = service.GetTableClient("floorr" + suffix);
        var inbox = service.GetTableClient("floori" + suffix);
        var requester = service.GetTableClient("floorq" + suffix);
        TableClient[] tables = [journal, requests, inbox, requester];
        foreach (var table in tables)
        {
            await table.CreateIfNotExistsAsync();
        }

        try
        {
            var state = new string('s', 4000);
            var ledger = new string('l', 1000);
            TableEntity Summary(string pk, string rk) => new(pk, rk)
            {
                ["Id"] = rk, ["Title"] = "Bench", ["Model"] = "bench.decide", ["RecordId"] = rk, ["Requester"] = "req", ["Status"] = "approved",
                ["CreatedAt"] = DateTimeOffset.UtcNow, ["WorkflowId"] = "decide", ["WorkflowVersion"] = 1, ["StageId"] = "s1", ["StageName"] = "s1",
            };
            var etags = new string[reps * (ops + 5)];
            for (var n = 0; n < etags.Length; n++)
            {
                etags[n] = await requests.UpsertAsync(new TableEntity($"r{n}", "state") { ["S"] = state }, TableUpdateMode.Replace);
                await inbox.UpsertAsync(Summary("ap1", $"p|{n}"), TableUpdateMode.Replace);
            }

            var next = 0;
            return await RepeatedLatencyAsync(async _ =>
            {
                var n = next++;
                var pk = $"r{n}";
                await journal.UpsertAsync(new TableEntity("journal", "owner|00") { ["E"] = $"[{{\"r\":\"{pk}\",\"k\":[]}}]" }, TableUpdateMode.Replace);
                await requests.SubmitTransactionAsync([
                    TableTransactionAction.Update(new TableEntity(pk, "state") { ["S"] = state }, etags[n], TableUpdateMode.Replace),
                    TableTransactionAction.Add(new TableEntity(pk, "ledger|000000000001") { ["J"] = ledger })]);
                await Task.WhenAll(
                    inbox.SubmitTransactionAsync([
                        TableTransactionAction.Upsert(Summary("ap1", $"d|{n}"), TableUpdateMode.Replace),
                        TableTransactionAction.Delete("ap1", $"p|{n}")]),
                    requester.UpsertAsync(Summary("req", pk), TableUpdateMode.Replace));
            }, ops, reps);
        }
        finally
        {
            foreach (var table in tables)
            {
                await table.DeleteTableAsync();
            }
        }
    }

    /// <summary>Diagnostics: one suite (<paramref name="suite"/>: client, host URL, callback receiver) on a warm host of its own.</summary>
    private static async Task<T> OnWarmHostAsync<T>(Environment2 env, string name, Func<ApiClient, string, CallbackReceiver, Task<T>> suite)
    {
        var api = new ApiClient(env.SigningKey);
        using var receiver = new CallbackReceiver();
        using var host = await StartWarmHostAsync(env, api, receiver, name, null);
        return await suite(api, host.BaseUrl, receiver);
    }

    /// <summary>
    /// <paramref name="reps"/> runs of <paramref name="count"/> submissions then <paramref name="count"/> decisions, 64 clients
    /// each: the rates per run.
    /// </summary>
    private static async Task<(List<double> Decisions, List<double> Submissions)> DecisionRatesAsync(ApiClient api, string url, int reps, int count)
    {
        var decisionRates = new List<double>();
        var submitRates = new List<double>();
        for (var rep = 0; rep < reps; rep++)
        {
            var ids = new string[count];
            var sw = Stopwatch.StartNew();
            await Stats.ForEach(Enumerable.Range(0, ids.Length), Clients, async i => ids[i] = await api.SubmitAsync(url, "bench.decide", $"D{rep}-{i}"));
            submitRates.Add(ids.Length / sw.Elapsed.TotalSeconds);
            sw.Restart();
            await Stats.ForEach(ids, Clients, id => api.Ok(url, HttpMethod.Post, $"/api/v1/approvals/{id}/stages/s1/approve", "ap1", "{}"));
            decisionRates.Add(ids.Length / sw.Elapsed.TotalSeconds);
        }

        return (decisionRates, submitRates);
    }

    /// <summary>
    /// <paramref name="reps"/> runs of <paramref name="count"/> full lifecycles (submit, two stages, callback acknowledged) with
    /// 32 clients: the rate and callback p50 per run, every callback delay, and the callbacks that had not arrived after 20 s.
    /// </summary>
    private static async Task<(List<double> Rates, List<double> CallbackP50s, List<double> CallbackDelays, int Late)> LifecycleRatesAsync(
        ApiClient api, string url, CallbackReceiver receiver, int reps, int count)
    {
        var lifecycleRates = new List<double>();
        var callbackDelays = new List<double>();
        var callbackP50s = new List<double>();
        var lateCallbacks = 0;
        for (var rep = 0; rep < reps; rep++)
        {
            var delays = new System.Collections.Concurrent.ConcurrentBag<double>();
            var sw = Stopwatch.StartNew();
            await Stats.ForEach(Enumerable.Range(0, count), Clients / 2, async i =>
            {
                var id = await api.SubmitAsync(url, "bench.two", $"F{rep}-{i}");
                var arrived = receiver.WaitFor(id);
                await api.Ok(url, HttpMethod.Post, $"/api/v1/approvals/{id}/stages/s1/approve", "ap1", "{}");
                // Measured from sending the final approval, not from its response: the host starts the delivery as soon as
                // the decision commits, so the callback often arrives before the response does (the figure includes the
                // decision's own round trip).
                var decided = Stopwatch.GetTimestamp();
                await api.Ok(url, HttpMethod.Post, $"/api/v1/approvals/{id}/stages/s2/approve", "ap2", "{}");
                try
                {
                    var at = await arrived.WaitAsync(TimeSpan.FromSeconds(20));
                    delays.Add(Stats.Ms(decided, at));
                }
                catch (TimeoutException)
                {
                    Interlocked.Increment(ref lateCallbacks);
                }
            });
            lifecycleRates.Add(count / sw.Elapsed.TotalSeconds);
            callbackP50s.Add(Stats.Percentile([.. delays], 50));
            callbackDelays.AddRange(delays);
        }

        return (lifecycleRates, callbackP50s, callbackDelays, lateCallbacks);
    }

    /// <summary>Diagnostics: only full lifecycles/s with 32 clients, on a warm host of its own.</summary>
    public static Task<List<double>> LifecyclesOnlyAsync(Environment2 env, int reps, int count) =>
        OnWarmHostAsync(env, "lifecycles", async (api, url, receiver) => (await LifecycleRatesAsync(api, url, receiver, reps, count)).Rates);

    /// <summary>
    /// Diagnostics: <paramref name="count"/> pending requests for the filler approver on a warm host of its own, then the page,
    /// its query straight to Azurite and a query matching no row of the inbox table, p50/p99 of <paramref name="reps"/> runs,
    /// and the lateness of 100 timers per run; the two queries again after the host is stopped, which shows what the running host's own storage traffic adds.
    /// </summary>
    public static async Task<IReadOnlyList<string>> PageOnlyAsync(Environment2 env, int reps, int count, int ops)
    {
        var api = new ApiClient(env.SigningKey);
        using var receiver = new CallbackReceiver();
        using var host = await StartWarmHostAsync(env, api, receiver, "page", null);
        var url = host.BaseUrl;
        var sw = Stopwatch.StartNew();
        await Stats.ForEach(Enumerable.Range(0, count), Clients, i => api.SubmitAsync(url, "bench.fill", $"P-{i}"));
        var lines = new List<string> { $"populated {count:N0} in {sw.Elapsed.TotalSeconds:F0} s" };
        var tables = new StorageTables(new TableServiceClient(env.Storage), host.Hub);
        string Line(string what, RepeatedLatency l) => $"{what}: p50 {l.P50:F1} ms, p99 {l.P99:F1} ms (runs {string.Join(", ", l.P99Runs.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)))})";
        lines.Add(Line("page (host up)", await PageLatencyAsync(api, url, ops, reps)));
        lines.Add(Line("direct query (host up)", await StorageQueryLatencyAsync(tables.Inbox, PageQuery, 50, ops, reps)));
        lines.Add(Line("no-match query (host up)", await StorageQueryLatencyAsync(tables.Inbox, NoMatchQuery, 50, ops, reps)));
        var timers = await TimerLatenessAsync(api, url, 100, reps);
        lines.Add($"timer lateness: p50 {timers.P50:F1} ms, p99 {timers.P99:F1} ms, {timers.Count} timers, {timers.Unfired} unfired");
        host.Kill();
        await Task.Delay(2000);
        lines.Add(Line("direct query (host stopped)", await StorageQueryLatencyAsync(tables.Inbox, PageQuery, 50, ops, reps)));
        lines.Add(Line("no-match query (host stopped)", await StorageQueryLatencyAsync(tables.Inbox, NoMatchQuery, 50, ops, reps)));
        return lines;
    }

    /// <summary>Diagnostics: only decisions/s with 64 clients, on a warm host of its own.</summary>
    public static Task<(List<double> Decisions, List<double> Submissions)> DecisionsOnlyAsync(Environment2 env, int reps, int count) =>
        OnWarmHostAsync(env, "decisions", (api, url, _) => DecisionRatesAsync(api, url, reps, count));

    /// <summary>
    /// A host of its own (its own hub, extra <paramref name="settings"/>), with the bench tenant set up and warmed up by 40
    /// decisions (JIT, connection pools, definition and directory caches).
    /// </summary>
    private static async Task<HostProcess> StartWarmHostAsync(Environment2 env, ApiClient api, CallbackReceiver receiver, string name,
        IReadOnlyDictionary<string, string>? settings)
    {
        var host = new HostProcess(env, Net.NewHub(name), name: name, settings: settings);
        try
        {
            host.Start();
            await host.WaitReadyAsync(TimeSpan.FromSeconds(90));
            await api.SetUpTenantAsync(host.BaseUrl, receiver.Url);
            await Stats.ForEach(Enumerable.Range(0, 40), 8, async i =>
            {
                var id = await api.SubmitAsync(host.BaseUrl, "bench.decide", $"W-{i}");
                await api.Ok(host.BaseUrl, HttpMethod.Post, $"/api/v1/approvals/{id}/stages/s1/approve", "ap1", "{}");
            });
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>One client deciding freshly submitted requests one after another: p50 and p99 per run, and every sample.</summary>
    private static async Task<(List<double> P50s, List<double> P99s, List<double> All)> DecisionLatencyAsync(ApiClient api, string url, BenchSizes sizes,
        string prefix)
    {
        var p50s = new List<double>();
        var p99s = new List<double>();
        var all = new List<double>();
        for (var rep = 0; rep < sizes.Reps; rep++)
        {
            var ids = new string[sizes.LatencyOps + 10];
            await Stats.ForEach(Enumerable.Range(0, ids.Length), 16, async i => ids[i] = await api.SubmitAsync(url, "bench.decide", $"{prefix}{rep}-{i}"));
            var samples = new List<double>();
            for (var i = 0; i < ids.Length; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                await api.Ok(url, HttpMethod.Post, $"/api/v1/approvals/{ids[i]}/stages/s1/approve", "ap1", "{}");
                if (i >= 10)
                {
                    samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            }

            p50s.Add(Stats.Percentile(samples, 50));
            p99s.Add(Stats.Percentile(samples, 99));
            all.AddRange(samples);
        }

        return (p50s, p99s, all);
    }

    /// <summary>Medians of the runs' p50 and p99, and each run's p50 and p99.</summary>
    private sealed record RepeatedLatency(double P50, double P99, IReadOnlyList<double> P50Runs, IReadOnlyList<double> P99Runs);

    /// <summary>The page's own query as the host sends it for the filler approver: the user's partition, row keys from <c>p|</c>.</summary>
    private static readonly string PageQuery = TableFilter.RowKeyStartsWith(TableKey.Encode(ApiClient.Tenant) + "|" + TableKey.Encode("filler"), "p|");

    /// <summary>A query of the inbox table that matches no row (a partition nobody has).</summary>
    private static readonly string NoMatchQuery = TableFilter.PartitionKeyEquals(TableKey.Encode(ApiClient.Tenant) + "|" + TableKey.Encode("nobody"));

    /// <summary>A query sent straight to storage, timed as <see cref="PageLatencyAsync"/> times the page.</summary>
    private static Task<RepeatedLatency> StorageQueryLatencyAsync(TableClient table, string filter, int top, int ops, int reps) =>
        RepeatedLatencyAsync(_ => table.QueryPageAsync(filter, null, top), ops, reps);

    /// <summary>The 'my approvals' page (top=50) as the filler approver sees it, timed by <see cref="RepeatedLatencyAsync"/>.</summary>
    private static Task<RepeatedLatency> PageLatencyAsync(ApiClient api, string url, int ops, int reps) =>
        RepeatedLatencyAsync(async i =>
        {
            var body = await api.Ok(url, HttpMethod.Get, "/api/v1/approvals?pendingMyApprovals=true&top=50", "filler");
            if (i == 0 && !body.Contains("\"items\"", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("unexpected page: " + body[..Math.Min(200, body.Length)]);
            }
        }, ops, reps);

    /// <summary>
    /// <paramref name="reps"/> runs of <paramref name="op"/> (given its call's index) called one after another 5 times unmeasured,
    /// then <paramref name="ops"/> times measured: the medians of the runs' p50 and p99, and each run's.
    /// </summary>
    private static async Task<RepeatedLatency> RepeatedLatencyAsync(Func<int, Task> op, int ops, int reps)
    {
        var p50 = new List<double>();
        var p99 = new List<double>();
        for (var rep = 0; rep < reps; rep++)
        {
            var samples = new List<double>();
            for (var i = 0; i < ops + 5; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                await op(i);
                if (i >= 5)
                {
                    samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            }

            p50.Add(Stats.Percentile(samples, 50));
            p99.Add(Stats.Percentile(samples, 99));
        }

        return new RepeatedLatency(Stats.Median(p50), Stats.Median(p99), p50, p99);
    }

    private sealed record TimerResult(double P50, double P99, int Count, int Unfired);

    private static async Task<TimerResult> TimerLatenessAsync(ApiClient api, string url, int perBatch, int batches)
    {
        var ids = new List<string>();
        for (var b = 0; b < batches; b++)
        {
            var batch = new string[perBatch];
            await Stats.ForEach(Enumerable.Range(0, perBatch), 16, async i => batch[i] = await api.SubmitAsync(url, "bench.timer", $"T{b}-{i}"));
            ids.AddRange(batch);
            await Task.Delay(3000);
        }

        var lateness = new System.Collections.Concurrent.ConcurrentBag<double>();
        var remaining = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(ids.ToDictionary(i => i, _ => true));
        var sw = Stopwatch.StartNew();
        await Task.Delay(12_000);
        while (!remaining.IsEmpty && sw.Elapsed < TimeSpan.FromSeconds(75))
        {
            await Stats.ForEach(remaining.Keys.ToList(), 8, async id =>
            {
                var body = await api.Ok(url, HttpMethod.Get, "/api/v1/approvals/" + id, "admin", null, "admin");
                using var doc = JsonDocument.Parse(body);
                var root = doc.RootElement;
                if (root.GetProperty("status").GetString() != "pending" && root.GetProperty("decidedAt").ValueKind == JsonValueKind.String)
                {
                    var created = root.GetProperty("createdAt").GetDateTimeOffset();
                    var decided = root.GetProperty("decidedAt").GetDateTimeOffset();
                    lateness.Add((decided - created - TimeSpan.FromSeconds(15)).TotalMilliseconds);
                    remaining.TryRemove(id, out _);
                }
            });
            await Task.Delay(1000);
        }

        var list = lateness.ToList();
        return new TimerResult(Stats.Percentile(list, 50), Stats.Percentile(list, 99), list.Count, remaining.Count);
    }

    private static string Markdown(Environment2 env, BenchSizes sizes, List<Figure> figures, RawBaseline.Result raw, RaceResult? race,
        HostileResult? hostile, ChaosResult? chaos, Counted? counted, List<string> failures, DateTimeOffset started, TimeSpan elapsed, string loadBefore, string loadAfter, double populateRate)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Benchmarks: throughput, latency, load safety and chaos");
        sb.AppendLine();
        sb.AppendLine("Produced by one command, `bash scripts/bench.sh`, which builds Release, starts its own in-memory Azurite on a free port and");
        sb.AppendLine("runs `bench/ApprovalFunctions.LoadTest` (`dotnet run -c Release --project bench/ApprovalFunctions.LoadTest -- bench`). The load");
        sb.AppendLine("test starts the built local host (`src/ApprovalFunctions.LocalHost`) as separate processes on loopback, drives it over HTTP");
        sb.AppendLine("(keep-alive HttpClient, tokens minted with the development key) and measures on the client side with `Stopwatch`.");
        sb.AppendLine("How and why: [decisions/008-benchmarks.md](decisions/008-benchmarks.md). Do not edit by hand: rerun the command.");
        sb.AppendLine();
        sb.AppendLine("## Machine and versions");
        sb.AppendLine();
        sb.AppendLine($"- Run: {started:yyyy-MM-dd HH:mm} UTC, {elapsed.TotalMinutes:F1} min; commit `{System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_COMMIT") ?? "?"}`");
        sb.AppendLine($"- CPU: {System.Environment.ProcessorCount} cores ({CpuModel()}); OS: {RuntimeInformation.OSDescription}; .NET {System.Environment.Version}");
        sb.AppendLine($"- Azurite {System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_AZURITE_VERSION") ?? "?"} (table service, `--inMemoryPersistence`), on the same machine");
        sb.AppendLine($"- Load average (1/5/15 min) before: `{loadBefore}`; after: `{loadAfter}`. {System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_LOAD_NOTE") ?? ""}");
        sb.AppendLine("- Host, load generator, callback receiver and Azurite share the 2 cores: every figure includes the load generator's own CPU.");
        var level = System.Environment.GetEnvironmentVariable("APPROVALS_BENCH_HOST_LOGLEVEL");
        sb.AppendLine("- The hosts run as shipped (Server GC, state copies on, due-work poll 200 ms, log level " +
            (string.IsNullOrEmpty(level) ? "Information: a line per commit, to each host's log file" : $"**{level}**, set by `APPROVALS_BENCH_HOST_LOGLEVEL`") +
            "); the bench sets only the hub, the port, the Development environment with its signing key, and no demo data (the row without state copies says so).");
        sb.AppendLine($"- Each suite ran {sizes.Reps} times; a figure is the median of the runs' values (medians of medians, median of p99s); the runs are listed.");
        sb.AppendLine();
        sb.AppendLine("## Figures and targets");
        sb.AppendLine();
        sb.AppendLine("| Figure | Measured | Target | Met? | Notes |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var f in figures)
        {
            sb.AppendLine($"| {f.Name} | {f.Value} | {f.Target} | {(f.Met is null ? "" : f.Met.Value ? "yes" : "**no**")} | {f.Note} |");
        }

        sb.AppendLine();
        var missed = figures.Where(f => f.Met == false).ToList();
        sb.AppendLine(missed.Count == 0 ? "Every target with a figure above was met." :
            "**Targets missed:** " + string.Join("; ", missed.Select(f => $"{f.Name}: {f.Value} against {f.Target}")) + ".");
        sb.AppendLine();
        if (sizes.PageLarge < 100_000)
        {
            sb.AppendLine($"**Not measured at 100,000.** The 100k figures (page latency, timer lateness, host memory) were taken at {sizes.PageLarge:N0} pending");
            sb.AppendLine($"requests: populating goes through the API (the same path users take) at about {populateRate:F0} requests/s here, so 100,000 would");
            sb.AppendLine($"take about {100_000 / Math.Max(1, populateRate) / 60:F0} minutes of the run (and the rate keeps falling as the tables grow, see below).");
            sb.AppendLine("`scripts/bench.sh` (without `--scale`) measures at full size.");
            sb.AppendLine();
        }

        sb.AppendLine("**Why figures fall as the store grows.** Azurite keeps each table in one in-memory collection and answers every");
        sb.AppendLine("query (anything but a point read) by testing every entity of the table. Point reads and writes use its index (by row key");
        sb.AppendLine("first, then the partition key of every entity with that row key), so since storage layout 2 every row key of a request");
        sb.AppendLine("starts with the request id and the read before a commit is one point read of the state row, which carries the manifest");
        sb.AppendLine("([decisions/011](decisions/011-request-row-keys.md)), or no read at all when the host holds a copy of the request's last state, as it");
        sb.AppendLine("does for every request the bench decides (each was submitted through the same host seconds before; the row 'host without state");
        sb.AppendLine("copies' shows what the read adds). What still grows with the store are the queries: each shard poll of the");
        sb.AppendLine("due-work table, the 'my approvals' page (the inbox table) and the ledger read. The two rows after each page figure split");
        sb.AppendLine("the page's time: its query sent straight to Azurite without the host, and a query of the same table that matches no row,");
        sb.AppendLine("which Azurite still answers by testing every row: on a table that size, only a point read can cost less. Azurite is single-threaded and every");
        sb.AppendLine("suite runs on the rows the suites before it left. On Azure Table Storage those reads are indexed range queries within");
        sb.AppendLine("one partition, so these figures are a local bound, not Azure latencies.");
        sb.AppendLine();

        sb.AppendLine("## Load safety");
        sb.AppendLine();
        if (race is not null)
        {
            sb.AppendLine($"- Racing decisions: {race.Attempts:N0} approve attempts ({race.Requests} single-approver stages × 20 distinct eligible approvers, 64 in flight, shuffled) " +
                          $"in {race.Seconds:F1} s: {race.Acks} acknowledged, {race.Refused} refused (409/422), {race.ServerErrors} 5xx; ledgers with more than one approval: " +
                          $"{race.DoubleApprovals}; requests left unapproved: {race.NotApproved}. **{(race.Pass ? "PASS" : "FAIL")}**");
        }
        else
        {
            sb.AppendLine("- Racing decisions: did not complete (see below).");
        }
        if (hostile is not null)
        {
            sb.AppendLine($"- Hostile input: {hostile.Sent:N0} malformed, oversized (300 KB, 1 in 50), badly authenticated (none, garbage, expired, wrong key, alg none), " +
                          $"bad-id, deeply nested, wrong-content-type and not-allowed requests, 64 in flight, in {hostile.Seconds:F1} s. Status codes: " +
                          string.Join(", ", hostile.Statuses.OrderBy(k => k.Key).Select(k =>  k.Key < 0 ? $"connection closed by the host while the client was still sending ×{k.Value}" : $"{k.Key} ×{k.Value}")) +
                          $". 5xx: {hostile.ServerErrors}. Storage rows in the hub's tables (leases excluded) before {hostile.RowsBefore}, after {hostile.RowsAfter} " +
                          $"(changed tables: {hostile.RowDiff}). **{(hostile.Pass ? "PASS" : "FAIL")}**");
        }
        else
        {
            sb.AppendLine("- Hostile input: did not complete (see below).");
        }
        sb.AppendLine();
        sb.AppendLine("## Chaos");
        sb.AppendLine();
        if (chaos is not null)
        {
            sb.AppendLine($"Two host processes on one Azurite, {chaos.Requests} two-stage requests ({chaos.Requests * 2} approvals) driven by 16 concurrent clients through both hosts,");
            sb.AppendLine($"a killer sending SIGKILL to a random host at random moments (0.3–1.5 s apart, only while the other host answers) and restarting it; approvals are paced");
            sb.AppendLine("by kill progress so the kills spread over the whole run. Afterwards every request, ledger (`/history`, chain verified by the host) and callback is checked");
            sb.AppendLine("against the decisions acknowledged with 2xx.");
            sb.AppendLine();
            sb.AppendLine("```");
            sb.AppendLine(chaos.Verdict);
            sb.AppendLine("```");
        }
        else
        {
            sb.AppendLine("Chaos did not complete (see below).");
        }

        sb.AppendLine();
        sb.AppendLine("A shorter run (`-- chaos --short`: 50 requests, 100 approvals, at least 5 kills) is a step of `scripts/test.sh`.");
        sb.AppendLine();
        if (failures.Count > 0)
        {
            sb.AppendLine("## Suites that did not complete");
            sb.AppendLine();
            foreach (var f in failures)
            {
                sb.AppendLine("- " + f);
            }

            sb.AppendLine();
        }

        if (counted is not null)
        {
        sb.AppendLine("## Storage requests per lifecycle, by kind");
        sb.AppendLine();
        sb.AppendLine($"One-stage lifecycles (submit, one approval, callback acknowledged), {sizes.CountedLifecycles} one after another on a host of its own, counted by");
        sb.AppendLine($"its own Azurite's debug log (a `$batch` is one request). The idle due-work poller alone makes {counted.IdlePerSecond:F1} requests/s (16 shards,");
        sb.AppendLine("each backing off to one poll a second while idle); \"net\" subtracts that rate over the run's duration. Due rows whose work is done");
        sb.AppendLine("(projection repairs, delivered callbacks) are deleted in one `$batch` per shard within a second, so lifecycles one after another share");
        sb.AppendLine("those batches only when they land in the same shard within that second; under load more rows share each batch. The decision");
        sb.AppendLine("starts from the host's copy of the state its submit left and the delivery from what the decision's commit handed over, so no");
        sb.AppendLine("`GET Requests` appears.");
        sb.AppendLine();
        sb.AppendLine("| Request (method, table) | Per lifecycle (gross) | Idle poller, per second | Per lifecycle (net) |");
        sb.AppendLine("|---|---|---|---|");
        foreach (var (request, perLifecycle, idle, net) in counted.Breakdown)
        {
            sb.AppendLine($"| `{request}` | {perLifecycle:F2} | {idle:F1} | {net:F2} |");
        }

        sb.AppendLine();
        }

        sb.AppendLine("## Raw storage baseline");
        sb.AppendLine();
        sb.AppendLine($"The project's own table client (`ApprovalFunctions.Storage.Tables`), 64 concurrent workers, {sizes.RawSeconds:F0} s per run, each worker on its own");
        sb.AppendLine("entity/partition so no conditional update conflicts: point reads (GET by keys), conditional updates (PUT with If-Match of the last ETag), and");
        sb.AppendLine("2-operation entity-group transactions (two upserts in one `$batch`). These are the storage limit every ratio above refers to.");
        return sb.ToString();
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string F0(double v) => v.ToString("F0", CultureInfo.InvariantCulture) + "/s";

    private static string Ms(double v) => v.ToString(v < 10 ? "F2" : "F1", CultureInfo.InvariantCulture) + " ms";

    private static string Runs(IEnumerable<double> runs, string unit = "/s") => "runs: " + string.Join(", ", runs.Select(r => r.ToString("F1", CultureInfo.InvariantCulture) + (unit == "ms" ? " ms" : "")));

    private static string Miss(double value, double target, bool higherIsBetter)
    {
        var met = higherIsBetter ? value >= target : value <= target;
        if (met)
        {
            return "";
        }

        return higherIsBetter
            ? $"; **missed by {target - value:F1} ({(target - value) / target:P0} short)**"
            : $"; **missed by {value - target:F1} ({value / target:F1}× the target)**";
    }
}

/// <summary>The storage limit: the project's table client against Azurite with no service code on top.</summary>
internal static class RawBaseline
{
    public sealed record Result(double Reads, double Updates, double Batches, IReadOnlyList<double> ReadRuns, IReadOnlyList<double> UpdateRuns, IReadOnlyList<double> BatchRuns);

    public static async Task<Result> RunAsync(string storage, int workers, double seconds, int reps)
    {
        var service = new TableServiceClient(storage);
        var table = service.GetTableClient(Net.NewHub("raw"));
        await table.CreateIfNotExistsAsync();
        for (var w = 0; w < workers; w++)
        {
            var e = new TableEntity("p" + w, "r") { ["Amount"] = 1L, ["Payload"] = new string('x', 400) };
            await table.UpsertAsync(e);
        }

        var reads = new List<double>();
        var updates = new List<double>();
        var batches = new List<double>();
        for (var rep = 0; rep < reps; rep++)
        {
            reads.Add(await Rate(workers, seconds, async (w, _) => { await table.GetAsync("p" + w, "r"); }));
            updates.Add(await Rate(workers, seconds, async (w, state) =>
            {
                var etag = state.ETag ??= (await table.GetAsync("p" + w, "r"))!.ETag!;
                var e = new TableEntity("p" + w, "r") { ["Amount"] = ++state.Counter, ["Payload"] = new string('x', 400) };
                state.ETag = await table.UpdateAsync(e, etag);
            }));
            batches.Add(await Rate(workers, seconds, async (w, state) =>
            {
                state.Counter++;
                await table.SubmitTransactionAsync(
                [
                    TableTransactionAction.Upsert(new TableEntity("b" + w, "1") { ["Amount"] = state.Counter, ["Payload"] = new string('x', 400) }),
                    TableTransactionAction.Upsert(new TableEntity("b" + w, "2") { ["Amount"] = state.Counter, ["Payload"] = new string('x', 400) }),
                ]);
            }));
        }

        await table.DeleteTableAsync();
        return new Result(Stats.Median(reads), Stats.Median(updates), Stats.Median(batches), reads, updates, batches);
    }

    private sealed class WorkerState
    {
        public string? ETag;
        public long Counter;
    }

    private static async Task<double> Rate(int workers, double seconds, Func<int, WorkerState, Task> op)
    {
        // Warm-up, then count completed operations in a fixed window.
        var states = Enumerable.Range(0, workers).Select(_ => new WorkerState()).ToArray();
        for (var w = 0; w < workers; w++)
        {
            await op(w, states[w]);
        }

        long done = 0;
        var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async w =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                await op(w, states[w]);
                Interlocked.Increment(ref done);
            }
        }));
        return done / sw.Elapsed.TotalSeconds;
    }
}
