using System.Net;
using System.Security.Cryptography;
using System.Text;
using ApprovalFunctions.Api.Auth;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalFunctions.Api.Tests;

/// <summary>
/// TokenAuthenticator on its own: the development key is refused outside Development, and the Entra (OIDC) path
/// validates RS256 tokens against metadata and JWKS served by an in-test loopback HTTP listener.
/// </summary>
public sealed class TokenAuthenticatorTests : IDisposable
{
    private const string Audience = "api://approvals-test";
    private readonly HttpListener _listener;
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly CancellationTokenSource _stop = new();
    private readonly string _authority;
    private int _metadataHits;

    public TokenAuthenticatorTests()
    {
        var port = FreePort();
        _authority = $"http://127.0.0.1:{port}/tenant-guid/v2.0";
        _listener = new HttpListener();
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _ = ServeAsync();
    }

    [Fact]
    public void Constructor_DevKeyOutsideDevelopment_Throws()
    {
        var options = new AuthOptions { DevSigningKey = ApiFactory.SigningKey };
        var error = Assert.Throws<InvalidOperationException>(() => new TokenAuthenticator(options, isDevelopment: false));
        Assert.Contains("Development", error.Message, StringComparison.Ordinal);
        _ = new TokenAuthenticator(options, isDevelopment: true);
    }

    [Theory]
    [InlineData("short-key")]
    [InlineData(null)]
    public void Constructor_ShortOrNoKey_Throws(string? key) =>
        Assert.Throws<InvalidOperationException>(() => new TokenAuthenticator(new AuthOptions { DevSigningKey = key }, isDevelopment: true));

    [Fact]
    public void Constructor_HttpMetadataForNonLoopbackAuthority_Throws() =>
        Assert.Throws<InvalidOperationException>(() => new TokenAuthenticator(
            new AuthOptions { Authority = "http://login.example.com/t/v2.0", RequireHttpsMetadata = false }, isDevelopment: false));

    [Fact]
    public async Task Oidc_ValidRs256Token_CallerFromClaims()
    {
        var authenticator = Oidc();
        var result = await authenticator.AuthenticateAsync("Bearer " + Rs256(_rsa, _authority, Audience, "kid-1"), default);
        Assert.True(result.Succeeded, result.Failure);
        Assert.Equal("oid-user", result.Caller!.UserId);
        Assert.Equal("entra-tenant", result.Caller.TenantId);
        Assert.True(result.Caller.IsAdmin);
        Assert.True(_metadataHits >= 1);
    }

    [Theory]
    [InlineData("other-key")]
    [InlineData("wrong-issuer")]
    [InlineData("wrong-audience")]
    [InlineData("expired")]
    [InlineData("dev-hs256")]
    public async Task Oidc_BadToken_Refused(string kind)
    {
        var authenticator = Oidc();
        using var other = RSA.Create(2048);
        var token = kind switch
        {
            "other-key" => Rs256(other, _authority, Audience, "kid-1"),
            "wrong-issuer" => Rs256(_rsa, "https://evil.example/v2.0", Audience, "kid-1"),
            "wrong-audience" => Rs256(_rsa, _authority, "api://else", "kid-1"),
            "expired" => Rs256(_rsa, _authority, Audience, "kid-1", DateTime.UtcNow.AddHours(-2)),
            _ => DevTokens.Mint(ApiFactory.SigningKey, "t", "u", ["admin"], DateTimeOffset.UtcNow, audience: Audience, issuer: _authority),
        };
        var result = await authenticator.AuthenticateAsync("Bearer " + token, default);
        Assert.False(result.Succeeded);
        Assert.StartsWith("The bearer token is not valid", result.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oidc_MetadataUnreachable_RefusedWithoutInternals()
    {
        var authenticator = new TokenAuthenticator(
            new AuthOptions { Authority = $"http://127.0.0.1:{FreePort()}/nobody/v2.0", Audience = Audience, RequireHttpsMetadata = false }, isDevelopment: false);
        var result = await authenticator.AuthenticateAsync("Bearer " + Rs256(_rsa, _authority, Audience, "kid-1"), default);
        Assert.False(result.Succeeded);
        Assert.DoesNotContain("IDX", result.Failure, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", result.Failure, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        _rsa.Dispose();
        _stop.Dispose();
    }

    private TokenAuthenticator Oidc() =>
        new(new AuthOptions { Authority = _authority, Audience = Audience, RequireHttpsMetadata = false }, isDevelopment: false);

    private static string Rs256(RSA rsa, string issuer, string audience, string kid, DateTime? expires = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = (expires ?? DateTime.UtcNow.AddHours(1)).AddHours(-1),
            NotBefore = (expires ?? DateTime.UtcNow.AddHours(1)).AddHours(-1),
            Expires = expires ?? DateTime.UtcNow.AddHours(1),
            Claims = new Dictionary<string, object> { ["sub"] = "oid-user", ["tid"] = "entra-tenant", ["roles"] = new[] { "admin" } },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = kid }, SecurityAlgorithms.RsaSha256),
        });

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening)
            {
                return;
            }

            var path = context.Request.Url!.AbsolutePath;
            string json;
            if (path.EndsWith("/.well-known/openid-configuration", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _metadataHits);
                json = $$"""{"issuer":"{{_authority}}","jwks_uri":"{{_authority}}/keys","id_token_signing_alg_values_supported":["RS256"]}""";
            }
            else if (path.EndsWith("/keys", StringComparison.Ordinal))
            {
                var p = _rsa.ExportParameters(false);
                json = $$"""{"keys":[{"kty":"RSA","use":"sig","kid":"kid-1","alg":"RS256","n":"{{Base64UrlEncoder.Encode(p.Modulus)}}","e":"{{Base64UrlEncoder.Encode(p.Exponent)}}"}]}""";
            }
            else
            {
                context.Response.StatusCode = 404;
                context.Response.Close();
                continue;
            }

            var bytes = Encoding.UTF8.GetBytes(json);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
