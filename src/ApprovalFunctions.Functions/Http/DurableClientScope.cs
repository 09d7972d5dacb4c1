using Microsoft.DurableTask.Client;

namespace ApprovalFunctions.Functions.Http;

/// <summary>
/// Carries the invocation's <see cref="DurableTaskClient"/> to <see cref="DurableApprovalCommands"/>. The isolated worker
/// hands the client to a function as a <c>[DurableClient]</c> binding, not through dependency injection, while the shared
/// handlers resolve <c>IApprovalCommands</c> as a singleton (the API's delegation activator holds one). So the HTTP function
/// sets the client for the duration of its handler call; an async-local value flows into every await below it and is
/// gone when the call returns.
/// </summary>
public static class DurableClientScope
{
    private static readonly AsyncLocal<DurableTaskClient?> Ambient = new();

    /// <summary>The client of the invocation running on this flow.</summary>
    /// <exception cref="InvalidOperationException">Called outside <see cref="RunAsync{T}"/>.</exception>
    public static DurableTaskClient Current => Ambient.Value ?? throw new InvalidOperationException(
        "No Durable Functions client on this call: the HTTP function must take a [DurableClient] parameter and run its handler through DurableClientScope.RunAsync.");

    /// <summary>Runs <paramref name="action"/> with <paramref name="client"/> as <see cref="Current"/>.</summary>
    public static async Task<T> RunAsync<T>(DurableTaskClient client, Func<Task<T>> action)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(action);
        var previous = Ambient.Value;
        Ambient.Value = client;
        try
        {
            return await action().ConfigureAwait(false);
        }
        finally
        {
            Ambient.Value = previous;
        }
    }
}
