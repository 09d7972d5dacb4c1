using ApprovalFunctions.Api;
using ApprovalFunctions.Dashboard;
using ApprovalFunctions.LocalHost;

// Configuration comes from the same files the Functions host reads (local.settings.json, falling back to the
// sample; host.json for the hub name), and environment variables override them, as app settings do in Azure.
var root = LocalSettings.FindRoot();
var (values, settingsSource) = LocalSettings.ReadValues(root);
var environmentName = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")
    ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT")
    ?? values.GetValueOrDefault("ASPNETCORE_ENVIRONMENT")
    ?? "Production";

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, EnvironmentName = environmentName });
LocalSettings.Apply(builder.Configuration, values, root);

builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});
builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = ApprovalFunctions.Api.Http.JsonBody.MaxBytes);

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddApprovalsApi(builder.Configuration, builder.Environment);
builder.Services.AddLocalRunner(builder.Configuration);
builder.Services.AddTelemetry(builder.Configuration);

var app = builder.Build();
app.Logger.LogInformation("Settings from {Source}; hub {Hub}; environment {Environment}",
    settingsSource ?? "(environment only)", app.Configuration["Approvals:HubName"], app.Environment.EnvironmentName);
app.MapApprovalsApi();
app.MapDashboard();
app.MapGet("/", () => Results.Redirect("/dashboard/")).ExcludeFromDescription();
try
{
    app.Run();
}
catch (ApprovalFunctions.Runtime.Storage.StorageLayoutException ex)
{
    // Not transient (see StorageInitializer): say what to do, without a stack trace, and exit non-zero.
    Console.Error.WriteLine("Not starting: " + ex.Message);
    return 1;
}

return 0;

/// <summary>The entry point, visible to WebApplicationFactory in tests.</summary>
public partial class Program;
