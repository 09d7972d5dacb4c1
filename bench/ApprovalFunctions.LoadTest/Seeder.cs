using System.Text.Json;
using ApprovalFunctions.Api.Rules;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Runtime;
using ApprovalFunctions.Runtime.Delivery;
using ApprovalFunctions.Runtime.Processing;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.LoadTest;

/// <summary>
/// Submits requests through the host's own request processor, in this process, for the scale suites' bulk: the same
/// engine, commit, due-work and projection code as <c>POST /api/v1/approvals</c>, without HTTP, tokens and the
/// idempotency record. Nothing is delivered from here; the host under test does its own due work.
/// </summary>
internal sealed class Seeder
{
    private readonly ApprovalRuntime _runtime;

    private Seeder(ApprovalRuntime runtime) => _runtime = runtime;

    public static Seeder Create(string storage, string hub) =>
        new(ApprovalRuntime.Create(new TableServiceClient(storage), hub, JsonLogicEvaluator.Instance, TimeProvider.System, new NoDelivery(), new Random(1)));

    /// <summary>What the API builds from <see cref="ApiClient.SubmitBody"/> for the bench requester.</summary>
    public async Task SubmitAsync(string model, string recordId)
    {
        using var body = JsonDocument.Parse(ApiClient.SubmitBody(model, recordId));
        var submitted = new Submitted
        {
            EventId = "submit:" + Guid.CreateVersion7().ToString("N"),
            RequestId = Guid.CreateVersion7().ToString("N"),
            TenantId = ApiClient.Tenant,
            Requester = new Actor("req"),
            Model = model,
            RecordId = recordId,
            Event = "create",
            Title = body.RootElement.GetProperty("title").GetString(),
            Record = body.RootElement.GetProperty("record").Clone(),
        };
        var result = await _runtime.Processor.SubmitAsync(submitted);
        if (result.Status != ProcessStatus.Applied)
        {
            throw new InvalidOperationException($"seeding {recordId}: {result.Status} {result.Refusal?.Message}");
        }
    }

    private sealed class NoDelivery : IDeliverySender
    {
        public Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the seeder does not deliver");
    }
}
