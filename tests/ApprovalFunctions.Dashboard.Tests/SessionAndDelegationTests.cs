using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ApprovalFunctions.Api.Auth;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace ApprovalFunctions.Dashboard.Tests;

/// <summary>A refused token sends the user back to sign-in; a delegate finds and decides a stage for the person away.</summary>
[Collection(DashboardCollection.Name)]
public sealed class SessionAndDelegationTests(DashboardHost host, BrowserFixture browser, ITestOutputHelper output)
{
    [Fact]
    public async Task PastedToken_SignedWithAnotherKey_ApiRefusesAndPageReturnsToSignIn()
    {
        var forged = DevTokens.Mint("not-the-host-key-0123456789abcdef0123456789", "demo", "bob", ["approver"], DateTimeOffset.UtcNow, name: "Bob Forged");
        await using var session = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await session.GoAsync("#/signin");

        await Expect(session.Page.GetByTestId("signin-user-picker")).ToBeVisibleAsync();
        await session.Page.Locator("details.paste > summary").ClickAsync(); // folded away while dev sign-in is offered
        await session.Page.GetByTestId("signin-token").FillAsync("Bearer " + forged);
        await session.Page.GetByTestId("signin-token-submit").ClickAsync();

        // The page reads the token only to show a name; the API is the judge, and its 401 ends the session.
        await Expect(session.Page.GetByTestId("toast").First).ToContainTextAsync("sign in again");
        await Expect(session.Page.GetByTestId("signin-user-picker")).ToBeVisibleAsync();
        Assert.StartsWith("#/signin", new Uri(session.Page.Url).Fragment, StringComparison.Ordinal);
        Assert.Null(await session.Page.EvaluateAsync<string?>("() => sessionStorage.getItem('approvals.dashboard.token')"));
        await Expect(session.Page.GetByTestId("whoami")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Delegate_SeesStageOnBehalfOfAndApprovesIt()
    {
        var model = Api.NewModel("deleg");
        using var admin = await host.ClientForAsync("admin");
        using var alice = await host.ClientForAsync("alice");
        var definition = new JsonObject
        {
            ["name"] = "E2E delegated sign-off",
            ["model"] = model,
            ["event"] = "create",
            ["stages"] = new JsonArray(new JsonObject
            {
                ["id"] = "cfo", ["name"] = "CFO", ["order"] = 1,
                ["approvers"] = new JsonArray(new JsonObject { ["type"] = "user", ["id"] = "carol" }),
            }),
        };
        await Api.PublishAsync(admin, "e2e-deleg-" + model[^8..], definition);

        // Carol is away: frank acts for her while the delegation lasts (nothing else in these tests uses carol).
        var now = DateTimeOffset.UtcNow;
        using (var delegation = await admin.PostAsJsonAsync(new Uri("/api/v1/delegations", UriKind.Relative),
                   new { from = "carol", to = "frank", startsAt = now.AddMinutes(-1), endsAt = now.AddMinutes(30) }))
        {
            Assert.True(delegation.IsSuccessStatusCode, await delegation.Content.ReadAsStringAsync());
        }

        var id = await Api.SubmitAsync(alice, model, "DELEG-1", "Signed off by a delegate", new JsonObject { ["amount"] = 70 });
        await using var frank = await BrowserSession.OpenAsync(browser.Browser, host.BaseAddress, output);
        await frank.SignInAsync("frank");

        var row = frank.Page.Locator($"[data-testid=approval-row][data-approval-id='{id}']");
        await Expect(row).ToHaveAttributeAsync("data-stage-id", "cfo");
        await Expect(row).ToContainTextAsync("for carol");
        await frank.ScreenshotAsync("16-my-approvals-delegate");
        await row.GetByRole(AriaRole.Link).ClickAsync();
        await frank.Page.GetByTestId("approve-button").ClickAsync();

        await Expect(frank.Page.GetByTestId("outcome-badge")).ToHaveAttributeAsync("data-status", "approved");
        await Expect(frank.Page.Locator("[data-testid=stage][data-stage-id=cfo] [data-testid=response]")).ToContainTextAsync("for carol");
        await frank.ScreenshotAsync("17-detail-approved-by-delegate");
    }
}
