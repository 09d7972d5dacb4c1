using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>
/// Issue 8 end to end in headless Chromium: submit through the API; the manager approves in the page and sees the
/// next stage; a non-approver is refused; the last approver must comment to reject, then rejects; the requester
/// sees the outcome and a verified ledger; the ERP's receiver got the signed callback.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class ApprovalJourneyTests(DashboardHost host, BrowserFixture browser, ITestOutputHelper output) : IDisposable
{
    private readonly CallbackReceiver _receiver = new();

    public void Dispose() => _receiver.Dispose();

    [Fact]
    public async Task Journey_SubmitApproveRejectWithComment_RequesterSeesOutcomeAndErpGetsSignedCallback()
    {
        const string secret = "e2e-callback-secret-0123456789";
        var model = Api.NewModel("purchase");
        var recordId = "PO-" + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();
        using var admin = await host.ClientForAsync("admin");
        using var alice = await host.ClientForAsync("alice");
        await Api.PublishAsync(admin, "e2e-purchase-" + model[^8..], Api.TwoStageWorkflow(model, _receiver.Url, secret));
        var id = await Api.SubmitAsync(alice, model, recordId, $"Office chairs {recordId}", new JsonObject { ["amount"] = 1200, ["currency"] = "EUR" });
        var sessions = new List<BrowserSession>();

        try
        {
            // The manager (bob, alice's manager) finds it in "My approvals" and approves in the page.
            var bob = await Open(sessions);
            await bob.SignInAsync("bob", screenshot: "01-signin");
            var row = bob.Page.Locator($"[data-testid=approval-row][data-approval-id='{id}']");
            await Expect(row).ToHaveAttributeAsync("data-stage-id", "manager");
            await Expect(row).ToContainTextAsync($"Office chairs {recordId}");
            await Expect(row).ToContainTextAsync("Manager");
            await bob.ScreenshotAsync("02-my-approvals-pending");
            await row.GetByRole(AriaRole.Link).ClickAsync();
            await Expect(Stage(bob, "manager")).ToHaveAttributeAsync("data-status", "pending");
            await Expect(Stage(bob, "finance")).ToHaveAttributeAsync("data-status", "waiting");
            await bob.ScreenshotAsync("03-detail-manager-to-decide");
            await bob.Page.GetByTestId("approve-button").ClickAsync();

            // The next stage is now the one waiting, and the approval is recorded under the manager's stage.
            await Expect(Stage(bob, "manager")).ToHaveAttributeAsync("data-status", "approved");
            await Expect(Stage(bob, "finance")).ToHaveAttributeAsync("data-status", "pending");
            await Expect(bob.Page.Locator("[data-testid=stage][data-stage-id=manager] [data-testid=response]"))
                .ToHaveAttributeAsync("data-decision", "approve");
            await Expect(bob.Page.GetByTestId("approval-panel")).ToHaveCountAsync(0);
            await bob.ScreenshotAsync("04-detail-next-stage");
            await bob.GoAsync("#/approvals?tab=done");
            await Expect(bob.Page.Locator($"[data-testid=done-row][data-approval-id='{id}']")).ToContainTextAsync("approve");
            await bob.ScreenshotAsync("05-my-approvals-done");

            // Someone who is not an approver of the stage: the API refuses and the page shows its problem as it is.
            var erin = await Open(sessions);
            await erin.SignInAsync("erin");
            await erin.GoAsync($"#/requests/{id}?stage=finance");
            await erin.Page.GetByTestId("approve-button").ClickAsync();
            var problem = erin.Page.Locator("[data-testid=approval-panel] [data-testid=problem-panel]");
            await Expect(problem).ToHaveAttributeAsync("data-status", "403");
            await Expect(problem).ToContainTextAsync("refused");
            await Expect(Stage(erin, "finance")).ToHaveAttributeAsync("data-status", "pending");
            await erin.ScreenshotAsync("06-detail-refused-decision");

            // The last approver: rejecting without a comment is stopped in the page; with one it goes through.
            var dave = await Open(sessions);
            await dave.SignInAsync("dave");
            var daveRow = dave.Page.Locator($"[data-testid=approval-row][data-approval-id='{id}']");
            await Expect(daveRow).ToHaveAttributeAsync("data-stage-id", "finance");
            await daveRow.GetByRole(AriaRole.Link).ClickAsync();
            await dave.Page.GetByTestId("reject-button").ClickAsync();
            var comment = dave.Page.GetByTestId("comment-box");
            await Expect(comment).ToHaveAttributeAsync("aria-invalid", "true");
            await Expect(comment).ToBeFocusedAsync();
            await Expect(dave.Page.Locator(".approval-panel .field-error")).ToContainTextAsync("Write a comment to reject");
            await Expect(Stage(dave, "finance")).ToHaveAttributeAsync("data-status", "pending");
            await dave.ScreenshotAsync("07-detail-reject-needs-comment");
            await comment.FillAsync("Over the quarterly furniture budget.");
            await dave.Page.GetByTestId("reject-button").ClickAsync();
            await Expect(dave.Page.GetByTestId("outcome-badge")).ToHaveAttributeAsync("data-status", "rejected");
            await Expect(Stage(dave, "finance")).ToHaveAttributeAsync("data-status", "rejected");
            await dave.ScreenshotAsync("08-detail-rejected-by-last-approver");

            // The ERP's receiver got the signed callback: HMAC over "timestamp.body" with the workflow's secret.
            var callback = await _receiver.WaitForAsync(c => c.Method == "POST", TimeSpan.FromSeconds(30));
            AssertSignedCallback(callback, secret, id, model, recordId);
            await Api.WaitForAsync(alice, id, s => s.GetProperty("callback").GetProperty("status").GetString() == "delivered", TimeSpan.FromSeconds(15));

            // The requester sees the outcome in "My requests" and in the detail, with the ledger chain verified.
            var requester = await Open(sessions);
            await requester.SignInAsync("alice");
            await requester.GoAsync("#/requests");
            var requestRow = requester.Page.Locator($"[data-testid=request-row][data-approval-id='{id}']");
            await Expect(requestRow.Locator("[data-status]")).ToHaveAttributeAsync("data-status", "rejected");
            await requester.Page.GetByTestId("status-filter").SelectOptionAsync("rejected");
            await Expect(requestRow).ToBeVisibleAsync();
            await requester.ScreenshotAsync("09-my-requests-rejected");
            await requestRow.GetByRole(AriaRole.Link).ClickAsync();
            await Expect(requester.Page.GetByTestId("outcome-badge")).ToHaveAttributeAsync("data-status", "rejected");
            await Expect(requester.Page.GetByTestId("chain-verified")).ToHaveAttributeAsync("data-verified", "true");
            await Expect(requester.Page.Locator("[data-testid=response][data-decision=reject]")).ToContainTextAsync("Over the quarterly furniture budget.");
            await Expect(requester.Page.GetByTestId("callback-status")).ToHaveAttributeAsync("data-status", "delivered");
            Assert.True(await requester.Page.GetByTestId("ledger-entry").CountAsync() >= 3, "the ledger shows submit, approve and reject at least");
            await Expect(requester.Page.GetByTestId("approval-panel")).ToHaveCountAsync(0);
            await requester.ScreenshotAsync("10-detail-requester-outcome");

            // The manager's "Done" list follows the request to its outcome.
            await bob.GoAsync("#/approvals?tab=done");
            await Expect(bob.Page.Locator($"[data-testid=done-row][data-approval-id='{id}'] [data-status]")).ToHaveAttributeAsync("data-status", "rejected");

            // Works offline: nothing any page loaded came from another origin; no script failed; CSP refused nothing.
            foreach (var session in sessions)
            {
                foreach (var error in session.ConsoleErrors)
                {
                    output.WriteLine("console error (expected only for refused API calls): " + error);
                }

                Assert.Empty(session.ForeignRequests());
                Assert.Empty(session.PageErrors);
                Assert.DoesNotContain(session.ConsoleErrors, e => e.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
                Assert.All(session.ConsoleErrors, e => Assert.Contains("status of 403", e, StringComparison.Ordinal)); // erin's refused decision only
            }
        }
        finally
        {
            foreach (var session in sessions)
            {
                await session.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task RequestChanges_WithComment_SendsRequestBackToRequester()
    {
        var model = Api.NewModel("changes");
        using var admin = await host.ClientForAsync("admin");
        using var alice = await host.ClientForAsync("alice");
        await Api.PublishAsync(admin, "e2e-changes-" + model[^8..], Api.TwoStageWorkflow(model, _receiver.Url, "changes-secret-0123456789"));
        var id = await Api.SubmitAsync(alice, model, "CHG-1", "Needs a second quote", new JsonObject { ["amount"] = 400 });
        await using var bob = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await bob.SignInAsync("bob");
        await bob.GoAsync($"#/requests/{id}");

        await bob.Page.GetByTestId("comment-box").FillAsync("Please attach a second quote.");
        await bob.Page.GetByTestId("request-changes-button").ClickAsync();

        await Expect(bob.Page.GetByTestId("outcome-badge")).ToHaveAttributeAsync("data-status", "changesRequested");
        await Expect(bob.Page.Locator("[data-testid=response][data-decision=requestChanges]")).ToContainTextAsync("second quote");
        await bob.ScreenshotAsync("19-detail-changes-requested");
        var state = await Api.GetAsync(alice, id);
        Assert.Equal("changesRequested", state.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Keyboard_TabFromPageStart_ReachesApproveAndEnterApproves()
    {
        var model = Api.NewModel("kbd");
        using var admin = await host.ClientForAsync("admin");
        using var alice = await host.ClientForAsync("alice");
        await Api.PublishAsync(admin, "e2e-kbd-" + model[^8..], Api.TwoStageWorkflow(model, _receiver.Url, "kbd-secret-0123456789"));
        var id = await Api.SubmitAsync(alice, model, "KB-1", "Keyboard check", new JsonObject { ["amount"] = 10 });
        await using var bob = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await bob.SignInAsync("bob");
        await bob.GoAsync($"#/requests/{id}");
        await Expect(bob.Page.GetByTestId("approve-button")).ToBeVisibleAsync();

        // From the top of the page, Tab through the controls in order until the approve button has focus.
        var reached = false;
        for (var i = 0; i < 60 && !reached; i++)
        {
            await bob.Page.Keyboard.PressAsync("Tab");
            reached = await bob.Page.EvaluateAsync<string?>("() => document.activeElement?.dataset?.testid ?? null") == "approve-button";
        }

        Assert.True(reached, "Tab never reached the approve button");
        Assert.NotEqual("none", await bob.Page.EvaluateAsync<string>("() => getComputedStyle(document.activeElement).outlineStyle"));
        await bob.Page.Keyboard.PressAsync("Enter");
        await Expect(Stage(bob, "manager")).ToHaveAttributeAsync("data-status", "approved");
    }

    [Fact]
    public async Task NarrowScreen_390px_PagesFitWithoutHorizontalScroll()
    {
        var model = Api.NewModel("narrow");
        using var admin = await host.ClientForAsync("admin");
        using var alice = await host.ClientForAsync("alice");
        await Api.PublishAsync(admin, "e2e-narrow-" + model[^8..], Api.TwoStageWorkflow(model, _receiver.Url, "narrow-secret-0123456789"));
        var id = await Api.SubmitAsync(alice, model, "NARROW-1", "A request with a fairly long title to see wrapping on a phone",
            new JsonObject { ["amount"] = 990, ["supplier"] = "Very Long Supplier Name Incorporated International" });
        await using var bob = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output, width: 390, height: 844);

        await bob.SignInAsync("bob", screenshot: "narrow-01-signin");
        await AssertFitsAsync(bob, "narrow-01-signin");
        await bob.GoAsync("#/approvals");
        await Expect(bob.Page.Locator($"[data-testid=approval-row][data-approval-id='{id}']")).ToBeVisibleAsync();
        await bob.ScreenshotAsync("narrow-02-my-approvals");
        await AssertFitsAsync(bob, "my approvals");
        await bob.GoAsync($"#/requests/{id}");
        await Expect(bob.Page.GetByTestId("approval-panel")).ToBeVisibleAsync();
        await bob.ScreenshotAsync("narrow-03-detail");
        await AssertFitsAsync(bob, "detail");

        await using var ops = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output, width: 390, height: 844);
        await ops.SignInAsync("admin");
        await ops.GoAsync("#/workflows");
        await Expect(ops.Page.Locator("[data-testid=workflow-row][data-workflow-id=invoice-standard]")).ToBeVisibleAsync();
        await ops.ScreenshotAsync("narrow-04-workflows");
        await AssertFitsAsync(ops, "workflows");
        await ops.GoAsync("#/workflows/invoice-high-value");
        await Expect(ops.Page.GetByTestId("workflow-editor")).ToBeVisibleAsync();
        await ops.ScreenshotAsync("narrow-05-workflow-editor");
        await AssertFitsAsync(ops, "workflow editor");
        await ops.GoAsync("#/callbacks");
        await Expect(ops.Page.Locator("h1")).ToHaveTextAsync("Failed callbacks");
        await ops.ScreenshotAsync("narrow-06-callbacks");
        await AssertFitsAsync(ops, "callbacks");
    }

    private static ILocator Stage(BrowserSession session, string stageId) =>
        session.Page.Locator($"[data-testid=stage][data-stage-id='{stageId}'] [data-testid=stage-status]");

    private async Task<BrowserSession> Open(List<BrowserSession> sessions)
    {
        var session = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        sessions.Add(session);
        return session;
    }

    private static async Task AssertFitsAsync(BrowserSession session, string what)
    {
        var widths = await session.Page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
        Assert.True(widths[0] <= widths[1], $"{what}: the page is {widths[0]} px wide in a {widths[1]} px viewport");
    }

    private static void AssertSignedCallback(ReceivedCallback callback, string secret, string id, string model, string recordId)
    {
        var timestamp = callback.Headers["X-Approvals-Timestamp"];
        var message = Encoding.UTF8.GetBytes(timestamp + ".").Concat(callback.Body).ToArray();
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
        Assert.Equal(expected, callback.Headers["X-Approvals-Signature"]);
        Assert.InRange(long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture),
            DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        Assert.False(string.IsNullOrWhiteSpace(callback.Headers.GetValueOrDefault("Idempotency-Key")), "Idempotency-Key header");
        using var body = JsonDocument.Parse(callback.Body);
        Assert.Equal(id, body.RootElement.GetProperty("approvalId").GetString());
        Assert.Equal(model, body.RootElement.GetProperty("model").GetString());
        Assert.Equal(recordId, body.RootElement.GetProperty("recordId").GetString());
        Assert.Equal("rejected", body.RootElement.GetProperty("outcome").GetString());
        Assert.False(string.IsNullOrEmpty(body.RootElement.GetProperty("ledgerHead").GetString()));
    }
}
