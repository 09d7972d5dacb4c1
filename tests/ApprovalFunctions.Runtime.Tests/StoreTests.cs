using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Runtime.Storage;

namespace ApprovalFunctions.Runtime.Tests;

public sealed class StoreTests
{
    [Fact]
    public async Task TryBeginAsync_ConcurrentSameKey_ExactlyOneStartsOthersSeeTheRecord()
    {
        var h = await Harness.CreateAsync();
        var store = h.Runtime.Idempotency;
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => store.TryBeginAsync(Harness.Tenant, "alice", "key-1", "hash-a")));

        Assert.Single(results, r => r.Started);
        Assert.All(results.Where(r => !r.Started), r => Assert.Equal("hash-a", r.Existing!.RequestHash));
        Assert.All(results.Where(r => !r.Started), r => Assert.Null(r.Existing!.Status));

        await store.CompleteAsync(Harness.Tenant, "alice", "key-1", 201, """{"id":"r1"}""", "application/json");
        var again = await store.TryBeginAsync(Harness.Tenant, "alice", "key-1", "hash-a");
        Assert.False(again.Started);
        Assert.Equal(201, again.Existing!.Status);
        Assert.Equal("""{"id":"r1"}""", again.Existing.ResponseJson);

        // Scoped per user: the same key from another user is a different key.
        Assert.True((await store.TryBeginAsync(Harness.Tenant, "bob", "key-1", "hash-b")).Started);
        await store.AbandonAsync(Harness.Tenant, "bob", "key-1");
        Assert.True((await store.TryBeginAsync(Harness.Tenant, "bob", "key-1", "hash-b")).Started);
    }

    [Fact]
    public async Task TryBeginAsync_FirstRequestNeverCompleted_OneRetryTakesOverAfterStaleWindow()
    {
        var h = await Harness.CreateAsync();
        var store = h.Runtime.Idempotency;
        Assert.True((await store.TryBeginAsync(Harness.Tenant, "alice", "stuck", "hash")).Started);
        Assert.False((await store.TryBeginAsync(Harness.Tenant, "alice", "stuck", "hash")).Started);

        h.Clock.Advance(IdempotencyStore.StaleAfter + TimeSpan.FromSeconds(1));
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => store.TryBeginAsync(Harness.Tenant, "alice", "stuck", "hash")));
        Assert.Single(results, r => r.Started);
    }

    [Fact]
    public async Task TryRecordAsync_SameEventTwice_SecondIsReplay()
    {
        var h = await Harness.CreateAsync();
        var now = h.Clock.GetUtcNow();
        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => h.Runtime.Replay.TryRecordAsync("int_1", "evt/1?#", now)));

        Assert.Single(results, r => r);
        Assert.True(await h.Runtime.Replay.TryRecordAsync("int_2", "evt/1?#", now));
    }

    [Fact]
    public async Task PublishAsync_ConcurrentAndSequential_AssignsDistinctIncreasingVersions()
    {
        var h = await Harness.CreateAsync();
        var v1 = await h.PublishAsync("inv", Harness.OneStage());
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => h.PublishAsync("inv", Harness.OneStage())));
        await h.PublishAsync("other", Harness.OneStage());

        Assert.Equal(1, v1.Version);
        Assert.Equal([2, 3, 4, 5], concurrent.Select(d => d.Version).Order());
        var versions = await h.Runtime.Definitions.ListVersionsAsync(Harness.Tenant, "inv");
        Assert.Equal([1, 2, 3, 4, 5], versions.Select(d => d.Version));
        Assert.Equal(5, (await h.Runtime.Definitions.GetAsync(Harness.Tenant, "inv"))!.Version);
        Assert.Equal(2, (await h.Runtime.Definitions.ListLatestAsync(Harness.Tenant)).Count);
        Assert.Null(await h.Runtime.Definitions.GetAsync("someone-else", "inv"));
    }

    [Fact]
    public async Task DeactivateAsync_AllVersionsInactive_RunningRequestKeepsItsVersion()
    {
        var h = await Harness.CreateAsync();
        await h.PublishAsync("inv", Harness.OneStage());
        await h.PublishAsync("inv", Harness.OneStage());
        await h.Runtime.Processor.SubmitAsync(Harness.Submit("running"));

        Assert.True(await h.Runtime.Definitions.DeactivateAsync(Harness.Tenant, "inv"));
        Assert.False(await h.Runtime.Definitions.DeactivateAsync(Harness.Tenant, "missing"));

        Assert.Empty(await h.Runtime.Definitions.GetActiveAsync(Harness.Tenant));
        Assert.Empty(await h.Runtime.DefinitionCache.GetActiveAsync(Harness.Tenant)); // invalidated by the store
        Assert.All(await h.Runtime.Definitions.ListVersionsAsync(Harness.Tenant, "inv"), d => Assert.False(d.Active));
        var applied = await h.Runtime.Processor.ApplyAsync(Harness.Tenant, "running", Harness.Approve("manager", "bob"));
        Assert.Equal(Processing.ProcessStatus.Applied, applied.Status);
        Assert.Equal(2, applied.State!.Workflow!.Version);
    }

    [Fact]
    public async Task LoadSnapshotAsync_AfterPutsAndImport_ResolvesUsersGroupsManagersAndDelegations()
    {
        var h = await Harness.CreateAsync();
        var store = h.Runtime.Directory;
        await store.PutUserAsync(Harness.Tenant, new DirectoryUser { Id = "alice", Manager = "bob", Groups = ["staff"] });
        await store.PutGroupAsync(Harness.Tenant, new DirectoryGroup { Id = "finance", Members = ["carol", "dave"] });
        await store.PutDepartmentAsync(Harness.Tenant, new DirectoryDepartment { Id = "fin", Manager = "carol" });
        var start = h.Clock.GetUtcNow();
        await store.PutDelegationAsync(Harness.Tenant, new Delegation { Id = "d1", From = "bob", To = "erin", StartsAt = start, EndsAt = start.AddDays(1) });
        var imported = Enumerable.Range(0, 230).Select(i => new DirectoryUser { Id = "u" + i, Groups = ["bulk"] }).ToList();
        await store.ImportAsync(Harness.Tenant, imported, [new DirectoryGroup { Id = "bulk", Name = "Bulk" }], []);

        var snapshot = await store.LoadSnapshotAsync(Harness.Tenant);

        Assert.Equal("bob", snapshot.ManagerOf("alice"));
        Assert.Equal(["carol", "dave"], snapshot.GroupMembers("finance"));
        Assert.Equal(230, snapshot.GroupSize("bulk"));
        Assert.Equal("carol", snapshot.FindDepartment("fin")!.Manager);
        Assert.Equal(["erin"], snapshot.DelegatesOf("bob", start.AddHours(1)));
        Assert.Equal(2, (await store.ListGroupsAsync(Harness.Tenant)).Count);
        Assert.Empty((await store.LoadSnapshotAsync("other-tenant")).Users);
    }

    [Fact]
    public async Task IntegrationStore_CreateThenFindAcrossTenants_ReturnsSecretAndTenant()
    {
        var h = await Harness.CreateAsync();
        var created = await h.Runtime.Integrations.CreateAsync(Harness.Tenant, "erp", h.Clock.GetUtcNow());
        var other = await h.Runtime.Integrations.CreateAsync("globex", "erp", h.Clock.GetUtcNow());

        var found = await h.Runtime.Integrations.FindAsync(created.Id);
        Assert.Equal(Harness.Tenant, found!.TenantId);
        Assert.Equal(created.Secret, found.Secret);
        Assert.True(created.Secret.Length >= 40);
        Assert.NotEqual(created.Secret, other.Secret);
        Assert.Single(await h.Runtime.Integrations.ListAsync(Harness.Tenant));
        Assert.Null(await h.Runtime.Integrations.FindAsync("int_unknown"));
        Assert.False(await h.Runtime.Integrations.DeleteAsync(Harness.Tenant, other.Id));
    }

    [Fact]
    public async Task SubscriptionStore_CreateListMatchDelete()
    {
        var h = await Harness.CreateAsync();
        var sub = await h.Runtime.Subscriptions.CreateAsync(Harness.Tenant, new Uri("https://chat.example/hook"), ["stage.activated"], "sec", h.Clock.GetUtcNow());

        Assert.Single(await h.Runtime.Subscriptions.GetMatchingAsync(Harness.Tenant, "stage.activated"));
        Assert.Empty(await h.Runtime.Subscriptions.GetMatchingAsync(Harness.Tenant, "approval.approved"));
        Assert.True(await h.Runtime.Subscriptions.DeleteAsync(Harness.Tenant, sub.Id));
        Assert.False(await h.Runtime.Subscriptions.DeleteAsync(Harness.Tenant, sub.Id));
        Assert.Empty(await h.Runtime.Subscriptions.GetMatchingAsync(Harness.Tenant, "stage.activated"));
    }

    [Fact]
    public async Task LeaseStore_TwoOwners_OnlyOneHoldsUntilExpiry()
    {
        var h = await Harness.CreateAsync();
        var leases = h.Runtime.Leases;
        var a = await leases.TryAcquireAsync(3, "proc-a", TimeSpan.FromSeconds(30));
        var b = await leases.TryAcquireAsync(3, "proc-b", TimeSpan.FromSeconds(30));
        Assert.NotNull(a);
        Assert.Null(b);

        var renewed = await leases.RenewAsync(a!, TimeSpan.FromSeconds(30));
        Assert.NotNull(renewed);
        h.Clock.Advance(TimeSpan.FromSeconds(31));
        var taken = await leases.TryAcquireAsync(3, "proc-b", TimeSpan.FromSeconds(30));
        Assert.NotNull(taken);
        Assert.Null(await leases.RenewAsync(renewed!, TimeSpan.FromSeconds(30)));
    }
}
