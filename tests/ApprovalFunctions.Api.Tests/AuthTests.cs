using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ApprovalFunctions.Api.Auth;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalFunctions.Api.Tests;

/// <summary>Bearer tokens through the host: every bad token is a 401 problem; roles gate admin routes; the tenant comes from tid.</summary>
public sealed class AuthTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    public static TheoryData<string> BadTokens => new()
    {
        "forged", "expired", "wrong-audience", "wrong-issuer", "no-sub", "no-tid", "alg-none", "garbage", "empty", "too-long", "hs512",
    };

    internal static string BadToken(string kind)
    {
        var now = DateTimeOffset.UtcNow;
        return kind switch
        {
            "forged" => DevTokens.Mint("another-signing-key-0123456789abcdef0123456789", "t1", "u1", ["admin"], now),
            "expired" => DevTokens.Mint(ApiFactory.SigningKey, "t1", "u1", ["admin"], now.AddHours(-3), TimeSpan.FromHours(1)),
            "wrong-audience" => DevTokens.Mint(ApiFactory.SigningKey, "t1", "u1", ["admin"], now, audience: "someone-else"),
            "wrong-issuer" => DevTokens.Mint(ApiFactory.SigningKey, "t1", "u1", ["admin"], now, issuer: "evil"),
            "no-sub" => Custom(new Dictionary<string, object> { ["tid"] = "t1", ["roles"] = new[] { "admin" } }),
            "no-tid" => Custom(new Dictionary<string, object> { ["sub"] = "u1", ["roles"] = new[] { "admin" } }),
            "alg-none" => Unsigned(),
            "garbage" => "not.a.jwt",
            "empty" => "",
            "too-long" => new string('a', 20_000),
            "hs512" => Custom(new Dictionary<string, object> { ["sub"] = "u1", ["tid"] = "t1" }, SecurityAlgorithms.HmacSha512),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadToken_401Problem(string kind)
    {
        var client = factory.RawClient(BadToken(kind));
        var me = await client.GetAsync("/api/v1/me");
        Assert.Equal("Bearer", me.Headers.WwwAuthenticate.ToString());
        await me.ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
        await (await client.PostAsync("/api/v1/approvals", TestApi.Json(new { model = "m", recordId = "r", record = new { } })))
            .ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer")]
    public async Task NoBearer_401(string? header)
    {
        var client = factory.CreateClient();
        if (header is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", header);
        }

        await (await client.GetAsync("/api/v1/approvals?pendingMyApprovals=true")).ExpectProblemAsync(HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Theory]
    [InlineData("a/b", "u#1")]
    [InlineData("..", "..")]
    [InlineData("t?x=1", "u\\v")]
    [InlineData("t\u0001", "u\n")]
    [InlineData("ten", "\u202Eadmin")]
    public async Task OddTenantOrUserClaims_WorkOrRefuseNever500(string tid, string sub)
    {
        var client = factory.Client(tid, sub, "requester", "approver", "admin");
        foreach (var url in new[] { "/api/v1/me", "/api/v1/approvals?requestedByMe=true", "/api/v1/approvals?pendingMyApprovals=true",
                     "/api/v1/workflows", "/api/v1/directory/users", "/api/v1/delegations", "/api/v1/integrations" })
        {
            var response = await client.GetAsync(url);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode < 500, $"{url}: {(int)response.StatusCode} {text}");
            TestApi.AssertNoLeak(text);
        }

        var submit = await client.PostJsonAsync("/api/v1/approvals", new { model = "m", recordId = "r", record = new { } });
        Assert.True((int)submit.StatusCode < 500, $"submit: {(int)submit.StatusCode} {await submit.Content.ReadAsStringAsync()}");
        var publish = await client.PutJsonAsync("/api/v1/workflows/w1", TestApi.WorkflowJson());
        Assert.True((int)publish.StatusCode < 500, $"publish: {(int)publish.StatusCode} {await publish.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task Me_ValidToken_IdentityFromClaims()
    {
        var client = factory.Client("tenant-x", "zoe", "approver", "requester");
        var me = await (await client.GetAsync("/api/v1/me")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("zoe", me.GetProperty("userId").GetString());
        Assert.Equal("tenant-x", me.GetProperty("tenantId").GetString());
        Assert.Equal(2, me.GetProperty("roles").GetArrayLength());
    }

    [Theory]
    [InlineData("PUT", "/api/v1/workflows/w")]
    [InlineData("DELETE", "/api/v1/workflows/w")]
    [InlineData("PUT", "/api/v1/directory/users/u")]
    [InlineData("PUT", "/api/v1/directory/groups/g")]
    [InlineData("PUT", "/api/v1/directory/departments/d")]
    [InlineData("POST", "/api/v1/directory/import")]
    [InlineData("POST", "/api/v1/integrations")]
    [InlineData("GET", "/api/v1/integrations")]
    [InlineData("POST", "/api/v1/subscriptions")]
    [InlineData("GET", "/api/v1/subscriptions")]
    [InlineData("DELETE", "/api/v1/subscriptions/s")]
    [InlineData("GET", "/api/v1/callbacks?status=failed")]
    [InlineData("POST", "/api/v1/approvals/x/retry")]
    [InlineData("POST", "/api/v1/approvals/x/stages/s/reassign")]
    public async Task AdminRoute_WithApproverAndRequesterRoles_403AdminRequired(string method, string url)
    {
        var client = factory.Client(TestApi.NewTenant(), "u", "approver", "requester");
        var message = new HttpRequestMessage(new HttpMethod(method), url) { Content = TestApi.Json(new { }) };
        await (await client.SendAsync(message)).ExpectProblemAsync(HttpStatusCode.Forbidden, "admin-required");
    }

    [Fact]
    public async Task DevToken_Development_MintsAWorkingToken()
    {
        var client = factory.CreateClient();
        var minted = await (await client.PostJsonAsync("/api/v1/dev/token", new { userId = "alice", tenantId = "dev-t", roles = new[] { "approver" } }))
            .ExpectAsync(HttpStatusCode.OK);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", minted.GetProperty("token").GetString());
        var me = await (await client.GetAsync("/api/v1/me")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("alice", me.GetProperty("userId").GetString());
        Assert.Equal("dev-t", me.GetProperty("tenantId").GetString());
        await (await client.GetAsync("/api/v1/dev/users")).ExpectAsync(HttpStatusCode.OK);
        var problem = await (await client.PostJsonAsync("/api/v1/dev/token", new { })).ExpectProblemAsync(HttpStatusCode.BadRequest, "validation");
        Assert.Contains("userId", TestApi.ErrorPaths(problem));
    }

    [Fact]
    public async Task Health_AndReady_200()
    {
        var client = factory.CreateClient();
        await (await client.GetAsync("/healthz")).ExpectAsync(HttpStatusCode.OK);
        var ready = await (await client.GetAsync("/readyz")).ExpectAsync(HttpStatusCode.OK);
        Assert.Equal("ready", ready.GetProperty("status").GetString());
    }

    private static string Custom(Dictionary<string, object> claims, string algorithm = SecurityAlgorithms.HmacSha256) =>
        Custom(claims, algorithm, algorithm == SecurityAlgorithms.HmacSha256 ? ApiFactory.SigningKey : ApiFactory.SigningKey + ApiFactory.SigningKey);

    private static string Custom(Dictionary<string, object> claims, string algorithm, string key) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AuthOptions.DevIssuer,
            Audience = AuthOptions.DefaultAudience,
            Expires = DateTime.UtcNow.AddHours(1),
            Claims = claims,
            SigningCredentials = new SigningCredentials(DevTokens.Key(key), algorithm),
        });

    private static string Unsigned()
    {
        static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        return B64("""{"alg":"none","typ":"JWT"}""") + "." +
               B64($$"""{"sub":"u1","tid":"t1","roles":["admin"],"iss":"approvals-dev","aud":"approvals","exp":{{exp}}}""") + ".";
    }
}
