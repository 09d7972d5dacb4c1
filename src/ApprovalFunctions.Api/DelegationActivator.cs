using ApprovalFunctions.Engine.Directory;
using ApprovalFunctions.Engine.Events;
using ApprovalFunctions.Runtime.Storage;

namespace ApprovalFunctions.Api;

/// <summary>
/// Brings a delegation into effect on the requests already waiting on its principal. Lists of pending approvals
/// already include the stages of principals who delegate to the caller at read time, and the engine checks
/// delegations at decision time, so this only records the delegation on each request's ledger and notifies.
/// </summary>
public sealed class DelegationActivator(IndexStore index, IApprovalCommands commands, TimeProvider time)
{
    /// <summary>Applies <see cref="DelegationInEffect"/> to the principal's pending requests when the delegation is in effect now.</summary>
    public async Task ScheduleAsync(string tenantId, Delegation delegation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delegation);
        if (!delegation.InEffectAt(time.GetUtcNow()))
        {
            return;
        }

        string? token = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        do
        {
            var page = await index.ListInboxAsync(tenantId, delegation.From, pending: true, ListFilter.None, 100, token, cancellationToken)
                .ConfigureAwait(false);
            foreach (var item in page.Items)
            {
                if (seen.Add(item.Id))
                {
                    await commands.ApplyAsync(tenantId, item.Id, new DelegationInEffect
                    {
                        EventId = $"delegation:{delegation.Id}",
                        Delegation = delegation,
                    }, cancellationToken).ConfigureAwait(false);
                }
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
    }
}
