using System.Security.Cryptography;
using System.Text;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// Ingest over either database (schema step 1: <c>devices</c>, the ledger <c>messages</c>, the typed message tables, <c>quarantine</c>):
/// the one implementation of <see cref="IIngestStore.WriteBatch"/>, the device credentials and the ingest reads, which
/// <see cref="SqliteGatewayStore"/> and <see cref="PostgresGatewayStore"/> delegate to. SQL is written once; <see cref="StoreDialect"/>
/// supplies the DDL types, <see cref="StoreDialect.WithoutRowId"/>, <see cref="StoreDialect.BinaryOrder"/>, <see cref="StoreDialect.Limit"/>
/// and the statements that store a message with its ledger row (<see cref="StoreDialect.LedgeredInsert"/>).
/// </summary>
/// <remarks>
/// <para>A batch, in one transaction on the ingest connection (<see cref="IStoreConnections.Ingest{T}"/>), in three phases:
/// (1) the ledger row and typed row of every sequenced message, in (device, seq) order, as one <see cref="StoreSession.ExecuteBatch"/>;
/// (2) for a key that was already in the ledger, its stored SHA-256 tells a redelivery (Duplicate) from a reused sequence
/// (quarantined as SequenceConflict); (3) one <see cref="StoreSession.ExecuteBatch"/> of the quarantine rows, in arrival order so their
/// ids follow arrival, and of one upsert per device, sorted by id. PostgreSQL sends each batch as one pipelined round trip; SQLite
/// runs the same statements one after another in-process, where a round trip costs nothing.</para>
/// <para>Deadlock freedom on PostgreSQL: a batch takes its row locks in one global order - ledger keys sorted by (device, seq), then
/// device rows sorted by id - so two instances writing overlapping devices cannot wait on each other in a cycle. A deadlock or
/// serialization failure reported anyway is retried (the whole batch, three attempts in all, <see cref="StoreErrors.IsTransactionConflict"/>).</para>
/// <para>A batch is the same as its messages written one at a time in arrival order: a device's first-seen time is that of its first
/// message stored, its model version <c>coalesce(last current, stored, first heard)</c> (<see cref="DeviceModelVersion"/>), its
/// presence the last one received. So the rows do not depend on where the ingest writer cut its batches.</para>
/// Not a hot-path type: a batch allocates its statements and arguments.
/// </remarks>
internal sealed class IngestStore : IIngestStore
{
    private const int MaxAttempts = 3;

    private const string DeviceUpsertSql =
        """
        INSERT INTO devices AS d (device_id, first_seen_utc_ms, last_seen_utc_ms, model_version, status, status_reason, status_utc_ms)
        VALUES ($1, $2, $3, coalesce($4, $8), $5, $6, $7)
        ON CONFLICT (device_id) DO UPDATE SET
            first_seen_utc_ms = coalesce(d.first_seen_utc_ms, excluded.first_seen_utc_ms),
            last_seen_utc_ms = CASE WHEN excluded.last_seen_utc_ms > coalesce(d.last_seen_utc_ms, 0) THEN excluded.last_seen_utc_ms ELSE coalesce(d.last_seen_utc_ms, 0) END,
            model_version = coalesce($4, d.model_version, $8),
            status = CASE WHEN excluded.status_utc_ms IS NULL THEN d.status ELSE excluded.status END,
            status_reason = CASE WHEN excluded.status_utc_ms IS NULL THEN d.status_reason ELSE excluded.status_reason END,
            status_utc_ms = coalesce(excluded.status_utc_ms, d.status_utc_ms)
        """;

    private const string QuarantineSql =
        "INSERT INTO quarantine (received_utc_ms, client_id, topic, rejection, reason, user_properties, content_type, payload, payload_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

    private static readonly IngestResult StoredResult = new(IngestOutcome.Stored, RejectionKind.None, string.Empty);
    private static readonly IngestResult DuplicateResult = new(IngestOutcome.Duplicate, RejectionKind.None, string.Empty);

    private readonly IStoreConnections _db;
    private readonly int _quarantineMaxPayloadBytes;
    private readonly string _devicesSql;
    private readonly LedgeredInsert _detections;
    private readonly LedgeredInsert _heartbeats;
    private readonly LedgeredInsert _sketches;
    private readonly LedgeredInsert _modelStatus;
    private readonly LedgeredInsert _nearMisses;
    private readonly LedgeredInsert _clips;

    public IngestStore(IStoreConnections db, int quarantineMaxPayloadBytes)
    {
        _db = db;
        _quarantineMaxPayloadBytes = quarantineMaxPayloadBytes;
        StoreDialect d = db.Dialect;
        _devicesSql =
            $"SELECT device_id, password_hash IS NOT NULL, first_seen_utc_ms, last_seen_utc_ms, model_version, status, cohort FROM devices ORDER BY device_id{d.BinaryOrder}";
        _detections = d.LedgeredInsert("detections",
            "device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, keyword, model_version, feature_config_hash, clip_id");
        _heartbeats = d.LedgeredInsert("heartbeats",
            "device_id, seq, device_time_utc_ms, received_utc_ms, interval_s, listening_s, detections, audio_overruns, outbox_depth_count, outbox_depth_bytes, outbox_evicted_count, outbox_expired_count, model_version, rss_bytes, uptime_s, totals_epoch, total_listening_s, total_detections, total_detections_lost, totals_json");
        _sketches = d.LedgeredInsert("sketches",
            "device_id, seq, received_utc_ms, window_start_utc_ms, window_end_utc_ms, model_version, feature_config_hash, layout_version, mfcc_frames, sketch_json");
        _modelStatus = d.LedgeredInsert("model_status",
            "device_id, seq, device_time_utc_ms, received_utc_ms, active_slot, active_model_version, update_result, target_model_version, reason");
        _nearMisses = d.LedgeredInsert("near_misses",
            "device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, threshold, band_floor, keyword, model_version, feature_config_hash, clip_id");
        _clips = d.LedgeredInsert("clips",
            "device_id, seq, clip_id, kind, device_time_utc_ms, received_utc_ms, sample_rate_hz, frame_count, values_per_frame, feature_config_hash, consent, frame");
    }

    /// <summary>Schema step 1 (version 0 -> 1): the ingest tables. Times are Unix milliseconds UTC. Every per-message table is keyed by
    /// (device_id, seq): the idempotency key. Same text as both stores' old arrays, except that PostgreSQL's <c>devices.device_id</c>
    /// now also says NOT NULL (as SQLite's; a PostgreSQL key is never null anyway).</summary>
    public static string[] Ddl(StoreDialect d) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS devices (
            device_id           {d.Text} PRIMARY KEY NOT NULL,
            password_salt       {d.Blob},
            password_hash       {d.Blob},
            pbkdf2_iterations   {d.Int32},
            first_seen_utc_ms   {d.Int64},
            last_seen_utc_ms    {d.Int64},
            model_version       {d.Text},
            status              {d.Text},
            status_reason       {d.Text},
            status_utc_ms       {d.Int64}
        )
        """,
        // The idempotency ledger: one row per (device, sequence) ever stored, with the payload's SHA-256 so a
        // reused sequence with different content is told apart from a redelivery.
        $"""
        CREATE TABLE IF NOT EXISTS messages (
            device_id        {d.Text} NOT NULL,
            seq              {d.Int64} NOT NULL,
            kind             {d.Text} NOT NULL,
            payload_sha256   {d.Blob} NOT NULL,
            received_utc_ms  {d.Int64} NOT NULL,
            PRIMARY KEY (device_id, seq)
        ){d.WithoutRowId}
        """,
        $"""
        CREATE TABLE IF NOT EXISTS detections (
            device_id            {d.Text} NOT NULL,
            seq                  {d.Int64} NOT NULL,
            device_time_utc_ms   {d.Int64} NOT NULL,
            received_utc_ms      {d.Int64} NOT NULL,
            stream_offset_ms     {d.Int64} NOT NULL,
            score                {d.Real} NOT NULL,
            keyword              {d.Text},
            model_version        {d.Text} NOT NULL,
            feature_config_hash  {d.Text} NOT NULL,
            clip_id              {d.Text},
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS detections_time ON detections (device_time_utc_ms)",
        $"""
        CREATE TABLE IF NOT EXISTS heartbeats (
            device_id             {d.Text} NOT NULL,
            seq                   {d.Int64} NOT NULL,
            device_time_utc_ms    {d.Int64} NOT NULL,
            received_utc_ms       {d.Int64} NOT NULL,
            interval_s            {d.Real} NOT NULL,
            listening_s           {d.Real} NOT NULL,
            detections            {d.Int64} NOT NULL,
            audio_overruns        {d.Int64} NOT NULL,
            outbox_depth_count    {d.Int64} NOT NULL,
            outbox_depth_bytes    {d.Int64} NOT NULL,
            outbox_evicted_count  {d.Int64} NOT NULL,
            outbox_expired_count  {d.Int64} NOT NULL,
            model_version         {d.Text} NOT NULL,
            rss_bytes             {d.Int64} NOT NULL,
            uptime_s              {d.Real} NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS clips (
            device_id            {d.Text} NOT NULL,
            seq                  {d.Int64} NOT NULL,
            clip_id              {d.Text} NOT NULL,
            kind                 {d.Text} NOT NULL,
            device_time_utc_ms   {d.Int64} NOT NULL,
            received_utc_ms      {d.Int64} NOT NULL,
            sample_rate_hz       {d.Int32} NOT NULL,
            frame_count          {d.Int32} NOT NULL,
            values_per_frame     {d.Int32} NOT NULL,
            feature_config_hash  {d.Text} NOT NULL,
            consent              {d.Int32} NOT NULL,
            frame                {d.Blob} NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS clips_clip_id ON clips (clip_id)",
        $"""
        CREATE TABLE IF NOT EXISTS sketches (
            device_id            {d.Text} NOT NULL,
            seq                  {d.Int64} NOT NULL,
            received_utc_ms      {d.Int64} NOT NULL,
            window_start_utc_ms  {d.Int64} NOT NULL,
            window_end_utc_ms    {d.Int64} NOT NULL,
            model_version        {d.Text},
            feature_config_hash  {d.Text} NOT NULL,
            layout_version       {d.Int32} NOT NULL,
            mfcc_frames          {d.Int64} NOT NULL,
            sketch_json          {d.Blob} NOT NULL,
            PRIMARY KEY (device_id, seq)
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS model_status (
            device_id             {d.Text} NOT NULL,
            seq                   {d.Int64} NOT NULL,
            device_time_utc_ms    {d.Int64} NOT NULL,
            received_utc_ms       {d.Int64} NOT NULL,
            active_slot           {d.Text} NOT NULL,
            active_model_version  {d.Text} NOT NULL,
            update_result         {d.Text} NOT NULL,
            target_model_version  {d.Text},
            reason                {d.Text},
            PRIMARY KEY (device_id, seq)
        )
        """,
        $"""
        CREATE TABLE IF NOT EXISTS quarantine (
            id               {d.IdentityPrimaryKey},
            received_utc_ms  {d.Int64} NOT NULL,
            client_id        {d.Text},
            topic            {d.Text} NOT NULL,
            rejection        {d.Text} NOT NULL,
            reason           {d.Text} NOT NULL,
            user_properties  {d.Text} NOT NULL,
            content_type     {d.Text},
            payload          {d.Blob} NOT NULL,
            payload_bytes    {d.Int64} NOT NULL
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
        // Copied once so the retry loop can run the batch again (spans cannot be captured).
        StoreWrite[] batch = writes.ToArray();
        var outcome = new IngestResult[batch.Length];
        _db.Ingest(s =>
        {
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    return s.InTransaction(() => WriteBatchOnce(s, batch, outcome));
                }
                catch (Exception ex) when (attempt < MaxAttempts && StoreErrors.IsTransactionConflict(ex))
                {
                    // Rolled back by the server; the locks are released, so the same batch can run again.
                    Array.Clear(outcome);
                }
            }
        });
        outcome.AsSpan().CopyTo(results);
    }

    private int WriteBatchOnce(StoreSession s, StoreWrite[] writes, IngestResult[] results)
    {
        // Phase 1: ledger + typed row of every sequenced message, in (device, seq) order (the global lock order); the arrival index
        // breaks ties, so of two copies of one key in a batch the first to arrive is the one stored, as one at a time would.
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
            c = c != 0 ? c : x.Sequence!.Value.CompareTo(y.Sequence!.Value);
            return c != 0 ? c : a.CompareTo(b);
        });
        var digests = new byte[writes.Length][];
        var inserted = new bool[writes.Length];
        if (sequenced.Count > 0)
        {
            var statements = new List<StoreStatement>(sequenced.Count * 2);
            var lastStatement = new int[sequenced.Count];
            for (int k = 0; k < sequenced.Count; k++)
            {
                int i = sequenced[k];
                digests[i] = SHA256.HashData(writes[i].Envelope.Payload);
                AddStoreMessage(statements, writes[i], digests[i]);
                lastStatement[k] = statements.Count - 1;
            }
            int[] changed = s.ExecuteBatch(statements);
            for (int k = 0; k < sequenced.Count; k++)
            {
                inserted[sequenced[k]] = changed[lastStatement[k]] == 1;
            }
        }

        // Phase 2: a key that was already there is a redelivery (same hash) or a reused sequence (different hash).
        foreach (int i in sequenced)
        {
            ValidMessage m = writes[i].Message!;
            if (inserted[i])
            {
                results[i] = StoredResult;
                continue;
            }
            byte[]? stored = s.Query("SELECT payload_sha256 FROM messages WHERE device_id = $1 AND seq = $2", r => r.GetBytes(0), m.DeviceId, m.Sequence!.Value)
                .FirstOrDefault();
            if (stored is not null && CryptographicOperations.FixedTimeEquals(stored, digests[i]))
            {
                results[i] = DuplicateResult;
                continue;
            }
            string reason = $"sequence {m.Sequence} of device '{m.DeviceId}' is already stored with different content (the device reused a sequence number)";
            quarantine.Add((i, RejectionKind.SequenceConflict, reason));
        }

        // Phase 3: quarantine rows (in arrival order, so ids follow arrival) and device rows (sorted by id), each device's messages
        // folded in arrival order as one-at-a-time writes would leave it.
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
            t.LastSeenMs = Math.Max(t.LastSeenMs, now);
            t.CurrentModelVersion = DeviceModelVersion.Current(m.Body) ?? t.CurrentModelVersion;
            t.HeardModelVersion ??= DeviceModelVersion.Heard(m.Body);
            if (m.Sequence is null)
            {
                // Presence carries no sequence: it is last-writer-wins state, not an event.
                t.Status = (DeviceStatus)m.Body;
                t.StatusMs = now;
                results[i] = StoredResult;
            }
        }
        quarantine.Sort((a, b) => a.Index.CompareTo(b.Index));
        if (quarantine.Count > 0 || devices.Count > 0)
        {
            var statements = new List<StoreStatement>(quarantine.Count + devices.Count);
            foreach ((int index, RejectionKind rejection, string reason) in quarantine)
            {
                statements.Add(QuarantineStatement(writes[index].Envelope, rejection, reason));
                results[index] = new IngestResult(IngestOutcome.Quarantined, rejection, reason);
            }
            foreach ((string deviceId, DeviceTouch t) in devices)
            {
                statements.Add(new StoreStatement(DeviceUpsertSql,
                [
                    deviceId, t.FirstSeenMs, t.LastSeenMs, t.CurrentModelVersion, t.Status?.State.ToString(), t.Status?.Reason,
                    t.Status is null ? StoreArg.Null(StoreArgType.Int64) : t.StatusMs, t.HeardModelVersion,
                ]));
            }
            s.ExecuteBatch(statements);
        }
        return 0;
    }

    /// <summary>What a batch leaves on one device row: first seen is the first message's time (a device row's first-seen time is only
    /// ever set once), last seen the latest.</summary>
    private sealed class DeviceTouch(long firstSeenMs)
    {
        public long FirstSeenMs { get; } = firstSeenMs;
        public long LastSeenMs { get; set; } = firstSeenMs;
        public string? CurrentModelVersion { get; set; }
        public string? HeardModelVersion { get; set; }
        public DeviceStatus? Status { get; set; }
        public long StatusMs { get; set; }
    }

    private void AddStoreMessage(List<StoreStatement> statements, in StoreWrite w, byte[] digest)
    {
        ValidMessage m = w.Message!;
        long seq = m.Sequence!.Value;
        long now = w.Envelope.ReceivedUtc.ToUnixTimeMilliseconds();
        StoreArg[] ledger = [m.DeviceId, seq, Topics.KindSegment(m.Kind), digest, now];
        switch (m.Body)
        {
            case DetectionReport d:
                _detections.AddTo(statements, ledger,
                    [m.DeviceId, seq, d.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, d.StreamOffsetMs, (double)d.Score, d.Keyword, d.ModelVersion,
                        d.FeatureConfigHash, d.ClipId?.ToString("D")]);
                break;
            case Heartbeat h:
                _heartbeats.AddTo(statements, ledger,
                    [m.DeviceId, seq, h.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, h.IntervalSeconds, h.ListeningSeconds, (long)h.Detections,
                        (long)h.AudioOverruns, (long)h.OutboxDepthCount, (long)h.OutboxDepthBytes, (long)h.OutboxEvictedCount, (long)h.OutboxExpiredCount,
                        h.ModelVersion, (long)h.RssBytes, h.UptimeSeconds, h.Totals?.Epoch, h.Totals?.ListeningSeconds, h.Totals?.Detections,
                        h.Totals is { } t ? (long?)HeartbeatListening.DetectionsLost(t) : null, h.Totals is { } tj ? TotalsJson.Serialize(tj) : (string?)null]);
                break;
            case DriftSketch sk:
                _sketches.AddTo(statements, ledger,
                    [m.DeviceId, seq, now, sk.WindowStartUtc.ToUnixTimeMilliseconds(), sk.WindowEndUtc.ToUnixTimeMilliseconds(), sk.ModelVersion,
                        sk.FeatureConfigHash, sk.LayoutVersion, sk.MfccFrameCount(), w.Envelope.Payload]);
                break;
            case ModelStatus ms:
                _modelStatus.AddTo(statements, ledger,
                    [m.DeviceId, seq, ms.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, ms.ActiveSlot.ToString(), ms.ActiveModelVersion,
                        ms.UpdateResult.ToString(), ms.TargetModelVersion, ms.Reason]);
                break;
            case NearMissReport n:
                _nearMisses.AddTo(statements, ledger,
                    [m.DeviceId, seq, n.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, n.StreamOffsetMs, (double)n.Score, (double)n.Threshold,
                        (double)n.BandFloor, n.Keyword, n.ModelVersion, n.FeatureConfigHash, n.ClipId?.ToString("D")]);
                break;
            case ClipHeader c:
                _clips.AddTo(statements, ledger,
                    [m.DeviceId, seq, c.ClipId.ToString("D"), c.Kind == MessageKind.ClipAudio ? "audio" : "features",
                        c.DeviceTimeUtc.ToUnixTimeMilliseconds(), now, c.SampleRateHz, c.FrameCount, c.ValuesPerFrame, c.ConfigHash.ToString(),
                        c.ConsentGranted ? 1 : 0, w.Envelope.Payload]);
                break;
            default:
                throw new InvalidOperationException($"no table for {m.Body.GetType().Name} (kind {m.Kind})");
        }
    }

    private StoreStatement QuarantineStatement(IngestEnvelope e, RejectionKind rejection, string reason)
    {
        var props = new StringBuilder();
        foreach (KeyValuePair<string, string> p in e.UserProperties)
        {
            props.Append(p.Key).Append('=').Append(p.Value).Append('\n');
        }
        byte[] payload = e.Payload.Length <= _quarantineMaxPayloadBytes ? e.Payload : e.Payload.AsSpan(0, _quarantineMaxPayloadBytes).ToArray();
        return new StoreStatement(QuarantineSql,
            [e.ReceivedUtc.ToUnixTimeMilliseconds(), e.ClientId, e.Topic, rejection.ToString(), reason, props.ToString(), e.ContentType, payload, (long)e.Payload.Length]);
    }

    /// <inheritdoc />
    public void SetDeviceCredential(string deviceId, PasswordHash credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        if (!Topics.TryValidateDeviceId(deviceId, out string why))
        {
            throw new ArgumentException(why, nameof(deviceId));
        }
        _db.Write(s => s.Execute(
            """
            INSERT INTO devices (device_id, password_salt, password_hash, pbkdf2_iterations) VALUES ($1, $2, $3, $4)
            ON CONFLICT (device_id) DO UPDATE SET password_salt = excluded.password_salt, password_hash = excluded.password_hash,
                pbkdf2_iterations = excluded.pbkdf2_iterations
            """,
            deviceId, credential.Salt, credential.Hash, credential.Iterations));
    }

    /// <inheritdoc />
    public bool TryGetDeviceCredential(string deviceId, out PasswordHash? credential)
    {
        credential = _db.Read(s => s.Query(
                "SELECT password_salt, password_hash, pbkdf2_iterations FROM devices WHERE device_id = $1 AND password_hash IS NOT NULL",
                r => r.GetBytes(0) is { } salt && r.GetBytes(1) is { } hash ? new PasswordHash(salt, hash, r.GetInt32(2)) : null,
                deviceId))
            .FirstOrDefault();
        return credential is not null;
    }

    /// <inheritdoc />
    public IReadOnlyList<DeviceRecord> ReadDevices() =>
        _db.Read(s => s.Query(_devicesSql,
            r => new DeviceRecord(r.GetString(0), r.GetBoolean(1), FromMs(r, 2), FromMs(r, 3), r.GetStringOrNull(4), r.GetStringOrNull(5), r.GetStringOrNull(6))));

    /// <inheritdoc />
    public IReadOnlyList<QuarantineRecord> ReadQuarantine(long afterId, int limit) =>
        _db.Read(s => s.Query(
            "SELECT id, received_utc_ms, client_id, topic, rejection, reason, payload, payload_bytes FROM quarantine WHERE id > $1 ORDER BY id LIMIT $2",
            r => new QuarantineRecord(r.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(1)), r.GetStringOrNull(2), r.GetString(3),
                Enum.Parse<RejectionKind>(r.GetString(4)), r.GetString(5), r.GetBytes(6) ?? [], r.GetInt64(7)),
            afterId, s.Dialect.Limit(limit)));

    /// <inheritdoc />
    public IReadOnlyList<long> ReadSequences(string deviceId) =>
        _db.Read(s => s.Query("SELECT seq FROM messages WHERE device_id = $1 ORDER BY seq", r => r.GetInt64(0), deviceId));

    /// <inheritdoc />
    public StoreCounts Count() =>
        _db.Read(s => s.Query(
            """
            SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM detections), (SELECT count(*) FROM heartbeats),
                   (SELECT count(*) FROM clips), (SELECT count(*) FROM sketches), (SELECT count(*) FROM model_status),
                   (SELECT count(*) FROM quarantine), (SELECT count(*) FROM devices)
            """,
            r => new StoreCounts(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7))))[0];

    private static DateTimeOffset? FromMs(StoreRow r, int ordinal) => r.IsNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(ordinal));
}
