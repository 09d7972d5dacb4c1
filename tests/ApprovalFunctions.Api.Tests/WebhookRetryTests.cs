using System.Net;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.LocalHost;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalFunctions.Api.Tests;

/// <summary>
/// A decision webhook that failed for a transient reason (storage busy: 503) must be retriable with the same
/// eventId; it must not be burned by the replay guard and then answered "already received" while never applied.
/// </summary>
public sealed class WebhookRetryTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Webhook_TransientFailureThenRetrySameEventId_AppliedOnce()
    {
        var flaky = new FlakyCommandsSwitch();
        var host = factory.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<LocalApprovalCommands>();
            services.AddSingleton<IApprovalCommands>(sp => new FlakyCommands(sp.GetRequiredService<LocalApprovalCommands>(), flaky));
        }));
        try
        {
            await RunAsync(host, flaky);
        }
        finally
        {
            // The LocalHost double-stop race (see ApiFactory.DisposeAsync) applies to this derived host too.
            try
            {
                await host.DisposeAsync();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private async Task RunAsync(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> host, FlakyCommandsSwitch flaky)
    {
        var t = await factory.CreateTenantAsync(approvers: 1);
        var (integration, secret) = await WebhookTests.CreateIntegrationAsync(t);
        var approval = await t.SubmitIdAsync();
        var body = WebhookTests.Body(approval, "a1", "approve", "evt-transient");

        flaky.FailNextDecision = true;
        var first = await SendAsync(host, integration, secret, body);
        await first.ExpectProblemAsync(HttpStatusCode.ServiceUnavailable, "unavailable");

        var retry = await SendAsync(host, integration, secret, body);
        var approved = await retry.ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("approved", approved.GetProperty("status").GetString());

        // And now it is a replay.
        await (await SendAsync(host, integration, secret, body)).ExpectProblemAsync(HttpStatusCode.Conflict, "webhook-replay");
        var state = await (await t.Admin.GetAsync($"/api/v1/approvals/{approval}")).ExpectAsync(HttpStatusCode.OK);
        Assert.Single(state.GetProperty("stages")[0].GetProperty("responses").EnumerateArray());
    }

    private static Task<HttpResponseMessage> SendAsync(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> host, string integration, string secret, string body)
    {
        var timestamp = WebhookTests.Now();
        var message = new HttpRequestMessage(HttpMethod.Post, "/api/v1/webhooks/decisions") { Content = TestApi.Json(body) };
        message.Headers.Add(Runtime.Delivery.Signatures.IntegrationHeader, integration);
        message.Headers.Add(Runtime.Delivery.Signatures.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        message.Headers.Add(Runtime.Delivery.Signatures.SignatureHeader,
            Runtime.Delivery.Signatures.Sign(secret, timestamp, System.Text.Encoding.UTF8.GetBytes(body)));
        return host.CreateClient().SendAsync(message);
    }

    private sealed class FlakyCommandsSwitch
    {
        public volatile bool FailNextDecision;
    }

    private sealed class FlakyCommands(IApprovalCommands inner, FlakyCommandsSwitch flaky) : IApprovalCommands
    {
        public Task<CommandResult> SubmitAsync(Submitted submitted, CancellationToken cancellationToken) => inner.SubmitAsync(submitted, cancellationToken);

        public Task<CommandResult> ApplyAsync(string tenantId, string requestId, ApprovalEvent evt, CancellationToken cancellationToken)
        {
            if (evt is Decided && flaky.FailNextDecision)
            {
                flaky.FailNextDecision = false;
                throw new StorageBusyException();
            }

            return inner.ApplyAsync(tenantId, requestId, evt, cancellationToken);
        }
    }
}
