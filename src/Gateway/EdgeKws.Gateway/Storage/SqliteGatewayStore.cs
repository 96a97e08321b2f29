using System.Security.Cryptography;
using System.Text;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Shared.Contracts;
using SQLite;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The SQLite store: one file in WAL mode. Two connections: the writer (used only by the ingest writer and
/// credential provisioning, under <see cref="_writeLock"/>) and a reader (under its own lock), so API reads
/// never wait for a batch commit (WAL readers see the last committed state).
/// <para>Blobs (clip frames, quarantined payloads) live in the database, not in files: one transaction then
/// covers the row and its bytes, so the idempotency and kill-safety guarantees need no two-phase file protocol.
/// Clips are at most 320 KB; the retention service deletes old audio rows and incremental vacuum returns the pages.</para>
/// Not a hot-path type: a batch allocates its SQL arguments.
/// </summary>
public sealed partial class SqliteGatewayStore : ConcernStores, IGatewayStore
{
    /// <summary>Schema version in <c>PRAGMA user_version</c>.</summary>
    public const int SchemaVersion = 10;

    /// <summary>Longest label source text (kept here for callers of this store; the rule is <see cref="MonitoringValues"/>'s).</summary>
    public const int MaxLabelSourceLength = MonitoringValues.MaxLabelSourceLength;

    /// <summary>Longest cohort name (kept here for callers of this store; the rule is <see cref="MonitoringValues"/>'s).</summary>
    public const int MaxCohortLength = MonitoringValues.MaxCohortLength;

    private readonly SQLiteConnection _writer;
    private readonly SQLiteConnection _reader;
    private readonly Lock _writeLock = new();
    private readonly Lock _readLock = new();
    private readonly int _quarantineMaxPayloadBytes;
    private bool _disposed;

    private SqliteGatewayStore(SQLiteConnection writer, SQLiteConnection reader, int quarantineMaxPayloadBytes)
    {
        _writer = writer;
        _reader = reader;
        _quarantineMaxPayloadBytes = quarantineMaxPayloadBytes;
        DatabasePath = writer.DatabasePath;
        InitializeConcerns(new Connections(this));
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>Opens (creating if needed) the database at <see cref="StoreOptions.DatabasePath"/>.</summary>
    /// <exception cref="InvalidOperationException">When the file has a newer schema than this build knows.</exception>
    public static SqliteGatewayStore Open(StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string path = Path.GetFullPath(options.DatabasePath);
        string? directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var writer = new SQLiteConnection(new SQLiteConnectionString(path,
            SQLiteOpenFlags.ReadWrite | SQLiteOpenFlags.Create | SQLiteOpenFlags.NoMutex, storeDateTimeAsTicks: true));
        SQLiteConnection? reader = null;
        try
        {
            writer.BusyTimeout = TimeSpan.FromSeconds(10);
            // auto_vacuum must be set before the first table exists; it is a no-op on an existing file.
            writer.Execute("PRAGMA auto_vacuum = INCREMENTAL");
            string mode = writer.ExecuteScalar<string>("PRAGMA journal_mode = WAL");
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"gateway database '{path}' could not switch to WAL (journal_mode is '{mode}')");
            }
            writer.Execute(options.Durability == StoreDurability.Full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
            CreateSchema(writer, path);

            reader = new SQLiteConnection(new SQLiteConnectionString(path,
                SQLiteOpenFlags.ReadOnly | SQLiteOpenFlags.NoMutex, storeDateTimeAsTicks: true));
            reader.BusyTimeout = TimeSpan.FromSeconds(10);
            return new SqliteGatewayStore(writer, reader, options.QuarantineMaxPayloadBytes);
        }
        catch
        {
            reader?.Dispose();
            writer.Dispose();
            throw;
        }
    }

    private static void CreateSchema(SQLiteConnection db, string path)
    {
        int version = db.ExecuteScalar<int>("PRAGMA user_version");
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"gateway database '{path}' has schema {version}; this build knows up to {SchemaVersion}");
        }
        if (version == SchemaVersion)
        {
            return;
        }
        db.Execute("BEGIN IMMEDIATE");
        try
        {
            // Version 1: ingest tables. Version 2: monitoring (cohort, labels, models, evaluations, alerts). Version 3: governance
            // (dataset membership, model marks) and skew results. Version 4: labeling (label provenance, review entries,
            // re-review audits). Version 5: model registry and rollouts. Version 6: HTTP API tokens and the audit log. Version 7: heartbeat totals. Version 8: near misses.
            // Version 9: float weights of registered models. Version 10: the fine-tune policy's baseline.
            string[] ddls = [.. version < 1 ? Ddl : [], .. version < 2 ? MonitoringStore.Ddl(StoreDialect.Sqlite) : [], .. version < 3 ? GovernanceStore.Ddl(StoreDialect.Sqlite) : [], .. version < 4 ? LabelingStore.Ddl(StoreDialect.Sqlite) : [],
                .. version < 5 ? RolloutStore.Ddl(StoreDialect.Sqlite) : [], .. version < 6 ? AccessStore.Ddl(StoreDialect.Sqlite) : [], .. version < 7 ? HeartbeatTotalsStore.Ddl(StoreDialect.Sqlite) : [], .. version < 8 ? NearMissStore.Ddl(StoreDialect.Sqlite) : [],
                .. version < 9 ? RolloutStore.FloatWeightsDdl(StoreDialect.Sqlite) : [], .. version < 10 ? ModelLoopStore.Ddl(StoreDialect.Sqlite) : []];
            foreach (string ddl in ddls)
            {
                if (!AddsExistingColumn(db, ddl))
                {
                    db.Execute(ddl);
                }
            }
            db.Execute($"PRAGMA user_version = {SchemaVersion}");
            db.Execute("COMMIT");
        }
        catch
        {
            db.Execute("ROLLBACK");
            throw;
        }
    }

    /// <summary>
    /// SQLite has no <c>ADD COLUMN IF NOT EXISTS</c>: an <c>ALTER TABLE t ADD COLUMN c ...</c> whose column exists is
    /// skipped, so every step is idempotent like PostgreSQL's (a step renumbered in a merge, or re-run on a file whose
    /// version was set back, cannot fail on a column it already added).
    /// </summary>
    private static bool AddsExistingColumn(SQLiteConnection db, string ddl)
    {
        string[] words = ddl.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 6 || !words[0].Equals("ALTER", StringComparison.OrdinalIgnoreCase) || !words[3].Equals("ADD", StringComparison.OrdinalIgnoreCase)
            || !words[4].Equals("COLUMN", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        return db.ExecuteScalar<int>($"SELECT COUNT(*) FROM pragma_table_info('{words[2]}') WHERE name = ?", words[5]) > 0;
    }

    // Times are Unix milliseconds UTC. Every per-message table is keyed by (device_id, seq): the idempotency key.
    private static readonly string[] Ddl =
    [
        """
        CREATE TABLE IF NOT EXISTS devices (
            device_id           TEXT PRIMARY KEY NOT NULL,
            password_salt       BLOB,
            password_hash       BLOB,
            pbkdf2_iterations   INTEGER,
            first_seen_utc_ms   INTEGER,
            last_seen_utc_ms    INTEGER,
            model_version       TEXT,
            status              TEXT,
            status_reason       TEXT,
            status_utc_ms       INTEGER
        )
        """,
        // The idempotency ledger: one row per (device, sequence) ever stored, with the payload's SHA-256 so a
        // reused sequence with different content is told apart from a redelivery.
        """
        CREATE TABLE IF NOT EXISTS messages (
            device_id        TEXT NOT NULL,
            seq              INTEGER NOT NULL,
            kind             TEXT NOT NULL,
            payload_sha256   BLOB NOT NULL,
            received_utc_ms  INTEGER NOT NULL,
            PRIMARY KEY (device_id, seq)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS detections (
            device_id            TEXT NOT NULL,
            seq                  INTEGER NOT NULL,
            device_time_utc_ms   INTEGER NOT NULL,
            received_utc_ms      INTEGER NOT NULL,
            stream_offset_ms     INTEGER NOT NULL,
            score                REAL NOT NULL,
            keyword              TEXT,
            model_version        TEXT NOT NULL,
            feature_config_hash  TEXT NOT NULL,
            clip_id              TEXT,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS detections_time ON detections (device_time_utc_ms)",
        """
        CREATE TABLE IF NOT EXISTS heartbeats (
            device_id             TEXT NOT NULL,
            seq                   INTEGER NOT NULL,
            device_time_utc_ms    INTEGER NOT NULL,
            received_utc_ms       INTEGER NOT NULL,
            interval_s            REAL NOT NULL,
            listening_s           REAL NOT NULL,
            detections            INTEGER NOT NULL,
            audio_overruns        INTEGER NOT NULL,
            outbox_depth_count    INTEGER NOT NULL,
            outbox_depth_bytes    INTEGER NOT NULL,
            outbox_evicted_count  INTEGER NOT NULL,
            outbox_expired_count  INTEGER NOT NULL,
            model_version         TEXT NOT NULL,
            rss_bytes             INTEGER NOT NULL,
            uptime_s              REAL NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS clips (
            device_id            TEXT NOT NULL,
            seq                  INTEGER NOT NULL,
            clip_id              TEXT NOT NULL,
            kind                 TEXT NOT NULL,
            device_time_utc_ms   INTEGER NOT NULL,
            received_utc_ms      INTEGER NOT NULL,
            sample_rate_hz       INTEGER NOT NULL,
            frame_count          INTEGER NOT NULL,
            values_per_frame     INTEGER NOT NULL,
            feature_config_hash  TEXT NOT NULL,
            consent              INTEGER NOT NULL,
            frame                BLOB NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS clips_clip_id ON clips (clip_id)",
        """
        CREATE TABLE IF NOT EXISTS sketches (
            device_id            TEXT NOT NULL,
            seq                  INTEGER NOT NULL,
            received_utc_ms      INTEGER NOT NULL,
            window_start_utc_ms  INTEGER NOT NULL,
            window_end_utc_ms    INTEGER NOT NULL,
            model_version        TEXT,
            feature_config_hash  TEXT NOT NULL,
            layout_version       INTEGER NOT NULL,
            mfcc_frames          INTEGER NOT NULL,
            sketch_json          BLOB NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS model_status (
            device_id             TEXT NOT NULL,
            seq                   INTEGER NOT NULL,
            device_time_utc_ms    INTEGER NOT NULL,
            received_utc_ms       INTEGER NOT NULL,
            active_slot           TEXT NOT NULL,
            active_model_version  TEXT NOT NULL,
            update_result         TEXT NOT NULL,
            target_model_version  TEXT,
            reason                TEXT,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS quarantine (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            received_utc_ms  INTEGER NOT NULL,
            client_id        TEXT,
            topic            TEXT NOT NULL,
            rejection        TEXT NOT NULL,
            reason           TEXT NOT NULL,
            user_properties  TEXT NOT NULL,
            content_type     TEXT,
            payload          BLOB NOT NULL,
            payload_bytes    INTEGER NOT NULL
        )
        """,
    ];

    /// <inheritdoc />
    public void WriteBatch(ReadOnlySpan<StoreWrite> writes, Span<IngestResult> results)
    {
        if (results.Length != writes.Length)
        {
            throw new ArgumentException($"results has {results.Length} slots for {writes.Length} writes", nameof(results));
        }
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                for (int i = 0; i < writes.Length; i++)
                {
                    results[i] = WriteOne(writes[i]);
                }
                _writer.Execute("COMMIT");
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
    }

    private void TryRollback()
    {
        try
        {
            _writer.Execute("ROLLBACK");
        }
        catch (SQLiteException)
        {
            // SQLite already rolled back (e.g. after SQLITE_FULL); the original error is what matters.
        }
    }

    private IngestResult WriteOne(in StoreWrite w)
    {
        if (w.Message is not { } m)
        {
            Quarantine(w.Envelope, w.Rejection, w.Reason);
            return new IngestResult(IngestOutcome.Quarantined, w.Rejection, w.Reason);
        }
        long now = w.Envelope.ReceivedUtc.ToUnixTimeMilliseconds();
        if (m.Sequence is not { } seq)
        {
            // Presence carries no sequence: it is last-writer-wins state, not an event.
            var status = (DeviceStatus)m.Body;
            TouchDevice(m.DeviceId, now, currentModelVersion: null, heardModelVersion: null);
            _writer.Execute("UPDATE devices SET status = ?, status_reason = ?, status_utc_ms = ? WHERE device_id = ?",
                status.State.ToString(), status.Reason, now, m.DeviceId);
            return new IngestResult(IngestOutcome.Stored, RejectionKind.None, string.Empty);
        }

        byte[] digest = SHA256.HashData(w.Envelope.Payload);
        int inserted = _writer.Execute("INSERT OR IGNORE INTO messages (device_id, seq, kind, payload_sha256, received_utc_ms) VALUES (?, ?, ?, ?, ?)",
            m.DeviceId, seq, Topics.KindSegment(m.Kind), digest, now);
        if (inserted == 0)
        {
            byte[] stored = _writer.ExecuteScalar<byte[]>("SELECT payload_sha256 FROM messages WHERE device_id = ? AND seq = ?", m.DeviceId, seq);
            if (stored is not null && CryptographicOperations.FixedTimeEquals(stored, digest))
            {
                return new IngestResult(IngestOutcome.Duplicate, RejectionKind.None, string.Empty);
            }
            string reason = $"sequence {seq} of device '{m.DeviceId}' is already stored with different content (the device reused a sequence number)";
            Quarantine(w.Envelope, RejectionKind.SequenceConflict, reason);
            return new IngestResult(IngestOutcome.Quarantined, RejectionKind.SequenceConflict, reason);
        }

        switch (m.Body)
        {
            case DetectionReport d:
                _writer.Execute(
                    "INSERT INTO detections (device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, keyword, model_version, feature_config_hash, clip_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    m.DeviceId, seq, d.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, d.StreamOffsetMs, (double)d.Score, d.Keyword, d.ModelVersion,
                    d.FeatureConfigHash, d.ClipId?.ToString("D"));
                break;
            case Heartbeat h:
                _writer.Execute(
                    "INSERT INTO heartbeats (device_id, seq, device_time_utc_ms, received_utc_ms, interval_s, listening_s, detections, audio_overruns, outbox_depth_count, outbox_depth_bytes, outbox_evicted_count, outbox_expired_count, model_version, rss_bytes, uptime_s, totals_epoch, total_listening_s, total_detections, total_detections_lost, totals_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    m.DeviceId, seq, h.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, h.IntervalSeconds, h.ListeningSeconds, h.Detections, h.AudioOverruns,
                    h.OutboxDepthCount, h.OutboxDepthBytes, h.OutboxEvictedCount, h.OutboxExpiredCount, h.ModelVersion, h.RssBytes, h.UptimeSeconds,
                    h.Totals?.Epoch, h.Totals?.ListeningSeconds, h.Totals?.Detections, h.Totals is { } t ? HeartbeatListening.DetectionsLost(t) : null,
                    h.Totals is { } tj ? TotalsJson.Serialize(tj) : null);
                break;
            case DriftSketch s:
                _writer.Execute(
                    "INSERT INTO sketches (device_id, seq, received_utc_ms, window_start_utc_ms, window_end_utc_ms, model_version, feature_config_hash, layout_version, mfcc_frames, sketch_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    m.DeviceId, seq, now, s.WindowStartUtc.ToUnixTimeMilliseconds(), s.WindowEndUtc.ToUnixTimeMilliseconds(), s.ModelVersion,
                    s.FeatureConfigHash, s.LayoutVersion, s.MfccFrameCount(), w.Envelope.Payload);
                break;
            case ModelStatus ms:
                _writer.Execute(
                    "INSERT INTO model_status (device_id, seq, device_time_utc_ms, received_utc_ms, active_slot, active_model_version, update_result, target_model_version, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    m.DeviceId, seq, ms.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, ms.ActiveSlot.ToString(), ms.ActiveModelVersion,
                    ms.UpdateResult.ToString(), ms.TargetModelVersion, ms.Reason);
                break;
            case NearMissReport n:
                _writer.Execute(
                    "INSERT INTO near_misses (device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, threshold, band_floor, keyword, model_version, feature_config_hash, clip_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    m.DeviceId, seq, n.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, n.StreamOffsetMs, (double)n.Score, (double)n.Threshold, (double)n.BandFloor,
                    n.Keyword, n.ModelVersion, n.FeatureConfigHash, n.ClipId?.ToString("D"));
                break;
            case ClipHeader c:
                _writer.Execute(
                    "INSERT INTO clips (device_id, seq, clip_id, kind, device_time_utc_ms, received_utc_ms, sample_rate_hz, frame_count, values_per_frame, feature_config_hash, consent, frame) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    m.DeviceId, seq, c.ClipId.ToString("D"), c.Kind == MessageKind.ClipAudio ? "audio" : "features",
                    c.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, c.SampleRateHz, c.FrameCount, c.ValuesPerFrame, c.ConfigHash.ToString(),
                    c.ConsentGranted ? 1 : 0, w.Envelope.Payload);
                break;
            default:
                throw new InvalidOperationException($"no table for {m.Body.GetType().Name} (kind {m.Kind})");
        }
        TouchDevice(m.DeviceId, now, DeviceModelVersion.Current(m.Body), DeviceModelVersion.Heard(m.Body));
        return new IngestResult(IngestOutcome.Stored, RejectionKind.None, string.Empty);
    }

    private void TouchDevice(string deviceId, long nowMs, string? currentModelVersion, string? heardModelVersion) =>
        _writer.Execute(
            """
            INSERT INTO devices (device_id, first_seen_utc_ms, last_seen_utc_ms, model_version) VALUES (?1, ?2, ?2, coalesce(?3, ?4))
            ON CONFLICT (device_id) DO UPDATE SET
                first_seen_utc_ms = coalesce(first_seen_utc_ms, excluded.first_seen_utc_ms),
                last_seen_utc_ms = max(coalesce(last_seen_utc_ms, 0), excluded.last_seen_utc_ms),
                model_version = coalesce(?3, model_version, ?4)
            """,
            deviceId, nowMs, currentModelVersion, heardModelVersion);

    private void Quarantine(IngestEnvelope e, RejectionKind rejection, string reason)
    {
        var props = new StringBuilder();
        foreach (KeyValuePair<string, string> p in e.UserProperties)
        {
            props.Append(p.Key).Append('=').Append(p.Value).Append('\n');
        }
        byte[] payload = e.Payload.Length <= _quarantineMaxPayloadBytes ? e.Payload : e.Payload.AsSpan(0, _quarantineMaxPayloadBytes).ToArray();
        _writer.Execute(
            "INSERT INTO quarantine (received_utc_ms, client_id, topic, rejection, reason, user_properties, content_type, payload, payload_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            e.ReceivedUtc.ToUnixTimeMilliseconds(), e.ClientId, e.Topic, rejection.ToString(), reason, props.ToString(), e.ContentType, payload,
            (long)e.Payload.Length);
    }

    /// <inheritdoc />
    public void SetDeviceCredential(string deviceId, PasswordHash credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        if (!Topics.TryValidateDeviceId(deviceId, out string why))
        {
            throw new ArgumentException(why, nameof(deviceId));
        }
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute(
                """
                INSERT INTO devices (device_id, password_salt, password_hash, pbkdf2_iterations) VALUES (?1, ?2, ?3, ?4)
                ON CONFLICT (device_id) DO UPDATE SET password_salt = ?2, password_hash = ?3, pbkdf2_iterations = ?4
                """,
                deviceId, credential.Salt, credential.Hash, credential.Iterations);
        }
    }

    /// <inheritdoc />
    public bool TryGetDeviceCredential(string deviceId, out PasswordHash? credential)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<CredentialRow> rows = _reader.Query<CredentialRow>(
                "SELECT password_salt AS Salt, password_hash AS Hash, pbkdf2_iterations AS Iterations FROM devices WHERE device_id = ? AND password_hash IS NOT NULL",
                deviceId);
            credential = rows.Count == 1 && rows[0].Salt is { } salt && rows[0].Hash is { } hash
                ? new PasswordHash(salt, hash, (int)rows[0].Iterations)
                : null;
            return credential is not null;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<DeviceRecord> ReadDevices()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<DeviceRow>(
                    "SELECT device_id AS DeviceId, password_hash IS NOT NULL AS HasCredential, first_seen_utc_ms AS FirstSeen, last_seen_utc_ms AS LastSeen, model_version AS ModelVersion, status AS Status, cohort AS Cohort FROM devices ORDER BY device_id")
                .Select(r => new DeviceRecord(r.DeviceId, r.HasCredential != 0, FromMs(r.FirstSeen), FromMs(r.LastSeen), r.ModelVersion, r.Status, r.Cohort))
                .ToList();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<QuarantineRecord> ReadQuarantine(long afterId, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<QuarantineRow>(
                    "SELECT id AS Id, received_utc_ms AS ReceivedMs, client_id AS ClientId, topic AS Topic, rejection AS Rejection, reason AS Reason, payload AS Payload, payload_bytes AS PayloadBytes FROM quarantine WHERE id > ? ORDER BY id LIMIT ?",
                    afterId, limit)
                .Select(r => new QuarantineRecord(r.Id, DateTimeOffset.FromUnixTimeMilliseconds(r.ReceivedMs), r.ClientId, r.Topic,
                    Enum.Parse<RejectionKind>(r.Rejection), r.Reason, r.Payload ?? [], r.PayloadBytes))
                .ToList();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<long> ReadSequences(string deviceId)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.QueryScalars<long>("SELECT seq FROM messages WHERE device_id = ? ORDER BY seq", deviceId);
        }
    }

    /// <inheritdoc />
    public StoreCounts Count()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long C(string table) => _reader.ExecuteScalar<long>($"SELECT COUNT(*) FROM {table}");
            return new StoreCounts(C("messages"), C("detections"), C("heartbeats"), C("clips"), C("sketches"), C("model_status"), C("quarantine"), C("devices"));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_writeLock)
        {
            lock (_readLock)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                _reader.Dispose();
                _writer.Dispose();
            }
        }
    }

    private static DateTimeOffset? FromMs(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;

    // Row shapes for sqlite-net's mapper (columns are aliased to these property names).
    private sealed class CredentialRow
    {
        public byte[]? Salt { get; set; }
        public byte[]? Hash { get; set; }
        public long Iterations { get; set; }
    }

    private sealed class DeviceRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long HasCredential { get; set; }
        public long? FirstSeen { get; set; }
        public long? LastSeen { get; set; }
        public string? ModelVersion { get; set; }
        public string? Status { get; set; }
        public string? Cohort { get; set; }
    }

    private sealed class QuarantineRow
    {
        public long Id { get; set; }
        public long ReceivedMs { get; set; }
        public string? ClientId { get; set; }
        public string Topic { get; set; } = string.Empty;
        public string Rejection { get; set; } = string.Empty;
        public string Reason { get; set; } = string.Empty;
        public byte[]? Payload { get; set; }
        public long PayloadBytes { get; set; }
    }
}
