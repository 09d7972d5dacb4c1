namespace ApprovalFunctions.Engine.Directory;

/// <summary>A user in the tenant directory.</summary>
public sealed record DirectoryUser
{
    /// <summary>The user id (the token's <c>sub</c>).</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public string? Name { get; init; }

    /// <summary>E-mail address for notifications.</summary>
    public string? Email { get; init; }

    /// <summary>Groups the user belongs to (merged with each group's own member list).</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>The user's manager's id.</summary>
    public string? Manager { get; init; }

    /// <summary>The user's department id.</summary>
    public string? Department { get; init; }
}

/// <summary>A group in the tenant directory.</summary>
public sealed record DirectoryGroup
{
    /// <summary>The group id.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public string? Name { get; init; }

    /// <summary>Member user ids.</summary>
    public IReadOnlyList<string> Members { get; init; } = [];
}

/// <summary>A department and its manager.</summary>
public sealed record DirectoryDepartment
{
    /// <summary>The department id.</summary>
    public required string Id { get; init; }

    /// <summary>Display name.</summary>
    public string? Name { get; init; }

    /// <summary>The department manager's user id.</summary>
    public string? Manager { get; init; }
}

/// <summary>An out-of-office delegation: <see cref="To"/> may act for <see cref="From"/> in the window.</summary>
public sealed record Delegation
{
    /// <summary>The delegation id.</summary>
    public required string Id { get; init; }

    /// <summary>The absent user.</summary>
    public required string From { get; init; }

    /// <summary>The delegate.</summary>
    public required string To { get; init; }

    /// <summary>Start of the window (inclusive).</summary>
    public required DateTimeOffset StartsAt { get; init; }

    /// <summary>End of the window (exclusive).</summary>
    public required DateTimeOffset EndsAt { get; init; }

    /// <summary>True when the delegation is in effect at <paramref name="at"/>.</summary>
    public bool InEffectAt(DateTimeOffset at) => at >= StartsAt && at < EndsAt;
}

/// <summary>
/// An immutable, in-memory view of a tenant's directory that the engine resolves approvers against.
/// Hosts load and cache it; the engine never does I/O.
/// </summary>
public sealed class DirectorySnapshot
{
    private readonly Dictionary<string, DirectoryUser> _users;
    private readonly Dictionary<string, DirectoryGroup> _groups;
    private readonly Dictionary<string, DirectoryDepartment> _departments;
    private readonly Dictionary<string, HashSet<string>> _groupMembers;
    private readonly IReadOnlyList<Delegation> _delegations;

    /// <summary>An empty directory.</summary>
    public static readonly DirectorySnapshot Empty = new([], [], [], []);

    /// <summary>Builds a snapshot. Group membership is the union of group member lists and users' group lists.</summary>
    public DirectorySnapshot(
        IEnumerable<DirectoryUser> users,
        IEnumerable<DirectoryGroup> groups,
        IEnumerable<DirectoryDepartment> departments,
        IEnumerable<Delegation> delegations)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(departments);
        ArgumentNullException.ThrowIfNull(delegations);
        _users = new(StringComparer.Ordinal);
        foreach (var user in users)
        {
            _users[user.Id] = user;
        }

        _groups = new(StringComparer.Ordinal);
        _groupMembers = new(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            _groups[group.Id] = group;
            MembersOf(group.Id).UnionWith(group.Members);
        }

        foreach (var user in _users.Values)
        {
            foreach (var groupId in user.Groups)
            {
                MembersOf(groupId).Add(user.Id);
            }
        }

        _departments = new(StringComparer.Ordinal);
        foreach (var department in departments)
        {
            _departments[department.Id] = department;
        }

        _delegations = [.. delegations];
    }

    /// <summary>All users.</summary>
    public IEnumerable<DirectoryUser> Users => _users.Values;

    /// <summary>All delegations, in effect or not.</summary>
    public IReadOnlyList<Delegation> Delegations => _delegations;

    /// <summary>Finds a user, or null.</summary>
    public DirectoryUser? FindUser(string userId) => _users.GetValueOrDefault(userId);

    /// <summary>Finds a group, or null.</summary>
    public DirectoryGroup? FindGroup(string groupId) => _groups.GetValueOrDefault(groupId);

    /// <summary>Finds a department, or null.</summary>
    public DirectoryDepartment? FindDepartment(string departmentId) => _departments.GetValueOrDefault(departmentId);

    /// <summary>True when the group is known (declared, or named by a user).</summary>
    public bool GroupExists(string groupId) => _groupMembers.ContainsKey(groupId);

    /// <summary>The members of a group, sorted; empty when unknown.</summary>
    public IReadOnlyList<string> GroupMembers(string groupId) =>
        _groupMembers.TryGetValue(groupId, out var members) ? [.. members.Order(StringComparer.Ordinal)] : [];

    /// <summary>Adds the members of a group to <paramref name="target"/> in no particular order (no sorting, no copy).</summary>
    internal void AddGroupMembersTo(string groupId, List<string> target)
    {
        if (_groupMembers.TryGetValue(groupId, out var members))
        {
            target.AddRange(members);
        }
    }

    /// <summary>True when <paramref name="userId"/> is a member of <paramref name="groupId"/>.</summary>
    public bool IsMember(string userId, string groupId) =>
        _groupMembers.TryGetValue(groupId, out var members) && members.Contains(userId);

    /// <summary>The groups <paramref name="userId"/> belongs to, sorted (declared or named by the user).</summary>
    public IReadOnlyList<string> GroupsOf(string userId)
    {
        var result = new List<string>();
        foreach (var (groupId, members) in _groupMembers)
        {
            if (members.Contains(userId))
            {
                result.Add(groupId);
            }
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>The number of members of a group; 0 when unknown.</summary>
    public int GroupSize(string groupId) => _groupMembers.TryGetValue(groupId, out var members) ? members.Count : 0;

    /// <summary>The manager <paramref name="levels"/> levels above <paramref name="userId"/>, or null; cycles stop the walk.</summary>
    public string? ManagerOf(string userId, int levels = 1)
    {
        var current = userId;
        for (var i = 0; i < levels; i++)
        {
            var manager = FindUser(current)?.Manager;
            if (manager is null || OnChainBelow(userId, i, manager))
            {
                return null;
            }

            current = manager;
        }

        return current;
    }

    /// <summary>
    /// True when <paramref name="candidate"/> is <paramref name="userId"/> or one of its first
    /// <paramref name="steps"/> managers: a cycle. Walks the chain again rather than keeping a set,
    /// because levels are few and this runs at every stage activation.
    /// </summary>
    private bool OnChainBelow(string userId, int steps, string candidate)
    {
        var current = userId;
        for (var i = 0; ; i++)
        {
            if (string.Equals(current, candidate, StringComparison.Ordinal))
            {
                return true;
            }

            if (i == steps || FindUser(current)?.Manager is not { } next)
            {
                return false;
            }

            current = next;
        }
    }

    /// <summary>The users <paramref name="delegateId"/> may act for at <paramref name="at"/>.</summary>
    public IEnumerable<string> PrincipalsOf(string delegateId, DateTimeOffset at)
    {
        foreach (var delegation in _delegations)
        {
            if (string.Equals(delegation.To, delegateId, StringComparison.Ordinal) && delegation.InEffectAt(at))
            {
                yield return delegation.From;
            }
        }
    }

    /// <summary>The delegates acting for <paramref name="userId"/> at <paramref name="at"/>.</summary>
    public IEnumerable<string> DelegatesOf(string userId, DateTimeOffset at)
    {
        foreach (var delegation in _delegations)
        {
            if (string.Equals(delegation.From, userId, StringComparison.Ordinal) && delegation.InEffectAt(at))
            {
                yield return delegation.To;
            }
        }
    }

    private HashSet<string> MembersOf(string groupId)
    {
        if (!_groupMembers.TryGetValue(groupId, out var members))
        {
            members = new HashSet<string>(StringComparer.Ordinal);
            _groupMembers[groupId] = members;
        }

        return members;
    }
}
