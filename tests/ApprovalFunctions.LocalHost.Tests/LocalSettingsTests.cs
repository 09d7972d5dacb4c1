using Microsoft.Extensions.Configuration;

namespace ApprovalFunctions.LocalHost.Tests;

/// <summary>Configuration from the Functions host's files: local.settings.json over the sample, host.json's hub, environment over both.</summary>
public sealed class LocalSettingsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lhsettings").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ReadValues_OnlySample_ReadsSampleWithSectionsFlattened()
    {
        Write("local.settings.sample.json", """{"Values": {"AzureWebJobsStorage": "sample-conn", "Approvals__SeedDemoData": "true", "Approvals__PollMilliseconds": 75}}""");
        var (values, source) = LocalSettings.ReadValues(_root);
        Assert.Equal(Path.Combine(_root, "local.settings.sample.json"), source);
        Assert.Equal("sample-conn", values["AzureWebJobsStorage"]);
        Assert.Equal("true", values["Approvals:SeedDemoData"]);
        Assert.Equal("75", values["Approvals:PollMilliseconds"]);
    }

    [Fact]
    public void ReadValues_LocalSettingsPresent_BeatsTheSample()
    {
        Write("local.settings.sample.json", """{"Values": {"AzureWebJobsStorage": "sample-conn", "OnlyInSample": "x"}}""");
        Write("local.settings.json", """
            // comments and trailing commas, as the Functions tooling allows
            {"Values": {"AzureWebJobsStorage": "local-conn",},}
            """);
        var (values, source) = LocalSettings.ReadValues(_root);
        Assert.Equal(Path.Combine(_root, "local.settings.json"), source);
        Assert.Equal("local-conn", values["AzureWebJobsStorage"]);
        Assert.False(values.ContainsKey("OnlyInSample")); // one file, as the Functions host reads one
    }

    [Fact]
    public void ReadValues_NoFiles_Empty()
    {
        var (values, source) = LocalSettings.ReadValues(_root);
        Assert.Empty(values);
        Assert.Null(source);
    }

    [Theory]
    [InlineData("""{"extensions": {"durableTask": {"hubName": "MyHub"}}}""", "MyHub")]
    [InlineData("""{"extensions": {"durableTask": {}}}""", LocalSettings.DefaultHubName)]
    [InlineData("""{"extensions": {"durableTask": {"hubName": "  "}}}""", LocalSettings.DefaultHubName)]
    [InlineData(null, LocalSettings.DefaultHubName)]
    public void ReadHubName_HostJson_HubOrDefault(string? hostJson, string expected)
    {
        if (hostJson is not null)
        {
            Write("host.json", hostJson);
        }

        Assert.Equal(expected, LocalSettings.ReadHubName(_root));
    }

    [Fact]
    public void FindRoot_FromTheTestDirectory_FindsTheRepositoryRoot()
    {
        var root = LocalSettings.FindRoot();
        Assert.NotNull(root);
        Assert.True(File.Exists(Path.Combine(root, "host.json")));
        Assert.True(File.Exists(Path.Combine(root, "local.settings.sample.json")));
    }

    [Fact]
    public void Apply_EnvironmentVariable_BeatsFileValuesAndHostJson()
    {
        var prefix = "LHT" + Guid.NewGuid().ToString("N")[..8] + "_";
        Write("host.json", """{"extensions": {"durableTask": {"hubName": "FileHub"}}}""");
        Write("local.settings.json", """{"Values": {"AzureWebJobsStorage": "file-conn", "Approvals__LeaseSeconds": "9"}}""");
        Environment.SetEnvironmentVariable(prefix + "AzureWebJobsStorage", "env-conn");
        Environment.SetEnvironmentVariable(prefix + "Approvals__HubName", "EnvHub");
        try
        {
            using var configuration = new ConfigurationManager();
            configuration.AddEnvironmentVariables(prefix);
            var (values, _) = LocalSettings.ReadValues(_root);
            LocalSettings.Apply(configuration, values, _root);
            Assert.Equal("env-conn", configuration["AzureWebJobsStorage"]);
            Assert.Equal("EnvHub", configuration["Approvals:HubName"]);
            Assert.Equal("9", configuration["Approvals:LeaseSeconds"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(prefix + "AzureWebJobsStorage", null);
            Environment.SetEnvironmentVariable(prefix + "Approvals__HubName", null);
        }
    }

    [Fact]
    public void Apply_NoEnvironmentOverride_FileValuesAndHostJsonHub()
    {
        Write("host.json", """{"extensions": {"durableTask": {"hubName": "FileHub"}}}""");
        Write("local.settings.sample.json", """{"Values": {"AzureWebJobsStorage": "sample-conn"}}""");
        using var configuration = new ConfigurationManager();
        configuration.AddEnvironmentVariables("LHT" + Guid.NewGuid().ToString("N")[..8] + "_");
        var (values, _) = LocalSettings.ReadValues(_root);
        LocalSettings.Apply(configuration, values, _root);
        Assert.Equal("sample-conn", configuration["AzureWebJobsStorage"]);
        Assert.Equal("FileHub", configuration["Approvals:HubName"]);
    }

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_root, name), text);
}
