using System.Text.Json;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Memory;

namespace ApprovalFunctions.LocalHost;

/// <summary>
/// Reads the same files the Functions host uses, so one set of settings serves both hosts:
/// <c>Values</c> from <c>local.settings.json</c> (falling back to <c>local.settings.sample.json</c>) and the
/// task hub name from <c>host.json</c>. Keys use <c>__</c> for sections, as app settings in Azure do.
/// Environment variables override both, as in Azure.
/// </summary>
internal static class LocalSettings
{
    /// <summary>The hub name used when host.json names none.</summary>
    public const string DefaultHubName = "ApprovalFunctions";

    /// <summary>Finds the directory holding host.json: the current directory or one of its parents, then the app base.</summary>
    public static string? FindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "host.json")) &&
                    File.Exists(Path.Combine(dir.FullName, "local.settings.sample.json")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Adds the file <paramref name="values"/> to <paramref name="configuration"/> just below the environment variables
    /// (so an environment variable overrides a file value, as an app setting does in Azure), and takes the hub name
    /// from host.json unless a source above already names one.
    /// </summary>
    public static void Apply(IConfigurationManager configuration, IReadOnlyDictionary<string, string?> values, string? root)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(values);
        var sources = configuration.Sources;
        var environmentIndex = sources.ToList().FindIndex(s => s is EnvironmentVariablesConfigurationSource);
        sources.Insert(environmentIndex < 0 ? sources.Count : environmentIndex, new MemoryConfigurationSource { InitialData = values });
        if (string.IsNullOrEmpty(configuration["Approvals:HubName"]))
        {
            configuration["Approvals:HubName"] = ReadHubName(root);
        }
    }

    /// <summary>The flattened <c>Values</c> (with <c>__</c> turned into <c>:</c>) and the file they came from.</summary>
    public static (Dictionary<string, string?> Values, string? Source) ReadValues(string? root)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (root is null)
        {
            return (values, null);
        }

        foreach (var name in new[] { "local.settings.json", "local.settings.sample.json" })
        {
            var path = Path.Combine(root, name);
            if (!File.Exists(path))
            {
                continue;
            }

            using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
            if (document.RootElement.TryGetProperty("Values", out var section) && section.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in section.EnumerateObject())
                {
                    values[property.Name.Replace("__", ":", StringComparison.Ordinal)] =
                        property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText();
                }
            }

            return (values, path);
        }

        return (values, null);
    }

    /// <summary>The durable task hub name from host.json (<c>extensions.durableTask.hubName</c>).</summary>
    public static string ReadHubName(string? root)
    {
        var path = root is null ? null : Path.Combine(root, "host.json");
        if (path is null || !File.Exists(path))
        {
            return DefaultHubName;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        });
        return document.RootElement.TryGetProperty("extensions", out var extensions) &&
               extensions.TryGetProperty("durableTask", out var durableTask) &&
               durableTask.TryGetProperty("hubName", out var hub) &&
               hub.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(hub.GetString())
            ? hub.GetString()!
            : DefaultHubName;
    }
}
