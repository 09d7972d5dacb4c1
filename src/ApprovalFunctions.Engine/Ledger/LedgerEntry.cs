namespace ApprovalFunctions.Engine.Ledger;

/// <summary>
/// One append-only ledger entry. <see cref="Hash"/> is SHA-256 over the entry's canonical form
/// including <see cref="PreviousHash"/>, so any edit, deletion or reordering is detectable.
/// </summary>
/// <param name="Sequence">1-based position in the request's ledger.</param>
/// <param name="At">When it happened (the time passed to the engine).</param>
/// <param name="Actor">Who acted (<c>system</c> for timers and deliveries).</param>
/// <param name="OnBehalfOf">The principal when a delegate acted.</param>
/// <param name="Action">What happened, e.g. <c>submitted</c>, <c>approved</c>, <c>stage.activated</c>.</param>
/// <param name="StageId">The stage, when it concerns one.</param>
/// <param name="Comment">The actor's comment.</param>
/// <param name="Detail">Machine-readable detail (compact JSON), e.g. resolved approvers.</param>
/// <param name="Iteration">The request iteration.</param>
/// <param name="PreviousHash">The hash of the previous entry (the genesis hash for the first).</param>
/// <param name="Hash">This entry's hash.</param>
public sealed record LedgerEntry(
    long Sequence,
    DateTimeOffset At,
    string Actor,
    string? OnBehalfOf,
    string Action,
    string? StageId,
    string? Comment,
    string? Detail,
    int Iteration,
    LedgerHash PreviousHash,
    LedgerHash Hash)
{
    // Kept as UTC ticks (8 bytes, not 16); the hash already covers only the instant (see LedgerChain).
    private readonly long _at = At.UtcTicks;

    /// <summary>When it happened (the time passed to the engine), with offset zero.</summary>
    public DateTimeOffset At { get => new(_at, TimeSpan.Zero); init => _at = value.UtcTicks; }
}
