using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;

namespace ApprovalFunctions.Engine.Stages;

/// <summary>The resolved approvers of a set of specs.</summary>
/// <param name="Approvers">Eligible approvers, deduplicated and sorted (ordinal).</param>
/// <param name="Excluded">People resolved but excluded by the self-approval guard, sorted.</param>
/// <param name="Error">A rule failure (field expression), which quarantines the request.</param>
internal sealed record Resolution(List<string> Approvers, IReadOnlyList<string> Excluded, string? Error);

/// <summary>Resolves approver specs against the directory at stage activation (never on a decision).</summary>
internal static class ApproverResolver
{
    public static Resolution Resolve(
        IReadOnlyList<ApproverSpec> specs,
        string requester,
        IReadOnlyList<string> subjects,
        bool allowSelfApproval,
        DirectorySnapshot directory,
        Func<JsonElement> ruleData)
    {
        var found = new List<string>();
        foreach (var spec in specs)
        {
            switch (spec.Type)
            {
                case ApproverType.User when !string.IsNullOrEmpty(spec.Id):
                    found.Add(spec.Id);
                    break;
                case ApproverType.Group when !string.IsNullOrEmpty(spec.Id):
                    directory.AddGroupMembersTo(spec.Id, found);

                    break;
                case ApproverType.Manager:
                    if (directory.ManagerOf(requester, spec.Levels) is { } manager)
                    {
                        found.Add(manager);
                    }

                    break;
                case ApproverType.DepartmentManager:
                    if (directory.FindUser(requester)?.Department is { } department
                        && directory.FindDepartment(department)?.Manager is { } departmentManager)
                    {
                        found.Add(departmentManager);
                    }

                    break;
                case ApproverType.Field when spec.Expr is not null:
                    var outcome = spec.Expr.Evaluate(ruleData());
                    if (!outcome.Succeeded)
                    {
                        return new Resolution([], [], "an approver field expression failed to evaluate: " + outcome.Error);
                    }

                    foreach (var id in outcome.Strings)
                    {
                        if (!string.IsNullOrWhiteSpace(id))
                        {
                            found.Add(id);
                        }
                    }

                    break;
                default:
                    break;
            }
        }

        // A list sorted once beats a SortedSet here: pools are small and this runs at every activation.
        found.Sort(StringComparer.Ordinal);
        var approvers = new List<string>(found.Count);
        List<string>? excluded = null;
        string? previous = null;
        foreach (var id in found)
        {
            if (string.Equals(id, previous, StringComparison.Ordinal))
            {
                continue;
            }

            previous = id;
            if (!allowSelfApproval && IsSelf(id, requester, subjects))
            {
                (excluded ??= []).Add(id);
            }
            else
            {
                approvers.Add(id);
            }
        }

        return new Resolution(approvers, (IReadOnlyList<string>?)excluded ?? [], null);
    }

    /// <summary>True when <paramref name="userId"/> is the requester or one of the subjects.</summary>
    public static bool IsSelf(string userId, string requester, IReadOnlyList<string> subjects)
    {
        if (string.Equals(userId, requester, StringComparison.Ordinal))
        {
            return true;
        }

        for (var i = 0; i < subjects.Count; i++)
        {
            if (string.Equals(userId, subjects[i], StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
