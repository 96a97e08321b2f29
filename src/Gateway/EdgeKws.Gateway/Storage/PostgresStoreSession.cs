using Npgsql;
using NpgsqlTypes;

namespace EdgeKws.Gateway.Storage;

/// <summary>A <see cref="StoreSession"/> on one pooled connection of <see cref="PostgresGatewayStore"/>: typed positional parameters
/// (so a null still has a type), text through <see cref="PostgresGatewayStore.PgText"/>.</summary>
internal sealed class PostgresStoreSession(NpgsqlConnection connection) : StoreSession
{
    public override StoreDialect Dialect => StoreDialect.Postgres;

    /// <summary>The connection, for code of concerns not yet moved to one implementation (it runs in the same transaction).</summary>
    public NpgsqlConnection Connection => connection;

    /// <summary>The open transaction inside <see cref="InTransaction{T}"/>, else null.</summary>
    public NpgsqlTransaction? Transaction { get; private set; }

    public override int Execute(string sql, params StoreArg[] args)
    {
        using NpgsqlCommand cmd = Command(sql, args);
        return cmd.ExecuteNonQuery();
    }

    public override int[] ExecuteBatch(IReadOnlyList<StoreStatement> statements)
    {
        ArgumentNullException.ThrowIfNull(statements);
        if (statements.Count == 0)
        {
            return [];
        }
        using var batch = new NpgsqlBatch(connection, Transaction);
        foreach (StoreStatement statement in statements)
        {
            var command = new NpgsqlBatchCommand(statement.Sql);
            AddParameters(command.Parameters, statement.Args);
            batch.BatchCommands.Add(command);
        }
        batch.ExecuteNonQuery();
        var changed = new int[statements.Count];
        for (int i = 0; i < changed.Length; i++)
        {
            changed[i] = batch.BatchCommands[i].RecordsAffected;
        }
        return changed;
    }

    public override List<T> Query<T>(string sql, Func<StoreRow, T> map, params StoreArg[] args)
    {
        ArgumentNullException.ThrowIfNull(map);
        using NpgsqlCommand cmd = Command(sql, args);
        using NpgsqlDataReader reader = cmd.ExecuteReader();
        var row = new Row(reader);
        var list = new List<T>();
        while (reader.Read())
        {
            list.Add(map(row));
        }
        return list;
    }

    public override T InTransaction<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (Transaction is not null)
        {
            throw new InvalidOperationException("a store transaction is already open on this session");
        }
        // Disposing an uncommitted transaction rolls it back.
        using NpgsqlTransaction tx = connection.BeginTransaction();
        Transaction = tx;
        try
        {
            T result = work();
            tx.Commit();
            return result;
        }
        finally
        {
            Transaction = null;
        }
    }

    private NpgsqlCommand Command(string sql, StoreArg[] args)
    {
        var cmd = new NpgsqlCommand(sql, connection, Transaction);
        AddParameters(cmd.Parameters, args);
        return cmd;
    }

    private static void AddParameters(NpgsqlParameterCollection parameters, StoreArg[] args)
    {
        foreach (StoreArg a in args)
        {
            parameters.Add(new NpgsqlParameter
            {
                NpgsqlDbType = a.Type switch
                {
                    StoreArgType.Text => NpgsqlDbType.Text,
                    StoreArgType.Int64 => NpgsqlDbType.Bigint,
                    StoreArgType.Int32 => NpgsqlDbType.Integer,
                    StoreArgType.Double => NpgsqlDbType.Double,
                    _ => NpgsqlDbType.Bytea,
                },
                Value = a.Value switch
                {
                    null => DBNull.Value,
                    string s => PostgresGatewayStore.PgText(s),
                    object v => v,
                },
            });
        }
    }

    private sealed class Row(NpgsqlDataReader reader) : StoreRow
    {
        public override bool IsNull(int ordinal) => reader.IsDBNull(ordinal);

        public override string GetString(int ordinal) => reader.GetString(ordinal);

        public override long GetInt64(int ordinal) => reader.GetInt64(ordinal);

        public override int GetInt32(int ordinal) => reader.GetInt32(ordinal);

        public override double GetDouble(int ordinal) => reader.GetDouble(ordinal);

        public override bool GetBoolean(int ordinal) => reader.GetBoolean(ordinal);

        public override byte[]? GetBytes(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<byte[]>(ordinal);
    }
}
