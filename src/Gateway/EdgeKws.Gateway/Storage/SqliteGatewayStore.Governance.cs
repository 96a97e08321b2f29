namespace EdgeKws.Gateway.Storage;

/// <summary>Governance (retention, erasure, dataset membership) and skew tables of the SQLite store (schema version 3).</summary>
public sealed partial class SqliteGatewayStore
{
    private static readonly string[] GovernanceDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS dataset_members (
            dataset_id   TEXT NOT NULL,
            device_id    TEXT NOT NULL,
            clip_id      TEXT NOT NULL,
            PRIMARY KEY (dataset_id, device_id, clip_id)
        )
        """,
        "CREATE INDEX IF NOT EXISTS dataset_members_device ON dataset_members (device_id)",
        """
        CREATE TABLE IF NOT EXISTS model_datasets (
            model_version  TEXT NOT NULL,
            dataset_id     TEXT NOT NULL,
            PRIMARY KEY (model_version, dataset_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS model_taints (
            model_version      TEXT NOT NULL,
            erased_device_id   TEXT NOT NULL,
            reason             TEXT NOT NULL,
            tainted_utc_ms     INTEGER NOT NULL,
            PRIMARY KEY (model_version, erased_device_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS clip_skew (
            device_id          TEXT NOT NULL,
            clip_id            TEXT NOT NULL,
            computed_utc_ms    INTEGER NOT NULL,
            status             TEXT NOT NULL,
            frames             INTEGER NOT NULL,
            max_abs_diff       REAL NOT NULL,
            max_rel_diff       REAL NOT NULL,
            worst_frame        INTEGER NOT NULL,
            message            TEXT NOT NULL,
            PRIMARY KEY (device_id, clip_id)
        )
        """,
        "CREATE INDEX IF NOT EXISTS clips_received ON clips (kind, received_utc_ms)",
    ];

    /// <inheritdoc />
    public long DeleteRawAudioReceivedBefore(DateTimeOffset cutoffUtc)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int deleted = _writer.Execute("DELETE FROM clips WHERE kind = 'audio' AND received_utc_ms < ?", cutoffUtc.ToUnixTimeMilliseconds());
            if (deleted > 0)
            {
                // auto_vacuum = INCREMENTAL: hand the freed pages back to the file system.
                _writer.ExecuteScalar<long>("PRAGMA incremental_vacuum");
            }
            return deleted;
        }
    }

    /// <inheritdoc />
    public long AddDatasetMembers(string datasetId, IReadOnlyList<DatasetMember> members)
    {
        GovernanceValues.ValidateDataset(datasetId, members);
        long added = 0;
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                foreach (DatasetMember m in members)
                {
                    added += _writer.Execute("INSERT OR IGNORE INTO dataset_members (dataset_id, device_id, clip_id) VALUES (?, ?, ?)", datasetId, m.DeviceId, m.ClipId);
                }
                _writer.Execute("COMMIT");
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
        return added;
    }

    /// <inheritdoc />
    public IReadOnlyList<DatasetMember> ReadDatasetMembers(string datasetId)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<MemberRow>("SELECT device_id AS DeviceId, clip_id AS ClipId FROM dataset_members WHERE dataset_id = ? ORDER BY device_id, clip_id", datasetId)
                .Select(r => new DatasetMember(r.DeviceId, r.ClipId)).ToList();
        }
    }

    /// <inheritdoc />
    public void RecordModelDataset(string modelVersion, string datasetId)
    {
        GovernanceValues.ValidateModelDataset(modelVersion, datasetId);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("INSERT OR IGNORE INTO model_datasets (model_version, dataset_id) VALUES (?, ?)", modelVersion, datasetId);
        }
    }

    /// <inheritdoc />
    public ErasureCounts EraseDevice(string deviceId, bool keepCredential, DateTimeOffset nowUtc)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                // Marks first: they are found through the membership this erasure deletes.
                long tainted = _writer.Execute(
                    """
                    INSERT OR IGNORE INTO model_taints (model_version, erased_device_id, reason, tainted_utc_ms)
                    SELECT md.model_version, ?1, 'trained on erased device ' || ?1 || ' (dataset ' || min(md.dataset_id) || ')', ?2
                    FROM model_datasets md JOIN dataset_members m ON m.dataset_id = md.dataset_id
                    WHERE m.device_id = ?1 GROUP BY md.model_version
                    """, deviceId, nowUtc.ToUnixTimeMilliseconds());
                EraseLabelingRows(deviceId);
                EraseNearMissRows(deviceId);
                var counts = new ErasureCounts(
                    AudioClips: _writer.Execute("DELETE FROM clips WHERE device_id = ? AND kind = 'audio'", deviceId),
                    FeatureClips: _writer.Execute("DELETE FROM clips WHERE device_id = ? AND kind = 'features'", deviceId),
                    DetectionClipRefs: _writer.Execute("UPDATE detections SET clip_id = NULL WHERE device_id = ? AND clip_id IS NOT NULL", deviceId),
                    Labels: _writer.Execute("DELETE FROM labels WHERE device_id = ?", deviceId),
                    DatasetMemberships: _writer.Execute("DELETE FROM dataset_members WHERE device_id = ?", deviceId),
                    SkewResults: _writer.Execute("DELETE FROM clip_skew WHERE device_id = ?", deviceId),
                    ModelsTainted: tainted,
                    CredentialRevoked: !keepCredential && _writer.Execute(
                        "UPDATE devices SET password_salt = NULL, password_hash = NULL, pbkdf2_iterations = NULL WHERE device_id = ? AND password_hash IS NOT NULL",
                        deviceId) == 1);
                _writer.Execute("COMMIT");
                _writer.ExecuteScalar<long>("PRAGMA incremental_vacuum");
                return counts;
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelTaint> ReadModelTaints()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<TaintRow>(
                    "SELECT model_version AS ModelVersion, erased_device_id AS DeviceId, reason AS Reason, tainted_utc_ms AS Tainted FROM model_taints ORDER BY model_version, erased_device_id")
                .Select(r => new ModelTaint(r.ModelVersion, r.DeviceId, r.Reason, DateTimeOffset.FromUnixTimeMilliseconds(r.Tainted))).ToList();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ClipPair> ReadUncheckedClipPairs(int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<PairRow>(
                    """
                    SELECT a.device_id AS DeviceId, a.clip_id AS ClipId, a.frame AS Audio, f.frame AS Features
                    FROM clips a JOIN clips f ON f.device_id = a.device_id AND f.clip_id = a.clip_id AND f.kind = 'features'
                    WHERE a.kind = 'audio' AND NOT EXISTS (SELECT 1 FROM clip_skew s WHERE s.device_id = a.device_id AND s.clip_id = a.clip_id)
                    ORDER BY a.received_utc_ms, a.device_id, a.seq LIMIT ?
                    """, limit)
                .Select(r => new ClipPair(r.DeviceId, r.ClipId, r.Audio ?? [], r.Features ?? [])).ToList();
        }
    }

    /// <inheritdoc />
    public void WriteSkewResult(SkewResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute(
                """
                INSERT OR REPLACE INTO clip_skew (device_id, clip_id, computed_utc_ms, status, frames, max_abs_diff, max_rel_diff, worst_frame, message)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                result.DeviceId, result.ClipId, result.ComputedUtc.ToUnixTimeMilliseconds(), result.Status.ToString(), result.Frames,
                result.MaxAbsDifference, result.MaxRelativeDifference, result.WorstFrame, result.Message);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<SkewResult> ReadSkewResults(string? deviceId, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<SkewRow>(
                    """
                    SELECT device_id AS DeviceId, clip_id AS ClipId, computed_utc_ms AS Computed, status AS Status, frames AS Frames, max_abs_diff AS MaxAbs,
                           max_rel_diff AS MaxRel, worst_frame AS WorstFrame, message AS Message
                    FROM clip_skew WHERE (?1 IS NULL OR device_id = ?1) ORDER BY computed_utc_ms DESC, device_id, clip_id LIMIT ?2
                    """, deviceId, limit)
                .Select(r => new SkewResult(r.DeviceId, r.ClipId, DateTimeOffset.FromUnixTimeMilliseconds(r.Computed), Enum.Parse<SkewStatus>(r.Status),
                    (int)r.Frames, r.MaxAbs, r.MaxRel, (int)r.WorstFrame, r.Message)).ToList();
        }
    }

    private sealed class MemberRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public string ClipId { get; set; } = string.Empty;
    }

    private sealed class TaintRow
    {
        public string ModelVersion { get; set; } = string.Empty;
        public string DeviceId { get; set; } = string.Empty;
        public string Reason { get; set; } = string.Empty;
        public long Tainted { get; set; }
    }

    private sealed class PairRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public string ClipId { get; set; } = string.Empty;
        public byte[]? Audio { get; set; }
        public byte[]? Features { get; set; }
    }

    private sealed class SkewRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public string ClipId { get; set; } = string.Empty;
        public long Computed { get; set; }
        public string Status { get; set; } = string.Empty;
        public long Frames { get; set; }
        public double MaxAbs { get; set; }
        public double MaxRel { get; set; }
        public long WorstFrame { get; set; }
        public string Message { get; set; } = string.Empty;
    }
}
