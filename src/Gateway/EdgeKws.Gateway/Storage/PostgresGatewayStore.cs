using System.Security.Cryptography;
using System.Text;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Shared.Contracts;
using Npgsql;
using NpgsqlTypes;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The PostgreSQL store, shared by several gateway instances (each behind the same shared MQTT subscription). Same
/// contract and tables as <see cref="SqliteGatewayStore"/>: the ledger <c>messages</c> keyed by (device_id, seq) with the
/// payload's SHA-256, typed rows under the same key, quarantine with the raw bytes, PBKDF2 credentials.
/// <para>Idempotency across instances: the ledger row is inserted with <c>INSERT ... ON CONFLICT DO NOTHING</c>, in the
/// same statement (a data-modifying CTE) as the typed row, which is inserted only when the ledger row was. Under READ
/// COMMITTED, a concurrent insert of the same key by another instance makes this one wait for that commit and then do
/// nothing, so a message redelivered to a second instance is stored once; the follow-up hash comparison tells a
/// redelivery (Duplicate) from a reused sequence (quarantined as SequenceConflict).</para>
/// <para>Deadlock freedom: every batch takes its row locks in one global order - ledger keys sorted by (device, seq),
/// then device rows sorted by id - so two instances writing overlapping devices cannot wait on each other in a cycle.
/// A deadlock or serialization failure reported anyway is retried (whole batch, three times).</para>
/// <para>Round trips per batch: one pipelined <see cref="NpgsqlBatch"/> for all messages, one for the rare conflicts,
/// one for quarantine rows and device updates, and the COMMIT. Durability <see cref="StoreDurability.Full"/> keeps
/// <c>synchronous_commit = on</c> (the commit is flushed to the WAL on disk before it returns);
/// <see cref="StoreDurability.Normal"/> sets it off for this session (a gateway crash loses nothing, a PostgreSQL crash
/// may lose the last commits).</para>
/// Not a hot-path type: a batch allocates its commands and parameters.
/// </summary>
public sealed partial class PostgresGatewayStore : ConcernStores, IGatewayStore
{
    /// <summary>Schema version in <c>schema_info</c> (1: ingest tables; 2: monitoring; 3: governance and skew; 4: labeling; 5: model registry and rollouts;
    /// 6: HTTP API tokens and the audit log; 7: heartbeat totals; 8: near misses; 9: float weights of registered models; 10: the fine-tune policy's baseline, as <see cref="SqliteGatewayStore.SchemaVersion"/>).</summary>
    public const int SchemaVersion = 10;

    // Serialises schema creation when several instances start at once (an arbitrary constant key).
    private const long SchemaLockKey = 0x45444745_4B575331;

    private static readonly string[] RetrySqlStates = [PostgresErrorCodes.DeadlockDetected, PostgresErrorCodes.SerializationFailure];

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _synchronousCommit;
    private readonly int _quarantineMaxPayloadBytes;
    private readonly Lock _writeLock = new();
    private NpgsqlConnection? _writer;
    private bool _disposed;

    private PostgresGatewayStore(NpgsqlDataSource dataSource, bool synchronousCommit, int quarantineMaxPayloadBytes)
    {
        _dataSource = dataSource;
        _synchronousCommit = synchronousCommit;
        _quarantineMaxPayloadBytes = quarantineMaxPayloadBytes;
        InitializeConcerns(new Connections(this));
    }

    /// <summary>Connects, creates or migrates the schema, and returns the store.</summary>
    /// <exception cref="InvalidOperationException">When the database cannot be reached or has a newer schema than this build knows.</exception>
    public static PostgresGatewayStore Open(StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            throw new ArgumentException("Gateway:Store:ConnectionString is required for the PostgreSQL store");
        }
        var csb = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        if (csb.MaxAutoPrepare == 0)
        {
            // The same few INSERT texts run for every message: let Npgsql prepare them once per connection.
            csb.MaxAutoPrepare = 32;
        }
        NpgsqlDataSource dataSource = NpgsqlDataSource.Create(csb);
        var store = new PostgresGatewayStore(dataSource, options.Durability == StoreDurability.Full, options.QuarantineMaxPayloadBytes);
        try
        {
            using NpgsqlConnection db = store.OpenConnection($"{csb.Host}:{csb.Port}/{csb.Database}");
            CreateSchema(db);
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private NpgsqlConnection OpenConnection(string? describe = null)
    {
        try
        {
            return _dataSource.OpenConnection();
        }
        catch (NpgsqlException ex)
        {
            throw new InvalidOperationException($"cannot connect to the gateway's PostgreSQL database {describe}: {ex.Message}", ex);
        }
    }

    private static void CreateSchema(NpgsqlConnection db)
    {
        using NpgsqlTransaction tx = db.BeginTransaction();
        Exec(db, tx, $"SELECT pg_advisory_xact_lock({SchemaLockKey})");
        Exec(db, tx, "CREATE TABLE IF NOT EXISTS schema_info (version integer NOT NULL)");
        int version;
        using (var cmd = new NpgsqlCommand("SELECT max(version) FROM schema_info", db, tx))
        {
            version = cmd.ExecuteScalar() is int v ? v : 0;
        }
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"gateway PostgreSQL database '{db.Database}' has schema {version}; this build knows up to {SchemaVersion}");
        }
        if (version == SchemaVersion)
        {
            tx.Commit();
            return;
        }
        // Each step guarded by the stored version, all in this transaction under the lock: instances starting together migrate
        // once, and a failed step leaves the previous version intact. 0 -> 1: ingest tables; 1 -> 2: monitoring; 2 -> 3: governance, skew.
        // 3 -> 4: labeling (label provenance, review entries, re-review audits); 4 -> 5: model registry, rollouts; 5 -> 6: API tokens, audit log;
        // 6 -> 7: heartbeat totals; 7 -> 8: near misses; 8 -> 9: float weights of registered models.
        string[] steps = [.. version < 1 ? Ddl : [], .. version < 2 ? MonitoringStore.Ddl(StoreDialect.Postgres) : [], .. version < 3 ? GovernanceStore.Ddl(StoreDialect.Postgres) : [], .. version < 4 ? LabelingStore.Ddl(StoreDialect.Postgres) : [],
            .. version < 5 ? RolloutStore.Ddl(StoreDialect.Postgres) : [], .. version < 6 ? AccessStore.Ddl(StoreDialect.Postgres) : [], .. version < 7 ? HeartbeatTotalsStore.Ddl(StoreDialect.Postgres) : [], .. version < 8 ? NearMissStore.Ddl(StoreDialect.Postgres) : [],
            .. version < 9 ? RolloutStore.FloatWeightsDdl(StoreDialect.Postgres) : [], .. version < 10 ? ModelLoopStore.Ddl(StoreDialect.Postgres) : []];
        foreach (string ddl in steps)
        {
            Exec(db, tx, ddl);
        }
        Exec(db, tx, "DELETE FROM schema_info");
        Exec(db, tx, $"INSERT INTO schema_info (version) VALUES ({SchemaVersion})");
        tx.Commit();
    }

    private static int Run(NpgsqlConnection db, NpgsqlTransaction? tx, string sql, params NpgsqlParameter[] parameters)
    {
        using var cmd = new NpgsqlCommand(sql, db, tx);
        cmd.Parameters.AddRange(parameters);
        return cmd.ExecuteNonQuery();
    }

    private static void Exec(NpgsqlConnection db, NpgsqlTransaction? tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, db, tx);
        cmd.ExecuteNonQuery();
    }

    // The SQLite schema with PostgreSQL types: times are Unix milliseconds UTC (bigint), blobs are bytea.
    private static readonly string[] Ddl =
    [
        """
        CREATE TABLE IF NOT EXISTS devices (
            device_id           text PRIMARY KEY,
            password_salt       bytea,
            password_hash       bytea,
            pbkdf2_iterations   integer,
            first_seen_utc_ms   bigint,
            last_seen_utc_ms    bigint,
            model_version       text,
            status              text,
            status_reason       text,
            status_utc_ms       bigint
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS messages (
            device_id        text NOT NULL,
            seq              bigint NOT NULL,
            kind             text NOT NULL,
            payload_sha256   bytea NOT NULL,
            received_utc_ms  bigint NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS detections (
            device_id            text NOT NULL,
            seq                  bigint NOT NULL,
            device_time_utc_ms   bigint NOT NULL,
            received_utc_ms      bigint NOT NULL,
            stream_offset_ms     bigint NOT NULL,
            score                double precision NOT NULL,
            keyword              text,
            model_version        text NOT NULL,
            feature_config_hash  text NOT NULL,
            clip_id              text,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS detections_time ON detections (device_time_utc_ms)",
        """
        CREATE TABLE IF NOT EXISTS heartbeats (
            device_id             text NOT NULL,
            seq                   bigint NOT NULL,
            device_time_utc_ms    bigint NOT NULL,
            received_utc_ms       bigint NOT NULL,
            interval_s            double precision NOT NULL,
            listening_s           double precision NOT NULL,
            detections            bigint NOT NULL,
            audio_overruns        bigint NOT NULL,
            outbox_depth_count    bigint NOT NULL,
            outbox_depth_bytes    bigint NOT NULL,
            outbox_evicted_count  bigint NOT NULL,
            outbox_expired_count  bigint NOT NULL,
            model_version         text NOT NULL,
            rss_bytes             bigint NOT NULL,
            uptime_s              double precision NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS clips (
            device_id            text NOT NULL,
            seq                  bigint NOT NULL,
            clip_id              text NOT NULL,
            kind                 text NOT NULL,
            device_time_utc_ms   bigint NOT NULL,
            received_utc_ms      bigint NOT NULL,
            sample_rate_hz       integer NOT NULL,
            frame_count          integer NOT NULL,
            values_per_frame     integer NOT NULL,
            feature_config_hash  text NOT NULL,
            consent              integer NOT NULL,
            frame                bytea NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS clips_clip_id ON clips (clip_id)",
        """
        CREATE TABLE IF NOT EXISTS sketches (
            device_id            text NOT NULL,
            seq                  bigint NOT NULL,
            received_utc_ms      bigint NOT NULL,
            window_start_utc_ms  bigint NOT NULL,
            window_end_utc_ms    bigint NOT NULL,
            model_version        text,
            feature_config_hash  text NOT NULL,
            layout_version       integer NOT NULL,
            mfcc_frames          bigint NOT NULL,
            sketch_json          bytea NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS model_status (
            device_id             text NOT NULL,
            seq                   bigint NOT NULL,
            device_time_utc_ms    bigint NOT NULL,
            received_utc_ms       bigint NOT NULL,
            active_slot           text NOT NULL,
            active_model_version  text NOT NULL,
            update_result         text NOT NULL,
            target_model_version  text,
            reason                text,
            PRIMARY KEY (device_id, seq)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS quarantine (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            received_utc_ms  bigint NOT NULL,
            client_id        text,
            topic            text NOT NULL,
            rejection        text NOT NULL,
            reason           text NOT NULL,
            user_properties  text NOT NULL,
            content_type     text,
            payload          bytea NOT NULL,
            payload_bytes    bigint NOT NULL
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
        // Copied once so the retry loop and the sort can index them (spans cannot be captured).
        StoreWrite[] batch = writes.ToArray();
        var outcome = new IngestResult[batch.Length];
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    WriteBatchOnce(batch, outcome);
                    break;
                }
                catch (PostgresException ex) when (attempt < 3 && Array.IndexOf(RetrySqlStates, ex.SqlState) >= 0)
                {
                    // Rolled back by the server; the locks are released, so the same batch can run again.
                    Array.Clear(outcome);
                }
                catch (NpgsqlException)
                {
                    // A broken connection (server restart, network): open a fresh one at the next batch.
                    DropWriter();
                    throw;
                }
            }
        }
        outcome.AsSpan().CopyTo(results);
    }

    private void DropWriter()
    {
        if (_writer is { State: not System.Data.ConnectionState.Open })
        {
            _writer.Dispose();
            _writer = null;
        }
    }

    private NpgsqlConnection Writer()
    {
        if (_writer is null)
        {
            _writer = OpenConnection();
            if (!_synchronousCommit)
            {
                Exec(_writer, null, "SET synchronous_commit = off");
            }
        }
        return _writer;
    }

    private void WriteBatchOnce(StoreWrite[] writes, IngestResult[] results)
    {
        NpgsqlConnection db = Writer();
        using NpgsqlTransaction tx = db.BeginTransaction();

        // Phase 1: ledger + typed row of every sequenced message, in (device, seq) order (the global lock order).
        var sequenced = new List<int>(writes.Length);
        var quarantine = new List<(int Index, RejectionKind Rejection, string Reason)>();
        for (int i = 0; i < writes.Length; i++)
        {
            if (writes[i].Message is { Sequence: not null })
            {
                sequenced.Add(i);
            }
            else if (writes[i].Message is null)
            {
                quarantine.Add((i, writes[i].Rejection, writes[i].Reason));
            }
        }
        sequenced.Sort((a, b) =>
        {
            ValidMessage x = writes[a].Message!, y = writes[b].Message!;
            int c = string.CompareOrdinal(x.DeviceId, y.DeviceId);
            return c != 0 ? c : x.Sequence!.Value.CompareTo(y.Sequence!.Value);
        });
        var digests = new byte[writes.Length][];
        var inserted = new bool[writes.Length];
        if (sequenced.Count > 0)
        {
            using var batch = new NpgsqlBatch(db, tx);
            foreach (int i in sequenced)
            {
                digests[i] = SHA256.HashData(writes[i].Envelope.Payload);
                batch.BatchCommands.Add(InsertMessageCommand(writes[i], digests[i]));
            }
            using NpgsqlDataReader reader = batch.ExecuteReader();
            foreach (int i in sequenced)
            {
                if (!reader.Read())
                {
                    throw new InvalidOperationException("PostgreSQL returned no row count for a message insert");
                }
                inserted[i] = reader.GetInt32(0) == 1;
                reader.NextResult();
            }
        }

        // Phase 2: a key that was already there is a redelivery (same hash) or a reused sequence (different hash).
        foreach (int i in sequenced)
        {
            ValidMessage m = writes[i].Message!;
            if (inserted[i])
            {
                results[i] = new IngestResult(IngestOutcome.Stored, RejectionKind.None, string.Empty);
                continue;
            }
            using var cmd = new NpgsqlCommand("SELECT payload_sha256 FROM messages WHERE device_id = $1 AND seq = $2", db, tx);
            cmd.Parameters.Add(P(m.DeviceId));
            cmd.Parameters.Add(P(m.Sequence!.Value));
            if (cmd.ExecuteScalar() is byte[] stored && CryptographicOperations.FixedTimeEquals(stored, digests[i]))
            {
                results[i] = new IngestResult(IngestOutcome.Duplicate, RejectionKind.None, string.Empty);
                continue;
            }
            string reason = $"sequence {m.Sequence} of device '{m.DeviceId}' is already stored with different content (the device reused a sequence number)";
            quarantine.Add((i, RejectionKind.SequenceConflict, reason));
        }

        // Phase 3: quarantine rows (in arrival order, so ids follow arrival) and device rows (sorted by id).
        var devices = new SortedDictionary<string, DeviceTouch>(StringComparer.Ordinal);
        for (int i = 0; i < writes.Length; i++)
        {
            if (writes[i].Message is not { } m || (m.Sequence is not null && !inserted[i]))
            {
                continue;
            }
            long now = writes[i].Envelope.ReceivedUtc.ToUnixTimeMilliseconds();
            if (!devices.TryGetValue(m.DeviceId, out DeviceTouch? t))
            {
                t = new DeviceTouch(now);
                devices.Add(m.DeviceId, t);
            }
            t.FirstSeenMs = Math.Min(t.FirstSeenMs, now);
            t.LastSeenMs = Math.Max(t.LastSeenMs, now);
            t.CurrentModelVersion = DeviceModelVersion.Current(m.Body) ?? t.CurrentModelVersion;
            t.HeardModelVersion = DeviceModelVersion.Heard(m.Body) ?? t.HeardModelVersion;
            if (m.Sequence is null)
            {
                // Presence: last writer wins, in arrival order.
                t.Status = (DeviceStatus)m.Body;
                t.StatusMs = now;
                results[i] = new IngestResult(IngestOutcome.Stored, RejectionKind.None, string.Empty);
            }
        }
        quarantine.Sort((a, b) => a.Index.CompareTo(b.Index));
        if (quarantine.Count > 0 || devices.Count > 0)
        {
            using var batch = new NpgsqlBatch(db, tx);
            foreach ((int index, RejectionKind rejection, string reason) in quarantine)
            {
                batch.BatchCommands.Add(QuarantineCommand(writes[index].Envelope, rejection, reason));
                results[index] = new IngestResult(IngestOutcome.Quarantined, rejection, reason);
            }
            foreach ((string deviceId, DeviceTouch t) in devices)
            {
                batch.BatchCommands.Add(TouchDeviceCommand(deviceId, t));
            }
            batch.ExecuteNonQuery();
        }
        tx.Commit();
    }

    private sealed class DeviceTouch(long nowMs)
    {
        public long FirstSeenMs { get; set; } = nowMs;
        public long LastSeenMs { get; set; } = nowMs;
        public string? CurrentModelVersion { get; set; }
        public string? HeardModelVersion { get; set; }
        public DeviceStatus? Status { get; set; }
        public long StatusMs { get; set; }
    }

    private const string LedgerCte =
        "WITH ins AS (INSERT INTO messages (device_id, seq, kind, payload_sha256, received_utc_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1), ";

    private const string LedgerTail = " WHERE EXISTS (SELECT 1 FROM ins) ON CONFLICT DO NOTHING) SELECT count(*)::int FROM ins";

    private static NpgsqlBatchCommand InsertMessageCommand(in StoreWrite w, byte[] digest)
    {
        ValidMessage m = w.Message!;
        long now = w.Envelope.ReceivedUtc.ToUnixTimeMilliseconds();
        NpgsqlBatchCommand cmd;
        switch (m.Body)
        {
            case DetectionReport d:
                cmd = new NpgsqlBatchCommand(LedgerCte
                    + "t AS (INSERT INTO detections (device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, keyword, model_version, feature_config_hash, clip_id) "
                    + "SELECT $1, $2, $6, $5, $7, $8, $9, $10, $11, $12" + LedgerTail);
                Add(cmd, m, w, digest, now, P(d.DeviceTimeUtc.ToUnixTimeMilliseconds()), P(d.StreamOffsetMs), P((double)d.Score), P(d.Keyword),
                    P(d.ModelVersion), P(d.FeatureConfigHash), P(d.ClipId?.ToString("D")));
                break;
            case Heartbeat h:
                cmd = new NpgsqlBatchCommand(LedgerCte
                    + "t AS (INSERT INTO heartbeats (device_id, seq, device_time_utc_ms, received_utc_ms, interval_s, listening_s, detections, audio_overruns, outbox_depth_count, outbox_depth_bytes, outbox_evicted_count, outbox_expired_count, model_version, rss_bytes, uptime_s, totals_epoch, total_listening_s, total_detections, total_detections_lost, totals_json) "
                    + "SELECT $1, $2, $6, $5, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22" + LedgerTail);
                Add(cmd, m, w, digest, now, P(h.DeviceTimeUtc.ToUnixTimeMilliseconds()), P(h.IntervalSeconds), P(h.ListeningSeconds), P((long)h.Detections),
                    P((long)h.AudioOverruns), P((long)h.OutboxDepthCount), P((long)h.OutboxDepthBytes), P((long)h.OutboxEvictedCount),
                    P((long)h.OutboxExpiredCount), P(h.ModelVersion), P((long)h.RssBytes), P(h.UptimeSeconds), P(h.Totals?.Epoch), P(h.Totals?.ListeningSeconds),
                    P(h.Totals?.Detections), P(h.Totals is { } t ? HeartbeatListening.DetectionsLost(t) : null), P(h.Totals is { } tj ? TotalsJson.Serialize(tj) : null));
                break;
            case DriftSketch s:
                cmd = new NpgsqlBatchCommand(LedgerCte
                    + "t AS (INSERT INTO sketches (device_id, seq, received_utc_ms, window_start_utc_ms, window_end_utc_ms, model_version, feature_config_hash, layout_version, mfcc_frames, sketch_json) "
                    + "SELECT $1, $2, $5, $6, $7, $8, $9, $10, $11, $12" + LedgerTail);
                Add(cmd, m, w, digest, now, P(s.WindowStartUtc.ToUnixTimeMilliseconds()), P(s.WindowEndUtc.ToUnixTimeMilliseconds()), P(s.ModelVersion),
                    P(s.FeatureConfigHash), P(s.LayoutVersion), P(s.MfccFrameCount()), P(w.Envelope.Payload));
                break;
            case ModelStatus ms:
                cmd = new NpgsqlBatchCommand(LedgerCte
                    + "t AS (INSERT INTO model_status (device_id, seq, device_time_utc_ms, received_utc_ms, active_slot, active_model_version, update_result, target_model_version, reason) "
                    + "SELECT $1, $2, $6, $5, $7, $8, $9, $10, $11" + LedgerTail);
                Add(cmd, m, w, digest, now, P(ms.DeviceTimeUtc.ToUnixTimeMilliseconds()), P(ms.ActiveSlot.ToString()), P(ms.ActiveModelVersion),
                    P(ms.UpdateResult.ToString()), P(ms.TargetModelVersion), P(ms.Reason));
                break;
            case NearMissReport n:
                cmd = new NpgsqlBatchCommand(LedgerCte
                    + "t AS (INSERT INTO near_misses (device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, threshold, band_floor, keyword, model_version, feature_config_hash, clip_id) "
                    + "SELECT $1, $2, $6, $5, $7, $8, $9, $10, $11, $12, $13, $14" + LedgerTail);
                Add(cmd, m, w, digest, now, P(n.DeviceTimeUtc.ToUnixTimeMilliseconds()), P(n.StreamOffsetMs), P((double)n.Score), P((double)n.Threshold),
                    P((double)n.BandFloor), P(n.Keyword), P(n.ModelVersion), P(n.FeatureConfigHash), P(n.ClipId?.ToString("D")));
                break;
            case ClipHeader c:
                cmd = new NpgsqlBatchCommand(LedgerCte
                    + "t AS (INSERT INTO clips (device_id, seq, clip_id, kind, device_time_utc_ms, received_utc_ms, sample_rate_hz, frame_count, values_per_frame, feature_config_hash, consent, frame) "
                    + "SELECT $1, $2, $6, $7, $8, $5, $9, $10, $11, $12, $13, $14" + LedgerTail);
                Add(cmd, m, w, digest, now, P(c.ClipId.ToString("D")), P(c.Kind == MessageKind.ClipAudio ? "audio" : "features"),
                    P(c.DeviceTimeUtc.ToUnixTimeMilliseconds()), P(c.SampleRateHz), P(c.FrameCount), P(c.ValuesPerFrame), P(c.ConfigHash.ToString()),
                    P(c.ConsentGranted ? 1 : 0), P(w.Envelope.Payload));
                break;
            default:
                throw new InvalidOperationException($"no table for {m.Body.GetType().Name} (kind {m.Kind})");
        }
        return cmd;
    }

    private static void Add(NpgsqlBatchCommand cmd, ValidMessage m, in StoreWrite w, byte[] digest, long now, params NpgsqlParameter[] typed)
    {
        cmd.Parameters.Add(P(m.DeviceId));
        cmd.Parameters.Add(P(m.Sequence!.Value));
        cmd.Parameters.Add(P(Topics.KindSegment(m.Kind)));
        cmd.Parameters.Add(P(digest));
        cmd.Parameters.Add(P(now));
        _ = w;
        foreach (NpgsqlParameter p in typed)
        {
            cmd.Parameters.Add(p);
        }
    }

    private NpgsqlBatchCommand QuarantineCommand(IngestEnvelope e, RejectionKind rejection, string reason)
    {
        var props = new StringBuilder();
        foreach (KeyValuePair<string, string> p in e.UserProperties)
        {
            props.Append(p.Key).Append('=').Append(p.Value).Append('\n');
        }
        byte[] payload = e.Payload.Length <= _quarantineMaxPayloadBytes ? e.Payload : e.Payload.AsSpan(0, _quarantineMaxPayloadBytes).ToArray();
        var cmd = new NpgsqlBatchCommand(
            "INSERT INTO quarantine (received_utc_ms, client_id, topic, rejection, reason, user_properties, content_type, payload, payload_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        cmd.Parameters.Add(P(e.ReceivedUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(e.ClientId));
        cmd.Parameters.Add(P(e.Topic));
        cmd.Parameters.Add(P(rejection.ToString()));
        cmd.Parameters.Add(P(reason));
        cmd.Parameters.Add(P(props.ToString()));
        cmd.Parameters.Add(P(e.ContentType));
        cmd.Parameters.Add(P(payload));
        cmd.Parameters.Add(P((long)e.Payload.Length));
        return cmd;
    }

    private static NpgsqlBatchCommand TouchDeviceCommand(string deviceId, DeviceTouch t)
    {
        var cmd = new NpgsqlBatchCommand(
            """
            INSERT INTO devices AS d (device_id, first_seen_utc_ms, last_seen_utc_ms, model_version, status, status_reason, status_utc_ms)
            VALUES ($1, $2, $3, coalesce($4, $8), $5, $6, $7)
            ON CONFLICT (device_id) DO UPDATE SET
                first_seen_utc_ms = coalesce(d.first_seen_utc_ms, excluded.first_seen_utc_ms),
                last_seen_utc_ms = greatest(coalesce(d.last_seen_utc_ms, 0), excluded.last_seen_utc_ms),
                model_version = coalesce($4, d.model_version, $8),
                status = CASE WHEN excluded.status_utc_ms IS NULL THEN d.status ELSE excluded.status END,
                status_reason = CASE WHEN excluded.status_utc_ms IS NULL THEN d.status_reason ELSE excluded.status_reason END,
                status_utc_ms = coalesce(excluded.status_utc_ms, d.status_utc_ms)
            """);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(t.FirstSeenMs));
        cmd.Parameters.Add(P(t.LastSeenMs));
        cmd.Parameters.Add(P(t.CurrentModelVersion));
        cmd.Parameters.Add(P(t.Status?.State.ToString()));
        cmd.Parameters.Add(P(t.Status?.Reason));
        cmd.Parameters.Add(t.Status is null ? P((long?)null) : P(t.StatusMs));
        cmd.Parameters.Add(P(t.HeardModelVersion));
        return cmd;
    }

    // Typed positional parameters ($1, $2, ...), so a null still has a type.
    private static NpgsqlParameter P(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = value is null ? DBNull.Value : PgText(value) };

    private static NpgsqlParameter P(long value) => new() { NpgsqlDbType = NpgsqlDbType.Bigint, Value = value };

    private static NpgsqlParameter P(long? value) => new() { NpgsqlDbType = NpgsqlDbType.Bigint, Value = value is { } v ? v : DBNull.Value };

    private static NpgsqlParameter P(int value) => new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = value };

    private static NpgsqlParameter P(double value) => new() { NpgsqlDbType = NpgsqlDbType.Double, Value = value };

    private static NpgsqlParameter P(double? value) => new() { NpgsqlDbType = NpgsqlDbType.Double, Value = value is { } v ? v : DBNull.Value };

    private static NpgsqlParameter P(byte[] value) => new() { NpgsqlDbType = NpgsqlDbType.Bytea, Value = value };

    /// <summary>PostgreSQL text cannot hold U+0000 and must be valid UTF-8; a quarantined topic or reason from a fuzzed
    /// message may contain either. Such characters become U+FFFD (the raw bytes stay intact in the payload column).</summary>
    internal static string PgText(string value)
    {
        if (!value.Contains('\0', StringComparison.Ordinal) && value.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            return value;
        }
        var sb = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                sb.Append(c).Append(value[++i]);
            }
            else if (c == '\0' || char.IsSurrogate(c))
            {
                sb.Append('\uFFFD');
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <inheritdoc />
    public void SetDeviceCredential(string deviceId, PasswordHash credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        if (!Topics.TryValidateDeviceId(deviceId, out string why))
        {
            throw new ArgumentException(why, nameof(deviceId));
        }
        ObjectDisposedException.ThrowIf(_disposed, this);
        using NpgsqlConnection db = OpenConnection();
        using var cmd = new NpgsqlCommand(
            """
            INSERT INTO devices (device_id, password_salt, password_hash, pbkdf2_iterations) VALUES ($1, $2, $3, $4)
            ON CONFLICT (device_id) DO UPDATE SET password_salt = excluded.password_salt, password_hash = excluded.password_hash,
                pbkdf2_iterations = excluded.pbkdf2_iterations
            """, db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(credential.Salt));
        cmd.Parameters.Add(P(credential.Hash));
        cmd.Parameters.Add(P(credential.Iterations));
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public bool TryGetDeviceCredential(string deviceId, out PasswordHash? credential)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using NpgsqlConnection db = OpenConnection();
        using var cmd = new NpgsqlCommand(
            "SELECT password_salt, password_hash, pbkdf2_iterations FROM devices WHERE device_id = $1 AND password_hash IS NOT NULL", db);
        cmd.Parameters.Add(P(deviceId));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        credential = r.Read() && !r.IsDBNull(0) ? new PasswordHash(r.GetFieldValue<byte[]>(0), r.GetFieldValue<byte[]>(1), r.GetInt32(2)) : null;
        return credential is not null;
    }

    /// <inheritdoc />
    public IReadOnlyList<DeviceRecord> ReadDevices()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using NpgsqlConnection db = OpenConnection();
        using var cmd = new NpgsqlCommand(
            "SELECT device_id, password_hash IS NOT NULL, first_seen_utc_ms, last_seen_utc_ms, model_version, status, cohort FROM devices ORDER BY device_id COLLATE \"C\"", db);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<DeviceRecord>();
        while (r.Read())
        {
            list.Add(new DeviceRecord(r.GetString(0), r.GetBoolean(1), FromMs(r, 2), FromMs(r, 3), r.IsDBNull(4) ? null : r.GetString(4),
                r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6)));
        }
        return list;
    }

    /// <inheritdoc />
    public IReadOnlyList<QuarantineRecord> ReadQuarantine(long afterId, int limit)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using NpgsqlConnection db = OpenConnection();
        using var cmd = new NpgsqlCommand(
            "SELECT id, received_utc_ms, client_id, topic, rejection, reason, payload, payload_bytes FROM quarantine WHERE id > $1 ORDER BY id LIMIT $2", db);
        cmd.Parameters.Add(P(afterId));
        cmd.Parameters.Add(P((long)limit));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<QuarantineRecord>();
        while (r.Read())
        {
            list.Add(new QuarantineRecord(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.IsDBNull(2) ? null : r.GetString(2),
                r.GetString(3), Enum.Parse<RejectionKind>(r.GetString(4)), r.GetString(5), r.GetFieldValue<byte[]>(6), r.GetInt64(7)));
        }
        return list;
    }

    /// <inheritdoc />
    public IReadOnlyList<long> ReadSequences(string deviceId)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using NpgsqlConnection db = OpenConnection();
        using var cmd = new NpgsqlCommand("SELECT seq FROM messages WHERE device_id = $1 ORDER BY seq", db);
        cmd.Parameters.Add(P(deviceId));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<long>();
        while (r.Read())
        {
            list.Add(r.GetInt64(0));
        }
        return list;
    }

    /// <inheritdoc />
    public StoreCounts Count()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using NpgsqlConnection db = OpenConnection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM detections), (SELECT count(*) FROM heartbeats),
                   (SELECT count(*) FROM clips), (SELECT count(*) FROM sketches), (SELECT count(*) FROM model_status),
                   (SELECT count(*) FROM quarantine), (SELECT count(*) FROM devices)
            """, db);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        r.Read();
        return new StoreCounts(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _writer?.Dispose();
            _writer = null;
            _dataSource.Dispose();
        }
    }

    private static DateTimeOffset? FromMs(NpgsqlDataReader r, int ordinal) =>
        r.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(ordinal));
}
