using System.Buffers;
using System.Globalization;
using System.Text.Json;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Rules;

namespace ApprovalFunctions.Engine.Definitions;

/// <summary>One validation error: an ASP.NET-style field path (e.g. <c>stages[1].consensus.count</c>) and a message.</summary>
/// <param name="Path">The field path; <c>$</c> for the body itself.</param>
/// <param name="Message">What is wrong, in a sentence.</param>
public sealed record ValidationError(string Path, string Message);

/// <summary>The result of parsing a definition: the definition, or every error found.</summary>
/// <param name="Definition">The definition when there are no errors.</param>
/// <param name="Errors">All errors (not just the first).</param>
public sealed record DefinitionParseResult(WorkflowDefinition? Definition, IReadOnlyList<ValidationError> Errors)
{
    /// <summary>True when the definition is valid.</summary>
    public bool Succeeded => Definition is not null && Errors.Count == 0;

    /// <summary>Errors grouped by path, the shape of RFC 9457 / ASP.NET <c>errors</c>.</summary>
    public IDictionary<string, string[]> ErrorsByPath()
    {
        var result = new SortedDictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var error in Errors)
        {
            result[error.Path] = result.TryGetValue(error.Path, out var existing) ? [.. existing, error.Message] : [error.Message];
        }

        return result;
    }
}

/// <summary>
/// Parses and writes workflow definitions in the API.md JSON form (camelCase).
/// </summary>
/// <remarks>
/// <para>Validation collects every error. Rules (workflow and stage <c>condition</c>, field <c>expr</c>)
/// are prepared once through <see cref="IRuleEvaluator"/>; a rule that does not prepare is an error at
/// its path (the evaluator's inner path appended). Unknown properties are errors at their path; the
/// read-only properties <c>id</c>, <c>version</c>, <c>active</c>, <c>publishedAt</c> at the top level are
/// ignored so a GET body can be PUT back.</para>
/// <para>Defaults: <c>priority</c> 0, <c>allowSelfApproval</c> false, stage <c>order</c> 1,
/// <c>consensus</c> any, <c>rejection</c> veto, manager <c>levels</c> 1. Durations are ISO 8601 fixed
/// lengths (<see cref="IsoDuration"/>) and must be positive. A consensus <c>count</c> larger than the
/// statically known pool (listed users plus group sizes from the directory given to
/// <see cref="Parse"/>, including escalation approvers) is an error; when the pool depends on the
/// requester or the record it is checked at activation instead.</para>
/// </remarks>
public static class WorkflowDefinitionParser
{
    private static readonly string[] TopLevel = ["name", "model", "event", "condition", "priority", "expiresIn", "allowSelfApproval", "callback", "stages"];
    private static readonly string[] ReadOnlyTopLevel = ["id", "version", "active", "publishedAt"];
    private static readonly string[] StageProperties = ["id", "name", "order", "condition", "approvers", "consensus", "rejection", "reminderEvery", "escalation", "timeout", "denialMessage"];
    private static readonly string[] ApproverProperties = ["type", "id", "levels", "expr"];
    private static readonly string[] ConsensusProperties = ["mode", "count", "percent", "groups"];
    private static readonly string[] EscalationProperties = ["after", "approvers"];
    private static readonly string[] TimeoutProperties = ["after", "action"];
    private static readonly string[] CallbackProperties = ["url", "events", "secret", "maxAttempts", "initialBackoff", "maxBackoff"];
    private static readonly string[] CallbackEvents = ["approved", "rejected", "expired", "cancelled"];

    /// <summary>
    /// Parses a <c>PUT /api/v1/workflows/{workflowId}</c> body into a definition (version 1, active;
    /// the store assigns the real version and publish time). Never throws on bad input.
    /// </summary>
    public static DefinitionParseResult Parse(string tenantId, string workflowId, JsonElement body, IRuleEvaluator rules, DirectorySnapshot? directory = null)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var parser = new Parser(rules, directory);
        var definition = parser.Workflow(tenantId ?? "", workflowId ?? "", body);
        return parser.Errors.Count == 0 && definition is not null
            ? new DefinitionParseResult(definition, [])
            : new DefinitionParseResult(null, parser.Errors);
    }

    /// <summary>
    /// The API form for GET responses: the PUT body plus read-only <c>id</c>, <c>version</c>,
    /// <c>active</c> and <c>publishedAt</c>. The callback secret is never written.
    /// </summary>
    public static JsonElement ToApiJson(WorkflowDefinition d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", d.Id);
            writer.WriteNumber("version", d.Version);
            writer.WriteBoolean("active", d.Active);
            writer.WriteString("publishedAt", d.PublishedAt);
            WriteBody(writer, d, includeSecret: false);
            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// The storage form: <c>{"tenantId","id","version","active","publishedAt","definition":{…body including the secret…}}</c>.
    /// <see cref="FromStorageJson"/> reads it back to an equal definition (and writing that again gives the same text).
    /// </summary>
    public static string ToStorageJson(WorkflowDefinition d)
    {
        ArgumentNullException.ThrowIfNull(d);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("tenantId", d.TenantId);
            writer.WriteString("id", d.Id);
            writer.WriteNumber("version", d.Version);
            writer.WriteBoolean("active", d.Active);
            writer.WriteString("publishedAt", d.PublishedAt);
            writer.WriteStartObject("definition");
            WriteBody(writer, d, includeSecret: true);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads the storage form written by <see cref="ToStorageJson"/>. Never throws on bad input.</summary>
    public static DefinitionParseResult FromStorageJson(string json, IRuleEvaluator rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        try
        {
            using var document = JsonDocument.Parse(json ?? "");
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("tenantId", out var tenant) || tenant.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("version", out var version) || !version.TryGetInt32(out var versionNumber)
                || !root.TryGetProperty("active", out var active) || active.ValueKind is not (JsonValueKind.True or JsonValueKind.False)
                || !root.TryGetProperty("publishedAt", out var published) || !published.TryGetDateTimeOffset(out var publishedAt)
                || !root.TryGetProperty("definition", out var body))
            {
                return new DefinitionParseResult(null, [new ValidationError("$", "not a stored workflow definition")]);
            }

            var parsed = Parse(tenant.GetString()!, id.GetString()!, body, rules);
            return parsed.Definition is null
                ? parsed
                : parsed with { Definition = parsed.Definition with { Version = versionNumber, Active = active.GetBoolean(), PublishedAt = publishedAt } };
        }
        catch (JsonException ex)
        {
            return new DefinitionParseResult(null, [new ValidationError("$", "invalid JSON: " + ex.Message)]);
        }
    }

    private static void WriteBody(Utf8JsonWriter w, WorkflowDefinition d, bool includeSecret)
    {
        w.WriteString("name", d.Name);
        w.WriteString("model", d.Model);
        w.WriteString("event", d.Event);
        if (d.Condition is not null)
        {
            w.WritePropertyName("condition");
            d.Condition.Json.WriteTo(w);
        }

        w.WriteNumber("priority", d.Priority);
        if (d.ExpiresIn is { } expiresIn)
        {
            w.WriteString("expiresIn", IsoDuration.Format(expiresIn));
        }

        w.WriteBoolean("allowSelfApproval", d.AllowSelfApproval);
        if (d.Callback is { } callback)
        {
            w.WriteStartObject("callback");
            w.WriteString("url", callback.Url.OriginalString);
            w.WriteStartArray("events");
            foreach (var e in callback.Events)
            {
                w.WriteStringValue(e);
            }

            w.WriteEndArray();
            if (includeSecret && callback.Secret is not null)
            {
                w.WriteString("secret", callback.Secret);
            }

            w.WriteNumber("maxAttempts", callback.MaxAttempts);
            w.WriteString("initialBackoff", IsoDuration.Format(callback.InitialBackoff));
            w.WriteString("maxBackoff", IsoDuration.Format(callback.MaxBackoff));
            w.WriteEndObject();
        }

        w.WriteStartArray("stages");
        foreach (var stage in d.Stages)
        {
            w.WriteStartObject();
            w.WriteString("id", stage.Id);
            if (stage.Name is not null)
            {
                w.WriteString("name", stage.Name);
            }

            w.WriteNumber("order", stage.Order);
            if (stage.Condition is not null)
            {
                w.WritePropertyName("condition");
                stage.Condition.Json.WriteTo(w);
            }

            w.WritePropertyName("approvers");
            WriteApprovers(w, stage.Approvers);
            w.WriteStartObject("consensus");
            w.WriteString("mode", ModeName(stage.Consensus.Mode));
            if (stage.Consensus.Count is { } count)
            {
                w.WriteNumber("count", count);
            }

            if (stage.Consensus.Percent is { } percent)
            {
                w.WriteNumber("percent", percent);
            }

            if (stage.Consensus.Groups is { } groups)
            {
                w.WriteStartArray("groups");
                foreach (var g in groups)
                {
                    w.WriteStringValue(g);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteString("rejection", stage.Rejection == RejectionStyle.Veto ? "veto" : "quorum");
            if (stage.ReminderEvery is { } every)
            {
                w.WriteString("reminderEvery", IsoDuration.Format(every));
            }

            if (stage.Escalation.Count > 0)
            {
                w.WriteStartArray("escalation");
                foreach (var level in stage.Escalation)
                {
                    w.WriteStartObject();
                    w.WriteString("after", IsoDuration.Format(level.After));
                    w.WritePropertyName("approvers");
                    WriteApprovers(w, level.Approvers);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            if (stage.Timeout is { } timeout)
            {
                w.WriteStartObject("timeout");
                w.WriteString("after", IsoDuration.Format(timeout.After));
                w.WriteString("action", timeout.Action == TimeoutAction.Reject ? "reject" : "expire");
                w.WriteEndObject();
            }

            if (stage.DenialMessage is not null)
            {
                w.WriteString("denialMessage", stage.DenialMessage);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteApprovers(Utf8JsonWriter w, IReadOnlyList<ApproverSpec> approvers)
    {
        w.WriteStartArray();
        foreach (var a in approvers)
        {
            w.WriteStartObject();
            w.WriteString("type", TypeName(a.Type));
            if (a.Id is not null)
            {
                w.WriteString("id", a.Id);
            }

            if (a.Type == ApproverType.Manager)
            {
                w.WriteNumber("levels", a.Levels);
            }

            if (a.Expr is not null)
            {
                w.WritePropertyName("expr");
                a.Expr.Json.WriteTo(w);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// <summary>The API name of an approver type.</summary>
    public static string TypeName(ApproverType type) => type switch
    {
        ApproverType.User => "user",
        ApproverType.Group => "group",
        ApproverType.Manager => "manager",
        ApproverType.DepartmentManager => "departmentManager",
        _ => "field",
    };

    /// <summary>The API name of a consensus mode.</summary>
    public static string ModeName(ConsensusMode mode) => mode switch
    {
        ConsensusMode.Any => "any",
        ConsensusMode.All => "all",
        ConsensusMode.Count => "count",
        ConsensusMode.Majority => "majority",
        ConsensusMode.Percent => "percent",
        _ => "groups",
    };

    private sealed class Parser(IRuleEvaluator rules, DirectorySnapshot? directory)
    {
        public List<ValidationError> Errors { get; } = [];

        private void Error(string path, string message) => Errors.Add(new ValidationError(path, message));

        public WorkflowDefinition? Workflow(string tenantId, string workflowId, JsonElement body)
        {
            if (string.IsNullOrWhiteSpace(workflowId))
            {
                Error("workflowId", "The workflow id is required.");
            }

            if (body.ValueKind != JsonValueKind.Object)
            {
                Error("$", "The body must be a JSON object.");
                return null;
            }

            CheckProperties(body, "", TopLevel, ReadOnlyTopLevel);
            var name = RequiredString(body, "name", "");
            var model = RequiredString(body, "model", "");
            var evt = RequiredString(body, "event", "");
            var condition = OptionalRule(body, "condition", "");
            var priority = 0;
            if (Present(body, "priority", out var priorityElement) && !(priorityElement.ValueKind == JsonValueKind.Number && priorityElement.TryGetInt32(out priority)))
            {
                Error("priority", "The priority must be an integer.");
            }

            var expiresIn = OptionalDuration(body, "expiresIn", "expiresIn");
            var allowSelf = OptionalBool(body, "allowSelfApproval", "allowSelfApproval");
            var callback = Callback(body);
            var stages = Stages(body);
            if (Errors.Count > 0)
            {
                return null;
            }

            return new WorkflowDefinition
            {
                TenantId = tenantId,
                Id = workflowId,
                Name = name!,
                Model = model!,
                Event = evt!,
                Condition = condition,
                Priority = priority,
                ExpiresIn = expiresIn,
                AllowSelfApproval = allowSelf,
                Callback = callback,
                Stages = stages,
            };
        }

        private List<StageDefinition> Stages(JsonElement body)
        {
            var result = new List<StageDefinition>();
            if (!Present(body, "stages", out var stages))
            {
                Error("stages", "At least one stage is required.");
                return result;
            }

            if (stages.ValueKind != JsonValueKind.Array)
            {
                Error("stages", "The stages must be an array.");
                return result;
            }

            if (stages.GetArrayLength() == 0)
            {
                Error("stages", "At least one stage is required.");
                return result;
            }

            var ids = new HashSet<string>(StringComparer.Ordinal);
            var i = 0;
            foreach (var stage in stages.EnumerateArray())
            {
                var path = Inv($"stages[{i}]");
                var parsed = Stage(stage, path);
                if (parsed is not null)
                {
                    if (!ids.Add(parsed.Id))
                    {
                        Error(path + ".id", "Duplicate stage id '" + parsed.Id + "'; stage ids must be unique.");
                    }

                    result.Add(parsed);
                }

                i++;
            }

            return result;
        }

        private StageDefinition? Stage(JsonElement stage, string path)
        {
            if (stage.ValueKind != JsonValueKind.Object)
            {
                Error(path, "A stage must be an object.");
                return null;
            }

            CheckProperties(stage, path + ".", StageProperties, []);
            var id = RequiredString(stage, "id", path + ".");
            var name = OptionalString(stage, "name", path + ".name");
            var order = 1;
            if (Present(stage, "order", out var orderElement))
            {
                if (!(orderElement.ValueKind == JsonValueKind.Number && orderElement.TryGetInt32(out order)) || order < 1)
                {
                    Error(path + ".order", "The order must be an integer of at least 1.");
                }
            }

            var condition = OptionalRule(stage, "condition", path + ".");
            var approvers = Approvers(stage, path + ".approvers", required: true);
            var escalation = Escalation(stage, path + ".escalation");
            var consensus = Consensus(stage, path + ".consensus", approvers, escalation);
            var rejection = RejectionStyle.Veto;
            if (Present(stage, "rejection", out var rejectionElement))
            {
                switch (rejectionElement.ValueKind == JsonValueKind.String ? rejectionElement.GetString() : null)
                {
                    case "veto":
                        break;
                    case "quorum":
                        rejection = RejectionStyle.Quorum;
                        break;
                    default:
                        Error(path + ".rejection", "The rejection must be 'veto' or 'quorum'.");
                        break;
                }
            }

            var reminderEvery = OptionalDuration(stage, "reminderEvery", path + ".reminderEvery");
            var timeout = Timeout(stage, path + ".timeout");
            for (var k = 0; k < escalation.Count; k++)
            {
                if (k > 0 && escalation[k].After <= escalation[k - 1].After)
                {
                    Error(Inv($"{path}.escalation[{k}].after"), "Escalation levels must be in strictly ascending 'after' order.");
                }

                if (timeout is not null && escalation[k].After >= timeout.After)
                {
                    Error(Inv($"{path}.escalation[{k}].after"), "An escalation level must come before the stage timeout.");
                }
            }

            var denial = OptionalString(stage, "denialMessage", path + ".denialMessage");
            if (id is null)
            {
                return null;
            }

            return new StageDefinition
            {
                Id = id,
                Name = name,
                Order = order,
                Condition = condition,
                Approvers = approvers,
                Consensus = consensus,
                Rejection = rejection,
                ReminderEvery = reminderEvery,
                Escalation = escalation,
                Timeout = timeout,
                DenialMessage = denial,
            };
        }

        private List<ApproverSpec> Approvers(JsonElement owner, string path, bool required)
        {
            var result = new List<ApproverSpec>();
            if (!Present(owner, "approvers", out var approvers) || approvers.ValueKind != JsonValueKind.Array)
            {
                Error(path, "The approvers must be a non-empty array.");
                return result;
            }

            if (approvers.GetArrayLength() == 0 && required)
            {
                Error(path, "At least one approver is required.");
                return result;
            }

            var j = 0;
            foreach (var approver in approvers.EnumerateArray())
            {
                var at = Inv($"{path}[{j}]");
                j++;
                if (approver.ValueKind != JsonValueKind.Object)
                {
                    Error(at, "An approver must be an object.");
                    continue;
                }

                CheckProperties(approver, at + ".", ApproverProperties, []);
                var typeName = Present(approver, "type", out var typeElement) && typeElement.ValueKind == JsonValueKind.String ? typeElement.GetString() : null;
                ApproverType type;
                switch (typeName)
                {
                    case "user": type = ApproverType.User; break;
                    case "group": type = ApproverType.Group; break;
                    case "manager": type = ApproverType.Manager; break;
                    case "departmentManager": type = ApproverType.DepartmentManager; break;
                    case "field": type = ApproverType.Field; break;
                    default:
                        Error(at + ".type", typeName is null
                            ? "The approver type is required: user, group, manager, departmentManager or field."
                            : "Unknown approver type '" + typeName + "'; expected user, group, manager, departmentManager or field.");
                        continue;
                }

                string? id = null;
                if (type is ApproverType.User or ApproverType.Group)
                {
                    id = OptionalString(approver, "id", at + ".id");
                    if (string.IsNullOrWhiteSpace(id))
                    {
                        Error(at + ".id", "A " + typeName + " approver needs an id.");
                    }
                }
                else if (Present(approver, "id", out _))
                {
                    Error(at + ".id", "'id' applies only to user and group approvers.");
                }

                var levels = 1;
                if (Present(approver, "levels", out var levelsElement))
                {
                    if (type != ApproverType.Manager)
                    {
                        Error(at + ".levels", "'levels' applies only to manager approvers.");
                    }
                    else if (!(levelsElement.ValueKind == JsonValueKind.Number && levelsElement.TryGetInt32(out levels)) || levels < 1 || levels > 10)
                    {
                        Error(at + ".levels", "The levels must be an integer from 1 to 10.");
                    }
                }

                Rule? expr = null;
                if (type == ApproverType.Field)
                {
                    if (!Present(approver, "expr", out _))
                    {
                        Error(at + ".expr", "A field approver needs an expr (JSON Logic returning user ids).");
                    }
                    else if (approver.GetProperty("expr").ValueKind == JsonValueKind.Null)
                    {
                        Error(at + ".expr", "A field approver needs an expr (JSON Logic returning user ids), not null.");
                    }
                    else
                    {
                        expr = OptionalRule(approver, "expr", at + ".");
                    }
                }
                else if (Present(approver, "expr", out _))
                {
                    Error(at + ".expr", "'expr' applies only to field approvers.");
                }

                result.Add(new ApproverSpec { Type = type, Id = id, Levels = levels, Expr = expr });
            }

            return result;
        }

        private List<EscalationLevel> Escalation(JsonElement stage, string path)
        {
            var result = new List<EscalationLevel>();
            if (!Present(stage, "escalation", out var escalation))
            {
                return result;
            }

            if (escalation.ValueKind != JsonValueKind.Array)
            {
                Error(path, "The escalation must be an array of levels.");
                return result;
            }

            var k = 0;
            foreach (var level in escalation.EnumerateArray())
            {
                var at = Inv($"{path}[{k}]");
                k++;
                if (level.ValueKind != JsonValueKind.Object)
                {
                    Error(at, "An escalation level must be an object.");
                    continue;
                }

                CheckProperties(level, at + ".", EscalationProperties, []);
                var after = RequiredDuration(level, "after", at + ".after");
                var approvers = Approvers(level, at + ".approvers", required: true);
                if (after is { } a)
                {
                    result.Add(new EscalationLevel { After = a, Approvers = approvers });
                }
            }

            return result;
        }

        private StageTimeout? Timeout(JsonElement stage, string path)
        {
            if (!Present(stage, "timeout", out var timeout))
            {
                return null;
            }

            if (timeout.ValueKind != JsonValueKind.Object)
            {
                Error(path, "The timeout must be an object {after, action}.");
                return null;
            }

            CheckProperties(timeout, path + ".", TimeoutProperties, []);
            var after = RequiredDuration(timeout, "after", path + ".after");
            TimeoutAction? action = null;
            switch (Present(timeout, "action", out var actionElement) && actionElement.ValueKind == JsonValueKind.String ? actionElement.GetString() : null)
            {
                case "reject":
                    action = TimeoutAction.Reject;
                    break;
                case "expire":
                    action = TimeoutAction.Expire;
                    break;
                default:
                    Error(path + ".action", "The timeout action must be 'reject' or 'expire' (nothing is ever approved by a timer).");
                    break;
            }

            return after is { } a && action is { } act ? new StageTimeout { After = a, Action = act } : null;
        }

        private ConsensusSpec Consensus(JsonElement stage, string path, List<ApproverSpec> approvers, List<EscalationLevel> escalation)
        {
            if (!Present(stage, "consensus", out var consensus))
            {
                return ConsensusSpec.Any;
            }

            if (consensus.ValueKind != JsonValueKind.Object)
            {
                Error(path, "The consensus must be an object {mode, ...}.");
                return ConsensusSpec.Any;
            }

            CheckProperties(consensus, path + ".", ConsensusProperties, []);
            var modeName = Present(consensus, "mode", out var modeElement) && modeElement.ValueKind == JsonValueKind.String ? modeElement.GetString() : null;
            ConsensusMode mode;
            switch (modeName)
            {
                case "any": mode = ConsensusMode.Any; break;
                case "all": mode = ConsensusMode.All; break;
                case "count": mode = ConsensusMode.Count; break;
                case "majority": mode = ConsensusMode.Majority; break;
                case "percent": mode = ConsensusMode.Percent; break;
                case "groups": mode = ConsensusMode.Groups; break;
                default:
                    Error(path + ".mode", "The consensus mode must be any, all, count, majority, percent or groups.");
                    return ConsensusSpec.Any;
            }

            int? count = null;
            if (Present(consensus, "count", out var countElement))
            {
                if (mode != ConsensusMode.Count)
                {
                    Error(path + ".count", "'count' applies only to mode 'count'.");
                }
                else if (countElement.ValueKind == JsonValueKind.Number && countElement.TryGetInt32(out var c) && c >= 1)
                {
                    count = c;
                    var pool = StaticPool(approvers, escalation);
                    if (pool is { } size && c > size)
                    {
                        Error(path + ".count", Inv($"The count {c} is larger than the approver pool ({size} distinct approvers, escalation included)."));
                    }
                }
                else
                {
                    Error(path + ".count", "The count must be an integer of at least 1.");
                }
            }
            else if (mode == ConsensusMode.Count)
            {
                Error(path + ".count", "Mode 'count' needs a count.");
            }

            int? percent = null;
            if (Present(consensus, "percent", out var percentElement))
            {
                if (mode != ConsensusMode.Percent)
                {
                    Error(path + ".percent", "'percent' applies only to mode 'percent'.");
                }
                else if (percentElement.ValueKind == JsonValueKind.Number && percentElement.TryGetInt32(out var p) && p is >= 1 and <= 100)
                {
                    percent = p;
                }
                else
                {
                    Error(path + ".percent", "The percent must be an integer from 1 to 100.");
                }
            }
            else if (mode == ConsensusMode.Percent)
            {
                Error(path + ".percent", "Mode 'percent' needs a percent.");
            }

            List<string>? groups = null;
            if (Present(consensus, "groups", out var groupsElement))
            {
                if (mode != ConsensusMode.Groups)
                {
                    Error(path + ".groups", "'groups' applies only to mode 'groups'.");
                }
                else
                {
                    groups = StringList(groupsElement, path + ".groups", "group id");
                    if (groups is { Count: 0 })
                    {
                        Error(path + ".groups", "Mode 'groups' needs at least one group.");
                    }
                }
            }
            else if (mode == ConsensusMode.Groups)
            {
                Error(path + ".groups", "Mode 'groups' needs at least one group.");
            }

            return new ConsensusSpec { Mode = mode, Count = count, Percent = percent, Groups = groups };
        }

        /// <summary>The number of distinct people the specs can resolve to, when that does not depend on the requester or record.</summary>
        private int? StaticPool(List<ApproverSpec> approvers, List<EscalationLevel> escalation)
        {
            var people = new HashSet<string>(StringComparer.Ordinal);
            var all = new List<ApproverSpec>(approvers);
            foreach (var level in escalation)
            {
                all.AddRange(level.Approvers);
            }

            foreach (var spec in all)
            {
                switch (spec.Type)
                {
                    case ApproverType.User when spec.Id is not null:
                        people.Add(spec.Id);
                        break;
                    case ApproverType.Group when spec.Id is not null && directory is not null:
                        people.UnionWith(directory.GroupMembers(spec.Id));
                        break;
                    default:
                        return null;
                }
            }

            return people.Count;
        }

        private CallbackDefinition? Callback(JsonElement body)
        {
            if (!Present(body, "callback", out var callback) || callback.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (callback.ValueKind != JsonValueKind.Object)
            {
                Error("callback", "The callback must be an object {url, events, secret}.");
                return null;
            }

            CheckProperties(callback, "callback.", CallbackProperties, []);
            var urlText = OptionalString(callback, "url", "callback.url");
            Uri? url = null;
            if (urlText is null || !Uri.TryCreate(urlText, UriKind.Absolute, out url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                Error("callback.url", "The callback url must be an absolute http or https URL.");
                url = null;
            }

            List<string>? events = null;
            if (!Present(callback, "events", out var eventsElement))
            {
                Error("callback.events", "The callback events are required: any of approved, rejected, expired, cancelled.");
            }
            else
            {
                events = StringList(eventsElement, "callback.events", "event");
                if (events is not null)
                {
                    if (events.Count == 0)
                    {
                        Error("callback.events", "At least one callback event is required.");
                    }

                    for (var i = 0; i < events.Count; i++)
                    {
                        if (Array.IndexOf(CallbackEvents, events[i]) < 0)
                        {
                            Error(Inv($"callback.events[{i}]"), "Unknown callback event '" + events[i] + "'; expected approved, rejected, expired or cancelled.");
                        }
                    }
                }
            }

            var secret = OptionalString(callback, "secret", "callback.secret");
            var maxAttempts = 8;
            if (Present(callback, "maxAttempts", out var attemptsElement)
                && !(attemptsElement.ValueKind == JsonValueKind.Number && attemptsElement.TryGetInt32(out maxAttempts) && maxAttempts is >= 1 and <= 100))
            {
                Error("callback.maxAttempts", "The maxAttempts must be an integer from 1 to 100.");
            }

            var initial = OptionalDuration(callback, "initialBackoff", "callback.initialBackoff") ?? TimeSpan.FromSeconds(2);
            var max = OptionalDuration(callback, "maxBackoff", "callback.maxBackoff") ?? TimeSpan.FromMinutes(10);
            if (max < initial)
            {
                Error("callback.maxBackoff", "The maxBackoff must not be shorter than the initialBackoff.");
            }

            return url is null || events is null
                ? null
                : new CallbackDefinition { Url = url, Events = events, Secret = secret, MaxAttempts = maxAttempts, InitialBackoff = initial, MaxBackoff = max };
        }

        private List<string>? StringList(JsonElement element, string path, string what)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, "Expected an array of " + what + "s.");
                return null;
            }

            var result = new List<string>();
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                var value = item.ValueKind == JsonValueKind.String ? item.GetString() : null;
                if (string.IsNullOrWhiteSpace(value))
                {
                    Error(Inv($"{path}[{i}]"), "Expected a non-empty " + what + ".");
                }
                else if (result.Contains(value))
                {
                    Error(Inv($"{path}[{i}]"), "Duplicate " + what + " '" + value + "'.");
                }
                else
                {
                    result.Add(value);
                }

                i++;
            }

            return result;
        }

        private void CheckProperties(JsonElement element, string prefix, string[] allowed, string[] ignored)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    Error(prefix + property.Name, "Duplicate property '" + property.Name + "'.");
                }
                else if (Array.IndexOf(allowed, property.Name) < 0 && Array.IndexOf(ignored, property.Name) < 0)
                {
                    Error(prefix + property.Name, "Unknown property '" + property.Name + "'.");
                }
            }
        }

        private static bool Present(JsonElement owner, string name, out JsonElement value) =>
            owner.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Undefined;

        private string? RequiredString(JsonElement owner, string name, string prefix)
        {
            if (!Present(owner, name, out var value) || value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(value.GetString()))
            {
                Error(prefix + name, "The " + name + " is required and must be a non-empty string.");
                return null;
            }

            return value.GetString();
        }

        private string? OptionalString(JsonElement owner, string name, string path)
        {
            if (!Present(owner, name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.String)
            {
                Error(path, "The " + name + " must be a string.");
                return null;
            }

            return value.GetString();
        }

        private bool OptionalBool(JsonElement owner, string name, string path)
        {
            if (!Present(owner, name, out var value))
            {
                return false;
            }

            if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return value.GetBoolean();
            }

            Error(path, "The " + name + " must be true or false.");
            return false;
        }

        private TimeSpan? OptionalDuration(JsonElement owner, string name, string path) =>
            Present(owner, name, out var value) && value.ValueKind != JsonValueKind.Null ? Duration(value, path) : null;

        private TimeSpan? RequiredDuration(JsonElement owner, string name, string path)
        {
            if (!Present(owner, name, out var value))
            {
                Error(path, "A duration is required, e.g. PT4H or P3D.");
                return null;
            }

            return Duration(value, path);
        }

        private TimeSpan? Duration(JsonElement value, string path)
        {
            if (value.ValueKind != JsonValueKind.String)
            {
                Error(path, "A duration must be an ISO 8601 string, e.g. PT4H or P3D.");
                return null;
            }

            if (!IsoDuration.TryParse(value.GetString(), out var duration, out var error))
            {
                Error(path, "Invalid duration: " + error + ".");
                return null;
            }

            if (duration <= TimeSpan.Zero)
            {
                Error(path, "The duration must be positive.");
                return null;
            }

            return duration;
        }

        private Rule? OptionalRule(JsonElement owner, string name, string prefix)
        {
            if (!Present(owner, name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            var path = prefix + name;
            RulePreparation preparation;
            try
            {
                preparation = rules.Prepare(value);
            }
#pragma warning disable CA1031 // The evaluator promises not to throw; a bug there must still not turn a client's bad rule into a 500.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Error(path, "The rule could not be prepared: " + ex.Message);
                return null;
            }

            if (preparation.Rule is null)
            {
                if (preparation.Problems.Count == 0)
                {
                    Error(path, "The rule is not valid JSON Logic.");
                }

                foreach (var problem in preparation.Problems)
                {
                    var inner = problem.Path;
                    if (inner.StartsWith('$'))
                    {
                        inner = inner[1..];
                    }

                    Error(inner.Length == 0 ? path : inner[0] is '.' or '[' ? path + inner : path + "." + inner, problem.Message);
                }

                return null;
            }

            return new Rule(value, preparation.Rule);
        }

        private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
    }
}
