using ApprovalFunctions.Api;
using ApprovalFunctions.Functions;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

// The isolated worker with ASP.NET Core integration: HTTP functions take HttpRequest and return IActionResult, so the
// shared handlers run unchanged. Configuration is the app settings (local.settings.json "Values" when run with Core Tools).
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddApprovalsApi(builder.Configuration, builder.Environment);
builder.Services.AddFunctionsHost(builder.Configuration);
builder.Build().Run();
