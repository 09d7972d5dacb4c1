namespace ApprovalFunctions.Api.Auth;

/// <summary>
/// Token validation settings (configuration section <c>Auth</c>). Either Entra ID (<see cref="Authority"/>)
/// or, in Development only, the HS256 development key.
/// </summary>
public sealed class AuthOptions
{
    /// <summary>Issuer of development tokens.</summary>
    public const string DevIssuer = "approvals-dev";

    /// <summary>Audience of development tokens and the default audience.</summary>
    public const string DefaultAudience = "approvals";

    /// <summary>The HS256 development signing key; refused unless the host runs in Development.</summary>
    public string? DevSigningKey { get; set; }

    /// <summary>OIDC authority, e.g. <c>https://login.microsoftonline.com/{tenant}/v2.0</c>; enables Entra ID validation.</summary>
    public string? Authority { get; set; }

    /// <summary>Accepted audience (application id URI or client id).</summary>
    public string Audience { get; set; } = DefaultAudience;

    /// <summary>Extra accepted issuers (multi-tenant Entra apps list each tenant's issuer).</summary>
    public IList<string> ValidIssuers { get; } = [];

    /// <summary>
    /// Whether the OIDC metadata and signing keys must be fetched over https (default true). It may be turned off
    /// only for a loopback <see cref="Authority"/> (a local identity provider or a test's in-process one); any other
    /// authority with this off is refused at start-up, so production can never read keys over plain http.
    /// </summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>Clock skew allowed on lifetimes.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(2);
}
