using System.Globalization;
using ApprovalFunctions.Storage.Tables;

namespace ApprovalFunctions.Runtime.Storage;

/// <summary>One projection in flight as the journal stores it: tenant, request, when it was added (UTC ticks), the stale keys' JSON.</summary>
internal sealed record JournalEntryData(string T, string R, long A, string S);

/// <summary>A projection this process has journaled and not yet finished (<see cref="ProjectionJournal.Done"/>).</summary>
public sealed class JournalEntry
{
    internal JournalEntry(long id, int slot, JournalEntryData data)
    {
        Id = id;
        Slot = slot;
        Data = data;
        Json = RuntimeJson.Serialize(data);
    }

    /// <summary>The entry as its row's JSON array holds it (serialized once, written with every write of the row).</summary>
    internal string Json { get; }

    /// <summary>Characters it takes in its row's JSON, with its comma.</summary>
    internal int Chars => Json.Length + 1;

    internal long Id { get; }

    internal int Slot { get; }

    internal JournalEntryData Data { get; }

    /// <summary>The tenant.</summary>
    public string TenantId => Data.T;

    /// <summary>The request.</summary>
    public string RequestId => Data.R;
}

/// <summary>A journal row as read back: whose it is, when its owner last wrote it, and the projections it lists.</summary>
public sealed record JournalRow(string Owner, int Slot, DateTimeOffset WrittenAt, string ETag, IReadOnlyList<JournalEntryView> Entries);

/// <summary>A projection listed in a journal row.</summary>
public sealed record JournalEntryView(string TenantId, string RequestId, DateTimeOffset AddedAt, string StaleJson);

/// <summary>
/// The intents of this process's index projections, in a few rows of the due-work table's <c>journal</c> partition instead
/// of one <c>project</c> due row per commit: a commit waits until a write of its slot's row lists its projection (commits
/// arriving meanwhile share the next write: group commit), and a finished projection is only dropped from a later write
/// (the row is deleted once its slot is empty and quiet for <see cref="ClearDelay"/>). So a decision costs a share of one
/// row's write instead of a row inserted and later deleted. A row whose owner stopped writing it (the process died) is
/// found by <see cref="ReadAllAsync"/> and repaired by the due-work runner, as a <c>project</c> row would have been.
/// </summary>
public sealed class ProjectionJournal
{
    /// <summary>The due-work table's partition that holds the journal rows.</summary>
    public const string Partition = "journal";

    /// <summary>Rows per process: commits in different slots write in parallel.</summary>
    public const int SlotCount = 4;

    /// <summary>Stale-key JSON longer than this is not journaled: the commit writes a <c>project</c> due row of its own.</summary>
    public const int MaxEntryChars = 8_000;

    /// <summary>
    /// Most characters of serialized entries one row takes (a row holds <see cref="Chunks.MaxCharsPerEntity"/>, ~458K); past it,
    /// <c>project</c> rows. Counted as stored: the stale keys' JSON is a string inside the row's JSON, escaped.
    /// </summary>
    public const int MaxRowChars = 400_000;

    /// <summary>How long a slot with finished projections waits for more work before it writes (or deletes) its row.</summary>
    public static readonly TimeSpan ClearDelay = TimeSpan.FromSeconds(1);

    private readonly TableClient _table;
    private readonly TimeProvider _time;
    private readonly Slot[] _slots;
    private long _nextId;
    private long _writes;

    /// <summary>Creates the journal of one process; <paramref name="owner"/> names its rows (unique per process start).</summary>
    public ProjectionJournal(StorageTables tables, TimeProvider time, string? owner = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(time);
        _table = tables.DueWork;
        _time = time;
        Owner = owner ?? Guid.NewGuid().ToString("N");
        _slots = [.. Enumerable.Range(0, SlotCount).Select(i => new Slot(i))];
    }

    /// <summary><see cref="ClearDelay"/> for this journal (tests lengthen it to look at a row before it is rewritten).</summary>
    internal TimeSpan ClearAfter { get; set; } = ClearDelay;

    /// <summary>This process's name in its rows.</summary>
    public string Owner { get; }

    /// <summary>Row writes (upserts and deletes) sent so far (for tests and metrics).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>
    /// Journals a projection and returns once a write of its row lists it; null when it is too large for the journal (the
    /// caller writes a <c>project</c> due row instead). A failed write throws and leaves nothing listed.
    /// </summary>
    public async Task<JournalEntry?> AddAsync(string tenantId, string requestId, string staleJson, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(requestId);
        ArgumentNullException.ThrowIfNull(staleJson);
        if (staleJson.Length > MaxEntryChars)
        {
            return null;
        }

        var slot = _slots[SlotOf(requestId)];
        var entry = new JournalEntry(Interlocked.Increment(ref _nextId), slot.Index,
            new JournalEntryData(tenantId, requestId, _time.GetUtcNow().UtcTicks, staleJson));
        var listed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (slot.Gate)
        {
            if (slot.Chars + entry.Chars > MaxRowChars)
            {
                return null;
            }

            slot.Entries.Add(entry.Id, entry);
            slot.Chars += entry.Chars;
            slot.Waiting.Add(listed);
            start = !slot.Writing;
            slot.Writing = true;
        }

        if (start)
        {
            _ = StartLoop(slot);
        }

        try
        {
            await listed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Done(entry); // not known to be listed: the caller does not commit on it
            throw;
        }

        return entry;
    }

    /// <summary>
    /// The projection is finished (or its commit lost the race): a later write of its row leaves it out, at the latest
    /// <see cref="ClearDelay"/> from now. Safe to call twice.
    /// </summary>
    public void Done(JournalEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var slot = _slots[entry.Slot];
        lock (slot.Gate)
        {
            if (!slot.Entries.Remove(entry.Id))
            {
                return;
            }

            slot.Chars -= entry.Chars;
            slot.Dirty = true;
            if (slot.Writing || slot.ClearScheduled)
            {
                return; // the running loop or the scheduled clear writes it
            }

            slot.ClearScheduled = true;
        }

        _ = ClearLaterAsync(slot);
    }

    /// <summary>The slot (row) of this process that journals <paramref name="requestId"/>'s projections.</summary>
    internal static int SlotOf(string requestId) => (int)((uint)StringComparer.Ordinal.GetHashCode(requestId) % SlotCount);

    /// <summary>Projections this process has journaled and not finished.</summary>
    public int Pending => _slots.Sum(s => { lock (s.Gate) { return s.Entries.Count; } });

    /// <summary>Writes every slot's current list now (deleting emptied rows); a host calls it when it stops. Never throws for storage.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        foreach (var slot in _slots)
        {
            Task? running = null;
            lock (slot.Gate)
            {
                if (slot.Writing)
                {
                    running = slot.Loop; // it writes what changed before it stops
                }
                else if (slot.Dirty)
                {
                    slot.Writing = true;
                }
                else
                {
                    continue;
                }
            }

            await (running ?? StartLoop(slot)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every journal row of every process (one query of the <c>journal</c> partition).</summary>
    public async Task<IReadOnlyList<JournalRow>> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        var rows = new List<JournalRow>();
        await foreach (var e in _table.QueryAsync(TableFilter.Format($"PartitionKey eq {Partition}"), cancellationToken: cancellationToken)
            .ConfigureAwait(false))
        {
            var json = Chunks.Read(e, "E");
            List<JournalEntryData> entries;
            try
            {
                entries = string.IsNullOrEmpty(json) ? [] : RuntimeJson.Deserialize<List<JournalEntryData>>(json);
            }
            catch (System.Text.Json.JsonException)
            {
                continue; // not a row this code wrote: left alone, never deleted unread
            }

            rows.Add(new JournalRow(e.GetString("Owner") ?? "", e.GetInt32("Slot") ?? 0, e.GetDateTimeOffset("WrittenAt") ?? default, e.ETag ?? "*",
                [.. entries.Select(d => new JournalEntryView(d.T, d.R, new DateTimeOffset(d.A, TimeSpan.Zero), d.S))]));
        }

        return rows;
    }

    /// <summary>Deletes a row as it was read (its ETag); false when its owner wrote it since (or it is gone).</summary>
    public async Task<bool> DeleteAsync(JournalRow row, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(row);
        try
        {
            await _table.DeleteAsync(Partition, RowKey(row.Owner, row.Slot), row.ETag, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TableException ex) when (ex.Kind == TableErrorKind.PreconditionFailed)
        {
            return false;
        }
    }

    /// <summary>Finishes this process's entries of slot <paramref name="slotIndex"/> that a repair re-projected, as read from its row.</summary>
    internal void DoneListed(int slotIndex, IReadOnlyCollection<JournalEntryView> repaired)
    {
        var slot = _slots[slotIndex];
        List<JournalEntry> done;
        lock (slot.Gate)
        {
            done = [.. slot.Entries.Values.Where(e => repaired.Any(v => Same(e, v)))];
        }

        foreach (var entry in done)
        {
            Done(entry);
        }
    }

    private static bool Same(JournalEntry e, JournalEntryView v) =>
        e.Data.R == v.RequestId && e.Data.T == v.TenantId && e.Data.A == v.AddedAt.UtcTicks;

    /// <summary>True while this process holds <paramref name="entry"/> (read from its own row) unfinished.</summary>
    internal bool IsPending(int slotIndex, JournalEntryView entry)
    {
        var slot = _slots[slotIndex];
        lock (slot.Gate)
        {
            return slot.Entries.Values.Any(e => Same(e, entry));
        }
    }

    private static string RowKey(string owner, int slot) => owner + "|" + slot.ToString("D2", CultureInfo.InvariantCulture);

    private async Task ClearLaterAsync(Slot slot)
    {
        await Task.Delay(ClearAfter, _time).ConfigureAwait(false);
        lock (slot.Gate)
        {
            slot.ClearScheduled = false;
            if (slot.Writing || !slot.Dirty)
            {
                return;
            }

            slot.Writing = true;
        }

        _ = StartLoop(slot);
    }

    /// <summary>Runs the slot's write loop (the caller set <c>Writing</c>) and keeps it for <see cref="FlushAsync"/>.</summary>
    private Task StartLoop(Slot slot)
    {
        var loop = WriteLoopAsync(slot);
        lock (slot.Gate)
        {
            if (!loop.IsCompleted)
            {
                slot.Loop = loop;
            }
        }

        return loop;
    }

    /// <summary>
    /// The slot's one writer: writes the slot's whole list (or deletes the row when the list is empty) until no commit
    /// waits and nothing changed. One write at a time per row, so the rows land in the order their lists were taken.
    /// </summary>
    private async Task WriteLoopAsync(Slot slot)
    {
        while (true)
        {
            List<TaskCompletionSource> waiting;
            List<string> list;
            lock (slot.Gate)
            {
                if (slot.Waiting.Count == 0 && !slot.Dirty)
                {
                    slot.Writing = false;
                    return;
                }

                waiting = slot.Waiting;
                slot.Waiting = [];
                slot.Dirty = false;
                list = [.. slot.Entries.Values.OrderBy(e => e.Id).Select(e => e.Json)];
            }

            try
            {
                Interlocked.Increment(ref _writes);
                if (list.Count == 0)
                {
                    await _table.DeleteAsync(Partition, RowKey(Owner, slot.Index), cancellationToken: CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    var entity = new TableEntity(Partition, RowKey(Owner, slot.Index))
                    {
                        ["Owner"] = Owner,
                        ["Slot"] = slot.Index,
                        ["WrittenAt"] = _time.GetUtcNow(),
                        ["Count"] = list.Count,
                    };
                    Chunks.Write(entity, "E", "[" + string.Join(',', list) + "]"); // the JSON array of the entries, each serialized once
                    await _table.UpsertAsync(entity, TableUpdateMode.Replace, CancellationToken.None).ConfigureAwait(false);
                }

                foreach (var listed in waiting)
                {
                    listed.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                // Storage failed: the commits that waited get the error (and drop their entries); what is still listed
                // is written by the next commit's or clear's write. Stop rather than spin against a failing store, unless
                // commits came meanwhile (they wait for this loop).
                bool stop;
                lock (slot.Gate)
                {
                    slot.Dirty = true;
                    stop = slot.Waiting.Count == 0;
                    if (stop)
                    {
                        slot.Writing = false;
                    }
                }

                foreach (var listed in waiting)
                {
                    listed.TrySetException(ex);
                }

                if (stop)
                {
                    return;
                }
            }
        }
    }

    private sealed class Slot(int index)
    {
        public int Index { get; } = index;

        public Lock Gate { get; } = new();

        public Dictionary<long, JournalEntry> Entries { get; } = [];

        public List<TaskCompletionSource> Waiting { get; set; } = [];

        public int Chars { get; set; }

        public bool Writing { get; set; }

        public bool Dirty { get; set; }

        public bool ClearScheduled { get; set; }

        /// <summary>The write loop running (or last run), for <see cref="FlushAsync"/> to wait for.</summary>
        public Task Loop { get; set; } = Task.CompletedTask;
    }
}
