using System.Globalization;
using System.Security.Cryptography;
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

    private const long SchemaVersion = 3;

    // An insert that hits the page cap or a full disk is retried with a doubling eviction target; past this many
    // attempts everything this class may evict is gone and the message is refused.
    private const int MaxFullRetries = 12;

    private static readonly TimeSpan SpaceProbeInterval = TimeSpan.FromSeconds(2);

    // Newest heartbeat is protected until the very last step: heartbeats carry cumulative totals.
    private static readonly (OutboxMessageClass Class, bool KeepNewest)[] EvictionSteps =
    [
        (OutboxMessageClass.NearMiss, false),
        (OutboxMessageClass.ClipAudio, false),
        (OutboxMessageClass.ClipFeatures, false),
        (OutboxMessageClass.Sketch, false),
        (OutboxMessageClass.EnrollmentQc, false),
        (OutboxMessageClass.ModelStatus, false),
        (OutboxMessageClass.Heartbeat, true),
        (OutboxMessageClass.Detection, false),
        (OutboxMessageClass.Heartbeat, false),
    ];

    private readonly Lock _gate = new();
    private readonly SQLiteConnection _connection;
    private readonly sqlite3 _db;
    private readonly OutboxOptions _options;
    private readonly string _walPath;
    private readonly string _reservePath;
    private readonly string _directory;

    private readonly SqliteStatement _begin, _commit, _rollback;
    private readonly SqliteStatement _insert, _setNextSeq, _deleteBySeq, _deleteBySeqReturning, _rowOfSeq;
    private readonly SqliteStatement _oldestOfClass, _newestOfClass, _expiredByClass, _deleteExpired, _anyExpired;
    private readonly SqliteStatement _peek, _addCounters, _setTotals, _pageCount;

    // In-memory mirror of the database, changed only after a successful commit.
    private readonly long[] _count = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _bytes = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _evictedCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _evictedBytes = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _expiredCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _expiredBytes = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _refusedCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _writtenCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _failedCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _droppedCount = new long[OutboxPolicy.ClassSlots];

    // Counted but not yet persisted (nothing could be written when they happened); flushed with the next commit.
    private readonly long[] _unsavedRefused = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _unsavedFailed = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _unsavedDropped = new long[OutboxPolicy.ClassSlots];

    // Acknowledged, but the delete could not be written (full disk): never handed out again, deleted with the next commit.
    private readonly SortedDictionary<long, (int Slot, long Bytes)> _pendingDeletes = [];
    private readonly long[] _pendingDeleteCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _pendingDeleteBytes = new long[OutboxPolicy.ClassSlots];

    // Attempts counted in memory: a peek must not need a write (a full disk would stop sending).
    private readonly Dictionary<long, int> _attempts = [];

    private readonly Delta _delta = new();
    private readonly List<long> _victims = new(256);
    private OutboxBudget _budget;
    private long _totalBytes;
    private long _nextSequence;
    private OutboxDeviceTotals _totals;
    private bool _diskFull;
    private bool _reservePresent;
    private long _lastSpaceProbe;
    private string? _lastFailureLogged;
    private bool _disposed;

    private OutboxStore(SQLiteConnection connection, OutboxOptions options, long firstSequence, OutboxCorruptionRecovery? recovery)
    {
        _connection = connection;
        _db = connection.Handle;
        _options = options;
        CorruptionRecovery = recovery;
        DatabasePath = connection.DatabasePath;
        _walPath = DatabasePath + "-wal";
        _reservePath = DatabasePath + "-reserve";
        _directory = Path.GetDirectoryName(DatabasePath) ?? ".";

        var created = new List<SqliteStatement>();
        try
        {
            SqliteStatement Prepare(string sql)
            {
                var s = new SqliteStatement(_db, sql);
                created.Add(s);
                return s;
            }

            ConfigureAndCheck(_db, out string? integrityProblem);
            if (integrityProblem is not null)
                throw new OutboxCorruptException(integrityProblem);

            CreateSchema(firstSequence);
            int pageSize = (int)(SqliteStatement.QueryInt64(_db, "PRAGMA page_size") ?? DefaultPageSizeBytes);
            if (!OutboxBudget.TryCompute(options.QuotaBytes, pageSize, out _budget, out string why))
                throw new ArgumentOutOfRangeException(nameof(options), options.QuotaBytes, "OutboxOptions.QuotaBytes: " + why);
            if (options.DataQuotaBytesOverride is { } data)
                _budget = _budget with { DataQuotaBytes = data };

            _begin = Prepare("BEGIN IMMEDIATE");
            _commit = Prepare("COMMIT");
            _rollback = Prepare("ROLLBACK");
            _insert = Prepare("INSERT INTO messages(seq, class, topic, payload, created_utc_ms, expires_utc_ms, size_bytes, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)");
            _setNextSeq = Prepare("UPDATE meta SET value = ?1 WHERE key = 'next_seq'");
            _deleteBySeq = Prepare("DELETE FROM messages WHERE seq = ?1");
            _deleteBySeqReturning = Prepare("DELETE FROM messages WHERE seq = ?1 RETURNING class, size_bytes");
            _rowOfSeq = Prepare("SELECT class, size_bytes FROM messages WHERE seq = ?1");
            _oldestOfClass = Prepare("SELECT seq, size_bytes FROM messages WHERE class = ?1 AND seq < ?2 ORDER BY seq LIMIT 256");
            _newestOfClass = Prepare("SELECT MAX(seq) FROM messages WHERE class = ?1");
            _expiredByClass = Prepare("SELECT class, COUNT(*), SUM(size_bytes) FROM messages WHERE expires_utc_ms <= ?1 GROUP BY class");
            _deleteExpired = Prepare("DELETE FROM messages WHERE expires_utc_ms <= ?1");
            _anyExpired = Prepare("SELECT 1 FROM messages WHERE expires_utc_ms <= ?1 LIMIT 1");
            _peek = Prepare("SELECT seq, class, topic, payload, created_utc_ms, expires_utc_ms, size_bytes, attempts FROM messages WHERE expires_utc_ms > ?1 ORDER BY seq LIMIT ?2");
            _addCounters = Prepare("UPDATE class_counters SET evicted_count = evicted_count + ?2, evicted_bytes = evicted_bytes + ?3, expired_count = expired_count + ?4, expired_bytes = expired_bytes + ?5, refused_count = refused_count + ?6, written_count = written_count + ?7, failed_count = failed_count + ?8, dropped_count = dropped_count + ?9 WHERE class = ?1");
            // MAX: totals only ever grow, whatever order their carriers arrive in.
            _setTotals = Prepare("UPDATE device_totals SET listening_seconds = MAX(listening_seconds, ?1), detections = MAX(detections, ?2), audio_overruns = MAX(audio_overruns, ?3), near_misses = MAX(near_misses, ?4), near_misses_rate_limited = MAX(near_misses_rate_limited, ?5) WHERE id = 1");
            _pageCount = Prepare("PRAGMA page_count");

            LoadState();
            // An outbox created by an earlier build may already be larger than the cap: SQLite then keeps it at its size.
            SetPageCap(_budget.DatabaseMaxPages);
            _reservePresent = TryAllocateReserve(out string? reserveProblem);
            if (!_reservePresent)
                _options.Log?.Invoke($"outbox: cannot allocate the {_budget.ReserveBytes} byte reserve '{_reservePath}' ({reserveProblem}); retrying later.");
        }
        catch
        {
            foreach (var s in created)
                s.Dispose();
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
                return _diskFull;
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
        catch (SQLiteException ex) when (IsCorruption(ex.Result))
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

        long salvaged = TrySalvageLastSequence(connection.Handle);
        connection.Dispose();

        DateTimeOffset now = options.Clock.GetUtcNow();
        string movedTo = MoveAside(path, now);
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
                RecordRefusal(slot, failed: false);
                return new EnqueueResult(EnqueueStatus.RefusedTooLarge, 0, size, 0);
            }

            long nowMs = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
            long expiresMs = nowMs + (long)_options.TimeToLiveFor(messageClass).TotalMilliseconds;
            long sequence = _nextSequence;
            long extraNeeded = 0;
            long lastFreed = -1;
            for (int attempt = 0; ; attempt++)
            {
                _delta.Clear();
                int evicted;
                Begin();
                try
                {
                    DeletePendingInTransaction();
                    long logicalNeeded = _totalBytes - _delta.RemovedBytesTotal + size - _budget.DataQuotaBytes;
                    if (logicalNeeded > 0 || extraNeeded > 0)
                    {
                        PurgeExpiredInTransaction(nowMs);
                        logicalNeeded = _totalBytes - _delta.RemovedBytesTotal + size - _budget.DataQuotaBytes;
                        long freed = EvictInTransaction(messageClass, Math.Max(logicalNeeded, extraNeeded));
                        if (logicalNeeded > 0 && freed < logicalNeeded)
                        {
                            Rollback();
                            _delta.Clear();
                            RecordRefusal(slot, failed: false);
                            return new EnqueueResult(EnqueueStatus.RefusedQuotaFull, 0, size, 0);
                        }
                        if (extraNeeded > 0 && freed <= lastFreed)
                        {
                            // Everything this class may evict is gone and the pages still do not suffice.
                            Rollback();
                            _delta.Clear();
                            bool disk = _diskFull;
                            RecordRefusal(slot, failed: disk);
                            LogFailure(disk ? "refused-disk" : "refused-cap",
                                $"outbox: {messageClass} not stored: {(disk ? "the disk is full" : "the database is at its page cap")} and nothing it may evict is left.");
                            return new EnqueueResult(disk ? EnqueueStatus.RefusedDiskFull : EnqueueStatus.RefusedQuotaFull, 0, size, 0);
                        }
                        lastFreed = freed;
                    }

                    _insert.Bind(1, sequence).Bind(2, slot).Bind(3, topic).Bind(4, payload)
                        .Bind(5, nowMs).Bind(6, expiresMs).Bind(7, size).Execute();
                    // The counter lives in the same transaction as the row: both or neither survive.
                    _setNextSeq.Bind(1, sequence + 1).Execute();
                    _delta.WrittenCount[slot]++;
                    if (totals is { } t)
                        _setTotals.Bind(1, t.ListeningSeconds).Bind(2, t.Detections).Bind(3, t.AudioOverruns).Bind(4, t.NearMisses).Bind(5, t.NearMissesRateLimited).Execute();
                    FlushCountersInTransaction();
                    evicted = _delta.EvictedMessagesTotal;
                    _commit.Execute();
                }
                catch (SQLiteException ex) when (IsFull(ex) && attempt < MaxFullRetries)
                {
                    Rollback();
                    _delta.Clear();
                    // Entering disk-full mode released the reserve: try once as is before evicting anything for the disk.
                    if (OnFull(ex, "storing a " + messageClass) && extraNeeded == 0)
                        continue;
                    // The page cap or the disk: free pages by evicting by class, more each time.
                    extraNeeded = extraNeeded == 0 ? size + (2L * _budget.PageSizeBytes) : extraNeeded * 2;
                    continue;
                }
                catch (SQLiteException ex)
                {
                    Rollback();
                    _delta.Clear();
                    if (IsFull(ex))
                    {
                        bool disk = _diskFull;
                        RecordRefusal(slot, failed: disk);
                        LogFailure(disk ? "refused-disk" : "refused-cap", $"outbox: {messageClass} not stored: still no room after evicting what it may evict.");
                        return new EnqueueResult(disk ? EnqueueStatus.RefusedDiskFull : EnqueueStatus.RefusedQuotaFull, 0, size, 0);
                    }
                    _unsavedFailed[slot]++;
                    LogFailure("error:" + ex.Result, $"outbox: {messageClass} not stored: {ex.Message}");
                    throw;
                }
                catch
                {
                    Rollback();
                    _delta.Clear();
                    _unsavedFailed[slot]++;
                    throw;
                }

                ApplyCommitted();
                _count[slot]++;
                _bytes[slot] += size;
                _totalBytes += size;
                _nextSequence = sequence + 1;
                if (totals is { } saved)
                    _totals = Max(_totals, saved);
                AfterCommit();
                return new EnqueueResult(EnqueueStatus.Accepted, sequence, size, evicted);
            }
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
            _unsavedDropped[(int)messageClass] += count;
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
            TryPurgeExpiredLocked(nowMs);
            var batch = new List<OutboxMessage>(Math.Min(maxMessages, 64));
            long batchBytes = 0;
            try
            {
                // Rows acknowledged but not yet deleted are skipped, so ask for that many more.
                _peek.Bind(1, nowMs).Bind(2, Math.Min((long)maxMessages + _pendingDeletes.Count, int.MaxValue));
                while (batch.Count < maxMessages && _peek.Step())
                {
                    long seq = _peek.Int64(0);
                    if (_pendingDeletes.ContainsKey(seq))
                        continue;
                    int size = (int)_peek.Int64(6);
                    if (batch.Count > 0 && batchBytes + size > maxBytes)
                        break;
                    batchBytes += size;
                    _attempts.TryGetValue(seq, out int attempts);
                    _attempts[seq] = ++attempts;
                    batch.Add(new OutboxMessage(
                        Sequence: seq,
                        Class: (OutboxMessageClass)_peek.Int64(1),
                        Topic: _peek.Text(2),
                        Payload: _peek.Blob(3).ToArray(),
                        CreatedUtc: DateTimeOffset.FromUnixTimeMilliseconds(_peek.Int64(4)),
                        ExpiresUtc: DateTimeOffset.FromUnixTimeMilliseconds(_peek.Int64(5)),
                        SizeBytes: size,
                        AttemptCount: (int)_peek.Int64(7) + attempts));
                }
            }
            finally
            {
                _peek.Reset();
            }

            if (_attempts.Count > 4 * MaxPeekMessages)
                _attempts.Clear(); // evicted/expired rows leave entries behind; attempts are diagnostic only
            return batch;
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
            foreach (long sequence in sequences)
                _attempts.Remove(sequence);
            for (int attempt = 0; ; attempt++)
            {
                _delta.Clear();
                int deleted = 0;
                Begin();
                try
                {
                    DeletePendingInTransaction();
                    foreach (long sequence in sequences)
                    {
                        try
                        {
                            _deleteBySeqReturning.Bind(1, sequence);
                            if (_deleteBySeqReturning.Step())
                            {
                                int slot = (int)_deleteBySeqReturning.Int64(0);
                                _delta.Remove(slot, _deleteBySeqReturning.Int64(1));
                                deleted++;
                            }
                        }
                        finally
                        {
                            _deleteBySeqReturning.Reset();
                        }
                    }

                    FlushCountersInTransaction();
                    _commit.Execute();
                }
                catch (SQLiteException ex) when (IsFull(ex))
                {
                    Rollback();
                    _delta.Clear();
                    OnFull(ex, "deleting acknowledged messages");
                    if (attempt == 0)
                        continue; // the reserve is released now: try once more
                    return RememberAcknowledged(sequences);
                }
                catch
                {
                    Rollback();
                    _delta.Clear();
                    throw;
                }

                ApplyCommitted();
                AfterCommit();
                return deleted;
            }
        }
    }

    /// <summary>Drops expired messages now (peek and stats also do it); returns how many.</summary>
    public int PurgeExpired()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return TryPurgeExpiredLocked(_options.Clock.GetUtcNow().ToUnixTimeMilliseconds());
        }
    }

    /// <summary>Depth and cumulative loss counters per class, after dropping expired messages (when the disk allows).</summary>
    public OutboxStats GetStats()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            TryPurgeExpiredLocked(_options.Clock.GetUtcNow().ToUnixTimeMilliseconds());
            var perClass = new OutboxClassStats[OutboxPolicy.AllClasses.Length];
            long totalCount = 0, totalBytes = 0;
            for (int i = 0; i < perClass.Length; i++)
            {
                var cls = OutboxPolicy.AllClasses[i];
                int s = (int)cls;
                long count = _count[s] - _pendingDeleteCount[s];
                long bytes = _bytes[s] - _pendingDeleteBytes[s];
                perClass[i] = new OutboxClassStats(cls, count, bytes, _evictedCount[s], _evictedBytes[s],
                    _expiredCount[s], _expiredBytes[s], _refusedCount[s] + _unsavedRefused[s],
                    _writtenCount[s], _failedCount[s] + _unsavedFailed[s], _droppedCount[s] + _unsavedDropped[s]);
                totalCount += count;
                totalBytes += bytes;
            }

            return new OutboxStats(perClass, totalCount, totalBytes, _options.QuotaBytes, _nextSequence, _diskFull, _pendingDeletes.Count);
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
                if (_pendingDeletes.Count > 0 || HasUnsavedCounters())
                    TryFlushLocked();
            }
            catch (SQLiteException)
            {
                // Best effort: the rows are sent again after restart (the gateway de-duplicates) and the counts are lost.
            }

            foreach (var s in new[] { _begin, _commit, _rollback, _insert, _setNextSeq, _deleteBySeq, _deleteBySeqReturning, _rowOfSeq,
                         _oldestOfClass, _newestOfClass, _expiredByClass, _deleteExpired, _anyExpired, _peek, _addCounters, _setTotals, _pageCount })
                s.Dispose();
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

    private static void ConfigureAndCheck(sqlite3 db, out string? integrityProblem)
    {
        // Exclusive locking before WAL: one process owns the outbox, and the WAL index lives in
        // heap memory instead of a -shm file (one less file to go stale after a kill, and none to count).
        SqliteStatement.QueryTexts(db, "PRAGMA locking_mode = EXCLUSIVE");
        var mode = SqliteStatement.QueryTexts(db, "PRAGMA journal_mode = WAL");
        if (mode.Count != 1 || !string.Equals(mode[0], "wal", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"The outbox needs WAL journaling but SQLite kept journal_mode '{string.Join(",", mode)}' (unsupported filesystem?).");

        // Durability: synchronous = FULL. In WAL mode, FULL fsyncs the WAL at every commit, so a
        // transaction that has committed (Enqueue returned) survives power loss. NORMAL would only
        // fsync at checkpoints: still never corrupt, but the last commits before a power cut could
        // vanish, i.e. an acknowledged enqueue (and its sequence number) could be lost and the
        // number reused. EXTRA adds nothing in WAL mode (it only syncs the directory after a
        // rollback journal is unlinked). The cost is one fsync per enqueue/ack batch, which a
        // detector firing a few times an hour never notices (figures in docs/outbox.md).
        SqliteStatement.QueryTexts(db, "PRAGMA synchronous = FULL");
        // The store checkpoints and truncates the WAL itself after commits (see AfterCommit), at a threshold derived
        // from the quota; SQLite's own automatic checkpoint (1000 pages, 4 MB) would let it outgrow a small quota.
        SqliteStatement.QueryTexts(db, "PRAGMA wal_autocheckpoint = 0");
        var check = SqliteStatement.QueryTexts(db, "PRAGMA integrity_check(20)");
        integrityProblem = check.Count == 1 && check[0] == "ok" ? null : string.Join("; ", check);
    }

    private void CreateSchema(long firstSequence)
    {
        SqliteStatement.QueryTexts(_db, "BEGIN IMMEDIATE");
        try
        {
            SqliteStatement.QueryTexts(_db, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID");
            SqliteStatement.QueryTexts(_db, """
                CREATE TABLE IF NOT EXISTS messages(
                    seq            INTEGER PRIMARY KEY NOT NULL,
                    class          INTEGER NOT NULL,
                    topic          TEXT    NOT NULL,
                    payload        BLOB    NOT NULL,
                    created_utc_ms INTEGER NOT NULL,
                    expires_utc_ms INTEGER NOT NULL,
                    size_bytes     INTEGER NOT NULL,
                    attempts       INTEGER NOT NULL DEFAULT 0)
                """);
            SqliteStatement.QueryTexts(_db, "CREATE INDEX IF NOT EXISTS ix_messages_class_seq ON messages(class, seq)");
            SqliteStatement.QueryTexts(_db, "CREATE INDEX IF NOT EXISTS ix_messages_expires ON messages(expires_utc_ms)");
            SqliteStatement.QueryTexts(_db, """
                CREATE TABLE IF NOT EXISTS class_counters(
                    class         INTEGER PRIMARY KEY NOT NULL,
                    evicted_count INTEGER NOT NULL DEFAULT 0,
                    evicted_bytes INTEGER NOT NULL DEFAULT 0,
                    expired_count INTEGER NOT NULL DEFAULT 0,
                    expired_bytes INTEGER NOT NULL DEFAULT 0,
                    refused_count INTEGER NOT NULL DEFAULT 0)
                """);
            // A new file is created at version 1 and migrated below like any version 1 file.
            SqliteStatement.QueryTexts(_db, $"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', 1), ('next_seq', {firstSequence.ToString(CultureInfo.InvariantCulture)})");
            foreach (var cls in OutboxPolicy.AllClasses)
                SqliteStatement.QueryTexts(_db, $"INSERT OR IGNORE INTO class_counters(class) VALUES ({(int)cls})");

            long found = SqliteStatement.QueryInt64(_db, "SELECT value FROM meta WHERE key = 'schema_version'") ?? -1;
            if (found == 1)
            {
                // Schema 2: written/failed/dropped per class and the device totals with their epoch. The older counters
                // (evicted, expired, refused) keep their values; the new ones start at zero under a new epoch.
                SqliteStatement.QueryTexts(_db, "ALTER TABLE class_counters ADD COLUMN written_count INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(_db, "ALTER TABLE class_counters ADD COLUMN failed_count INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(_db, "ALTER TABLE class_counters ADD COLUMN dropped_count INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(_db, """
                    CREATE TABLE device_totals(
                        id                INTEGER PRIMARY KEY CHECK (id = 1),
                        listening_seconds REAL    NOT NULL DEFAULT 0,
                        detections        INTEGER NOT NULL DEFAULT 0,
                        audio_overruns    INTEGER NOT NULL DEFAULT 0)
                    """);
                SqliteStatement.QueryTexts(_db, "INSERT INTO device_totals(id) VALUES (1)");
                long epoch = RandomNumberGenerator.GetInt32(1, int.MaxValue) * (long)int.MaxValue + RandomNumberGenerator.GetInt32(0, int.MaxValue);
                SqliteStatement.QueryTexts(_db, $"INSERT OR REPLACE INTO meta(key, value) VALUES ('totals_epoch', {epoch.ToString(CultureInfo.InvariantCulture)})");
                SqliteStatement.QueryTexts(_db, "UPDATE meta SET value = 2 WHERE key = 'schema_version'");
                found = 2;
            }
            if (found == 2)
            {
                // Schema 3: the NearMiss class (8) and the near-miss totals. A build that knows only schema 2 refuses the file
                // instead of taking class 8 rows for corruption and moving the store aside.
                SqliteStatement.QueryTexts(_db, "ALTER TABLE device_totals ADD COLUMN near_misses INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(_db, "ALTER TABLE device_totals ADD COLUMN near_misses_rate_limited INTEGER NOT NULL DEFAULT 0");
                SqliteStatement.QueryTexts(_db, $"UPDATE meta SET value = {SchemaVersion} WHERE key = 'schema_version'");
                found = SchemaVersion;
            }
            if (found != SchemaVersion)
                throw new InvalidOperationException($"The outbox database '{DatabasePath}' has schema version {found}; this build reads versions 1 to {SchemaVersion}. Refusing to touch it.");
            SqliteStatement.QueryTexts(_db, "COMMIT");
        }
        catch
        {
            if (raw.sqlite3_get_autocommit(_db) == 0)
                SqliteStatement.QueryTexts(_db, "ROLLBACK");
            throw;
        }
    }

    private void LoadState()
    {
        _nextSequence = SqliteStatement.QueryInt64(_db, "SELECT value FROM meta WHERE key = 'next_seq'") ?? throw new OutboxCorruptException("meta.next_seq is missing");
        long highest = SqliteStatement.QueryInt64(_db, "SELECT MAX(seq) FROM messages") ?? 0;
        if (highest >= _nextSequence)
            throw new OutboxCorruptException($"meta.next_seq {_nextSequence} is not above the highest stored sequence {highest}");
        long epoch = SqliteStatement.QueryInt64(_db, "SELECT value FROM meta WHERE key = 'totals_epoch'") ?? throw new OutboxCorruptException("meta.totals_epoch is missing");
        TotalsEpoch = epoch.ToString("x16", CultureInfo.InvariantCulture);

        using (var depth = new SqliteStatement(_db, "SELECT class, COUNT(*), SUM(size_bytes) FROM messages GROUP BY class"))
        {
            try
            {
                while (depth.Step())
                {
                    int slot = SlotOf(depth.Int64(0));
                    _count[slot] = depth.Int64(1);
                    _bytes[slot] = depth.Int64(2);
                    _totalBytes += _bytes[slot];
                }
            }
            finally
            {
                depth.Reset();
            }
        }

        using (var counters = new SqliteStatement(_db, "SELECT class, evicted_count, evicted_bytes, expired_count, expired_bytes, refused_count, written_count, failed_count, dropped_count FROM class_counters"))
        {
            try
            {
                while (counters.Step())
                {
                    int slot = SlotOf(counters.Int64(0));
                    _evictedCount[slot] = counters.Int64(1);
                    _evictedBytes[slot] = counters.Int64(2);
                    _expiredCount[slot] = counters.Int64(3);
                    _expiredBytes[slot] = counters.Int64(4);
                    _refusedCount[slot] = counters.Int64(5);
                    _writtenCount[slot] = counters.Int64(6);
                    _failedCount[slot] = counters.Int64(7);
                    _droppedCount[slot] = counters.Int64(8);
                }
            }
            finally
            {
                counters.Reset();
            }
        }

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

    private static int SlotOf(long storedClass) =>
        OutboxPolicy.IsDefined((OutboxMessageClass)storedClass)
            ? (int)storedClass
            : throw new OutboxCorruptException($"a row has class {storedClass}, which is not an outbox message class");

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

    private void Begin() => _begin.Execute();

    private void Rollback()
    {
        if (raw.sqlite3_get_autocommit(_db) == 0)
        {
            try
            {
                _rollback.Execute();
            }
            catch (SQLiteException)
            {
                // SQLite already rolled back (it may after SQLITE_FULL); the original error is what matters.
            }
        }
    }

    /// <summary>SQLITE_FULL (disk or page cap), or an I/O error while the disk has no room (fallocate, fsync, write).</summary>
    private bool IsFull(SQLiteException ex) =>
        ex.Result == SQLite3.Result.Full || (ex.Result == SQLite3.Result.IOError && DiskHasNoRoom());

    private bool DiskHasNoRoom()
    {
        try
        {
            return new DriveInfo(_directory).AvailableFreeSpace < _budget.ReserveBytes + _budget.WalMaxBytes;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A write hit the page cap or a full disk. On a full disk: release the reserve and cap the database at its
    /// size. True when this call entered disk-full mode.</summary>
    private bool OnFull(SQLiteException ex, string doing)
    {
        if (_diskFull || !DiskHasNoRoom())
            return false; // already handled, or the database's own page cap (eviction handles it silently)
        _diskFull = true;
        long released = ReleaseReserve();
        long pages = PageCount();
        SetPageCap(pages);
        _lastSpaceProbe = _options.Clock.GetTimestamp();
        _options.Log?.Invoke(
            $"outbox: the disk is full ({doing} failed: {ex.Message}); released the {released} byte reserve and capped the database at its current " +
            $"{pages * _budget.PageSizeBytes} bytes: new messages are stored by evicting older ones by class, stored messages are still sent, " +
            "what cannot be stored is counted as failed.");
        return true;
    }

    /// <summary>Checkpoints the WAL when it passed its threshold (always while the disk is full, to give the space back),
    /// and checks whether space came back.</summary>
    private void AfterCommit()
    {
        long wal = 0;
        try
        {
            wal = new FileInfo(_walPath).Length;
        }
        catch (IOException)
        {
            // No WAL file: nothing to checkpoint.
        }

        if (wal > _budget.WalCheckpointBytes || (_diskFull && wal > 0))
            Checkpoint();

        if (_diskFull || !_reservePresent)
            ProbeSpace();
    }

    private void Checkpoint()
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                SqliteStatement.QueryTexts(_db, "PRAGMA wal_checkpoint(TRUNCATE)");
                return;
            }
            catch (SQLiteException ex) when (IsFull(ex))
            {
                // The database file may need to grow into what the WAL used: release the reserve and try once more.
                OnFull(ex, "checkpointing the write-ahead log");
            }
            catch (SQLiteException ex)
            {
                LogFailure("checkpoint", $"outbox: checkpoint failed: {ex.Message}");
                return;
            }
        }
    }

    /// <summary>At most every two seconds: when the disk has room for the reserve twice over, allocate it and leave disk-full mode.</summary>
    private void ProbeSpace()
    {
        long now = _options.Clock.GetTimestamp();
        if (_lastSpaceProbe != 0 && _options.Clock.GetElapsedTime(_lastSpaceProbe, now) < SpaceProbeInterval)
            return;
        _lastSpaceProbe = now;
        long available;
        try
        {
            available = new DriveInfo(_directory).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return;
        }

        // Hysteresis: leaving disk-full mode on the space the last checkpoint just gave back would flap.
        if (available < (2 * _budget.ReserveBytes) + _budget.WalMaxBytes)
            return;
        if (!_reservePresent)
            _reservePresent = TryAllocateReserve(out _);
        if (_diskFull && _reservePresent)
        {
            _diskFull = false;
            _lastFailureLogged = null;
            SetPageCap(_budget.DatabaseMaxPages);
            _options.Log?.Invoke($"outbox: disk space is back ({available} bytes free): reserve re-allocated, the database may grow to its cap again.");
        }
    }

    private bool TryAllocateReserve(out string? problem)
    {
        problem = null;
        try
        {
            if (File.Exists(_reservePath))
                File.Delete(_reservePath); // re-created at the current size (the quota may have changed)
            // fallocate: the blocks are really taken from the filesystem, unlike a sparse file of that length.
            using (File.OpenHandle(_reservePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, _budget.ReserveBytes))
            {
            }
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problem = ex.Message;
            try
            {
                File.Delete(_reservePath);
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do: the next probe tries again.
            }
            return false;
        }
    }

    private long ReleaseReserve()
    {
        if (!_reservePresent)
            return 0;
        _reservePresent = false;
        try
        {
            File.Delete(_reservePath);
            return _budget.ReserveBytes;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private long PageCount()
    {
        try
        {
            return _pageCount.ExecuteScalarInt64() ?? 0;
        }
        catch (SQLiteException)
        {
            return 0;
        }
    }

    private void SetPageCap(long pages)
    {
        // SQLite never sets the cap below the current size; a larger file keeps its size and simply stops growing.
        SqliteStatement.QueryTexts(_db, "PRAGMA max_page_count = " + Math.Max(pages, 1).ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Logs a failure once until a different failure or the end of disk-full mode (a full disk would otherwise log every write).</summary>
    private void LogFailure(string kind, string message)
    {
        if (_lastFailureLogged == kind)
            return;
        _lastFailureLogged = kind;
        _options.Log?.Invoke(message);
    }

    private int RememberAcknowledged(ReadOnlySpan<long> sequences)
    {
        int stored = 0;
        foreach (long sequence in sequences)
        {
            if (_pendingDeletes.ContainsKey(sequence))
                continue;
            try
            {
                _rowOfSeq.Bind(1, sequence);
                if (_rowOfSeq.Step())
                {
                    int slot = (int)_rowOfSeq.Int64(0);
                    long bytes = _rowOfSeq.Int64(1);
                    _pendingDeletes[sequence] = (slot, bytes);
                    _pendingDeleteCount[slot]++;
                    _pendingDeleteBytes[slot] += bytes;
                    stored++;
                }
            }
            finally
            {
                _rowOfSeq.Reset();
            }
        }

        LogFailure("ack", $"outbox: acknowledged messages cannot be deleted (the disk is full); {_pendingDeletes.Count} kept as sent and deleted later.");
        return stored;
    }

    /// <summary>Deletes the acknowledged rows whose delete failed earlier, inside the caller's transaction.</summary>
    private void DeletePendingInTransaction()
    {
        foreach ((long sequence, (int slot, long bytes)) in _pendingDeletes)
        {
            _deleteBySeq.Bind(1, sequence).Execute();
            _delta.Remove(slot, bytes);
        }
        _delta.PendingDeletesCleared = _pendingDeletes.Count > 0;
    }

    private bool HasUnsavedCounters()
    {
        for (int s = 1; s < OutboxPolicy.ClassSlots; s++)
            if (_unsavedRefused[s] != 0 || _unsavedFailed[s] != 0 || _unsavedDropped[s] != 0)
                return true;
        return false;
    }

    /// <summary>One transaction that writes the pending deletes and unsaved counters, if the disk allows.</summary>
    private bool TryFlushLocked()
    {
        _delta.Clear();
        Begin();
        try
        {
            DeletePendingInTransaction();
            FlushCountersInTransaction();
            _commit.Execute();
        }
        catch (SQLiteException ex) when (IsFull(ex))
        {
            Rollback();
            _delta.Clear();
            OnFull(ex, "saving counters");
            return false;
        }
        catch
        {
            Rollback();
            _delta.Clear();
            throw;
        }

        ApplyCommitted();
        AfterCommit();
        return true;
    }

    /// <summary>Drops expired messages if there are any and the disk allows; never throws for a full disk.</summary>
    private int TryPurgeExpiredLocked(long nowMs)
    {
        bool any;
        try
        {
            _anyExpired.Bind(1, nowMs);
            any = _anyExpired.Step();
        }
        finally
        {
            _anyExpired.Reset();
        }

        // While the disk is full, pending deletes and counters wait for the next enqueue or acknowledgement.
        if (!any && (_diskFull || (_pendingDeletes.Count == 0 && !HasUnsavedCounters())))
            return 0;
        _delta.Clear();
        Begin();
        try
        {
            DeletePendingInTransaction();
            PurgeExpiredInTransaction(nowMs);
            FlushCountersInTransaction();
            _commit.Execute();
        }
        catch (SQLiteException ex) when (IsFull(ex))
        {
            // Expired rows are skipped by peeks anyway; they go with a later transaction.
            Rollback();
            _delta.Clear();
            OnFull(ex, "dropping expired messages");
            return 0;
        }
        catch
        {
            Rollback();
            _delta.Clear();
            throw;
        }

        int purged = _delta.ExpiredMessagesTotal;
        ApplyCommitted();
        AfterCommit();
        return purged;
    }

    private void PurgeExpiredInTransaction(long nowMs)
    {
        bool any = false;
        try
        {
            _expiredByClass.Bind(1, nowMs);
            while (_expiredByClass.Step())
            {
                int slot = SlotOf(_expiredByClass.Int64(0));
                long count = _expiredByClass.Int64(1);
                long bytes = _expiredByClass.Int64(2);
                _delta.Expire(slot, count, bytes);
                any = true;
            }
        }
        finally
        {
            _expiredByClass.Reset();
        }

        if (any)
            _deleteExpired.Bind(1, nowMs).Execute();
    }

    /// <summary>Evicts per <see cref="EvictionSteps"/> until <paramref name="neededBytes"/> are freed or nothing this
    /// class may evict is left; returns the accounted bytes freed.</summary>
    private long EvictInTransaction(OutboxMessageClass incoming, long neededBytes)
    {
        int incomingRank = OutboxPolicy.RetentionRank(incoming);
        long freed = 0;
        foreach (var (cls, keepNewest) in EvictionSteps)
        {
            if (freed >= neededBytes)
                break;
            if (OutboxPolicy.RetentionRank(cls) > incomingRank)
                continue;
            int slot = (int)cls;
            long upperBound = long.MaxValue;
            if (keepNewest)
                upperBound = _newestOfClass.Bind(1, slot).ExecuteScalarInt64() ?? long.MinValue;

            while (freed < neededBytes && _count[slot] - _delta.RemovedCount[slot] > 0)
            {
                _victims.Clear();
                long batchFreed = 0;
                try
                {
                    _oldestOfClass.Bind(1, slot).Bind(2, upperBound);
                    while (freed + batchFreed < neededBytes && _oldestOfClass.Step())
                    {
                        _victims.Add(_oldestOfClass.Int64(0));
                        batchFreed += _oldestOfClass.Int64(1);
                    }
                }
                finally
                {
                    _oldestOfClass.Reset();
                }

                if (_victims.Count == 0)
                    break;
                foreach (long victim in _victims)
                    _deleteBySeq.Bind(1, victim).Execute();
                freed += batchFreed;
                _delta.Evict(slot, _victims.Count, batchFreed);
            }
        }

        return freed;
    }

    private void FlushCountersInTransaction()
    {
        for (int s = 1; s < OutboxPolicy.ClassSlots; s++)
        {
            long refused = _delta.RefusedCount[s] + _unsavedRefused[s];
            long failed = _unsavedFailed[s];
            long dropped = _unsavedDropped[s];
            if (_delta.EvictedCount[s] == 0 && _delta.ExpiredCount[s] == 0 && refused == 0 && _delta.WrittenCount[s] == 0 && failed == 0 && dropped == 0)
                continue;
            _addCounters.Bind(1, s).Bind(2, _delta.EvictedCount[s]).Bind(3, _delta.EvictedBytes[s])
                .Bind(4, _delta.ExpiredCount[s]).Bind(5, _delta.ExpiredBytes[s]).Bind(6, refused)
                .Bind(7, _delta.WrittenCount[s]).Bind(8, failed).Bind(9, dropped).Execute();
            _delta.SavedRefused[s] = _unsavedRefused[s];
            _delta.SavedFailed[s] = failed;
            _delta.SavedDropped[s] = dropped;
        }
    }

    /// <summary>A refusal is a result, not an error: counted now, persisted with this or the next transaction that succeeds.</summary>
    private void RecordRefusal(int slot, bool failed)
    {
        if (failed)
            _unsavedFailed[slot]++;
        else
            _unsavedRefused[slot]++;
        if (!_diskFull)
            TryFlushLocked();
    }

    /// <summary>Applies a committed transaction's changes to the in-memory mirror.</summary>
    private void ApplyCommitted()
    {
        for (int s = 1; s < OutboxPolicy.ClassSlots; s++)
        {
            _count[s] -= _delta.RemovedCount[s];
            _bytes[s] -= _delta.RemovedBytes[s];
            _totalBytes -= _delta.RemovedBytes[s];
            _evictedCount[s] += _delta.EvictedCount[s];
            _evictedBytes[s] += _delta.EvictedBytes[s];
            _expiredCount[s] += _delta.ExpiredCount[s];
            _expiredBytes[s] += _delta.ExpiredBytes[s];
            _refusedCount[s] += _delta.RefusedCount[s] + _delta.SavedRefused[s];
            _writtenCount[s] += _delta.WrittenCount[s];
            _failedCount[s] += _delta.SavedFailed[s];
            _droppedCount[s] += _delta.SavedDropped[s];
            _unsavedRefused[s] -= _delta.SavedRefused[s];
            _unsavedFailed[s] -= _delta.SavedFailed[s];
            _unsavedDropped[s] -= _delta.SavedDropped[s];
        }

        if (_delta.PendingDeletesCleared)
        {
            _pendingDeletes.Clear();
            Array.Clear(_pendingDeleteCount);
            Array.Clear(_pendingDeleteBytes);
        }

        _delta.Clear();
    }

    private static bool IsCorruption(SQLite3.Result result) =>
        result is SQLite3.Result.Corrupt or SQLite3.Result.NonDBFile;

    private static long TrySalvageLastSequence(sqlite3 db)
    {
        long best = 0;
        foreach (string sql in new[] { "SELECT MAX(seq) FROM messages", "SELECT value - 1 FROM meta WHERE key = 'next_seq'" })
        {
            try
            {
                using var stmt = new SqliteStatement(db, sql);
                long value = stmt.ExecuteScalarInt64() ?? 0;
                // A damaged page can yield nonsense; only trust values that leave room to count on.
                if (value > best && value < long.MaxValue / 4)
                    best = value;
            }
            catch (SQLiteException)
            {
                // Unreadable: the wall-clock floor covers it.
            }
        }

        return best;
    }

    private static string MoveAside(string path, DateTimeOffset now)
    {
        string stamp = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        string target = $"{path}.corrupt-{stamp}";
        for (int n = 1; File.Exists(target); n++)
            target = $"{path}.corrupt-{stamp}-{n}";
        File.Move(path, target);
        // Keep the WAL with its database (SQLite pairs "<db>-wal" with "<db>") for forensics.
        foreach (string suffix in new[] { "-wal", "-shm", "-journal" })
        {
            if (File.Exists(path + suffix))
                File.Move(path + suffix, target + suffix);
        }

        return target;
    }

    /// <summary>Pending changes of one transaction, applied to the in-memory mirror after commit.
    /// One instance reused under the lock: no allocation per operation.</summary>
    private sealed class Delta
    {
        public readonly long[] RemovedCount = new long[OutboxPolicy.ClassSlots];
        public readonly long[] RemovedBytes = new long[OutboxPolicy.ClassSlots];
        public readonly long[] EvictedCount = new long[OutboxPolicy.ClassSlots];
        public readonly long[] EvictedBytes = new long[OutboxPolicy.ClassSlots];
        public readonly long[] ExpiredCount = new long[OutboxPolicy.ClassSlots];
        public readonly long[] ExpiredBytes = new long[OutboxPolicy.ClassSlots];
        public readonly long[] RefusedCount = new long[OutboxPolicy.ClassSlots];
        public readonly long[] WrittenCount = new long[OutboxPolicy.ClassSlots];

        // Counters held in memory (unsaved) that this transaction persists.
        public readonly long[] SavedRefused = new long[OutboxPolicy.ClassSlots];
        public readonly long[] SavedFailed = new long[OutboxPolicy.ClassSlots];
        public readonly long[] SavedDropped = new long[OutboxPolicy.ClassSlots];
        public bool PendingDeletesCleared;

        public long RemovedBytesTotal
        {
            get
            {
                long sum = 0;
                foreach (long b in RemovedBytes)
                    sum += b;
                return sum;
            }
        }

        public int EvictedMessagesTotal
        {
            get
            {
                long sum = 0;
                foreach (long c in EvictedCount)
                    sum += c;
                return (int)sum;
            }
        }

        public int ExpiredMessagesTotal
        {
            get
            {
                long sum = 0;
                foreach (long c in ExpiredCount)
                    sum += c;
                return (int)sum;
            }
        }

        public void Remove(int slot, long bytes)
        {
            RemovedCount[slot]++;
            RemovedBytes[slot] += bytes;
        }

        public void Evict(int slot, long count, long bytes)
        {
            RemovedCount[slot] += count;
            RemovedBytes[slot] += bytes;
            EvictedCount[slot] += count;
            EvictedBytes[slot] += bytes;
        }

        public void Expire(int slot, long count, long bytes)
        {
            RemovedCount[slot] += count;
            RemovedBytes[slot] += bytes;
            ExpiredCount[slot] += count;
            ExpiredBytes[slot] += bytes;
        }

        public void Clear()
        {
            Array.Clear(RemovedCount);
            Array.Clear(RemovedBytes);
            Array.Clear(EvictedCount);
            Array.Clear(EvictedBytes);
            Array.Clear(ExpiredCount);
            Array.Clear(ExpiredBytes);
            Array.Clear(RefusedCount);
            Array.Clear(WrittenCount);
            Array.Clear(SavedRefused);
            Array.Clear(SavedFailed);
            Array.Clear(SavedDropped);
            PendingDeletesCleared = false;
        }
    }
}

/// <summary>Raised inside <see cref="OutboxStore.Open"/> when the file is readable but its content is
/// inconsistent; handled there by moving the file aside.</summary>
internal sealed class OutboxCorruptException(string message) : Exception(message);
