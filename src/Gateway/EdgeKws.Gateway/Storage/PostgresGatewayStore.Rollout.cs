using EdgeKws.Shared.Contracts;
using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>Model registry and rollout tables of the PostgreSQL store (schema version 4), the same documents and columns as
/// <see cref="SqliteGatewayStore"/>. The rollout's revision column makes concurrent updates from two instances safe: the
/// loser's <c>UPDATE ... WHERE revision = $n</c> matches nothing.</summary>
public sealed partial class PostgresGatewayStore
{
    private static readonly string[] RolloutDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS registry_models (
            model_version      text PRIMARY KEY,
            registered_utc_ms  bigint NOT NULL,
            record_json        text NOT NULL,
            manifest           bytea NOT NULL,
            signature          bytea NOT NULL,
            model              bytea NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS rollouts (
            id                 bigserial PRIMARY KEY,
            model_version      text NOT NULL,
            state              text NOT NULL,
            started_utc_ms     bigint NOT NULL,
            revision           bigint NOT NULL,
            record_json        text NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS model_status_received ON model_status (device_id, received_utc_ms)",
    ];

    /// <summary>Version 9: the float weights a model was quantized from (null for models registered without them).</summary>
    private static readonly string[] FloatWeightsDdl = ["ALTER TABLE registry_models ADD COLUMN IF NOT EXISTS float_model bytea"];

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, out string reason) => TryAddRegisteredModel(model, package, null, out reason);

    /// <inheritdoc />
    public bool TryAddRegisteredModel(RegisteredModel model, ModelPackage package, byte[]? floatWeights, out string reason)
    {
        RolloutValues.Validate(model, package);
        using NpgsqlConnection db = Connection();
        int added = Run(db, null,
            "INSERT INTO registry_models (model_version, registered_utc_ms, record_json, manifest, signature, model, float_model) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            P(model.ModelVersion), P(model.RegisteredUtc.ToUnixTimeMilliseconds()), P(RolloutValues.Serialize(model)), P(package.Manifest), P(package.Signature), P(package.Model),
            new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea, Value = floatWeights is null ? DBNull.Value : floatWeights });
        reason = added == 1 ? string.Empty : $"model version '{model.ModelVersion}' is already registered";
        return added == 1;
    }

    /// <inheritdoc />
    public bool UpdateRegisteredModel(RegisteredModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using NpgsqlConnection db = Connection();
        return Run(db, null, "UPDATE registry_models SET record_json = $1 WHERE model_version = $2", P(RolloutValues.Serialize(model)), P(model.ModelVersion)) == 1;
    }

    /// <inheritdoc />
    public IReadOnlyList<RegisteredModel> ReadRegisteredModels() =>
        Strings("SELECT record_json FROM registry_models ORDER BY registered_utc_ms DESC, model_version COLLATE \"C\" DESC")
            .Select(j => RolloutValues.Deserialize<RegisteredModel>(j, "registry model")).ToList();

    /// <inheritdoc />
    public bool TryGetRegisteredModel(string modelVersion, out RegisteredModel? model)
    {
        List<string> rows = Strings("SELECT record_json FROM registry_models WHERE model_version = $1", P(modelVersion));
        model = rows.Count == 1 ? RolloutValues.Deserialize<RegisteredModel>(rows[0], "registry model") : null;
        return model is not null;
    }

    /// <inheritdoc />
    public bool TryGetModelPackage(string modelVersion, out ModelPackage? package)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("SELECT manifest, signature, model FROM registry_models WHERE model_version = $1", db);
        cmd.Parameters.Add(P(modelVersion));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        package = r.Read() ? new ModelPackage((byte[])r[0], (byte[])r[1], (byte[])r[2]) : null;
        return package is not null;
    }

    /// <inheritdoc />
    public bool TryGetModelFloatWeights(string modelVersion, out byte[]? floatWeights)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("SELECT float_model FROM registry_models WHERE model_version = $1", db);
        cmd.Parameters.Add(P(modelVersion));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        floatWeights = r.Read() && !r.IsDBNull(0) ? (byte[])r[0] : null;
        return floatWeights is not null;
    }

    /// <inheritdoc />
    public RolloutRecord AddRollout(RolloutRecord rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        using NpgsqlConnection db = Connection();
        using NpgsqlTransaction tx = db.BeginTransaction();
        long id;
        using (var cmd = new NpgsqlCommand(
                   "INSERT INTO rollouts (model_version, state, started_utc_ms, revision, record_json) VALUES ($1, $2, $3, 1, '{}') RETURNING id", db, tx))
        {
            cmd.Parameters.Add(P(rollout.ModelVersion));
            cmd.Parameters.Add(P(rollout.State.ToString()));
            cmd.Parameters.Add(P(rollout.StartedUtc.ToUnixTimeMilliseconds()));
            id = (long)cmd.ExecuteScalar()!;
        }
        RolloutRecord stored = rollout with { Id = id, Revision = 1 };
        Run(db, tx, "UPDATE rollouts SET record_json = $1 WHERE id = $2", P(RolloutValues.Serialize(stored)), P(id));
        tx.Commit();
        return stored;
    }

    /// <inheritdoc />
    public RolloutRecord? TryUpdateRollout(RolloutRecord rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        RolloutRecord next = rollout with { Revision = rollout.Revision + 1 };
        using NpgsqlConnection db = Connection();
        int updated = Run(db, null, "UPDATE rollouts SET state = $1, revision = $2, record_json = $3 WHERE id = $4 AND revision = $5",
            P(next.State.ToString()), P(next.Revision), P(RolloutValues.Serialize(next)), P(rollout.Id), P(rollout.Revision));
        return updated == 1 ? next : null;
    }

    /// <inheritdoc />
    public IReadOnlyList<RolloutRecord> ReadRollouts(bool activeOnly, int limit) =>
        Strings("SELECT record_json FROM rollouts WHERE ($1 = 0 OR state IN ('Running', 'RollingBack')) ORDER BY id DESC LIMIT $2",
                P(activeOnly ? 1 : 0), Limit(limit))
            .Select(j => RolloutValues.Deserialize<RolloutRecord>(j, "rollout")).ToList();

    /// <inheritdoc />
    public bool TryGetRollout(long id, out RolloutRecord? rollout)
    {
        List<string> rows = Strings("SELECT record_json FROM rollouts WHERE id = $1", P(id));
        rollout = rows.Count == 1 ? RolloutValues.Deserialize<RolloutRecord>(rows[0], "rollout") : null;
        return rollout is not null;
    }

    /// <inheritdoc />
    public IReadOnlyList<ModelStatusRecord> ReadModelStatuses(string deviceId, DateTimeOffset receivedAfterUtc)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(
            """
            SELECT device_id, seq, received_utc_ms, active_model_version, update_result, target_model_version, reason
            FROM model_status WHERE device_id = $1 AND received_utc_ms > $2 ORDER BY received_utc_ms, seq
            """, db);
        cmd.Parameters.Add(P(deviceId));
        cmd.Parameters.Add(P(receivedAfterUtc.ToUnixTimeMilliseconds()));
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<ModelStatusRecord>();
        while (r.Read())
        {
            list.Add(new ModelStatusRecord(r.GetString(0), r.GetInt64(1), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), r.GetString(3),
                Enum.Parse<ModelUpdateResult>(r.GetString(4)), Text(r, 5), Text(r, 6)));
        }
        return list;
    }

    private List<string> Strings(string sql, params NpgsqlParameter[] parameters)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(sql, db);
        cmd.Parameters.AddRange(parameters);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        var list = new List<string>();
        while (r.Read())
        {
            list.Add(r.GetString(0));
        }
        return list;
    }
}
