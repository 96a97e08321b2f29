using Npgsql;

namespace EdgeKws.Gateway.Storage;

/// <summary>Model loop reads and state in the PostgreSQL store (schema version 10; same table and rules as <see cref="SqliteGatewayStore"/>).</summary>
public sealed partial class PostgresGatewayStore
{
    private static readonly string[] ModelLoopDdl =
    [
        """
        CREATE TABLE IF NOT EXISTS model_loop_baseline (
            id             integer PRIMARY KEY CHECK (id = 1),
            since_utc_ms   bigint NOT NULL,
            since          text NOT NULL,
            job_id         text
        )
        """,
    ];

    /// <inheritdoc />
    public IReadOnlyList<RecallRow> ReadRecallActivity(DateTimeOffset fromUtc, DateTimeOffset toUtc, TimeSpan bucket)
    {
        long bucketMs = (long)bucket.TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bucketMs, nameof(bucket));
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand(ModelLoopValues.RecallSql("$1", "$2", "$3"), db);
        cmd.Parameters.Add(P(fromUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(toUtc.ToUnixTimeMilliseconds()));
        cmd.Parameters.Add(P(bucketMs));
        var rows = new List<RecallRow>();
        using NpgsqlDataReader r = cmd.ExecuteReader();
        while (r.Read())
        {
            rows.Add(new RecallRow(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5)));
        }
        return rows;
    }

    /// <inheritdoc />
    public bool AdvanceModelLoopBaseline(ModelLoopBaseline baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        using NpgsqlConnection db = Connection();
        // The condition is in the statement itself, so concurrent instances can only move the baseline forward.
        return Run(db, null,
            """
            INSERT INTO model_loop_baseline (id, since_utc_ms, since, job_id) VALUES (1, $1, $2, $3)
            ON CONFLICT (id) DO UPDATE SET since_utc_ms = excluded.since_utc_ms, since = excluded.since, job_id = excluded.job_id
            WHERE excluded.since_utc_ms > model_loop_baseline.since_utc_ms
            """, P(baseline.SinceUtc.ToUnixTimeMilliseconds()), P(baseline.Since), P(baseline.JobId)) == 1;
    }

    /// <inheritdoc />
    public bool TryGetModelLoopBaseline(out ModelLoopBaseline? baseline)
    {
        using NpgsqlConnection db = Connection();
        using var cmd = new NpgsqlCommand("SELECT since_utc_ms, since, job_id FROM model_loop_baseline WHERE id = 1", db);
        using NpgsqlDataReader r = cmd.ExecuteReader();
        baseline = r.Read() ? new ModelLoopBaseline(DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(0)), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2)) : null;
        return baseline is not null;
    }
}
