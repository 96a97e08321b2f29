using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Storage;

/// <summary>Model registry and rollout tables of the SQLite store (schema version 4). Records are JSON documents (the registry's
/// lineage and the rollout's device list change shape more often than they are queried); the columns beside them are what is
/// looked up or ordered by. The signed package is stored as blobs (a model is at most 64 KB).</summary>
public sealed partial class SqliteGatewayStore
{
    private static readonly string[] RolloutDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS registry_models (
            model_version      TEXT PRIMARY KEY NOT NULL,
            registered_utc_ms  INTEGER NOT NULL,
            record_json        TEXT NOT NULL,
            manifest           BLOB NOT NULL,
            signature          BLOB NOT NULL,
            model              BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS rollouts (
            id                 INTEGER PRIMARY KEY AUTOINCREMENT,
            model_version      TEXT NOT NULL,
            state              TEXT NOT NULL,
            started_utc_ms     INTEGER NOT NULL,
            revision           INTEGER NOT NULL,
            record_json        TEXT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS model_status_received ON model_status (device_id, received_utc_ms)",
    ];

    /// <summary>Version 9: the float weights a model was quantized from (null for models registered without them).</summary>
    private static readonly string[] FloatWeightsDdl = ["ALTER TABLE registry_models ADD COLUMN float_model BLOB"];

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, out string reason) => TryAddRegisteredModel(model, package, null, out reason);

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, byte[]? floatWeights, out string reason)
    {
        RolloutValues.Validate(model, package);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int added = _writer.Execute(
                "INSERT OR IGNORE INTO registry_models (model_version, registered_utc_ms, record_json, manifest, signature, model, float_model) VALUES (?, ?, ?, ?, ?, ?, ?)",
                model.ModelVersion, model.RegisteredUtc.ToUnixTimeMilliseconds(), RolloutValues.Serialize(model), package.Manifest, package.Signature, package.Model, floatWeights);
            reason = added == 1 ? string.Empty : $"model version '{model.ModelVersion}' is already registered";
            return added == 1;
        }
    }

    /// <inheritdoc />
    public bool UpdateRegisteredModel(RegisteredModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _writer.Execute("UPDATE registry_models SET record_json = ? WHERE model_version = ?", RolloutValues.Serialize(model), model.ModelVersion) == 1;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<RegisteredModel> ReadRegisteredModels()
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.QueryScalars<string>("SELECT record_json FROM registry_models ORDER BY registered_utc_ms DESC, model_version DESC")
                .Select(j => RolloutValues.Deserialize<RegisteredModel>(j, "registry model")).ToList();
        }
    }

    /// <inheritdoc />
    public bool TryGetRegisteredModel(string modelVersion, out RegisteredModel? model)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<string> rows = _reader.QueryScalars<string>("SELECT record_json FROM registry_models WHERE model_version = ?", modelVersion);
            model = rows.Count == 1 ? RolloutValues.Deserialize<RegisteredModel>(rows[0], "registry model") : null;
            return model is not null;
        }
    }

    /// <inheritdoc />
    public bool TryGetModelPackage(string modelVersion, out ModelPackage? package)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<PackageRow> rows = _reader.Query<PackageRow>(
                "SELECT manifest AS Manifest, signature AS Signature, model AS Model FROM registry_models WHERE model_version = ?", modelVersion);
            package = rows.Count == 1 ? new ModelPackage(rows[0].Manifest ?? [], rows[0].Signature ?? [], rows[0].Model ?? []) : null;
            return package is not null;
        }
    }

    /// <inheritdoc />
    public bool TryGetModelFloatWeights(string modelVersion, out byte[]? floatWeights)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<FloatRow> rows = _reader.Query<FloatRow>("SELECT float_model AS FloatModel FROM registry_models WHERE model_version = ?", modelVersion);
            floatWeights = rows.Count == 1 && rows[0].FloatModel is { Length: > 0 } bytes ? bytes : null;
            return floatWeights is not null;
        }
    }

    /// <inheritdoc />
    public RolloutRecord AddRollout(RolloutRecord rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _writer.Execute("BEGIN IMMEDIATE");
            try
            {
                _writer.Execute("INSERT INTO rollouts (model_version, state, started_utc_ms, revision, record_json) VALUES (?, ?, ?, 1, '{}')",
                    rollout.ModelVersion, rollout.State.ToString(), rollout.StartedUtc.ToUnixTimeMilliseconds());
                long id = _writer.ExecuteScalar<long>("SELECT last_insert_rowid()");
                RolloutRecord stored = rollout with { Id = id, Revision = 1 };
                _writer.Execute("UPDATE rollouts SET record_json = ? WHERE id = ?", RolloutValues.Serialize(stored), id);
                _writer.Execute("COMMIT");
                return stored;
            }
            catch
            {
                TryRollback();
                throw;
            }
        }
    }

    /// <inheritdoc />
    public RolloutRecord? TryUpdateRollout(RolloutRecord rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        RolloutRecord next = rollout with { Revision = rollout.Revision + 1 };
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int updated = _writer.Execute("UPDATE rollouts SET state = ?, revision = ?, record_json = ? WHERE id = ? AND revision = ?",
                next.State.ToString(), next.Revision, RolloutValues.Serialize(next), rollout.Id, rollout.Revision);
            return updated == 1 ? next : null;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<RolloutRecord> ReadRollouts(bool activeOnly, int limit)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.QueryScalars<string>(
                    "SELECT record_json FROM rollouts WHERE (?1 = 0 OR state IN ('Running', 'RollingBack')) ORDER BY id DESC LIMIT ?2", activeOnly ? 1 : 0, limit)
                .Select(j => RolloutValues.Deserialize<RolloutRecord>(j, "rollout")).ToList();
        }
    }

    /// <inheritdoc />
    public bool TryGetRollout(long id, out RolloutRecord? rollout)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            List<string> rows = _reader.QueryScalars<string>("SELECT record_json FROM rollouts WHERE id = ?", id);
            rollout = rows.Count == 1 ? RolloutValues.Deserialize<RolloutRecord>(rows[0], "rollout") : null;
            return rollout is not null;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelStatusRecord> ReadModelStatuses(string deviceId, DateTimeOffset receivedAfterUtc)
    {
        lock (_readLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _reader.Query<StatusRow>(
                    """
                    SELECT device_id AS DeviceId, seq AS Seq, received_utc_ms AS Received, active_model_version AS Active, update_result AS Result,
                           target_model_version AS Target, reason AS Reason
                    FROM model_status WHERE device_id = ? AND received_utc_ms > ? ORDER BY received_utc_ms, seq
                    """, deviceId, receivedAfterUtc.ToUnixTimeMilliseconds())
                .Select(r => new ModelStatusRecord(r.DeviceId, r.Seq, DateTimeOffset.FromUnixTimeMilliseconds(r.Received), r.Active,
                    Enum.Parse<ModelUpdateResult>(r.Result), r.Target, r.Reason))
                .ToList();
        }
    }

    private sealed class FloatRow
    {
        public byte[]? FloatModel { get; set; }
    }

    private sealed class PackageRow
    {
        public byte[]? Manifest { get; set; }
        public byte[]? Signature { get; set; }
        public byte[]? Model { get; set; }
    }

    private sealed class StatusRow
    {
        public string DeviceId { get; set; } = string.Empty;
        public long Seq { get; set; }
        public long Received { get; set; }
        public string Active { get; set; } = string.Empty;
        public string Result { get; set; } = string.Empty;
        public string? Target { get; set; }
        public string? Reason { get; set; }
    }
}
