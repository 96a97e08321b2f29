using System.Globalization;
using System.Text;
using SQLite;
using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// Store-and-forward outbox: every outgoing message is written here (and fsynced) before it is
/// sent, and deleted only when the broker acknowledges it (PUBACK). One SQLite file in WAL mode.
/// </summary>
/// <remarks>
/// <para>Flow: the producer calls <see cref="Enqueue"/>; the uplink calls <see cref="PeekBatch"/>
/// (oldest first, in sequence order), publishes, and calls <see cref="Acknowledge(long)"/> per
/// PUBACK. A message peeked but never acknowledged is simply peeked again: delivery is
/// at-least-once and the gateway deduplicates on (device, sequence).</para>
/// <para><b>Disk.</b> <see cref="OutboxOptions.QuotaBytes"/> bounds the files on disk (database, write-ahead log,
/// reserve; see <see cref="OutboxBudget"/>). Peeking never writes, so what is stored is sent even when nothing can be
/// written. When the disk is full the store releases its reserve and keeps storing new messages by evicting older
/// ones by class, exactly as when the quota is full; an acknowledgement whose delete cannot be written is remembered
/// in memory (the message is not sent again) and deleted later. When the disk has room again the store re-allocates
/// its reserve and says so in the log.</para>
/// <para>Thread-safety: every public member may be called from any thread. One connection is
/// serialized by one lock; the detection thread's enqueue waits at most one batch operation of the
/// uplink thread. The database is opened in exclusive locking mode, so a second process cannot
/// open the same outbox (it gets a clear error instead of interleaving sequence numbers).</para>
/// <para><b>Parts.</b> This type opens the file (and recovers from corruption, <see cref="OutboxCorruption"/>), holds the
/// lock and the sequence and totals, and delegates: <see cref="OutboxInsert"/> (the insert with eviction and full-disk
/// retries), <see cref="OutboxDelivery"/> (peek, acknowledge), <see cref="OutboxTransactions"/> (pending deletes, expiry,
/// counters), <see cref="OutboxDiskGuard"/> (reserve, page cap, checkpoints, disk-full mode), <see cref="OutboxLedger"/>
/// (the in-memory mirror), <see cref="OutboxSchema"/> and <see cref="OutboxStatements"/>. They share this lock.</para>
/// <para>Sizes, quota, eviction and TTLs: see <see cref="OutboxPolicy"/> and docs/outbox.md.
/// Not a hot-path type: enqueue allocates a little (the message row), peek allocates the returned
/// copies.</para>
/// </remarks>
public sealed class OutboxStore : IDisposable
{
    /// <summary>Bytes each row counts on top of its payload and topic: the row header, index
    /// entries and columns. Keeps many tiny messages from being "free" under the quota.</summary>
    public const int RowOverheadBytes = 48;

    /// <summary>Largest batch a single peek returns.</summary>
    public const int MaxPeekMessages = 10_000;

    /// <summary>Page size of new outbox databases (SQLite's default).</summary>
    public const int DefaultPageSizeBytes = 4096;

    private readonly Lock _gate = new();
    private readonly SQLiteConnection _connection;
    private readonly sqlite3 _db;
    private readonly OutboxOptions _options;
    private readonly OutboxStatements _sql;
    private readonly OutboxLedger _ledger = new();
    private readonly OutboxDiskGuard _disk;
    private readonly OutboxTransactions _tx;
    private readonly OutboxDelivery _delivery;
    private readonly OutboxInsert _insert;

    private readonly OutboxBudget _budget;
    private long _nextSequence;
    private OutboxDeviceTotals _totals;
    private bool _disposed;

    private OutboxStore(SQLiteConnection connection, OutboxOptions options, long firstSequence, OutboxCorruptionRecovery? recovery)
    {
        _connection = connection;
        _db = connection.Handle;
        _options = options;
        CorruptionRecovery = recovery;
        DatabasePath = connection.DatabasePath;

        OutboxSchema.ConfigureAndCheck(_db, out string? integrityProblem);
        if (integrityProblem is not null)
            throw new OutboxCorruptException(integrityProblem);

        OutboxSchema.CreateOrMigrate(_db, firstSequence, DatabasePath);
        int pageSize = (int)(SqliteStatement.QueryInt64(_db, "PRAGMA page_size") ?? DefaultPageSizeBytes);
        if (!OutboxBudget.TryCompute(options.QuotaBytes, pageSize, out _budget, out string why))
            throw new ArgumentOutOfRangeException(nameof(options), options.QuotaBytes, "OutboxOptions.QuotaBytes: " + why);
        if (options.DataQuotaBytesOverride is { } data)
            _budget = _budget with { DataQuotaBytes = data };

        _sql = new OutboxStatements(_db);
        try
        {
            _disk = new OutboxDiskGuard(_db, DatabasePath, _budget, options, _sql.PageCount);
            _tx = new OutboxTransactions(_db, _sql, _ledger, _disk);
            _delivery = new OutboxDelivery(_sql, _ledger, _disk, _tx);
            _insert = new OutboxInsert(_sql, _ledger, _disk, _tx, new OutboxEviction(_sql, _ledger), _budget);
            LoadState();
            _disk.Start();
        }
        catch
        {
            _sql.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>Set when opening found a corrupt database and moved it aside; report it once in the next heartbeat.</summary>
    public OutboxCorruptionRecovery? CorruptionRecovery { get; }

    /// <summary>The configured quota: the bound on the outbox's files on disk.</summary>
    public long QuotaBytes => _options.QuotaBytes;

    /// <summary>How the quota is split between the files (see <see cref="OutboxBudget"/>).</summary>
    public OutboxBudget Budget => _budget;

    /// <summary>Most accounted message bytes the store keeps before it evicts (<see cref="OutboxBudget.DataQuotaBytes"/>).</summary>
    public long DataQuotaBytes => _budget.DataQuotaBytes;

    /// <summary>Identifies this store's counters: a random id drawn when the store was created. Totals that restart
    /// (a lost or corrupt store) come with a new epoch, so a reader of cumulative counters can tell a reset from a decrease.</summary>
    public string TotalsEpoch { get; private set; } = string.Empty;

    /// <summary>The device totals as last persisted (see <see cref="Enqueue(OutboxMessageClass, string, ReadOnlySpan{byte}, OutboxDeviceTotals?)"/>).</summary>
    public OutboxDeviceTotals DeviceTotals
    {
        get
        {
            lock (_gate)
                return _totals;
        }
    }

    /// <summary>True while the disk is full (see the class remarks).</summary>
    public bool IsDiskFull
    {
        get
        {
            lock (_gate)
                return _disk.DiskFull;
        }
    }

    /// <summary>Bytes a message counts against the quota.</summary>
    public static int AccountedSize(string topic, int payloadBytes) =>
        checked(payloadBytes + Encoding.UTF8.GetByteCount(topic) + RowOverheadBytes);

    /// <summary>
    /// Opens (or creates) the outbox. A database that SQLite reports as corrupt, or that fails
    /// <c>PRAGMA integrity_check</c>, is renamed to <c>&lt;path&gt;.corrupt-&lt;UTC timestamp&gt;</c> and a
    /// fresh one is started (see <see cref="CorruptionRecovery"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">Another process holds the outbox open, or the file
    /// has a schema this build does not know.</exception>
    public static OutboxStore Open(OutboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string path = Path.GetFullPath(options.DatabasePath);
        string? directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);

        SQLiteConnection connection = OpenConnection(path);
        string reason;
        try
        {
            return new OutboxStore(connection, options, firstSequence: 1, recovery: null);
        }
        catch (OutboxCorruptException ex)
        {
            reason = "integrity_check: " + ex.Message;
        }
        catch (SQLiteException ex) when (OutboxCorruption.IsCorruption(ex.Result))
        {
            reason = ex.Message;
        }
        catch (SQLiteException ex) when (ex.Result is SQLite3.Result.Busy or SQLite3.Result.Locked)
        {
            connection.Dispose();
            throw new InvalidOperationException($"The outbox database '{path}' is in use by another process (it is opened in exclusive locking mode).", ex);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        long salvaged = OutboxCorruption.TrySalvageLastSequence(connection.Handle);
        connection.Dispose();

        DateTimeOffset now = options.Clock.GetUtcNow();
        string movedTo = OutboxCorruption.MoveAside(path, now);
        // Sequences must never repeat, even across a lost file: resume above whatever the old file
        // still shows and above a wall-clock floor (ms since 1970 x 1000), which exceeds any count a
        // device reaches by normal enqueues. A jump is harmless: the gateway expects gaps anyway.
        long floor = Math.Max(salvaged + 1, now.ToUnixTimeMilliseconds() * 1000);
        var recovery = new OutboxCorruptionRecovery(reason, movedTo, floor);
        options.Log?.Invoke($"outbox: database '{path}' was corrupt ({reason}); moved it to '{movedTo}' and started a fresh store at sequence {floor}.");
        return new OutboxStore(OpenConnection(path), options, floor, recovery);
    }

    /// <inheritdoc cref="Enqueue(OutboxMessageClass, string, ReadOnlySpan{byte}, OutboxDeviceTotals?)"/>
    public EnqueueResult Enqueue(OutboxMessageClass messageClass, string topic, ReadOnlySpan<byte> payload) =>
        Enqueue(messageClass, topic, payload, null);

    /// <summary>
    /// Durably stores a message and assigns its sequence number. When this returns
    /// <see cref="EnqueueStatus.Accepted"/> the message and its sequence are committed and fsynced:
    /// they survive a crash or power loss. <paramref name="totals"/>, when given, are persisted in the same
    /// transaction (never lowering a stored value), so a heartbeat that carries them and the totals the device
    /// resumes from after a restart can never disagree.
    /// </summary>
    /// <exception cref="ArgumentException">Undefined class, or an empty or wildcard topic.</exception>
    /// <exception cref="SQLiteException">The write failed for another reason than a full disk or quota (I/O error);
    /// counted as failed.</exception>
    public EnqueueResult Enqueue(OutboxMessageClass messageClass, string topic, ReadOnlySpan<byte> payload, OutboxDeviceTotals? totals)
    {
        if (!OutboxPolicy.IsDefined(messageClass))
            throw new ArgumentOutOfRangeException(nameof(messageClass), messageClass, $"{(int)messageClass} is not an outbox message class.");
        ValidateTopic(topic);
        int size = AccountedSize(topic, payload.Length);
        int slot = (int)messageClass;

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (size > _budget.MaxMessageBytes)
            {
                _tx.RecordRefusal(slot, failed: false);
                return new EnqueueResult(EnqueueStatus.RefusedTooLarge, 0, size, 0);
            }

            long nowMs = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
            long expiresMs = nowMs + (long)_options.TimeToLiveFor(messageClass).TotalMilliseconds;
            long sequence = _nextSequence;
            EnqueueResult result = _insert.Insert(messageClass, topic, payload, totals, sequence, nowMs, expiresMs, size);
            if (result.Status != EnqueueStatus.Accepted)
                return result;
            _nextSequence = sequence + 1;
            if (totals is { } saved)
                _totals = Max(_totals, saved);
            _disk.AfterCommit();
            return result;
        }
    }

    /// <summary>
    /// Counts messages of <paramref name="messageClass"/> the producer dropped before they reached the store (for
    /// example a writer queue that was full). Nothing is written now; the count is persisted with the next
    /// successful transaction and reported by <see cref="GetStats"/> at once.
    /// </summary>
    public void RecordDropped(OutboxMessageClass messageClass, long count = 1)
    {
        if (!OutboxPolicy.IsDefined(messageClass))
            throw new ArgumentOutOfRangeException(nameof(messageClass), messageClass, $"{(int)messageClass} is not an outbox message class.");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _ledger.UnsavedDropped[(int)messageClass] += count;
        }
    }

    /// <summary>
    /// Returns the oldest messages in sequence order, skipping expired ones (and dropping them when the disk
    /// allows), and counts one send attempt on each returned message. Messages stay stored until acknowledged.
    /// Never needs a write: on a full disk the stored messages are still handed out.
    /// </summary>
    /// <param name="maxMessages">1 to <see cref="MaxPeekMessages"/>.</param>
    /// <param name="maxBytes">Stop before the batch's accounted size would exceed this; the first
    /// message is always returned so an oversize message cannot block the queue.</param>
    public IReadOnlyList<OutboxMessage> PeekBatch(int maxMessages, long maxBytes = long.MaxValue)
    {
        if (maxMessages < 1 || maxMessages > MaxPeekMessages)
            throw new ArgumentOutOfRangeException(nameof(maxMessages), maxMessages, $"PeekBatch takes 1 to {MaxPeekMessages} messages.");
        if (maxBytes < 1)
            throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "PeekBatch maxBytes must be positive.");

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long nowMs = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
            _tx.TryPurgeExpired(nowMs);
            return _delivery.Peek(nowMs, maxMessages, maxBytes);
        }
    }

    /// <summary>Deletes a message after its PUBACK. False when it is no longer stored (already
    /// acknowledged, evicted or expired while in flight): not an error.</summary>
    public bool Acknowledge(long sequence) => Acknowledge([sequence]) == 1;

    /// <summary>
    /// Deletes several acknowledged messages in one transaction; returns how many were stored. When the delete
    /// cannot be written (full disk) the messages are remembered as acknowledged (never handed out again) and
    /// deleted with the next transaction that succeeds.
    /// </summary>
    public int Acknowledge(ReadOnlySpan<long> sequences)
    {
        if (sequences.IsEmpty)
            return 0;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _delivery.Acknowledge(sequences);
        }
    }

    /// <summary>Drops expired messages now (peek and stats also do it); returns how many.</summary>
    public int PurgeExpired()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _tx.TryPurgeExpired(_options.Clock.GetUtcNow().ToUnixTimeMilliseconds());
        }
    }

    /// <summary>Depth and cumulative loss counters per class, after dropping expired messages (when the disk allows).</summary>
    public OutboxStats GetStats()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _tx.TryPurgeExpired(_options.Clock.GetUtcNow().ToUnixTimeMilliseconds());
            return _ledger.Stats(_options.QuotaBytes, _nextSequence, _disk.DiskFull);
        }
    }

    /// <summary>Runs <c>PRAGMA integrity_check</c>: "ok", or SQLite's description of the damage.</summary>
    public string CheckIntegrity()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return string.Join("; ", SqliteStatement.QueryTexts(_db, "PRAGMA integrity_check(20)"));
        }
    }

    /// <summary>Checkpoints the WAL into the database file and closes it. The reserve file stays: it is part of the
    /// outbox's footprint and is reused on the next open.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            try
            {
                if (_ledger.PendingDeletes.Count > 0 || _ledger.HasUnsavedCounters())
                    _tx.TryFlush();
            }
            catch (SQLiteException)
            {
                // Best effort: the rows are sent again after restart (the gateway de-duplicates) and the counts are lost.
            }

            _sql.Dispose();
            try
            {
                SqliteStatement.QueryTexts(_db, "PRAGMA wal_checkpoint(TRUNCATE)");
            }
            catch (SQLiteException)
            {
                // Best effort: the WAL is replayed on the next open anyway.
            }

            _connection.Dispose();
        }
    }

    private static SQLiteConnection OpenConnection(string path) =>
        new(path, SQLiteOpenFlags.ReadWrite | SQLiteOpenFlags.Create | SQLiteOpenFlags.FullMutex, storeDateTimeAsTicks: true)
        {
            BusyTimeout = TimeSpan.FromSeconds(1),
        };

    private void LoadState()
    {
        _nextSequence = SqliteStatement.QueryInt64(_db, "SELECT value FROM meta WHERE key = 'next_seq'") ?? throw new OutboxCorruptException("meta.next_seq is missing");
        long highest = SqliteStatement.QueryInt64(_db, "SELECT MAX(seq) FROM messages") ?? 0;
        if (highest >= _nextSequence)
            throw new OutboxCorruptException($"meta.next_seq {_nextSequence} is not above the highest stored sequence {highest}");
        long epoch = SqliteStatement.QueryInt64(_db, "SELECT value FROM meta WHERE key = 'totals_epoch'") ?? throw new OutboxCorruptException("meta.totals_epoch is missing");
        TotalsEpoch = epoch.ToString("x16", CultureInfo.InvariantCulture);

        _ledger.Load(_db);

        using var totals = new SqliteStatement(_db, "SELECT listening_seconds, detections, audio_overruns, near_misses, near_misses_rate_limited FROM device_totals WHERE id = 1");
        try
        {
            if (!totals.Step())
                throw new OutboxCorruptException("device_totals has no row");
            _totals = new OutboxDeviceTotals(totals.Double(0), totals.Int64(1), totals.Int64(2), totals.Int64(3), totals.Int64(4));
        }
        finally
        {
            totals.Reset();
        }
    }

    private static void ValidateTopic(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (topic.Length == 0)
            throw new ArgumentException("The MQTT topic is empty.", nameof(topic));
        if (topic.AsSpan().IndexOfAny('+', '#', '\0') >= 0)
            throw new ArgumentException($"The MQTT topic '{topic}' contains a wildcard or NUL; publish topics must be literal.", nameof(topic));
    }

    private static OutboxDeviceTotals Max(OutboxDeviceTotals a, OutboxDeviceTotals b) =>
        new(Math.Max(a.ListeningSeconds, b.ListeningSeconds), Math.Max(a.Detections, b.Detections), Math.Max(a.AudioOverruns, b.AudioOverruns),
            Math.Max(a.NearMisses, b.NearMisses), Math.Max(a.NearMissesRateLimited, b.NearMissesRateLimited));
}
