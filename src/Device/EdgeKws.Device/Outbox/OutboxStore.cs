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

    private const long SchemaVersion = 1;

    // Newest heartbeat is protected until the very last step: heartbeats carry cumulative totals.
    private static readonly (OutboxMessageClass Class, bool KeepNewest)[] EvictionSteps =
    [
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

    private readonly SqliteStatement _begin, _commit, _rollback;
    private readonly SqliteStatement _insert, _setNextSeq, _deleteBySeq, _deleteBySeqReturning;
    private readonly SqliteStatement _oldestOfClass, _newestOfClass, _expiredByClass, _deleteExpired;
    private readonly SqliteStatement _peek, _countAttempt, _addCounters;

    // In-memory mirror of the database, changed only after a successful commit.
    private readonly long[] _count = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _bytes = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _evictedCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _evictedBytes = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _expiredCount = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _expiredBytes = new long[OutboxPolicy.ClassSlots];
    private readonly long[] _refusedCount = new long[OutboxPolicy.ClassSlots];
    private readonly Delta _delta = new();
    private readonly List<long> _victims = new(256);
    private long _totalBytes;
    private long _nextSequence;
    private bool _disposed;

    private OutboxStore(SQLiteConnection connection, OutboxOptions options, long firstSequence, OutboxCorruptionRecovery? recovery)
    {
        _connection = connection;
        _db = connection.Handle;
        _options = options;
        CorruptionRecovery = recovery;
        DatabasePath = connection.DatabasePath;

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

            _begin = Prepare("BEGIN IMMEDIATE");
            _commit = Prepare("COMMIT");
            _rollback = Prepare("ROLLBACK");
            _insert = Prepare("INSERT INTO messages(seq, class, topic, payload, created_utc_ms, expires_utc_ms, size_bytes, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)");
            _setNextSeq = Prepare("UPDATE meta SET value = ?1 WHERE key = 'next_seq'");
            _deleteBySeq = Prepare("DELETE FROM messages WHERE seq = ?1");
            _deleteBySeqReturning = Prepare("DELETE FROM messages WHERE seq = ?1 RETURNING class, size_bytes");
            _oldestOfClass = Prepare("SELECT seq, size_bytes FROM messages WHERE class = ?1 AND seq < ?2 ORDER BY seq LIMIT 256");
            _newestOfClass = Prepare("SELECT MAX(seq) FROM messages WHERE class = ?1");
            _expiredByClass = Prepare("SELECT class, COUNT(*), SUM(size_bytes) FROM messages WHERE expires_utc_ms <= ?1 GROUP BY class");
            _deleteExpired = Prepare("DELETE FROM messages WHERE expires_utc_ms <= ?1");
            _peek = Prepare("SELECT seq, class, topic, payload, created_utc_ms, expires_utc_ms, size_bytes, attempts FROM messages ORDER BY seq LIMIT ?1");
            _countAttempt = Prepare("UPDATE messages SET attempts = attempts + 1 WHERE seq BETWEEN ?1 AND ?2");
            _addCounters = Prepare("UPDATE class_counters SET evicted_count = evicted_count + ?2, evicted_bytes = evicted_bytes + ?3, expired_count = expired_count + ?4, expired_bytes = expired_bytes + ?5, refused_count = refused_count + ?6 WHERE class = ?1");

            LoadState();
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

    /// <summary>The configured byte quota.</summary>
    public long QuotaBytes => _options.QuotaBytes;

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

    /// <summary>
    /// Durably stores a message and assigns its sequence number. When this returns
    /// <see cref="EnqueueStatus.Accepted"/> the message and its sequence are committed and fsynced:
    /// they survive a crash or power loss.
    /// </summary>
    /// <exception cref="ArgumentException">Undefined class, or an empty or wildcard topic.</exception>
    public EnqueueResult Enqueue(OutboxMessageClass messageClass, string topic, ReadOnlySpan<byte> payload)
    {
        if (!OutboxPolicy.IsDefined(messageClass))
            throw new ArgumentOutOfRangeException(nameof(messageClass), messageClass, $"{(int)messageClass} is not an outbox message class.");
        ValidateTopic(topic);
        int size = AccountedSize(topic, payload.Length);
        int slot = (int)messageClass;

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (size > _options.QuotaBytes)
            {
                RecordRefusal(messageClass);
                return new EnqueueResult(EnqueueStatus.RefusedTooLarge, 0, size, 0);
            }

            long nowMs = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
            long expiresMs = nowMs + (long)_options.TimeToLiveFor(messageClass).TotalMilliseconds;
            long sequence = _nextSequence;
            _delta.Clear();
            int evicted;
            Begin();
            try
            {
                if (_totalBytes + size > _options.QuotaBytes)
                {
                    PurgeExpiredInTransaction(nowMs);
                    long needed = _totalBytes - _delta.RemovedBytesTotal + size - _options.QuotaBytes;
                    if (needed > 0 && !EvictInTransaction(messageClass, needed))
                    {
                        Rollback();
                        _delta.Clear();
                        RecordRefusal(messageClass);
                        return new EnqueueResult(EnqueueStatus.RefusedQuotaFull, 0, size, 0);
                    }
                }

                _insert.Bind(1, sequence).Bind(2, slot).Bind(3, topic).Bind(4, payload)
                    .Bind(5, nowMs).Bind(6, expiresMs).Bind(7, size).Execute();
                // The counter lives in the same transaction as the row: both or neither survive.
                _setNextSeq.Bind(1, sequence + 1).Execute();
                FlushCountersInTransaction();
                evicted = _delta.EvictedMessagesTotal;
                _commit.Execute();
            }
            catch
            {
                Rollback();
                throw;
            }

            ApplyDelta();
            _count[slot]++;
            _bytes[slot] += size;
            _totalBytes += size;
            _nextSequence = sequence + 1;
            return new EnqueueResult(EnqueueStatus.Accepted, sequence, size, evicted);
        }
    }

    /// <summary>
    /// Returns the oldest messages in sequence order, dropping expired ones first, and counts one
    /// send attempt on each returned message. Messages stay stored until acknowledged.
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
            var batch = new List<OutboxMessage>(Math.Min(maxMessages, 64));
            _delta.Clear();
            Begin();
            try
            {
                PurgeExpiredInTransaction(nowMs);
                long batchBytes = 0;
                try
                {
                    _peek.Bind(1, maxMessages);
                    while (_peek.Step())
                    {
                        int size = (int)_peek.Int64(6);
                        if (batch.Count > 0 && batchBytes + size > maxBytes)
                            break;
                        batchBytes += size;
                        batch.Add(new OutboxMessage(
                            Sequence: _peek.Int64(0),
                            Class: (OutboxMessageClass)_peek.Int64(1),
                            Topic: _peek.Text(2),
                            Payload: _peek.Blob(3).ToArray(),
                            CreatedUtc: DateTimeOffset.FromUnixTimeMilliseconds(_peek.Int64(4)),
                            ExpiresUtc: DateTimeOffset.FromUnixTimeMilliseconds(_peek.Int64(5)),
                            SizeBytes: size,
                            AttemptCount: (int)_peek.Int64(7) + 1));
                    }
                }
                finally
                {
                    _peek.Reset();
                }

                // The batch is a contiguous run of the rows in sequence order (we hold the lock).
                if (batch.Count > 0)
                    _countAttempt.Bind(1, batch[0].Sequence).Bind(2, batch[^1].Sequence).Execute();
                FlushCountersInTransaction();
                _commit.Execute();
            }
            catch
            {
                Rollback();
                throw;
            }

            ApplyDelta();
            return batch;
        }
    }

    /// <summary>Deletes a message after its PUBACK. False when it is no longer stored (already
    /// acknowledged, evicted or expired while in flight): not an error.</summary>
    public bool Acknowledge(long sequence) => Acknowledge([sequence]) == 1;

    /// <summary>Deletes several acknowledged messages in one transaction; returns how many were stored.</summary>
    public int Acknowledge(ReadOnlySpan<long> sequences)
    {
        if (sequences.IsEmpty)
            return 0;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _delta.Clear();
            int deleted = 0;
            Begin();
            try
            {
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

                _commit.Execute();
            }
            catch
            {
                Rollback();
                throw;
            }

            ApplyDelta();
            return deleted;
        }
    }

    /// <summary>Drops expired messages now (peek and stats also do it); returns how many.</summary>
    public int PurgeExpired()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return PurgeExpiredLocked();
        }
    }

    /// <summary>Depth and cumulative loss counters per class, after dropping expired messages.</summary>
    public OutboxStats GetStats()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            PurgeExpiredLocked();
            var perClass = new OutboxClassStats[OutboxPolicy.AllClasses.Length];
            long totalCount = 0;
            for (int i = 0; i < perClass.Length; i++)
            {
                var cls = OutboxPolicy.AllClasses[i];
                int s = (int)cls;
                perClass[i] = new OutboxClassStats(cls, _count[s], _bytes[s], _evictedCount[s], _evictedBytes[s],
                    _expiredCount[s], _expiredBytes[s], _refusedCount[s]);
                totalCount += _count[s];
            }

            return new OutboxStats(perClass, totalCount, _totalBytes, _options.QuotaBytes, _nextSequence);
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

    /// <summary>Checkpoints the WAL into the database file and closes it.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var s in new[] { _begin, _commit, _rollback, _insert, _setNextSeq, _deleteBySeq, _deleteBySeqReturning,
                         _oldestOfClass, _newestOfClass, _expiredByClass, _deleteExpired, _peek, _countAttempt, _addCounters })
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
        // heap memory instead of a -shm file (one less file to go stale after a kill).
        SqliteStatement.QueryTexts(db, "PRAGMA locking_mode = EXCLUSIVE");
        var mode = SqliteStatement.QueryTexts(db, "PRAGMA journal_mode = WAL");
        if (mode.Count != 1 || !string.Equals(mode[0], "wal", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"The outbox needs WAL journaling but SQLite kept journal_mode '{string.Join(",", mode)}' (unsupported filesystem?).");

        // Durability: synchronous = FULL. In WAL mode, FULL fsyncs the WAL at every commit, so a
        // transaction that has committed (Enqueue returned) survives power loss. NORMAL would only
        // fsync at checkpoints: still never corrupt, but the last commits before a power cut could
        // vanish, i.e. an acknowledged enqueue (and its sequence number) could be lost and the
        // number reused. EXTRA adds nothing in WAL mode (it only syncs the directory after a
        // rollback journal is unlinked). The cost is one fsync per enqueue/peek/ack batch, which a
        // detector firing a few times an hour never notices (figures in docs/outbox.md).
        SqliteStatement.QueryTexts(db, "PRAGMA synchronous = FULL");
        // Keep the WAL file from staying large after a burst of clips.
        SqliteStatement.QueryTexts(db, "PRAGMA journal_size_limit = 4194304");
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
            SqliteStatement.QueryTexts(_db, $"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', {SchemaVersion}), ('next_seq', {firstSequence.ToString(CultureInfo.InvariantCulture)})");
            foreach (var cls in OutboxPolicy.AllClasses)
                SqliteStatement.QueryTexts(_db, $"INSERT OR IGNORE INTO class_counters(class) VALUES ({(int)cls})");
            SqliteStatement.QueryTexts(_db, "COMMIT");
        }
        catch
        {
            if (raw.sqlite3_get_autocommit(_db) == 0)
                SqliteStatement.QueryTexts(_db, "ROLLBACK");
            throw;
        }

        using var version = new SqliteStatement(_db, "SELECT value FROM meta WHERE key = 'schema_version'");
        long found = version.ExecuteScalarInt64() ?? -1;
        if (found != SchemaVersion)
            throw new InvalidOperationException($"The outbox database '{DatabasePath}' has schema version {found}; this build reads version {SchemaVersion}. Refusing to touch it.");
    }

    private void LoadState()
    {
        using (var next = new SqliteStatement(_db, "SELECT value FROM meta WHERE key = 'next_seq'"))
            _nextSequence = next.ExecuteScalarInt64() ?? throw new OutboxCorruptException("meta.next_seq is missing");
        using (var max = new SqliteStatement(_db, "SELECT MAX(seq) FROM messages"))
        {
            long highest = max.ExecuteScalarInt64() ?? 0;
            if (highest >= _nextSequence)
                throw new OutboxCorruptException($"meta.next_seq {_nextSequence} is not above the highest stored sequence {highest}");
        }

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

        using var counters = new SqliteStatement(_db, "SELECT class, evicted_count, evicted_bytes, expired_count, expired_bytes, refused_count FROM class_counters");
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
            }
        }
        finally
        {
            counters.Reset();
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

    private void Begin() => _begin.Execute();

    private void Rollback()
    {
        if (raw.sqlite3_get_autocommit(_db) == 0)
            _rollback.Execute();
    }

    private int PurgeExpiredLocked()
    {
        long nowMs = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        _delta.Clear();
        Begin();
        try
        {
            PurgeExpiredInTransaction(nowMs);
            FlushCountersInTransaction();
            _commit.Execute();
        }
        catch
        {
            Rollback();
            throw;
        }

        int purged = _delta.ExpiredMessagesTotal;
        ApplyDelta();
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

    /// <summary>Evicts per <see cref="EvictionSteps"/> until <paramref name="neededBytes"/> are freed; false if impossible.</summary>
    private bool EvictInTransaction(OutboxMessageClass incoming, long neededBytes)
    {
        int incomingRank = OutboxPolicy.RetentionRank(incoming);
        long freed = 0;
        foreach (var (cls, keepNewest) in EvictionSteps)
        {
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

            if (freed >= neededBytes)
                return true;
        }

        return false;
    }

    private void FlushCountersInTransaction()
    {
        for (int s = 1; s < OutboxPolicy.ClassSlots; s++)
        {
            if (_delta.EvictedCount[s] == 0 && _delta.ExpiredCount[s] == 0 && _delta.RefusedCount[s] == 0)
                continue;
            _addCounters.Bind(1, s).Bind(2, _delta.EvictedCount[s]).Bind(3, _delta.EvictedBytes[s])
                .Bind(4, _delta.ExpiredCount[s]).Bind(5, _delta.ExpiredBytes[s]).Bind(6, _delta.RefusedCount[s]).Execute();
        }
    }

    private void RecordRefusal(OutboxMessageClass messageClass)
    {
        _delta.Clear();
        _delta.RefusedCount[(int)messageClass] = 1;
        Begin();
        try
        {
            FlushCountersInTransaction();
            _commit.Execute();
        }
        catch
        {
            Rollback();
            throw;
        }

        ApplyDelta();
    }

    private void ApplyDelta()
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
            _refusedCount[s] += _delta.RefusedCount[s];
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
        }
    }
}

/// <summary>Raised inside <see cref="OutboxStore.Open"/> when the file is readable but its content is
/// inconsistent; handled there by moving the file aside.</summary>
internal sealed class OutboxCorruptException(string message) : Exception(message);
