using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>The admin pages in the browser: workflows (list, editor with validation errors at their path, preview) and failed callbacks.</summary>
[Collection(DashboardCollection.Name)]
public sealed class AdminPagesTests(DashboardHost host, BrowserFixture browser, ITestOutputHelper output)
{
    [Fact]
    public async Task Workflows_PublishInvalidDefinition_ShowsErrorAtItsPathAndLine()
    {
        await using var admin = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await admin.SignInAsync("admin");
        await admin.GoAsync("#/workflows");
        await Expect(admin.Page.Locator("[data-testid=workflow-row][data-workflow-id=invoice-high-value]")).ToBeVisibleAsync();
        await admin.ScreenshotAsync("11-workflows-list");

        // A new id opens the template; break one approver type and publish.
        await admin.Page.GetByTestId("new-workflow-id").FillAsync("e2e-invalid");
        await admin.Page.GetByTestId("new-workflow").ClickAsync();
        var editor = admin.Page.GetByTestId("workflow-editor");
        await Expect(editor).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("\"stages\""));
        var text = (await editor.InputValueAsync()).Replace("\"type\": \"manager\"", "\"type\": \"robot\"", StringComparison.Ordinal);
        await editor.FillAsync(text);
        await admin.Page.GetByTestId("publish-button").ClickAsync();

        var error = admin.Page.Locator("[data-testid=validation-error][data-path='stages[0].approvers[0].type']");
        await Expect(error).ToContainTextAsync("robot");
        var expectedLine = text[..text.IndexOf("\"type\": \"robot\"", StringComparison.Ordinal)].Split('\n').Length;
        await Expect(error).ToHaveAttributeAsync("data-line", expectedLine.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(admin.Page.Locator("[data-testid=validation-errors] [data-testid=problem-panel]")).ToHaveAttributeAsync("data-status", "400");
        await admin.ScreenshotAsync("12-workflow-editor-validation-error");

        // Nothing was published under that id.
        using var api = await host.ClientForAsync("admin");
        using var missing = await api.GetAsync(new Uri("/api/v1/workflows/e2e-invalid", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Workflows_EditWithCallback_AsksForTheWriteOnlySecretThenPublishesNextVersion()
    {
        var model = Api.NewModel("edit");
        var workflowId = "e2e-edit-" + model[^8..];
        using var api = await host.ClientForAsync("admin");
        await Api.PublishAsync(api, workflowId, Api.TwoStageWorkflow(model, new Uri("http://127.0.0.1:9/erp"), "first-secret-0123456789"));
        await using var admin = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await admin.SignInAsync("admin");
        await admin.GoAsync($"#/workflows/{workflowId}");
        var editor = admin.Page.GetByTestId("workflow-editor");
        await Expect(editor).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("\"callback\""));
        Assert.DoesNotContain("secret", await editor.InputValueAsync(), StringComparison.Ordinal);

        // Publishing the round-tripped definition as it is would drop the signing secret: the page stops it.
        await admin.Page.GetByTestId("publish-button").ClickAsync();
        await Expect(admin.Page.Locator("[data-testid=validation-error][data-path='callback.secret']")).ToContainTextAsync("unsigned");
        await admin.ScreenshotAsync("18-workflow-editor-secret-required");
        Assert.Equal(1, await VersionCountAsync(api, workflowId));

        // With the secret typed again, the edit publishes version 2 and the page shows it.
        var text = (await editor.InputValueAsync()).Replace("\"events\": [", "\"secret\": \"second-secret-0123456789\",\n    \"events\": [", StringComparison.Ordinal);
        await editor.FillAsync(text);
        await admin.Page.GetByTestId("publish-button").ClickAsync();
        await Expect(admin.Page.GetByTestId("workflow-versions")).ToContainTextAsync("v2 (active)");
        Assert.Equal(2, await VersionCountAsync(api, workflowId));
    }

    [Fact]
    public async Task Workflows_PreviewHighValueInvoice_ShowsChosenWorkflowAndStages()
    {
        await using var admin = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await admin.SignInAsync("admin");
        await admin.GoAsync("#/workflows/invoice-high-value");
        await Expect(admin.Page.GetByTestId("workflow-versions")).ToContainTextAsync("v1");
        await admin.Page.GetByTestId("preview-requester").FillAsync("alice");
        await admin.Page.GetByTestId("preview-record").FillAsync("{\"amount\": 25000, \"tags\": [\"contract\"]}");
        await admin.Page.GetByTestId("preview-button").ClickAsync();

        await Expect(admin.Page.GetByTestId("preview-workflow")).ToContainTextAsync("invoice-high-value");
        await Expect(admin.Page.Locator("[data-testid=preview-stage][data-stage-id=manager]")).ToContainTextAsync("bob");
        await Expect(admin.Page.Locator("[data-testid=preview-stage][data-stage-id=legal]")).ToHaveAttributeAsync("data-skipped", "false");
        await admin.ScreenshotAsync("13-workflow-editor-preview");
    }

    [Fact]
    public async Task Callbacks_FailedDelivery_ListedWithLinkAndRetry()
    {
        var model = Api.NewModel("deadcb");
        using var adminApi = await host.ClientForAsync("admin");
        using var alice = await host.ClientForAsync("alice");
        using var bob = await host.ClientForAsync("bob");
        var definition = Api.TwoStageWorkflow(model, new Uri($"http://127.0.0.1:{ClosedPort()}/gone"), "dead-secret-0123456789", maxAttempts: 1);
        ((JsonArray)definition["stages"]!).RemoveAt(1);
        await Api.PublishAsync(adminApi, "e2e-deadcb-" + model[^8..], definition);
        var id = await Api.SubmitAsync(alice, model, "DEAD-1", "Callback to nowhere", new JsonObject { ["amount"] = 5 });
        using (var approve = await bob.PostAsync(new Uri($"/api/v1/approvals/{id}/stages/manager/approve", UriKind.Relative), new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.True(approve.IsSuccessStatusCode, await approve.Content.ReadAsStringAsync());
        }

        await Api.WaitForAsync(adminApi, id, s => s.GetProperty("callback").GetProperty("status").GetString() == "failed", TimeSpan.FromSeconds(30));

        await using var admin = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await admin.SignInAsync("admin");
        await admin.GoAsync("#/callbacks");
        var row = admin.Page.Locator($"[data-testid=callback-row][data-approval-id='{id}']");
        await Expect(row).ToContainTextAsync("DEAD-1");
        await Expect(row.GetByRole(AriaRole.Link)).ToHaveAttributeAsync("href", $"#/requests/{id}");
        await admin.ScreenshotAsync("14-callbacks-failed");
        await row.GetByTestId("retry-button").ClickAsync();
        await Expect(row.GetByTestId("retry-button")).ToHaveTextAsync("Queued");

        // The detail page shows the failed callback to an admin, with its own retry button.
        await admin.GoAsync($"#/requests/{id}");
        await Expect(admin.Page.GetByTestId("callback-status")).ToBeVisibleAsync();
        await admin.ScreenshotAsync("15-detail-callback-admin");
    }

    private static async Task<int> VersionCountAsync(HttpClient api, string workflowId)
    {
        using var body = System.Text.Json.JsonDocument.Parse(await api.GetStringAsync(new Uri($"/api/v1/workflows/{workflowId}/versions", UriKind.Relative)));
        return body.RootElement.GetProperty("items").GetArrayLength();
    }

    private static int ClosedPort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
