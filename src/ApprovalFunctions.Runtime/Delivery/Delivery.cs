using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace ApprovalFunctions.Runtime.Delivery;

/// <summary>One outbound POST: a callback or a subscription event.</summary>
/// <param name="Url">The target.</param>
/// <param name="Body">The JSON body (signed as sent).</param>
/// <param name="Secret">The HMAC secret; null sends it unsigned.</param>
/// <param name="IdempotencyKey">Stable across every retry of this delivery.</param>
/// <param name="EventType">The event name for subscriptions; null for the outcome callback.</param>
public sealed record DeliveryRequest(Uri Url, string Body, string? Secret, string IdempotencyKey, string? EventType);

/// <summary>How an attempt ended.</summary>
/// <param name="Delivered">True on any 2xx.</param>
/// <param name="StatusCode">The HTTP status, when there was a response.</param>
/// <param name="Error">Why it failed, when it did.</param>
public sealed record DeliveryResult(bool Delivered, int? StatusCode, string? Error)
{
    /// <summary>Acknowledged.</summary>
    public static DeliveryResult Ok(int status) => new(true, status, null);

    /// <summary>Failed.</summary>
    public static DeliveryResult Failed(string error, int? status = null) => new(false, status, error);
}

/// <summary>The outbound seam: carries one delivery attempt. Never throws for a target's failure.</summary>
public interface IDeliverySender
{
    /// <summary>Sends one attempt (it may retry quickly inside) and reports the outcome.</summary>
    Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken);
}

/// <summary>Tuning for <see cref="HttpDeliverySender"/>.</summary>
public sealed record HttpDeliveryOptions
{
    /// <summary>Per-request timeout, so a hanging target cannot stall the others.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Quick in-process retries of a transport error, 408, 429 or 5xx before the attempt counts as failed.</summary>
    public int QuickRetries { get; init; } = 1;

    /// <summary>The first quick-retry delay (exponential, with jitter).</summary>
    public TimeSpan QuickRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// POSTs deliveries with <c>X-Approvals-Timestamp</c>, <c>X-Approvals-Signature</c> and <c>Idempotency-Key</c>.
/// A Polly pipeline gives each attempt a timeout and a quick retry with jittered backoff; the durable retry
/// schedule across attempts is the due-work runner's (see <see cref="DeliveryBackoff"/>).
/// </summary>
public sealed class HttpDeliverySender : IDeliverySender
{
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    /// <summary>Creates the sender. <paramref name="randomizer"/> (0..1) drives the jitter; the composition root supplies it.</summary>
    public HttpDeliverySender(HttpClient http, TimeProvider time, Func<double> randomizer, HttpDeliveryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(randomizer);
        options ??= new HttpDeliveryOptions();
        _http = http;
        _time = time;
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (options.QuickRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.QuickRetries,
                Delay = options.QuickRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Randomizer = randomizer,
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutRejectedException>()
                    .HandleResult(r => (int)r.StatusCode is 408 or 429 or >= 500),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            });
        }

        builder.AddTimeout(options.AttemptTimeout);
        _pipeline = builder.Build();
    }

    /// <inheritdoc />
    public async Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = Encoding.UTF8.GetBytes(request.Body);
        try
        {
            using var response = await _pipeline.ExecuteAsync(async ct =>
            {
                using var message = new HttpRequestMessage(HttpMethod.Post, request.Url);
                message.Content = new ByteArrayContent(body);
                message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                var timestamp = _time.GetUtcNow().ToUnixTimeSeconds();
                message.Headers.TryAddWithoutValidation(Signatures.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
                if (request.Secret is not null)
                {
                    message.Headers.TryAddWithoutValidation(Signatures.SignatureHeader, Signatures.Sign(request.Secret, timestamp, body));
                }

                message.Headers.TryAddWithoutValidation(Signatures.IdempotencyHeader, request.IdempotencyKey);
                if (request.EventType is not null)
                {
                    message.Headers.TryAddWithoutValidation(Signatures.EventHeader, request.EventType);
                }

                return await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            return status is >= 200 and < 300
                ? DeliveryResult.Ok(status)
                : DeliveryResult.Failed(string.Create(CultureInfo.InvariantCulture, $"HTTP {status} {response.ReasonPhrase}"), status);
        }
        catch (TimeoutRejectedException)
        {
            return DeliveryResult.Failed("timed out");
        }
        catch (HttpRequestException ex)
        {
            return DeliveryResult.Failed(ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return DeliveryResult.Failed("timed out");
        }
    }
}

/// <summary>
/// The durable delay before the next delivery attempt: exponential from the policy's initial backoff, capped at its
/// maximum, with ±20 % jitter from the injected randomizer (the same shape as Polly's exponential-with-jitter).
/// </summary>
public static class DeliveryBackoff
{
    /// <summary>The delay after <paramref name="failedAttempt"/> (1-based) failed.</summary>
    public static TimeSpan Next(int failedAttempt, TimeSpan initial, TimeSpan max, double random01)
    {
        var exponent = Math.Min(Math.Max(failedAttempt - 1, 0), 30);
        var baseTicks = Math.Min(initial.Ticks * Math.Pow(2, exponent), max.Ticks);
        var jittered = baseTicks * (0.8 + (0.4 * Math.Clamp(random01, 0, 1)));
        return TimeSpan.FromTicks((long)Math.Clamp(jittered, TimeSpan.FromMilliseconds(1).Ticks, max.Ticks));
    }
}
