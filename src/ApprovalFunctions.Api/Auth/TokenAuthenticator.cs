using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalFunctions.Api.Auth;

/// <summary>The outcome of authenticating a request.</summary>
public sealed record AuthResult(Caller? Caller, string? Failure)
{
    /// <summary>True when a caller was verified.</summary>
    public bool Succeeded => Caller is not null;
}

/// <summary>
/// Validates bearer JWTs with Microsoft.IdentityModel (JwtBearer is not available to this project):
/// Entra ID through OIDC metadata when <see cref="AuthOptions.Authority"/> is set, otherwise the HS256
/// development key, which is refused outside Development.
/// </summary>
public sealed class TokenAuthenticator
{
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;
    private readonly ConfigurationManager<OpenIdConnectConfiguration>? _oidc;

    /// <summary>Creates the authenticator; throws when the configuration is unsafe for the environment.</summary>
    public TokenAuthenticator(AuthOptions options, bool isDevelopment)
    {
        ArgumentNullException.ThrowIfNull(options);
        _parameters = new TokenValidationParameters
        {
            ValidateAudience = true,
            ValidAudience = options.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = options.ClockSkew,
            NameClaimType = "name",
            RoleClaimType = "roles",
        };

        if (!string.IsNullOrWhiteSpace(options.Authority))
        {
            if (!options.RequireHttpsMetadata &&
                !(Uri.TryCreate(options.Authority, UriKind.Absolute, out var authority) && authority.IsLoopback))
            {
                throw new InvalidOperationException(
                    "Auth:RequireHttpsMetadata=false is only allowed for a loopback Auth:Authority; signing keys are never read over plain http.");
            }

            var metadata = options.Authority.TrimEnd('/') + "/.well-known/openid-configuration";
            _oidc = new ConfigurationManager<OpenIdConnectConfiguration>(
                metadata, new OpenIdConnectConfigurationRetriever(), new HttpDocumentRetriever { RequireHttps = options.RequireHttpsMetadata });
            _parameters.ValidateIssuer = true;
            _parameters.ValidIssuers = options.ValidIssuers.Count > 0 ? [.. options.ValidIssuers] : null;
            _parameters.ValidAlgorithms = [SecurityAlgorithms.RsaSha256];
        }
        else if (!string.IsNullOrWhiteSpace(options.DevSigningKey))
        {
            if (!isDevelopment)
            {
                throw new InvalidOperationException(
                    "Auth:DevSigningKey is set but the host is not running in Development. The development key is refused " +
                    "outside Development: configure Auth:Authority (Entra ID) instead.");
            }

            if (Encoding.UTF8.GetByteCount(options.DevSigningKey) < 32)
            {
                throw new InvalidOperationException("Auth:DevSigningKey must be at least 32 bytes for HS256.");
            }

            _parameters.ValidateIssuer = true;
            _parameters.ValidIssuer = AuthOptions.DevIssuer;
            _parameters.IssuerSigningKey = DevTokens.Key(options.DevSigningKey);
            _parameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }
        else
        {
            throw new InvalidOperationException(
                "No token validation configured: set Auth:Authority (Entra ID) or, in Development, Auth:DevSigningKey.");
        }
    }

    /// <summary>Authenticates an <c>Authorization</c> header value.</summary>
    public async Task<AuthResult> AuthenticateAsync(string? authorizationHeader, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(authorizationHeader) ||
            !authorizationHeader.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return new(null, "A bearer token is required.");
        }

        var token = authorizationHeader["Bearer ".Length..].Trim();
        if (token.Length == 0 || token.Length > 16 * 1024)
        {
            return new(null, "The bearer token is missing or too long.");
        }

        var parameters = _parameters;
        if (_oidc is not null)
        {
            OpenIdConnectConfiguration configuration;
            try
            {
                configuration = await _oidc.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // The exception names the metadata address and library internals: not for the client.
                return new(null, "The identity provider's signing keys could not be loaded; retry shortly.");
            }

            parameters = _parameters.Clone();
            parameters.IssuerSigningKeys = configuration.SigningKeys;
            parameters.ValidIssuers ??= [configuration.Issuer];
        }

        var result = await _handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return new(null, "The bearer token is not valid: " + Describe(result.Exception));
        }

        var identity = result.ClaimsIdentity;
        var sub = identity.FindFirst("sub")?.Value;
        var tid = identity.FindFirst("tid")?.Value;
        if (string.IsNullOrWhiteSpace(sub) || string.IsNullOrWhiteSpace(tid))
        {
            return new(null, "The bearer token must carry 'sub' and 'tid' claims.");
        }

        var roles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in identity.FindAll("roles"))
        {
            roles.Add(claim.Value);
        }

        return new(new Caller(tid, sub, roles, identity.FindFirst("name")?.Value), null);
    }

    private static string Describe(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => "it has expired.",
        SecurityTokenInvalidAudienceException => "wrong audience.",
        SecurityTokenInvalidIssuerException => "wrong issuer.",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "bad signature.",
        SecurityTokenNotYetValidException => "not valid yet.",
        SecurityTokenMalformedException or ArgumentException => "malformed.",
        SecurityTokenInvalidAlgorithmException => "algorithm not accepted.",

        // Never echo exception type names or messages: they describe internals, not the client's mistake.
        _ => "rejected.",
    };
}

/// <summary>Mints HS256 development tokens (issuer <c>approvals-dev</c>, audience <c>approvals</c>).</summary>
public static class DevTokens
{
    /// <summary>The symmetric key for a development signing key string.</summary>
    public static SymmetricSecurityKey Key(string devSigningKey) => new(Encoding.UTF8.GetBytes(devSigningKey));

    /// <summary>Mints a token for <paramref name="userId"/> in <paramref name="tenantId"/>.</summary>
    public static string Mint(
        string devSigningKey, string tenantId, string userId, IEnumerable<string> roles, DateTimeOffset now,
        TimeSpan? lifetime = null, string? name = null, string audience = AuthOptions.DefaultAudience,
        string issuer = AuthOptions.DevIssuer)
    {
        var claims = new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["tid"] = tenantId,
            ["roles"] = roles.ToArray(),
        };
        if (name is not null)
        {
            claims["name"] = name;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime.AddMinutes(-1),
            Expires = now.UtcDateTime + (lifetime ?? TimeSpan.FromHours(8)),
            Claims = claims,
            SigningCredentials = new SigningCredentials(Key(devSigningKey), SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }
}
