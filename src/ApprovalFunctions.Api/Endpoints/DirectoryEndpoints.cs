using System.Text.Json;
using ApprovalFunctions.Api.Contracts;
using ApprovalFunctions.Api.Http;
using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Runtime.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ApprovalFunctions.Api.Endpoints;

/// <summary>The tenant directory (admin) and delegations.</summary>
public static class DirectoryEndpoints
{
    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapDirectoryEndpoints(this IEndpointRouteBuilder app)
    {
        var directory = app.MapGroup("/api/v1/directory").WithTags("Directory");
        directory.MapPut("/users/{userId}", (HttpRequest r, string userId) => PutUserAsync(r, userId)).WithName("PutUser").Body<DirectoryUserRequest>().Answers<DirectoryUser>(200, 400, 401, 403, 413, 415);
        directory.MapGet("/users", (HttpRequest r) => ListUsersAsync(r)).WithName("ListUsers").Answers<PageView<DirectoryUser>>(200, 401);
        directory.MapPut("/groups/{groupId}", (HttpRequest r, string groupId) => PutGroupAsync(r, groupId)).WithName("PutGroup").Body<DirectoryGroupRequest>().Answers<DirectoryGroup>(200, 400, 401, 403, 413, 415);
        directory.MapGet("/groups", (HttpRequest r) => ListGroupsAsync(r)).WithName("ListGroups").Answers<PageView<DirectoryGroup>>(200, 401);
        directory.MapPut("/departments/{departmentId}", (HttpRequest r, string departmentId) => PutDepartmentAsync(r, departmentId))
            .WithName("PutDepartment").Body<DirectoryDepartmentRequest>().Answers<DirectoryDepartment>(200, 400, 401, 403, 413, 415);
        directory.MapPost("/import", (HttpRequest r) => ImportAsync(r)).WithName("ImportDirectory").Body<DirectoryImportRequest>().Answers<DirectoryImportResult>(200, 400, 401, 403, 413, 415);

        var delegations = app.MapGroup("/api/v1/delegations").WithTags("Delegations");
        delegations.MapPost("", (HttpRequest r) => CreateDelegationAsync(r)).WithName("CreateDelegation").Body<DelegationRequest>().Answers<Delegation>(201, 400, 401, 403, 413, 415);
        delegations.MapGet("", (HttpRequest r) => ListDelegationsAsync(r)).WithName("ListDelegations").Answers<PageView<Delegation>>(200, 401);
        return app;
    }

    /// <summary><c>PUT /api/v1/directory/users/{userId}</c>.</summary>
    public static async Task<IResult> PutUserAsync(HttpRequest request, string userId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            var user = ReadUser(reader, userId, "");
            if (reader.HasErrors || user is null)
            {
                return Problems.Validation(reader.Errors);
            }

            await request.Service<DirectoryStore>().PutUserAsync(caller.TenantId, user, request.HttpContext.RequestAborted).ConfigureAwait(false);
            request.Service<DirectoryCache>().Invalidate(caller.TenantId);
            return TypedResults.Json(user, ApiJson.Options);
        }
    }

    /// <summary><c>PUT /api/v1/directory/groups/{groupId}</c>.</summary>
    public static async Task<IResult> PutGroupAsync(HttpRequest request, string groupId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            var group = ReadGroup(reader, groupId, "");
            if (reader.HasErrors || group is null)
            {
                return Problems.Validation(reader.Errors);
            }

            await request.Service<DirectoryStore>().PutGroupAsync(caller.TenantId, group, request.HttpContext.RequestAborted).ConfigureAwait(false);
            request.Service<DirectoryCache>().Invalidate(caller.TenantId);
            return TypedResults.Json(group, ApiJson.Options);
        }
    }

    /// <summary><c>PUT /api/v1/directory/departments/{departmentId}</c> <c>{"name","manager"}</c>.</summary>
    public static async Task<IResult> PutDepartmentAsync(HttpRequest request, string departmentId)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            var department = ReadDepartment(reader, departmentId, "");
            if (reader.HasErrors || department is null)
            {
                return Problems.Validation(reader.Errors);
            }

            await request.Service<DirectoryStore>().PutDepartmentAsync(caller.TenantId, department, request.HttpContext.RequestAborted)
                .ConfigureAwait(false);
            request.Service<DirectoryCache>().Invalidate(caller.TenantId);
            return TypedResults.Json(department, ApiJson.Options);
        }
    }

    /// <summary><c>POST /api/v1/directory/import</c> <c>{"users":[…],"groups":[…],"departments":[…]}</c>; each item carries its <c>id</c>.</summary>
    public static async Task<IResult> ImportAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAdminAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var top = new BodyReader(body.Root);
            top.NoOtherProperties("users", "groups", "departments");
            var users = new List<DirectoryUser>();
            var groups = new List<DirectoryGroup>();
            var departments = new List<DirectoryDepartment>();
            ReadItems(body.Root, "users", top, (item, path) => ReadUser(new BodyReader(item), null, path, top), users);
            ReadItems(body.Root, "groups", top, (item, path) => ReadGroup(new BodyReader(item), null, path, top), groups);
            ReadItems(body.Root, "departments", top, (item, path) => ReadDepartment(new BodyReader(item), null, path, top), departments);
            if (top.HasErrors)
            {
                return Problems.Validation(top.Errors);
            }

            await request.Service<DirectoryStore>().ImportAsync(caller.TenantId, users, groups, departments, request.HttpContext.RequestAborted)
                .ConfigureAwait(false);
            request.Service<DirectoryCache>().Invalidate(caller.TenantId);
            return TypedResults.Json(new { users = users.Count, groups = groups.Count, departments = departments.Count }, ApiJson.Options);
        }
    }

    /// <summary><c>GET /api/v1/directory/users</c>.</summary>
    public static async Task<IResult> ListUsersAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var snapshot = await request.Service<DirectoryCache>().GetAsync(caller.TenantId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return TypedResults.Json(new PageView<DirectoryUser>([.. snapshot.Users.OrderBy(u => u.Id, StringComparer.Ordinal)], null), ApiJson.Options);
    }

    /// <summary><c>GET /api/v1/directory/groups</c>.</summary>
    public static async Task<IResult> ListGroupsAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var groups = await request.Service<DirectoryStore>().ListGroupsAsync(caller.TenantId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        return TypedResults.Json(new PageView<DirectoryGroup>(groups, null), ApiJson.Options);
    }

    /// <summary>
    /// <c>POST /api/v1/delegations</c> <c>{"from","to","startsAt","endsAt"}</c>: out-of-office. Users delegate their own
    /// approvals; admins may delegate anyone's. When it is already in effect, the delegate joins the pending stages now.
    /// </summary>
    public static async Task<IResult> CreateDelegationAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var (body, bodyProblem) = await JsonBody.ReadAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            return bodyProblem!;
        }

        using (body)
        {
            var reader = new BodyReader(body.Root);
            reader.NoOtherProperties("from", "to", "startsAt", "endsAt");
            var from = reader.String("from", required: false) ?? caller.UserId;
            var to = reader.String("to", required: true);
            var startsAt = reader.Time("startsAt", required: false) ?? request.Now();
            var endsAt = reader.Time("endsAt", required: true);
            if (endsAt is not null && endsAt <= startsAt)
            {
                reader.Error("endsAt", "'endsAt' must be after 'startsAt'.");
            }

            if (to is not null && string.Equals(to, from, StringComparison.Ordinal))
            {
                reader.Error("to", "A user cannot delegate to themselves.");
            }

            if (reader.HasErrors)
            {
                return Problems.Validation(reader.Errors);
            }

            if (!caller.IsAdmin && !string.Equals(from, caller.UserId, StringComparison.Ordinal))
            {
                return Problems.Forbidden("Only an admin may create a delegation for another user.");
            }

            var delegation = new Delegation
            {
                Id = Guid.CreateVersion7().ToString("N"),
                From = from,
                To = to!,
                StartsAt = startsAt,
                EndsAt = endsAt!.Value,
            };
            var ct = request.HttpContext.RequestAborted;
            await request.Service<DirectoryStore>().PutDelegationAsync(caller.TenantId, delegation, ct).ConfigureAwait(false);
            request.Service<DirectoryCache>().Invalidate(caller.TenantId);
            await request.Service<DelegationActivator>().ScheduleAsync(caller.TenantId, delegation, ct).ConfigureAwait(false);
            return TypedResults.Json(delegation, ApiJson.Options, statusCode: StatusCodes.Status201Created);
        }
    }

    /// <summary><c>GET /api/v1/delegations</c>: mine (from or to me); all for admins.</summary>
    public static async Task<IResult> ListDelegationsAsync(HttpRequest request)
    {
        var (caller, problem) = await EndpointContext.AuthenticateAsync(request).ConfigureAwait(false);
        if (caller is null)
        {
            return problem!;
        }

        var snapshot = await request.Service<DirectoryCache>().GetAsync(caller.TenantId, request.HttpContext.RequestAborted).ConfigureAwait(false);
        var items = snapshot.Delegations
            .Where(d => caller.IsAdmin || d.From == caller.UserId || d.To == caller.UserId)
            .OrderBy(d => d.StartsAt)
            .ToList();
        return TypedResults.Json(new PageView<Delegation>(items, null), ApiJson.Options);
    }

    private static void ReadItems<T>(JsonElement root, string name, BodyReader errors, Func<JsonElement, string, T?> read, List<T> into)
        where T : class
    {
        if (!root.TryGetProperty(name, out var array) || array.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            errors.Error(name, $"'{name}' must be an array.");
            return;
        }

        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            var path = $"{name}[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Error(path, "Must be an object.");
                continue;
            }

            if (read(item, path) is { } value)
            {
                into.Add(value);
            }
        }

        if (index > 5000)
        {
            errors.Error(name, "At most 5000 items per import; split larger directories.");
        }
    }

    private static DirectoryUser? ReadUser(BodyReader reader, string? routeId, string path, BodyReader? errors = null)
    {
        reader.NoOtherProperties("id", "name", "email", "groups", "manager", "department");
        var id = routeId ?? reader.String("id", required: true);
        var user = new DirectoryUser
        {
            Id = id ?? "",
            Name = reader.String("name", required: false),
            Email = reader.String("email", required: false),
            Groups = reader.StringArray("groups", maxItems: 200),
            Manager = reader.String("manager", required: false),
            Department = reader.String("department", required: false),
        };
        CheckId(reader, id);

        if (string.Equals(user.Manager, user.Id, StringComparison.Ordinal))
        {
            reader.Error("manager", "A user cannot be their own manager.");
        }

        return Merge(reader, errors, path) ? user : null;
    }

    private static DirectoryGroup? ReadGroup(BodyReader reader, string? routeId, string path, BodyReader? errors = null)
    {
        reader.NoOtherProperties("id", "name", "members");
        var id = routeId ?? reader.String("id", required: true);
        CheckId(reader, id);
        var group = new DirectoryGroup
        {
            Id = id ?? "",
            Name = reader.String("name", required: false),
            Members = reader.StringArray("members", maxItems: 5000),
        };
        return Merge(reader, errors, path) ? group : null;
    }

    private static DirectoryDepartment? ReadDepartment(BodyReader reader, string? routeId, string path, BodyReader? errors = null)
    {
        reader.NoOtherProperties("id", "name", "manager");
        var id = routeId ?? reader.String("id", required: true);
        CheckId(reader, id);
        var department = new DirectoryDepartment
        {
            Id = id ?? "",
            Name = reader.String("name", required: false),
            Manager = reader.String("manager", required: false),
        };
        return Merge(reader, errors, path) ? department : null;
    }

    /// <summary>
    /// Directory ids are names people type and other records point at: 1-100 letters, digits, '-', '_', '.' or '@'
    /// (e-mail-style user ids). Anything else (slashes, '#', '?', control or bidi characters) is refused, as for users.
    /// </summary>
    private static void CheckId(BodyReader reader, string? id)
    {
        if (id is not null && !(id.Length is >= 1 and <= 100 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@')))
        {
            reader.Error("id", "Use 1-100 letters, digits, '-', '_', '.' or '@'.");
        }
    }

    private static bool Merge(BodyReader reader, BodyReader? errors, string path)
    {
        if (errors is null || !reader.HasErrors)
        {
            return !reader.HasErrors;
        }

        foreach (var (field, messages) in reader.Errors)
        {
            foreach (var message in messages)
            {
                errors.Error($"{path}.{field}", message);
            }
        }

        return false;
    }
}
