using System.Text.Json;
using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;

namespace ApprovalFunctions.Engine.Stages;

/// <summary>The resolved approvers of a set of specs.</summary>
/// <param name="Approvers">Eligible approvers, deduplicated and sorted (ordinal).</param>
/// <param name="Excluded">People resolved but excluded by the self-approval guard, sorted.</param>
/// <param name="Error">A rule failure (field expression), which quarantines the request.</param>
internal readonly record struct Resolution(List<string> Approvers, IReadOnlyList<string> Excluded, string? Error);

/// <summary>The data field expressions are evaluated against, built only when one needs it.</summary>
internal interface IRuleDataSource
{
    JsonElement GetRuleData();
}

/// <summary>Rule data already built (the preview builds it up front).</summary>
internal sealed class BuiltRuleData(JsonElement data) : IRuleDataSource
{
    public JsonElement GetRuleData() => data;
}

/// <summary>Resolves approver specs against the directory at stage activation (never on a decision).</summary>
internal static class ApproverResolver
{
    public static Resolution Resolve(
        IReadOnlyList<ApproverSpec> specs,
        string requester,
        IReadOnlyList<string> subjects,
        bool allowSelfApproval,
        DirectorySnapshot directory,
        IRuleDataSource ruleData)
    {
        var found = new List<string>();
        for (var s = 0; s < specs.Count; s++)
        {
            var spec = specs[s];
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
                    var outcome = spec.Expr.Evaluate(ruleData.GetRuleData());
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
        // Duplicates and excluded people are dropped in place, so the list found is the list returned.
        found.Sort(StringComparer.Ordinal);
        List<string>? excluded = null;
        string? previous = null;
        var kept = 0;
        for (var i = 0; i < found.Count; i++)
        {
            var id = found[i];
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
                found[kept++] = id;
            }
        }

        found.RemoveRange(kept, found.Count - kept);
        return new Resolution(found, (IReadOnlyList<string>?)excluded ?? [], null);
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
