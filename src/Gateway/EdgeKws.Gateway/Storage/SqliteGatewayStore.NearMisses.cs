using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>Near misses in the SQLite store (schema version 8, see <see cref="IGatewayStore"/> near-miss members).</summary>
public sealed partial class SqliteGatewayStore
{
    // Version 7 -> 8: near misses in a table of their own (never in detections, so FA/hour and detection counts cannot see them),
    // with the labeling worker's label on the row.
    private static readonly string[] NearMissDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS near_misses (
            device_id            TEXT NOT NULL,
            seq                  INTEGER NOT NULL,
            device_time_utc_ms   INTEGER NOT NULL,
            received_utc_ms      INTEGER NOT NULL,
            stream_offset_ms     INTEGER NOT NULL,
            score                REAL NOT NULL,
            threshold            REAL NOT NULL,
            band_floor           REAL NOT NULL,
            keyword              TEXT,
            model_version        TEXT NOT NULL,
            feature_config_hash  TEXT NOT NULL,
            clip_id              TEXT,
            label                TEXT,
            label_candidate      TEXT,
            label_kind           TEXT,
            label_tool           TEXT,
            label_confidence     REAL,
            label_source         TEXT,
            review_reason        TEXT,
            labeled_utc_ms       INTEGER,
            PRIMARY KEY (device_id, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS near_misses_clip ON near_misses (device_id, clip_id)",
        "CREATE INDEX IF NOT EXISTS near_misses_time ON near_misses (device_time_utc_ms)",
    ];

    private void InsertNearMiss(string deviceId, long seq, long nowMs, NearMissReport n) =>
        _writer.Execute(
            "INSERT INTO near_misses (device_id, seq, device_time_utc_ms, received_utc_ms, stream_offset_ms, score, threshold, band_floor, keyword, model_version, feature_config_hash, clip_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            deviceId, seq, n.DeviceTimeUtc.ToUnixTimeMilliseconds(), nowMs, n.StreamOffsetMs, (double)n.Score, (double)n.Threshold, (double)n.BandFloor,
            n.Keyword, n.ModelVersion, n.FeatureConfigHash, n.ClipId?.ToString("D"));

    /// <inheritdoc />
    public IReadOnlyList<TriggerClipWork> ReadUnlabelledNearMissClips(int limit, DateTimeOffset featureOnlyReceivedBeforeUtc)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<WorkRow>(
                    """
                    SELECT n.device_id AS DeviceId, n.seq AS Seq, n.clip_id AS ClipId, n.keyword AS Keyword, n.model_version AS ModelVersion, n.score AS Score,
                           (SELECT a.frame FROM clips a WHERE a.device_id = n.device_id AND a.clip_id = n.clip_id AND a.kind = 'audio' LIMIT 1) AS Audio
                    FROM near_misses n
                    WHERE n.clip_id IS NOT NULL AND n.label IS NULL
                      AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = n.device_id AND c.clip_id = n.clip_id
                                  AND (c.kind = 'audio' OR c.received_utc_ms < ?2))
                    ORDER BY n.received_utc_ms, n.device_id, n.seq LIMIT ?1
                    """, limit, featureOnlyReceivedBeforeUtc.ToUnixTimeMilliseconds())
                .Select(r => r.ToWork(nearMiss: true)).ToList();
        }
    }

    /// <inheritdoc />
    public string? WriteNearMissLabel(string deviceId, long sequence, DetectionLabelKind label, LabelProvenance provenance, string? reviewReason,
        DetectionLabelKind candidate, DateTimeOffset labeledUtc)
    {
        if (LabelingValues.RefuseProvenance(provenance) is { } refused)
        {
            return refused;
        }
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int n = _writer.Execute(
                """
                UPDATE near_misses SET label = ?, label_candidate = ?, label_kind = ?, label_tool = ?, label_confidence = ?, label_source = ?, review_reason = ?, labeled_utc_ms = ?
                WHERE device_id = ? AND seq = ?
                """,
                label.ToString(), label == DetectionLabelKind.Unknown ? candidate.ToString() : null, provenance.Kind, provenance.Tool, provenance.Confidence,
                LabelingValues.AlignerSource(provenance.Tool), reviewReason is null ? null : LabelingValues.Cut(reviewReason), labeledUtc.ToUnixTimeMilliseconds(),
                deviceId, sequence);
            return n == 1 ? null : $"near miss ({deviceId}, {sequence}) is not stored";
        }
    }

    /// <inheritdoc />
    public string? DecideNearMiss(string deviceId, long sequence, DetectionLabelKind label, string reviewer, DateTimeOffset nowUtc)
    {
        if ((LabelingValues.RefuseDecision(label) ?? LabelingValues.RefuseReviewer(reviewer)) is { } refused)
        {
            return refused;
        }
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Only a near miss waiting for review: the condition in the UPDATE itself, so a worker's label written meanwhile is never overwritten.
            int n = _writer.Execute(
                """
                UPDATE near_misses SET label = ?, label_candidate = NULL, label_kind = ?, label_tool = ?, label_confidence = NULL, label_source = ?, labeled_utc_ms = ?
                WHERE device_id = ? AND seq = ? AND label = 'Unknown'
                """,
                label.ToString(), LabelProvenanceKinds.Review, LabelProvenanceKinds.Review, LabelingValues.ReviewSource(reviewer), nowUtc.ToUnixTimeMilliseconds(),
                deviceId, sequence);
            if (n == 1)
            {
                return null;
            }
            string? current = _writer.ExecuteScalar<string>("SELECT coalesce(label, 'no label yet') FROM near_misses WHERE device_id = ? AND seq = ?", deviceId, sequence);
            return LabelingValues.NearMissNotQueued(deviceId, sequence, current);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<FieldClip> ReadFieldClips(string afterDeviceId, long afterSequence, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<FieldClipRow>(
                    """
                    SELECT x.*,
                           coalesce((SELECT a.frame FROM clips a WHERE a.device_id = x.DeviceId AND a.clip_id = x.ClipId AND a.kind = 'audio' LIMIT 1),
                                    (SELECT f.frame FROM clips f WHERE f.device_id = x.DeviceId AND f.clip_id = x.ClipId AND f.kind = 'features' LIMIT 1)) AS Frame,
                           EXISTS (SELECT 1 FROM clips a WHERE a.device_id = x.DeviceId AND a.clip_id = x.ClipId AND a.kind = 'audio') AS IsAudio
                    FROM (
                        SELECT 'trigger' AS Kind, d.device_id AS DeviceId, d.seq AS Seq, d.device_time_utc_ms AS DeviceTime, d.received_utc_ms AS Received,
                               d.stream_offset_ms AS StreamOffset, d.score AS Score, d.keyword AS Keyword, d.model_version AS ModelVersion, d.clip_id AS ClipId,
                               l.label AS Label, l.source AS Source, l.labeled_utc_ms AS Labeled, p.kind AS ProvenanceKind, p.tool AS Tool, p.confidence AS Confidence,
                               p.reviewer AS Reviewer
                        FROM detections d
                        JOIN labels l ON l.device_id = d.device_id AND l.seq = d.seq
                        LEFT JOIN label_provenance p ON p.device_id = l.device_id AND p.seq = l.seq AND p.labeled_utc_ms = l.labeled_utc_ms AND p.source = l.source
                        WHERE d.clip_id IS NOT NULL AND l.label IN ('TrueAccept', 'FalseAccept')
                        UNION ALL
                        SELECT 'nearMiss', n.device_id, n.seq, n.device_time_utc_ms, n.received_utc_ms, n.stream_offset_ms, n.score, n.keyword, n.model_version, n.clip_id,
                               n.label, n.label_source, n.labeled_utc_ms, n.label_kind, n.label_tool, n.label_confidence,
                               CASE WHEN n.label_kind = 'review' AND n.label_source LIKE 'review:%' THEN substr(n.label_source, 8) END
                        FROM near_misses n
                        WHERE n.clip_id IS NOT NULL AND n.label IN ('TrueAccept', 'FalseAccept')
                    ) x
                    WHERE (x.DeviceId > ?1 OR (x.DeviceId = ?1 AND x.Seq > ?2))
                      AND EXISTS (SELECT 1 FROM clips c WHERE c.device_id = x.DeviceId AND c.clip_id = x.ClipId)
                    ORDER BY x.DeviceId, x.Seq LIMIT ?3
                    """, afterDeviceId, afterSequence, limit)
                .Select(r => r.ToClip()).ToList();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<NearMissRecord> ReadNearMisses(string? deviceId, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<NearMissRow>(
                    """
                    SELECT n.device_id AS DeviceId, n.seq AS Seq, n.device_time_utc_ms AS DeviceTime, n.received_utc_ms AS Received, n.stream_offset_ms AS StreamOffset,
                           n.score AS Score, n.threshold AS Threshold, n.band_floor AS BandFloor, n.keyword AS Keyword, n.model_version AS ModelVersion, n.clip_id AS ClipId,
                           EXISTS (SELECT 1 FROM clips a WHERE a.device_id = n.device_id AND a.clip_id = n.clip_id AND a.kind = 'audio') AS HasAudio,
                           n.label AS Label, n.label_candidate AS Candidate, n.label_kind AS Kind, n.label_tool AS Tool, n.label_confidence AS Confidence,
                           n.review_reason AS Reason, n.labeled_utc_ms AS Labeled,
                           CASE WHEN n.label_kind = 'review' AND n.label_source LIKE 'review:%' THEN substr(n.label_source, 8) END AS Reviewer
                    FROM near_misses n WHERE (?1 IS NULL OR n.device_id = ?1)
                    ORDER BY n.device_time_utc_ms DESC, n.device_id, n.seq DESC LIMIT ?2
                    """, deviceId, limit)
                .Select(r => r.ToRecord()).ToList();
        }
    }

    // Erasure (inside EraseDevice's transaction): a device's near misses go with its detections.
    private void EraseNearMissRows(string deviceId) => _writer.Execute("DELETE FROM near_misses WHERE device_id = ?", deviceId);

    private sealed class NearMissRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public long DeviceTime { get; set; }
        public long Received { get; set; }
        public long StreamOffset { get; set; }
        public double Score { get; set; }
        public double Threshold { get; set; }
        public double BandFloor { get; set; }
        public string? Keyword { get; set; }
        public string ModelVersion { get; set; } = string.Empty;
        public string? ClipId { get; set; }
        public long HasAudio { get; set; }
        public string? Label { get; set; }
        public string? Candidate { get; set; }
        public string? Kind { get; set; }
        public string? Tool { get; set; }
        public double? Confidence { get; set; }
        public string? Reason { get; set; }
        public long? Labeled { get; set; }
        public string? Reviewer { get; set; }

        public NearMissRecord ToRecord() => new(DeviceId, Seq, DateTimeOffset.FromUnixTimeMilliseconds(DeviceTime), DateTimeOffset.FromUnixTimeMilliseconds(Received),
            StreamOffset, Score, Threshold, BandFloor, Keyword, ModelVersion, ClipId, HasAudio != 0,
            Label is null ? null : Enum.Parse<DetectionLabelKind>(Label), Candidate is null ? null : Enum.Parse<DetectionLabelKind>(Candidate),
            Kind is null ? null : new LabelProvenance(Kind, Tool ?? string.Empty, Confidence, Reviewer), Reason,
            Labeled is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null);
    }

    private sealed class FieldClipRow
    {
        public string Kind { get; set; } = string.Empty;
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public long DeviceTime { get; set; }
        public long Received { get; set; }
        public long StreamOffset { get; set; }
        public double Score { get; set; }
        public string? Keyword { get; set; }
        public string ModelVersion { get; set; } = string.Empty;
        public string ClipId { get; set; } = string.Empty;
        public string Label { get; set; } = string.Empty;
        public string? Source { get; set; }
        public long Labeled { get; set; }
        public string? ProvenanceKind { get; set; }
        public string? Tool { get; set; }
        public double? Confidence { get; set; }
        public string? Reviewer { get; set; }
        public byte[]? Frame { get; set; }
        public long IsAudio { get; set; }

        public FieldClip ToClip() => new(Kind, DeviceId, Seq, DateTimeOffset.FromUnixTimeMilliseconds(DeviceTime), DateTimeOffset.FromUnixTimeMilliseconds(Received),
            StreamOffset, Score, Keyword, ModelVersion, ClipId, Enum.Parse<DetectionLabelKind>(Label), Source ?? string.Empty, DateTimeOffset.FromUnixTimeMilliseconds(Labeled),
            ProvenanceKind is null ? null : new LabelProvenance(ProvenanceKind, Tool ?? string.Empty, Confidence, Reviewer), Frame ?? [], IsAudio != 0);
    }
}
