using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.LoadTest;

internal sealed record RaceResult(int Requests, int Attempts, int Acks, int Refused, int ServerErrors, int DoubleApprovals,
    int NotApproved, double Seconds)
{
    public bool Pass => DoubleApprovals == 0 && NotApproved == 0 && ServerErrors == 0 && Acks == Requests;
}

internal sealed record HostileResult(int Sent, IReadOnlyDictionary<int, int> Statuses, int ServerErrors, int Failures,
    long RowsBefore, long RowsAfter, string RowDiff, double Seconds)
{
    // A connection closed while a 300 KB body is still being sent is Kestrel refusing an oversized body (413) before
    // reading it; it is reported, not failed. 5xx or a changed row count fails.
    public bool Pass => ServerErrors == 0 && RowsBefore == RowsAfter;
}

/// <summary>Load safety: racing decisions on single-approver stages, and hostile input that must not 5xx or write.</summary>
internal static class Safety
{
    public static async Task<RaceResult> RaceAsync(ApiClient api, string baseUrl, int requests, int attemptsPerRequest, int inFlight)
    {
        var ids = new string[requests];
        await Stats.ForEach(Enumerable.Range(0, requests), 32, async i => ids[i] = await api.SubmitAsync(baseUrl, "bench.race", $"R-{Guid.NewGuid():N}"));
        var attempts = ids.SelectMany(id => Enumerable.Range(1, attemptsPerRequest).Select(r => (id, user: $"r{r:00}")))
            .OrderBy(_ => Random.Shared.Next()).ToList();
        var acks = new ConcurrentDictionary<string, int>();
        int refused = 0, serverErrors = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await Stats.ForEach(attempts, inFlight, async a =>
        {
            var (status, _) = await api.SendAsync(baseUrl, HttpMethod.Post, $"/api/v1/approvals/{a.id}/stages/s1/approve", a.user, "{}");
            if (status is >= 200 and < 300)
            {
                acks.AddOrUpdate(a.id, 1, (_, n) => n + 1);
            }
            else if (status >= 500)
            {
                Interlocked.Increment(ref serverErrors);
            }
            else
            {
                Interlocked.Increment(ref refused);
            }
        });
        var seconds = sw.Elapsed.TotalSeconds;

        int doubles = acks.Values.Count(n => n > 1), notApproved = 0;
        await Stats.ForEach(ids, 16, async id =>
        {
            var history = await api.Ok(baseUrl, HttpMethod.Get, $"/api/v1/approvals/{id}/history", "admin", null, "admin");
            using var h = JsonDocument.Parse(history);
            var approvals = h.RootElement.GetProperty("entries").EnumerateArray().Count(e => e.GetProperty("action").GetString() == "approve");
            if (approvals > 1)
            {
                Interlocked.Increment(ref doubles);
            }
            else if (approvals == 0)
            {
                Interlocked.Increment(ref notApproved);
            }
        });
        return new RaceResult(requests, attempts.Count, acks.Values.Sum(), refused, serverErrors, doubles, notApproved, seconds);
    }

    public static async Task<HostileResult> HostileAsync(ApiClient api, string baseUrl, StorageTables tables, string existingId, int count, int inFlight)
    {
        var before = await CountRowsAsync(tables);
        var statuses = new ConcurrentDictionary<int, int>();
        int serverErrors = 0, failures = 0;
        var good = api.Token("req");
        var expired = ApprovalFunctions.Api.Auth.DevTokens.Mint("loadtest-dev-signing-key-0123456789abcdef-0123456789", ApiClient.Tenant, "req",
            ["requester"], DateTimeOffset.UtcNow.AddDays(-2), TimeSpan.FromHours(1));
        var wrongKey = ApprovalFunctions.Api.Auth.DevTokens.Mint("some-other-signing-key-0123456789abcdef-0123456789", ApiClient.Tenant, "admin",
            ["admin"], DateTimeOffset.UtcNow);
        var parts = good.Split('.');
        var algNone = Convert.ToBase64String("""{"alg":"none","typ":"JWT"}"""u8.ToArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_') + "." + parts[1] + ".";
        var deep = new string('[', 5000) + new string(']', 5000);
        var deepObject = "{\"model\":" + string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200) + "}";
        var oversized = "{\"model\":\"bench.decide\",\"recordId\":\"x\",\"event\":\"create\",\"record\":{\"pad\":\"" + new string('x', 300 * 1024) + "\"}}";
        var longId = new string('a', 2000);

        var cases = new List<Func<HttpRequestMessage>>
        {
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, "{\"model\":"),
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, "not json at all"),
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, deep),
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, deepObject),
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, "{\"model\":123,\"recordId\":[],\"event\":null}"),
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, "{\"model\":\"bench.decide\",\"recordId\":\"x\",\"event\":\"create\",\"record\":{},\"evil\":1}"),
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, "[]"),
            () => Json(HttpMethod.Post, "/api/v1/approvals", good, "\"\\ud800\""),
            () => Raw(HttpMethod.Post, "/api/v1/approvals", good, ApiClient.SubmitBody("bench.decide", "ct"), "text/plain"),
            () => Raw(HttpMethod.Post, "/api/v1/approvals", good, ApiClient.SubmitBody("bench.decide", "ct"), "application/xml"),
            () => Json(HttpMethod.Post, "/api/v1/approvals", null, ApiClient.SubmitBody("bench.decide", "noauth")),
            () => Json(HttpMethod.Post, "/api/v1/approvals", "garbage.token.here", ApiClient.SubmitBody("bench.decide", "bad")),
            () => Json(HttpMethod.Post, "/api/v1/approvals", expired, ApiClient.SubmitBody("bench.decide", "expired")),
            () => Json(HttpMethod.Post, "/api/v1/approvals", algNone, ApiClient.SubmitBody("bench.decide", "none")),
            () => Json(HttpMethod.Put, "/api/v1/workflows/evil", wrongKey, "{}"),
            () => Json(HttpMethod.Put, "/api/v1/workflows/evil", good, """{"name":"x","model":"m","event":"create","stages":[]}"""),
            () => Json(HttpMethod.Put, "/api/v1/workflows/" + longId, api.Token("admin", "admin"), "{\"name\":"),
            () => Json(HttpMethod.Post, "/api/v1/directory/import", good, "{\"users\":[]}"),
            () => Json(HttpMethod.Post, $"/api/v1/approvals/{existingId}/stages/s1/approve", api.Token("ap2"), "{}"),
            () => Json(HttpMethod.Post, $"/api/v1/approvals/{existingId}/stages/s1/reject", api.Token("ap1"), "{}"),
            () => Json(HttpMethod.Post, $"/api/v1/approvals/{existingId}/stages/s1/approve", api.Token("ap1"), "{\"comment\":5}"),
            () => Json(HttpMethod.Post, $"/api/v1/approvals/{existingId}/stages/nope/approve", api.Token("ap1"), "{}"),
            () => Json(HttpMethod.Post, $"/api/v1/approvals/{longId}/stages/s1/approve", api.Token("ap1"), "{}"),
            () => Json(HttpMethod.Post, "/api/v1/approvals/x'%20or%20'1'%3D'1/stages/s1/approve", api.Token("ap1"), "{}"),
            () => Json(HttpMethod.Get, "/api/v1/approvals/..%2F..%2Fetc%2Fpasswd", good, null),
            () => Json(HttpMethod.Get, "/api/v1/approvals/%F0%9F%92%A3%00", good, null),
            () => Json(HttpMethod.Get, "/api/v1/approvals?pendingMyApprovals=maybe&top=-1", good, null),
            () => Json(HttpMethod.Get, "/api/v1/approvals?pendingMyApprovals=true&continuationToken=%%%garbage", good, null),
            () => Json(HttpMethod.Post, $"/api/v1/approvals/{existingId}/cancel", api.Token("ap1"), "{}"),
            () => Json(HttpMethod.Post, $"/api/v1/approvals/{existingId}/resubmit", good, "{\"record\":"),
            () => Json(HttpMethod.Post, "/api/v1/webhooks/decisions", null, "{\"eventId\":\"e\"}"),
            () => WithHeaders(Json(HttpMethod.Post, "/api/v1/webhooks/decisions", null, "{\"eventId\":\"e\"}"),
                ("X-Approvals-Integration", "nope"), ("X-Approvals-Timestamp", "1"), ("X-Approvals-Signature", "sha256=00")),
            () => Json(HttpMethod.Post, "/api/v1/subscriptions", good, "{\"url\":\"file:///etc/passwd\",\"events\":[\"x\"],\"secret\":\"s\"}"),
            () => Json(HttpMethod.Delete, "/api/v1/approvals/" + existingId, good, null),
        };
        // Oversized bodies are one case in fifty: each is 300 KB over loopback.
        var plan = Enumerable.Range(0, count).Select(i => i % 50 == 49
            ? () => Json(HttpMethod.Post, "/api/v1/approvals", good, oversized)
            : cases[i % cases.Count]).ToList();

        var sw = System.Diagnostics.Stopwatch.StartNew();
        await Stats.ForEach(plan, inFlight, async make =>
        {
            try
            {
                using var request = make();
                using var response = await api.Http.SendAsync(request);
                var status = (int)response.StatusCode;
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                if (status >= 500)
                {
                    Interlocked.Increment(ref serverErrors);
                }
            }
            catch (HttpRequestException)
            {
                // Kestrel may close the connection on an oversized body before reading it: not a 5xx, but counted.
                Interlocked.Increment(ref failures);
                statuses.AddOrUpdate(-1, 1, (_, n) => n + 1);
            }
        });
        var seconds = sw.Elapsed.TotalSeconds;
        await Task.Delay(1000);
        var after = await CountRowsAsync(tables);
        var diff = string.Join(", ", before.Keys.Union(after.Keys).Where(k => before.GetValueOrDefault(k) != after.GetValueOrDefault(k))
            .Select(k => $"{k}: {before.GetValueOrDefault(k)}→{after.GetValueOrDefault(k)}"));
        return new HostileResult(plan.Count, statuses, serverErrors, failures, before.Values.Sum(), after.Values.Sum(),
            diff.Length == 0 ? "none" : diff, seconds);

        HttpRequestMessage Json(HttpMethod method, string path, string? token, string? body) =>
            Raw(method, path, token, body, "application/json");

        HttpRequestMessage Raw(HttpMethod method, string path, string? token, string? body, string contentType)
        {
            var request = new HttpRequestMessage(method, baseUrl + path);
            if (token is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
            }

            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8);
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }

            return request;
        }

        static HttpRequestMessage WithHeaders(HttpRequestMessage request, params (string Name, string Value)[] headers)
        {
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            return request;
        }
    }

    /// <summary>Rows per table of the hub, read directly from storage (leases excluded: the poller renews them by design).</summary>
    public static async Task<Dictionary<string, long>> CountRowsAsync(StorageTables tables)
    {
        var counts = new Dictionary<string, long>();
        foreach (var table in tables.All)
        {
            if (table.Name.EndsWith("Leases", StringComparison.Ordinal))
            {
                continue;
            }

            long n = 0;
            await foreach (var _ in table.QueryAsync(select: ["PartitionKey"]))
            {
                n++;
            }

            counts[table.Name] = n;
        }

        return counts;
    }
}
