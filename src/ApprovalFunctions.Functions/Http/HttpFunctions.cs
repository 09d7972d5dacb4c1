using ApprovalFunctions.Api.Endpoints;
using ApprovalFunctions.Engine.State;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace ApprovalFunctions.Functions.Http;

/// <summary>
/// Every route of API.md as an HTTP function, each a one-line call into the same shared handler the local host maps, so
/// both hosts answer with the same JSON and problem details. Route templates carry the full path because the root
/// host.json sets <c>extensions.http.routePrefix</c> to <c>""</c>. Functions are anonymous at the Functions level: every
/// handler authenticates the bearer token (or, for the decision webhook, the integration's signature) itself. Routes that
/// submit or decide take the invocation's Durable Functions client, which <see cref="DurableApprovalCommands"/> uses.
/// </summary>
/// <remarks>Keep in step with the API project's Map* calls; a test compares the two route tables.</remarks>
public static class HttpFunctions
{
    /// <summary><c>GET /healthz</c>.</summary>
    [Function("Liveness")]
    public static Task<IActionResult> Liveness(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "healthz")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => Task.FromResult<IResult>(TypedResults.Json(new { status = "alive" })));

    /// <summary><c>GET /readyz</c>.</summary>
    [Function("Readiness")]
    public static Task<IActionResult> Readiness(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "readyz")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => OperationsEndpoints.ReadyAsync(request));

    /// <summary><c>GET /api/v1/me</c>.</summary>
    [Function("Me")]
    public static Task<IActionResult> Me(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/me")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => OperationsEndpoints.MeAsync(request));

    /// <summary><c>GET /api/v1/callbacks</c>.</summary>
    [Function("ListCallbacks")]
    public static Task<IActionResult> ListCallbacks(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/callbacks")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => OperationsEndpoints.CallbacksAsync(request));

    /// <summary><c>GET /api/v1/dev/users</c>.</summary>
    [Function("DevUsers")]
    public static Task<IActionResult> DevUsers(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/dev/users")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => Task.FromResult(OperationsEndpoints.DevUsers(request)));

    /// <summary><c>POST /api/v1/dev/token</c>.</summary>
    [Function("DevToken")]
    public static Task<IActionResult> DevToken(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/dev/token")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => OperationsEndpoints.DevTokenAsync(request));

    /// <summary><c>GET /api/v1/workflows</c>.</summary>
    [Function("ListWorkflows")]
    public static Task<IActionResult> ListWorkflows(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/workflows")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => WorkflowEndpoints.ListAsync(request));

    /// <summary><c>POST /api/v1/workflows/preview</c>.</summary>
    [Function("PreviewWorkflow")]
    public static Task<IActionResult> PreviewWorkflow(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/workflows/preview")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => WorkflowEndpoints.PreviewAsync(request));

    /// <summary><c>PUT /api/v1/workflows/{workflowId}</c>.</summary>
    [Function("PublishWorkflow")]
    public static Task<IActionResult> PublishWorkflow(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "api/v1/workflows/{workflowId}")] HttpRequest request,
        string workflowId)
        => HandlerRunner.RunAsync(request, () => WorkflowEndpoints.PublishAsync(request, workflowId));

    /// <summary><c>GET /api/v1/workflows/{workflowId}</c>.</summary>
    [Function("GetWorkflow")]
    public static Task<IActionResult> GetWorkflow(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/workflows/{workflowId}")] HttpRequest request,
        string workflowId)
        => HandlerRunner.RunAsync(request, () => WorkflowEndpoints.GetAsync(request, workflowId));

    /// <summary><c>GET /api/v1/workflows/{workflowId}/versions</c>.</summary>
    [Function("ListWorkflowVersions")]
    public static Task<IActionResult> ListWorkflowVersions(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/workflows/{workflowId}/versions")] HttpRequest request,
        string workflowId)
        => HandlerRunner.RunAsync(request, () => WorkflowEndpoints.VersionsAsync(request, workflowId));

    /// <summary><c>DELETE /api/v1/workflows/{workflowId}</c>.</summary>
    [Function("DeactivateWorkflow")]
    public static Task<IActionResult> DeactivateWorkflow(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "api/v1/workflows/{workflowId}")] HttpRequest request,
        string workflowId)
        => HandlerRunner.RunAsync(request, () => WorkflowEndpoints.DeactivateAsync(request, workflowId));

    /// <summary><c>POST /api/v1/approvals</c>.</summary>
    [Function("SubmitApproval")]
    public static Task<IActionResult> SubmitApproval(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals")] HttpRequest request,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.SubmitAsync(request));

    /// <summary><c>GET /api/v1/approvals</c>.</summary>
    [Function("ListApprovals")]
    public static Task<IActionResult> ListApprovals(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/approvals")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => ApprovalEndpoints.ListAsync(request));

    /// <summary><c>GET /api/v1/approvals/{id}</c>.</summary>
    [Function("GetApproval")]
    public static Task<IActionResult> GetApproval(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/approvals/{id}")] HttpRequest request,
        string id)
        => HandlerRunner.RunAsync(request, () => ApprovalEndpoints.GetAsync(request, id));

    /// <summary><c>GET /api/v1/approvals/{id}/history</c>.</summary>
    [Function("GetApprovalHistory")]
    public static Task<IActionResult> GetApprovalHistory(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/approvals/{id}/history")] HttpRequest request,
        string id)
        => HandlerRunner.RunAsync(request, () => ApprovalEndpoints.HistoryAsync(request, id));

    /// <summary><c>GET /api/v1/approvals/record/{model}/{recordId}</c>.</summary>
    [Function("GetApprovalsByRecord")]
    public static Task<IActionResult> GetApprovalsByRecord(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/approvals/record/{model}/{recordId}")] HttpRequest request,
        string model,
        string recordId)
        => HandlerRunner.RunAsync(request, () => ApprovalEndpoints.ByRecordAsync(request, model, recordId));

    /// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/approve</c>.</summary>
    [Function("ApproveStage")]
    public static Task<IActionResult> ApproveStage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/stages/{stageId}/approve")] HttpRequest request,
        string id,
        string stageId,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.DecideAsync(request, id, stageId, DecisionKind.Approve));

    /// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/reject</c>.</summary>
    [Function("RejectStage")]
    public static Task<IActionResult> RejectStage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/stages/{stageId}/reject")] HttpRequest request,
        string id,
        string stageId,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.DecideAsync(request, id, stageId, DecisionKind.Reject));

    /// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/request-changes</c>.</summary>
    [Function("RequestChanges")]
    public static Task<IActionResult> RequestChanges(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/stages/{stageId}/request-changes")] HttpRequest request,
        string id,
        string stageId,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.DecideAsync(request, id, stageId, DecisionKind.RequestChanges));

    /// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/comment</c>.</summary>
    [Function("CommentStage")]
    public static Task<IActionResult> CommentStage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/stages/{stageId}/comment")] HttpRequest request,
        string id,
        string stageId,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.DecideAsync(request, id, stageId, DecisionKind.Comment));

    /// <summary><c>POST /api/v1/approvals/{id}/stages/{stageId}/reassign</c>.</summary>
    [Function("ReassignStage")]
    public static Task<IActionResult> ReassignStage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/stages/{stageId}/reassign")] HttpRequest request,
        string id,
        string stageId,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.ReassignAsync(request, id, stageId));

    /// <summary><c>POST /api/v1/approvals/{id}/cancel</c>.</summary>
    [Function("CancelApproval")]
    public static Task<IActionResult> CancelApproval(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/cancel")] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.CancelAsync(request, id));

    /// <summary><c>POST /api/v1/approvals/{id}/resubmit</c>.</summary>
    [Function("ResubmitApproval")]
    public static Task<IActionResult> ResubmitApproval(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/resubmit")] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.ResubmitAsync(request, id));

    /// <summary><c>POST /api/v1/approvals/{id}/retry</c>.</summary>
    [Function("RetryCallback")]
    public static Task<IActionResult> RetryCallback(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/approvals/{id}/retry")] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => ApprovalEndpoints.RetryCallbackAsync(request, id));

    /// <summary><c>PUT /api/v1/directory/users/{userId}</c>.</summary>
    [Function("PutUser")]
    public static Task<IActionResult> PutUser(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "api/v1/directory/users/{userId}")] HttpRequest request,
        string userId)
        => HandlerRunner.RunAsync(request, () => DirectoryEndpoints.PutUserAsync(request, userId));

    /// <summary><c>GET /api/v1/directory/users</c>.</summary>
    [Function("ListUsers")]
    public static Task<IActionResult> ListUsers(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/directory/users")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => DirectoryEndpoints.ListUsersAsync(request));

    /// <summary><c>PUT /api/v1/directory/groups/{groupId}</c>.</summary>
    [Function("PutGroup")]
    public static Task<IActionResult> PutGroup(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "api/v1/directory/groups/{groupId}")] HttpRequest request,
        string groupId)
        => HandlerRunner.RunAsync(request, () => DirectoryEndpoints.PutGroupAsync(request, groupId));

    /// <summary><c>GET /api/v1/directory/groups</c>.</summary>
    [Function("ListGroups")]
    public static Task<IActionResult> ListGroups(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/directory/groups")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => DirectoryEndpoints.ListGroupsAsync(request));

    /// <summary><c>PUT /api/v1/directory/departments/{departmentId}</c>.</summary>
    [Function("PutDepartment")]
    public static Task<IActionResult> PutDepartment(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = "api/v1/directory/departments/{departmentId}")] HttpRequest request,
        string departmentId)
        => HandlerRunner.RunAsync(request, () => DirectoryEndpoints.PutDepartmentAsync(request, departmentId));

    /// <summary><c>POST /api/v1/directory/import</c>.</summary>
    [Function("ImportDirectory")]
    public static Task<IActionResult> ImportDirectory(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/directory/import")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => DirectoryEndpoints.ImportAsync(request));

    /// <summary><c>POST /api/v1/delegations</c>.</summary>
    [Function("CreateDelegation")]
    public static Task<IActionResult> CreateDelegation(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/delegations")] HttpRequest request,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => DirectoryEndpoints.CreateDelegationAsync(request));

    /// <summary><c>GET /api/v1/delegations</c>.</summary>
    [Function("ListDelegations")]
    public static Task<IActionResult> ListDelegations(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/delegations")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => DirectoryEndpoints.ListDelegationsAsync(request));

    /// <summary><c>POST /api/v1/integrations</c>.</summary>
    [Function("CreateIntegration")]
    public static Task<IActionResult> CreateIntegration(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/integrations")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => IntegrationEndpoints.CreateIntegrationAsync(request));

    /// <summary><c>GET /api/v1/integrations</c>.</summary>
    [Function("ListIntegrations")]
    public static Task<IActionResult> ListIntegrations(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/integrations")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => IntegrationEndpoints.ListIntegrationsAsync(request));

    /// <summary><c>POST /api/v1/webhooks/decisions</c>.</summary>
    [Function("DecisionWebhook")]
    public static Task<IActionResult> DecisionWebhook(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/webhooks/decisions")] HttpRequest request,
        [DurableClient] DurableTaskClient client)
        => HandlerRunner.RunAsync(request, client, () => IntegrationEndpoints.DecisionWebhookAsync(request));

    /// <summary><c>POST /api/v1/subscriptions</c>.</summary>
    [Function("CreateSubscription")]
    public static Task<IActionResult> CreateSubscription(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "api/v1/subscriptions")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => IntegrationEndpoints.CreateSubscriptionAsync(request));

    /// <summary><c>GET /api/v1/subscriptions</c>.</summary>
    [Function("ListSubscriptions")]
    public static Task<IActionResult> ListSubscriptions(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "api/v1/subscriptions")] HttpRequest request)
        => HandlerRunner.RunAsync(request, () => IntegrationEndpoints.ListSubscriptionsAsync(request));

    /// <summary><c>DELETE /api/v1/subscriptions/{id}</c>.</summary>
    [Function("DeleteSubscription")]
    public static Task<IActionResult> DeleteSubscription(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "api/v1/subscriptions/{id}")] HttpRequest request,
        string id)
        => HandlerRunner.RunAsync(request, () => IntegrationEndpoints.DeleteSubscriptionAsync(request, id));
}
