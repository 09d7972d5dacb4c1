using Azure.Core;

namespace ApprovalFunctions.Storage.Tables;

/// <summary>
/// Pipeline options: retries (exponential, 408/429/500/502/503/504 and transport errors — Azure.Core's
/// default classification; 409 and 412 are answers, never retried), logging, distributed tracing.
/// </summary>
public sealed class TableClientOptions : ClientOptions
{
    /// <summary>Defaults: exponential back-off from 0.8 s, at most 5 retries, 30 s cap, 100 s network timeout.</summary>
    public TableClientOptions()
    {
        Retry.Mode = RetryMode.Exponential;
        Retry.MaxRetries = 5;
        Retry.Delay = TimeSpan.FromSeconds(0.8);
        Retry.MaxDelay = TimeSpan.FromSeconds(30);
        Diagnostics.ApplicationId ??= "ApprovalFunctions";
    }

    /// <summary>Clock for the x-ms-date header; tests substitute a fake to prove signature handling.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Scope requested from a TokenCredential (Azure Storage's audience).</summary>
    public string TokenScope { get; set; } = "https://storage.azure.com/.default";
}
