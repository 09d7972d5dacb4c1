namespace ApprovalFunctions.Api.Auth;

/// <summary>The verified caller: everything here comes from a validated token, never from a body.</summary>
/// <param name="TenantId">The token's <c>tid</c>.</param>
/// <param name="UserId">The token's <c>sub</c>.</param>
/// <param name="Roles">The token's <c>roles</c>.</param>
/// <param name="Name">The token's <c>name</c>, when present.</param>
public sealed record Caller(string TenantId, string UserId, IReadOnlySet<string> Roles, string? Name = null)
{
    /// <summary>Role names from API.md.</summary>
    public const string AdminRole = "admin";

    /// <summary>Approver role.</summary>
    public const string ApproverRole = "approver";

    /// <summary>Requester role.</summary>
    public const string RequesterRole = "requester";

    /// <summary>True for tenant admins.</summary>
    public bool IsAdmin => Roles.Contains(AdminRole);
}
