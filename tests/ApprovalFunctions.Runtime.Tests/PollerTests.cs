using System.Diagnostics;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Runtime.Storage;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class PollerTests
{
    private static string CallbackJson(Uri url) => $$""" "callback":{"url":"{{url}}","events":["approved"],"secret":"s"},""";

    [Fact]
    public async Task RunAsync_CommitInThisProcess_WakesThePollerLongBeforeItsInterval()
    {
        using var target = new TestReceiver(_ => 200);
        await WithCallbackPollerHoldingEveryShardAsync(target, async h =>
        {
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("woken"));
            var watch = Stopwatch.StartNew();
            await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "woken", Harness.Approve("manager", "bob"));

            await WaitAsync(() => target.Received.Count == 1, "the callback");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"delivered after {watch.Elapsed}, the poll interval is 60 s");
            Assert.Equal("woken:1:approved", target.Received.Single().IdempotencyKey);
        });
    }

    [Fact]
    public async Task RunAsync_CallbackCommittedHere_DeliveredWithoutQueryingTheShardOrReadingTheRequestAgain()
    {
        using var target = new TestReceiver(_ => 200);
        await WithCallbackPollerHoldingEveryShardAsync(target, async h =>
        {
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("fast"));
            await Task.Delay(200); // the submit's own wake-up has been handled
            h.Counter.Reset();
            await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "fast", Harness.Approve("manager", "bob"));
            await WaitAsync(() => target.Received.Count == 1, "the callback");
            await WaitAsync(async () => (await h.Runtime.Requests.GetAsync(Harness.Tenant, "fast"))!.State.Callback.Status == Engine.State.CallbackStatus.Delivered,
                "the delivery to be recorded");
            var sent = h.Counter.Sent;

            // Reads of the request: only this test's status checks (the decision starts from the copy the submit left,
            // the delivery from the decision's commit); a delivery that read would also fetch its outbox row.
            var statusChecks = sent.Count(r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains("Requests(", StringComparison.Ordinal));
            Assert.True(statusChecks >= 1, string.Join("\n", sent));
            Assert.DoesNotContain(sent, r => r.Contains("outbox|", StringComparison.Ordinal) && r.StartsWith("GET ", StringComparison.Ordinal));
            Assert.DoesNotContain(sent, r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains("DueWork()", StringComparison.Ordinal));
            Assert.Equal("fast:1:approved", target.Received.Single().IdempotencyKey);
        });
    }

    [Fact]
    public async Task RunAsync_LoopStuckInAShardQuery_CallbackCommittedHereStillStartsAtOnce()
    {
        using var target = new TestReceiver(_ => 200);
        var stall = new StallDueWorkQueries { Stall = TimeSpan.FromSeconds(8) };
        var h = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true), extraPolicy: stall);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromSeconds(60), maxInterval: TimeSpan.FromSeconds(60));
        await WithPollerAsync(poller, async () =>
        {
            await WaitAsync(() => poller.HeldShards == DueWorkStore.ShardCount, "the poller to take every shard");
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("stuck"));
            await Task.Delay(200); // the submit's own wake-up has been handled

            // The loop wakes for another shard and sits in that shard's query (a slow or overloaded store).
            stall.Armed = true;
            h.Runtime.Signal.Notify((DueWorkStore.ShardOf(Harness.Tenant, "stuck") + 1) % DueWorkStore.ShardCount, h.Clock.GetUtcNow());
            await stall.Started.Task.WaitAsync(TimeSpan.FromSeconds(20));

            var sw = Stopwatch.StartNew();
            await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "stuck", Harness.Approve("manager", "bob"));
            await WaitAsync(() => target.Received.Count == 1, "the callback");
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4), $"the callback waited {sw.Elapsed} for the loop");
            Assert.False(stall.Finished, "the loop's query was still stalled when the callback went out");
        });
    }

    [Fact]
    public async Task RunAsync_LoopStuckInAShardQuery_TimerAPollSawComingStillFiresOnTime()
    {
        var stall = new StallDueWorkQueries { Stall = TimeSpan.FromSeconds(10) };
        var h = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true), extraPolicy: stall);
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","timeout":{"after":"PT3S","action":"reject"}"""));
        // Looking 5 s ahead, so one poll after the submit sees the timeout coming.
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromMilliseconds(100), maxInterval: TimeSpan.FromSeconds(5));
        await WithPollerAsync(poller, async () =>
        {
            await WaitAsync(() => poller.HeldShards == DueWorkStore.ShardCount, "the poller to take every shard");
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("stuck"));

            // A poll of the timer's shard, sent after the commit, sees the timeout coming and hands it to the timer loop.
            var shard = DueWorkStore.ShardOf(Harness.Tenant, "stuck");
            stall.ClearAnswered();
            h.Runtime.Signal.Notify(shard, h.Clock.GetUtcNow());
            await WaitAsync(() => stall.Answered.Any(q => q.Contains(DueWorkStore.ShardKey(shard), StringComparison.Ordinal)), "a poll of the timer's shard");
            await Task.Delay(200); // its result handled

            // The poll loop wakes for another shard and sits in that shard's query past the timer's due time.
            stall.Armed = true;
            h.Runtime.Signal.Notify((shard + 1) % DueWorkStore.ShardCount, h.Clock.GetUtcNow());
            await stall.Started.Task.WaitAsync(TimeSpan.FromSeconds(20));

            await WaitAsync(async () => (await h.Runtime.Requests.GetAsync(Harness.Tenant, "stuck"))!.State.IsClosed, "the stage timeout");
            var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "stuck"))!.State;
            var lateness = state.DecidedAt!.Value - (state.CreatedAt + TimeSpan.FromSeconds(3));
            Assert.True(lateness < TimeSpan.FromSeconds(1), $"the timeout fired {lateness.TotalMilliseconds:0} ms late");
            Assert.False(stall.Finished, "the loop's query was still stalled when the timer fired");
        });
    }

    [Fact]
    public async Task SlotAfter_IdleShardsSpreadOverTheMaximumInterval_EachWithinOneIntervalOfItsLastPoll()
    {
        var h = await Harness.CreateAsync();
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromMilliseconds(200), maxInterval: TimeSpan.FromSeconds(1));
        var start = new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
        foreach (var at in new[] { start, start.AddTicks(1), start.AddMilliseconds(437.5), start.AddMilliseconds(999.9999), start.AddDays(3).AddMilliseconds(62.5) })
        {
            var slots = Enumerable.Range(0, DueWorkStore.ShardCount).Select(shard => poller.SlotAfter(shard, at)).ToList();
            Assert.All(slots, slot => Assert.InRange(slot - at, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(1)));
            // One slot per 62.5 ms of the second: sorted, neighbours are exactly that far apart.
            var sorted = slots.Order().ToList();
            Assert.All(sorted.Zip(sorted.Skip(1)), pair => Assert.Equal(TimeSpan.FromMilliseconds(62.5), pair.Second - pair.First));
            // And a shard's slot does not move: polled at its slot, its next is one interval on.
            Assert.All(Enumerable.Range(0, DueWorkStore.ShardCount), shard => Assert.Equal(slots[shard] + TimeSpan.FromSeconds(1), poller.SlotAfter(shard, slots[shard])));
        }
    }

    [Fact]
    public async Task RunAsync_AShardQueryTimesOut_ThePollerLogsItAndGoesOn()
    {
        var timeout = new TimeOutDueWorkQueryOnce();
        var h = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true), extraPolicy: timeout);
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","timeout":{"after":"PT2S","action":"reject"}"""));
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromMilliseconds(100), maxInterval: TimeSpan.FromSeconds(1));
        await WithPollerAsync(poller, async () =>
        {
            await WaitAsync(() => poller.HeldShards == DueWorkStore.ShardCount, "the poller to take every shard");
            timeout.Armed = true;
            await timeout.Thrown.Task.WaitAsync(TimeSpan.FromSeconds(20));

            // The poller is still running: a stage timeout committed after the failed query fires.
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("after"));
            await WaitAsync(async () => (await h.Runtime.Requests.GetAsync(Harness.Tenant, "after"))!.State.IsClosed, "the stage timeout after the failed query");
        });
    }

    /// <summary>A query of the due-work table (a shard poll or a journal scan).</summary>
    private static bool IsDueWorkQuery(Azure.Core.HttpMessage message) =>
        message.Request.Method == Azure.Core.RequestMethod.Get && message.Request.Uri.Path.EndsWith("DueWork()", StringComparison.Ordinal);

    /// <summary>Fails the first due-work shard query once armed as a timed-out storage call does: cancelled, though nobody cancelled the poller.</summary>
    private sealed class TimeOutDueWorkQueryOnce : Azure.Core.Pipeline.HttpPipelinePolicy
    {
        public volatile bool Armed;

        public TaskCompletionSource Thrown { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Process(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("the table client is used asynchronously");

        public override async ValueTask ProcessAsync(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline)
        {
            if (Armed && IsDueWorkQuery(message)
                && Thrown.TrySetResult())
            {
                throw new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout.");
            }

            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
        }
    }

    /// <summary>Holds due-work shard queries (once armed) for <see cref="Stall"/>, as a store under heavy load might.</summary>
    private sealed class StallDueWorkQueries : Azure.Core.Pipeline.HttpPipelinePolicy
    {
        private int _finished;

        public volatile bool Armed;

        public TimeSpan Stall { get; init; }

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Finished => Volatile.Read(ref _finished) == 1;

        private int _generation;

        /// <summary>The query (filter) of every due-work query sent and answered while not armed, since <see cref="ClearAnswered"/>.</summary>
        public System.Collections.Concurrent.ConcurrentQueue<string> Answered { get; } = new();

        /// <summary>Forgets the queries answered so far, and any sent before this call.</summary>
        public void ClearAnswered()
        {
            Interlocked.Increment(ref _generation);
            Answered.Clear();
        }

        public override void Process(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("the table client is used asynchronously");

        public override async ValueTask ProcessAsync(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline)
        {
            if (Armed && IsDueWorkQuery(message)
                && Started.TrySetResult())
            {
                try
                {
                    await Task.Delay(Stall, message.CancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    Volatile.Write(ref _finished, 1);
                }
            }

            var armed = Armed;
            var generation = Volatile.Read(ref _generation);
            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
            if (!armed && generation == Volatile.Read(ref _generation) && IsDueWorkQuery(message))
            {
                Answered.Enqueue(Uri.UnescapeDataString(message.Request.Uri.Query));
            }
        }
    }

    [Fact]
    public async Task StartOffered_FirstAttemptFails_AttemptCountedOnTheRowTheCommitWrote()
    {
        // An offer carries the outbox item as committed, with the ETag the commit gave its row: the failed attempt is
        // counted on that row version (a callback row is never changed without its ETag).
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(n => n == 1 ? 503 : 200);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("offered"));
        var offers = KeepOffers(h); // as if a poller ran, but it only keeps the offers
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "offered", Harness.Approve("manager", "bob"));
        var offer = offers.LastOrDefault(o => o.Item.RequestId == "offered" && o.Outbox.Kind == OutboxItem.CallbackKind);

        Assert.NotNull(offer);
        Assert.NotNull(offer.Outbox.ETag);
        Assert.True(h.Runtime.Runner.StartOffered(offer, CancellationToken.None));
        await h.Runtime.Runner.DrainAsync();

        Assert.Single(target.Received);
        var row = await h.Runtime.Requests.GetOutboxAsync(Harness.Tenant, "offered", offer.Outbox.RowKey);
        Assert.Equal(1, row!.Attempts);
        Assert.Equal(Engine.State.CallbackStatus.Pending, (await h.Runtime.Requests.GetAsync(Harness.Tenant, "offered"))!.State.Callback.Status);
    }

    [Fact]
    public async Task StartOffered_ItemAPollAlreadyDelivered_IsNotSentAgainFromTheCommitsSnapshot()
    {
        var h = await Harness.CreateAsync();
        using var target = new TestReceiver(_ => 200);
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("raced"));
        var offers = KeepOffers(h); // as if a poller ran, but it only keeps the offers
        await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "raced", Harness.Approve("manager", "bob"));

        // The commit's offer is held back while a poll delivers the item the usual way.
        await h.Runtime.Runner.RunAllOnceAsync(h.Clock.GetUtcNow());
        Assert.Single(target.Received);
        var offer = offers.LastOrDefault(o => o.Item.RequestId == "raced" && o.Outbox.Kind == OutboxItem.CallbackKind);

        Assert.NotNull(offer);
        Assert.False(h.Runtime.Runner.StartOffered(offer, CancellationToken.None));
        await h.Runtime.Runner.DrainAsync();
        Assert.Single(target.Received);
    }

    [Fact]
    public async Task RunAsync_TimerDueAfterTheShardsNextPoll_FiresOnTimeDespiteTheBackOff()
    {
        var h = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true));
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","timeout":{"after":"PT4S","action":"reject"}"""));
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromMilliseconds(100), maxInterval: TimeSpan.FromSeconds(30));
        await WithPollerAsync(poller, async () =>
        {
            await WaitAsync(() => poller.HeldShards == DueWorkStore.ShardCount, "the poller to take every shard");
            // Idle for a while: each shard's next poll is at most ~3.2 s away and its back-off then doubles past 6 s.
            await Task.Delay(TimeSpan.FromSeconds(3));
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("late"));

            // The timeout (due in 4 s, after the shard's next poll) must not wait for the poll after the doubled back-off.
            await WaitAsync(async () => (await h.Runtime.Requests.GetAsync(Harness.Tenant, "late"))!.State.IsClosed, "the stage timeout");
            var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, "late"))!.State;
            var lateness = state.DecidedAt!.Value - (state.CreatedAt + TimeSpan.FromSeconds(4));
            Assert.True(lateness < TimeSpan.FromSeconds(1.5), $"the timeout fired {lateness.TotalMilliseconds:0} ms late");
        });
    }

    [Fact]
    public async Task RunAsync_SecondTimerOfAShardDueSoonAfterTheFirst_FiresOnTimeThoughItsSignalWasAbsorbed()
    {
        var h = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true));
        await h.PublishAsync("inv", Harness.OneStage(extraStage: ""","timeout":{"after":"PT3S","action":"reject"}"""));
        // Two requests of one shard: the signal keeps only a shard's earliest due time, so the second timer's is absorbed.
        var shard = DueWorkStore.ShardOf(Harness.Tenant, "first");
        var second = Harness.IdsInShard("second", shard).First();
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromSeconds(2), maxInterval: TimeSpan.FromSeconds(4));
        await WithPollerAsync(poller, async () =>
        {
            await WaitAsync(() => poller.HeldShards == DueWorkStore.ShardCount, "the poller to take every shard");
            await h.Runtime.Processor.SubmitAsync(Harness.Submit("first"));
            await Task.Delay(TimeSpan.FromSeconds(1));
            await h.Runtime.Processor.SubmitAsync(Harness.Submit(second, "INV-2"));

            // After the first timeout fires, the shard's next empty poll would back off 2 s, a second past the other's
            // due time, unless that poll saw it coming.
            await WaitAsync(async () => (await h.Runtime.Requests.GetAsync(Harness.Tenant, second))!.State.IsClosed, "the second stage timeout");
            var state = (await h.Runtime.Requests.GetAsync(Harness.Tenant, second))!.State;
            var lateness = state.DecidedAt!.Value - (state.CreatedAt + TimeSpan.FromSeconds(3));
            Assert.True(lateness < TimeSpan.FromMilliseconds(500), $"the second timeout fired {lateness.TotalMilliseconds:0} ms late");
        });
    }

    [Fact]
    public async Task RunAsync_Idle_BacksOffToTheMaximumInterval()
    {
        var h = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true));
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromMilliseconds(50), maxInterval: TimeSpan.FromMilliseconds(800));
        await WithPollerAsync(poller, async () =>
        {
            await WaitAsync(() => poller.HeldShards == DueWorkStore.ShardCount, "the poller to take every shard");
            await Task.Delay(TimeSpan.FromSeconds(2)); // backs off 50 → 800 ms
            h.Counter.Reset();
            await Task.Delay(TimeSpan.FromSeconds(3));

            // At the base interval 16 shards × 3 s / 50 ms = 960 reads; at the maximum about 16 × 3 s / 800 ms = 60.
            var requests = h.Counter.Count;
            Assert.InRange(requests, 16, 160);
        });
    }

    [Fact]
    public async Task RunAsync_TwoProcesses_ShardsSplitEvenlyAndEveryCallbackDeliveredOnce()
    {
        var a = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true));
        var b = await a.SecondProcessAsync();
        using var target = new TestReceiver(_ => 200);
        await a.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        var lease = TimeSpan.FromSeconds(3); // free shards tried and shares recomputed every second
        var first = a.Runtime.CreatePoller("proc-a", TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), lease);
        var second = b.Runtime.CreatePoller("proc-b", TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), lease);
        using var stop = new CancellationTokenSource();
        var runningA = first.RunAsync(stop.Token);
        await WaitAsync(() => first.HeldShards == DueWorkStore.ShardCount, "the first process to take every shard");
        var runningB = second.RunAsync(stop.Token);
        try
        {
            // The first process hands half back once it sees the second one's heartbeat; the second takes them.
            await WaitAsync(() => first.HeldShards == 8 && second.HeldShards == 8, "an even split");

            for (var i = 0; i < 12; i++)
            {
                var runtime = i % 2 == 0 ? a.Runtime : b.Runtime;
                await runtime.Processor.SubmitAsync(Harness.Submit("s" + i, "INV-" + i));
                await runtime.Processor.ApplyAsync(Harness.Tenant, "s" + i, Harness.Approve("manager", "bob"));
            }

            await WaitAsync(() => target.Received.Count >= 12, "every callback");
            await Task.Delay(1000); // a duplicate would arrive here
            Assert.Equal(12, target.Received.Count);
            Assert.Equal(12, target.Received.Select(r => r.IdempotencyKey).Distinct().Count());
            Assert.Equal((8, 8), (first.HeldShards, second.HeldShards));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(runningA, runningB);
        }
    }

    /// <summary>
    /// A runtime on a running clock with a one-stage workflow whose callback goes to <paramref name="target"/>, and a poller
    /// (polling only every 60 s on its own) holding every shard while <paramref name="body"/> runs.
    /// </summary>
    private static async Task WithCallbackPollerHoldingEveryShardAsync(TestReceiver target, Func<Harness, Task> body)
    {
        var h = await Harness.CreateAsync(clock: new ManualClock(DateTimeOffset.UtcNow, running: true));
        await h.PublishAsync("inv", Harness.OneStage(callback: CallbackJson(target.Url)));
        var poller = h.Runtime.CreatePoller("proc-a", interval: TimeSpan.FromSeconds(60), maxInterval: TimeSpan.FromSeconds(60));
        await WithPollerAsync(poller, async () =>
        {
            await WaitAsync(() => poller.HeldShards == DueWorkStore.ShardCount, "the poller to take every shard");
            await body(h);
        });
    }

    /// <summary>Runs <paramref name="poller"/> while <paramref name="body"/> runs, then stops it (its leases are released).</summary>
    /// <summary>Takes the offers of <paramref name="h"/>'s commits as a poller would, but only keeps them.</summary>
    private static List<OfferedDelivery> KeepOffers(Harness h)
    {
        var offers = new List<OfferedDelivery>();
        h.Runtime.Signal.AttachPoller(offer =>
        {
            lock (offers)
            {
                offers.Add(offer);
            }

            return true;
        });
        return offers;
    }

    private static async Task WithPollerAsync(DueWorkPoller poller, Func<Task> body)
    {
        using var stop = new CancellationTokenSource();
        var running = poller.RunAsync(stop.Token);
        try
        {
            await body();
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "timed out waiting for " + what);
            await Task.Delay(20);
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "timed out waiting for " + what);
            await Task.Delay(20);
        }
    }
}
