namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// The parts of an Azure Storage connection string the Table client needs. Accepts the forms Azure
/// users write: <c>UseDevelopmentStorage=true</c>; <c>DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;TableEndpoint=…</c>;
/// and the same without TableEndpoint but with (or defaulting) <c>EndpointSuffix</c>.
/// </summary>
public sealed record TableConnectionString(Uri TableEndpoint, string AccountName, string AccountKey)
{
    /// <summary>Azurite's well-known development account key (public, documented by Microsoft).</summary>
    public const string DevelopmentAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Azurite's account name.</summary>
    public const string DevelopmentAccountName = "devstoreaccount1";

    /// <summary>Parses a connection string; throws <see cref="FormatException"/> naming what is missing.</summary>
    public static TableConnectionString Parse(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = segment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"Connection string segment '{Redact(segment)}' is not Key=Value.");
            }

            // Values may contain '=' (base64 keys), so split on the first one only.
            parts[segment[..eq].Trim()] = segment[(eq + 1)..].Trim();
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && dev.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            var proxy = parts.TryGetValue("DevelopmentStorageProxyUri", out var p) ? new Uri(p) : new Uri("http://127.0.0.1");
            return new TableConnectionString(
                new Uri($"{proxy.Scheme}://{proxy.Host}:10002/{DevelopmentAccountName}"), DevelopmentAccountName, DevelopmentAccountKey);
        }

        if (parts.ContainsKey("SharedAccessSignature"))
        {
            throw new FormatException("SAS connection strings are not supported; use an account key or an endpoint with a TokenCredential.");
        }

        if (!parts.TryGetValue("AccountName", out var account) || account.Length == 0)
        {
            throw new FormatException("Connection string has no AccountName (and is not UseDevelopmentStorage=true).");
        }

        if (!parts.TryGetValue("AccountKey", out var key) || key.Length == 0)
        {
            throw new FormatException("Connection string has no AccountKey; for managed identity use the endpoint + TokenCredential constructor.");
        }

        try
        {
            _ = Convert.FromBase64String(key);
        }
        catch (FormatException)
        {
            throw new FormatException("Connection string AccountKey is not base64.");
        }

        Uri endpoint;
        if (parts.TryGetValue("TableEndpoint", out var tableEndpoint) && tableEndpoint.Length > 0)
        {
            endpoint = new Uri(tableEndpoint.TrimEnd('/'));
        }
        else
        {
            var protocol = parts.TryGetValue("DefaultEndpointsProtocol", out var proto) ? proto : "https";
            var suffix = parts.TryGetValue("EndpointSuffix", out var s) ? s : "core.windows.net";
            endpoint = new Uri($"{protocol}://{account}.table.{suffix}");
        }

        return new TableConnectionString(endpoint, account, key);
    }

    /// <summary>Never print the key.</summary>
    public override string ToString() => $"TableEndpoint={TableEndpoint};AccountName={AccountName};AccountKey=***";

    private static string Redact(string segment) =>
        segment.StartsWith("AccountKey", StringComparison.OrdinalIgnoreCase) ? "AccountKey=***" : segment;
}
