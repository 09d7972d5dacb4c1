using System.Text.Json;
using ApprovalFunctions.Engine.Directory;

namespace ApprovalFunctions.Api;

/// <summary>A small demo tenant for laptops and the dashboard's Development sign-in: people with managers and groups, two workflows.</summary>
public static class DemoData
{
    /// <summary>The demo tenant id.</summary>
    public const string TenantId = "demo";

    /// <summary>A demo user and the roles the development sign-in gives them.</summary>
    public sealed record DemoUser(string Id, string Name, string? Manager, string Department, IReadOnlyList<string> Groups, IReadOnlyList<string> Roles);

    /// <summary>The roster.</summary>
    public static readonly IReadOnlyList<DemoUser> Users =
    [
        new("alice", "Alice Requester", "bob", "sales", [], ["requester"]),
        new("bob", "Bob Manager", "carol", "sales", ["managers"], ["approver", "requester"]),
        new("carol", "Carol CFO", null, "finance", ["finance-managers", "managers"], ["approver", "requester"]),
        new("dave", "Dave Finance", "carol", "finance", ["finance-managers"], ["approver", "requester"]),
        new("erin", "Erin Legal", "carol", "legal", ["legal"], ["approver", "requester"]),
        new("frank", "Frank Legal", "erin", "legal", ["legal"], ["approver", "requester"]),
        new("admin", "Ada Admin", null, "it", [], ["admin", "approver", "requester"]),
    ];

    /// <summary>Departments and their managers.</summary>
    public static readonly IReadOnlyList<DirectoryDepartment> Departments =
    [
        new() { Id = "sales", Name = "Sales", Manager = "bob" },
        new() { Id = "finance", Name = "Finance", Manager = "carol" },
        new() { Id = "legal", Name = "Legal", Manager = "erin" },
        new() { Id = "it", Name = "IT", Manager = "admin" },
    ];

    /// <summary>Directory users built from the roster.</summary>
    public static IEnumerable<DirectoryUser> DirectoryUsers => Users.Select(u => new DirectoryUser
    {
        Id = u.Id,
        Name = u.Name,
        Email = $"{u.Id}@demo.example",
        Manager = u.Manager,
        Department = u.Department,
        Groups = u.Groups,
    });

    /// <summary>The two demo workflows (id, API JSON body).</summary>
    public static IReadOnlyList<(string Id, JsonElement Body)> Workflows { get; } =
    [
        ("invoice-high-value", Parse("""
        {
          "name": "High-value invoice",
          "model": "account.move",
          "event": "create",
          "condition": {">": [{"var": "record.amount"}, 10000]},
          "priority": 10,
          "expiresIn": "P14D",
          "stages": [
            {"id": "manager", "name": "Manager", "order": 1,
             "approvers": [{"type": "manager", "levels": 1}],
             "consensus": {"mode": "any"}, "rejection": "veto", "reminderEvery": "PT8H",
             "escalation": [{"after": "PT24H", "approvers": [{"type": "group", "id": "finance-managers"}]}],
             "timeout": {"after": "P3D", "action": "reject"},
             "denialMessage": "Rejected by the line manager."},
            {"id": "cfo", "name": "CFO", "order": 2, "approvers": [{"type": "user", "id": "carol"}]},
            {"id": "legal", "name": "Legal", "order": 2, "condition": {"in": ["contract", {"var": "record.tags"}]},
             "approvers": [{"type": "group", "id": "legal"}], "consensus": {"mode": "count", "count": 2}}
          ]
        }
        """)),
        ("invoice-standard", Parse("""
        {
          "name": "Standard invoice",
          "model": "account.move",
          "event": "create",
          "priority": 0,
          "stages": [
            {"id": "manager", "name": "Manager", "order": 1, "approvers": [{"type": "manager", "levels": 1}]}
          ]
        }
        """)),
    ];

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
