namespace ApprovalFunctions.Engine.State;

/// <summary>
/// How the state records keep their times: as UTC ticks in a <see cref="long"/> (8 bytes) instead of a
/// <see cref="DateTimeOffset"/>? (24 bytes). Every engine time is an instant (hosts pass UTC), so the offset carries
/// nothing; the properties still read and write <see cref="DateTimeOffset"/>, with offset zero, and JSON is unchanged.
/// A nullable time is stored as ticks + 1 so that 0 (a field never set) means "none" and every instant, the minimum
/// included, round-trips.
/// </summary>
internal static class Instants
{
    /// <summary>The stored form of <paramref name="value"/>: 0 for none, otherwise its UTC ticks + 1.</summary>
    public static long Pack(DateTimeOffset? value) => value is { } v ? v.UtcTicks + 1 : 0;

    /// <summary>The time a stored value stands for (offset zero); null for 0.</summary>
    public static DateTimeOffset? Unpack(long stored) => stored == 0 ? null : new DateTimeOffset(stored - 1, TimeSpan.Zero);
}
