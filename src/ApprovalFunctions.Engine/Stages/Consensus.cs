using ApprovalFunctions.Engine.Definitions;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.State;

namespace ApprovalFunctions.Engine.Stages;

/// <summary>
/// Consensus arithmetic over a stage's responses. A "vote" is an approve, reject or
/// request-changes response; each distinct human votes at most once per stage, and a vote consumes
/// the approver slot it was cast for (the voter's own, or the principal's when a delegate acted).
/// </summary>
internal static class Consensus
{
    /// <summary>
    /// Approvals required by the mode for <paramref name="poolSize"/> eligible approvers:
    /// any = 1, all = N, count = the count, majority = floor(N/2)+1, percent = ceil(N*p/100) (at least 1),
    /// groups = the number of listed groups.
    /// </summary>
    public static int Required(ConsensusSpec spec, int poolSize) => spec.Mode switch
    {
        ConsensusMode.Any => 1,
        ConsensusMode.All => Math.Max(1, poolSize),
        ConsensusMode.Count => Math.Max(1, spec.Count ?? 1),
        ConsensusMode.Majority => (poolSize / 2) + 1,
        ConsensusMode.Percent => Math.Max(1, (int)Math.Ceiling(poolSize * (spec.Percent ?? 100) / 100.0)),
        ConsensusMode.Groups => Math.Max(1, spec.Groups?.Count ?? 0),
        _ => 1,
    };

    /// <summary>Why the eligible approvers can never complete the stage, or null when they can.</summary>
    public static string? UnassignableReason(IReadOnlyList<string> approvers, int required, StageDefinition definition, DirectorySnapshot directory)
    {
        var count = approvers.Count;
        if (count == 0)
        {
            return "no eligible approvers: nobody can approve this stage";
        }

        if (definition.Consensus.Mode == ConsensusMode.Groups)
        {
            var groups = definition.Consensus.Groups ?? [];
            var coverage = GroupCoverage(groups, approvers, directory);
            return coverage < groups.Count
                ? FormattableString.Invariant($"needs {groups.Count} groups each covered by a different approver but the eligible approvers can cover only {coverage}")
                : null;
        }

        return required > count
            ? FormattableString.Invariant($"needs {required} approvals but only {count} eligible approvers")
            : null;
    }

    public static bool IsVote(DecisionKind kind) => kind != DecisionKind.Comment;

    /// <summary>True when <paramref name="user"/> has cast a vote on the stage (as themselves or as a delegate).</summary>
    public static bool HasVoted(StageState stage, string user)
    {
        var responses = stage.Responses;
        for (var i = 0; i < responses.Count; i++)
        {
            var r = responses[i];
            if (r.Decision != DecisionKind.Comment && string.Equals(r.User, user, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when the approver slot of <paramref name="approver"/> has been used (by them or a delegate).</summary>
    public static bool SlotUsed(StageState stage, string approver) => SlotUsed(stage.Responses, approver);

    /// <summary>True when a vote among <paramref name="responses"/> used the slot of <paramref name="approver"/>.</summary>
    public static bool SlotUsed(IReadOnlyList<StageResponse> responses, string approver)
    {
        for (var i = 0; i < responses.Count; i++)
        {
            var r = responses[i];
            if (r.Decision != DecisionKind.Comment
                && string.Equals(r.OnBehalfOf ?? r.User, approver, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>How much of <see cref="StageState.Required"/> the approvals so far achieve.</summary>
    public static int Achieved(IReadOnlyList<StageResponse> responses, StageDefinition definition, DirectorySnapshot directory)
    {
        if (definition.Consensus.Mode != ConsensusMode.Groups)
        {
            var count = 0;
            for (var i = 0; i < responses.Count; i++)
            {
                if (responses[i].Decision == DecisionKind.Approve)
                {
                    count++;
                }
            }

            return count;
        }

        return GroupCoverage(definition.Consensus.Groups ?? [], ApprovingPeople(responses), directory);
    }

    /// <summary>The approver slots the approvals among <paramref name="responses"/> used (a delegate counts as its principal).</summary>
    private static List<string> ApprovingPeople(IReadOnlyList<StageResponse> responses)
    {
        var people = new List<string>();
        foreach (var r in responses)
        {
            if (r.Decision == DecisionKind.Approve)
            {
                people.Add(r.OnBehalfOf ?? r.User);
            }
        }

        return people;
    }

    /// <summary>
    /// True when approvals can still reach <paramref name="required"/>: those among
    /// <paramref name="responses"/> plus one from every approver slot not yet used.
    /// </summary>
    public static bool Reachable(
        IReadOnlyList<StageResponse> responses, IReadOnlyList<string> approvers, int required, StageDefinition definition, DirectorySnapshot directory)
    {
        if (definition.Consensus.Mode != ConsensusMode.Groups)
        {
            var possible = Achieved(responses, definition, directory);
            for (var i = 0; i < approvers.Count; i++)
            {
                if (!SlotUsed(responses, approvers[i]))
                {
                    possible++;
                }
            }

            return possible >= required;
        }

        var people = ApprovingPeople(responses);
        foreach (var approver in approvers)
        {
            if (!SlotUsed(responses, approver))
            {
                people.Add(approver);
            }
        }

        var groups = definition.Consensus.Groups ?? [];
        return GroupCoverage(groups, people, directory) >= groups.Count;
    }

    /// <summary>
    /// The largest number of listed groups that can each be covered by a different person
    /// (maximum bipartite matching, augmenting paths; groups and people are few).
    /// </summary>
    public static int GroupCoverage(IReadOnlyList<string> groups, IReadOnlyList<string> people, DirectorySnapshot directory)
    {
        var personOfGroup = new int[groups.Count];
        var groupOfPerson = new int[people.Count];
        Array.Fill(personOfGroup, -1);
        Array.Fill(groupOfPerson, -1);
        var matched = 0;
        for (var g = 0; g < groups.Count; g++)
        {
            var visited = new bool[people.Count];
            if (TryAssign(g, groups, people, directory, groupOfPerson, personOfGroup, visited))
            {
                matched++;
            }
        }

        return matched;
    }

    private static bool TryAssign(
        int g, IReadOnlyList<string> groups, IReadOnlyList<string> people, DirectorySnapshot directory,
        int[] groupOfPerson, int[] personOfGroup, bool[] visited)
    {
        for (var p = 0; p < people.Count; p++)
        {
            if (visited[p] || !directory.IsMember(people[p], groups[g]))
            {
                continue;
            }

            visited[p] = true;
            if (groupOfPerson[p] < 0 || TryAssign(groupOfPerson[p], groups, people, directory, groupOfPerson, personOfGroup, visited))
            {
                groupOfPerson[p] = g;
                personOfGroup[g] = p;
                return true;
            }
        }

        return false;
    }
}
