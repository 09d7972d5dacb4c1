using System.Text.Json;
using ApprovalFunctions.Api.Rules;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Functions.Tests;

/// <summary>
/// A real workflow, directory and request state built with the engine itself: stage <c>review</c> (order 1) needs two of
/// alice and carol; stage <c>final</c> (order 2) is dave's. Rita requests; bob is in the directory but approves nothing.
/// </summary>
internal static class TestWorkflow
{
    public const string TenantId = "t1";
    public static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    public static WorkflowDefinition Definition { get; } = Parse("""
        {
          "name": "Two stages",
          "model": "doc",
          "event": "create",
          "stages": [
            {"id": "review", "name": "Review", "order": 1,
             "approvers": [{"type": "user", "id": "alice"}, {"type": "user", "id": "carol"}],
             "consensus": {"mode": "count", "count": 2}, "reminderEvery": "PT8H"},
            {"id": "final", "name": "Final", "order": 2, "approvers": [{"type": "user", "id": "dave"}]}
          ]
        }
        """);

    public static DirectorySnapshot Directory { get; } = new(
        new[] { "alice", "bob", "carol", "dave", "rita" }.Select(id => new DirectoryUser { Id = id, Name = id }),
        [], [], []);

    /// <summary>A fresh pending request with id <paramref name="requestId"/>.</summary>
    public static EngineResult Submit(string requestId = "r1")
    {
        using var record = JsonDocument.Parse("""{"amount": 10}""");
        var submitted = new Submitted
        {
            EventId = "submit:" + requestId,
            RequestId = requestId,
            TenantId = TenantId,
            Requester = new Actor("rita"),
            Model = "doc",
            RecordId = "d-1",
            Event = "create",
            Record = record.RootElement.Clone(),
        };
        var result = ApprovalEngine.Submit(submitted, [Definition], Directory, Now);
        Assert.Equal(RequestStatus.Pending, result.State.Status);
        return result;
    }

    /// <summary>A decision by <paramref name="user"/> on <paramref name="stageId"/>.</summary>
    public static Decided Approve(string user, string stageId = "review", string? eventId = null) => new()
    {
        EventId = eventId ?? $"decide:{user}:{stageId}",
        StageId = stageId,
        Actor = new Actor(user),
        Decision = DecisionKind.Approve,
    };

    private static WorkflowDefinition Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var parsed = WorkflowDefinitionParser.Parse(TenantId, "two-stages", document.RootElement.Clone(), JsonLogicEvaluator.Instance);
        Assert.True(parsed.Succeeded, string.Join("; ", parsed.Errors.Select(e => e.Path + ": " + e.Message)));
        return parsed.Definition! with { PublishedAt = Now };
    }
}
