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
                           n.review_reason AS Reason, n.labeled_utc_ms AS Labeled
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

        public NearMissRecord ToRecord() => new(DeviceId, Seq, DateTimeOffset.FromUnixTimeMilliseconds(DeviceTime), DateTimeOffset.FromUnixTimeMilliseconds(Received),
            StreamOffset, Score, Threshold, BandFloor, Keyword, ModelVersion, ClipId, HasAudio != 0,
            Label is null ? null : Enum.Parse<DetectionLabelKind>(Label), Candidate is null ? null : Enum.Parse<DetectionLabelKind>(Candidate),
            Kind is null ? null : new LabelProvenance(Kind, Tool ?? string.Empty, Confidence, null), Reason,
            Labeled is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null);
    }
}
