using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ApprovalFunctions.Engine;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.State;
using ApprovalFunctions.Runtime.Storage;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Processing;

/// <summary>One index row a state projects to, with a hash of its content (to skip unchanged rows).</summary>
internal sealed record ProjectedRow(string Table, TableEntity Entity, string Hash)
{
    public string Id => Table + "\n" + Entity.PartitionKey + "\n" + Entity.RowKey;

    public ManifestRow ToManifest() => new(Table, Entity.PartitionKey, Entity.RowKey, Hash);
}

/// <summary>
/// Computes every index row of a request from its committed state (never from intents), so projecting twice,
/// or after a crash, gives the same rows.
/// </summary>
internal static class IndexProjection
{
    public static List<ProjectedRow> Compute(ApprovalState s, DirectorySnapshot directory, DateTimeOffset now)
    {
        var rows = new Dictionary<string, ProjectedRow>(StringComparer.Ordinal);
        void Add(string table, TableEntity entity)
        {
            var row = new ProjectedRow(table, entity, Hash(entity));
            rows.TryAdd(row.Id, row);
        }

        var status = ApprovalEngine.StatusName(s.Status);
        var created = TableKey.InvertedTicks(s.CreatedAt);
        var id = TableKey.Encode(s.Id);

        var requesterRow = Summary(new TableEntity(Keys.Join(s.TenantId, s.Requester), created + "|" + id), s, status);
        requesterRow["DecidedAt"] = s.DecidedAt;
        Add(IndexStore.RequesterTable, requesterRow);
        // The record list needs only the order and the id, so a status change never rewrites it.
        Add(IndexStore.RecordTable, new TableEntity(Keys.Join(s.TenantId, s.Model, s.RecordId), created + "|" + id) { ["Id"] = s.Id, ["CreatedAt"] = s.CreatedAt });

        if (s.Status == RequestStatus.Pending)
        {
            foreach (var stage in s.Stages)
            {
                if (stage.Status != StageStatus.Pending)
                {
                    continue;
                }

                foreach (var approver in stage.Approvers)
                {
                    if (Voted(stage, approver))
                    {
                        continue;
                    }

                    Add(IndexStore.InboxTable, Pending(s, status, stage, approver, null));
                    foreach (var delegateId in directory.DelegatesOf(approver, now))
                    {
                        if (!Voted(stage, delegateId) && !stage.Approvers.Contains(delegateId, StringComparer.Ordinal))
                        {
                            Add(IndexStore.InboxTable, Pending(s, status, stage, delegateId, approver));
                        }
                    }
                }
            }
        }

        foreach (var stage in s.PreviousIterations.SelectMany(i => i.Stages).Concat(s.Stages))
        {
            foreach (var response in stage.Responses)
            {
                if (response.Decision == DecisionKind.Comment)
                {
                    continue;
                }

                var entity = Summary(new TableEntity(Keys.Join(s.TenantId, response.User),
                    "d|" + TableKey.InvertedTicks(response.At) + "|" + id + "|" + TableKey.Encode(stage.Id)), s, status);
                entity["StageId"] = stage.Id;
                entity["StageName"] = stage.Name ?? stage.Id;
                entity["Decision"] = DecisionName(response.Decision);
                entity["DecidedAt"] = response.At;
                entity["OnBehalfOf"] = response.OnBehalfOf;
                Add(IndexStore.InboxTable, entity);
            }
        }

        if (s.Callback.Status == CallbackStatus.Failed)
        {
            Add(IndexStore.FailedTable, new TableEntity(TableKey.Encode(s.TenantId), id)
            {
                ["Id"] = s.Id,
                ["Model"] = s.Model,
                ["RecordId"] = s.RecordId,
                ["Outcome"] = s.Callback.Outcome,
                ["Attempts"] = s.Callback.Attempts,
                ["LastError"] = Truncate(s.Callback.LastError, 1000),
                ["LastAttemptAt"] = s.Callback.LastAttemptAt,
            });
        }

        return [.. rows.Values];
    }

    internal static bool Voted(StageState stage, string user) =>
        stage.Responses.Any(r => r.Decision != DecisionKind.Comment
            && (string.Equals(r.User, user, StringComparison.Ordinal) || string.Equals(r.OnBehalfOf, user, StringComparison.Ordinal)));

    private static TableEntity Pending(ApprovalState s, string status, StageState stage, string user, string? onBehalfOf)
    {
        // Oldest waiting first: the stage's activation time leads the key (a vote elsewhere in the stage rewrites the row in place).
        var waitingSince = TableKey.Ticks(stage.ActivatedAt ?? s.CreatedAt);
        var entity = Summary(new TableEntity(Keys.Join(s.TenantId, user), "p|" + waitingSince + "|" + TableKey.Encode(s.Id) + "|" + TableKey.Encode(stage.Id)), s, status);
        entity["StageId"] = stage.Id;
        entity["StageName"] = stage.Name ?? stage.Id;
        entity["OnBehalfOf"] = onBehalfOf;
        entity["Required"] = stage.Required;
        entity["Remaining"] = stage.Remaining;
        entity["ActivatedAt"] = stage.ActivatedAt;
        entity["DueAt"] = stage.DueAt;
        return entity;
    }

    private static TableEntity Summary(TableEntity entity, ApprovalState s, string status)
    {
        entity["Id"] = s.Id;
        entity["Title"] = Truncate(s.Title, 1000);
        entity["Model"] = s.Model;
        entity["RecordId"] = s.RecordId;
        entity["Requester"] = s.Requester;
        entity["Status"] = status;
        entity["CreatedAt"] = s.CreatedAt;
        entity["ExpiresAt"] = s.ExpiresAt;
        entity["WorkflowId"] = s.Workflow?.Id;
        entity["WorkflowVersion"] = s.Workflow?.Version;
        return entity;
    }

    private static string DecisionName(DecisionKind kind) => kind switch
    {
        DecisionKind.Approve => "approve",
        DecisionKind.Reject => "reject",
        DecisionKind.RequestChanges => "requestChanges",
        _ => "comment",
    };

    private static string? Truncate(string? value, int max) => value is null || value.Length <= max ? value : value[..max];

    private static string Hash(TableEntity entity)
    {
        var sb = new StringBuilder();
        foreach (var (name, value) in entity.Properties)
        {
            sb.Append(name).Append('=').Append(value is DateTimeOffset d ? d.UtcTicks.ToString(CultureInfo.InvariantCulture) : Convert.ToString(value, CultureInfo.InvariantCulture))
                .Append('\u001F');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())))[..16];
    }
}
