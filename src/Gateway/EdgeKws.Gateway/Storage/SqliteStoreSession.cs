using System.Globalization;
using SQLite;
using SQLitePCL;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// A <see cref="StoreSession"/> on one of <see cref="SqliteGatewayStore"/>'s sqlite-net connections. sqlite-net is not ADO.NET
/// (its queries map rows to classes by reflection), so statements go to the same connection handle through SQLitePCL's
/// <c>raw</c> API, which sqlite-net itself is built on: same connection, same busy timeout, same transaction, and the same
/// <see cref="SQLiteException"/> (with the SQLite result code <see cref="StoreErrors"/> reads) on failure.
/// </summary>
internal sealed class SqliteStoreSession(SQLiteConnection connection) : StoreSession
{
    private readonly sqlite3 _db = connection.Handle;

    public override StoreDialect Dialect => StoreDialect.Sqlite;

    public override int Execute(string sql, params StoreArg[] args)
    {
        using sqlite3_stmt stmt = Prepare(sql, args);
        int rc;
        while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
        {
            // A statement that returns rows (a PRAGMA) runs to its end; its rows are not wanted.
        }
        ThrowUnlessDone(rc);
        return raw.sqlite3_changes(_db);
    }

    public override int[] ExecuteBatch(IReadOnlyList<StoreStatement> statements)
    {
        ArgumentNullException.ThrowIfNull(statements);
        var changed = new int[statements.Count];
        for (int i = 0; i < changed.Length; i++)
        {
            changed[i] = Execute(statements[i].Sql, statements[i].Args);
        }
        return changed;
    }

    /// <summary>Steps a statement once and finalizes it, as sqlite-net's <c>ExecuteScalar</c> does (see
    /// <see cref="StoreDialect.ReclaimFreedPages"/>).</summary>
    public void ExecuteFirstStep(string sql)
    {
        using sqlite3_stmt stmt = Prepare(sql, []);
        int rc = raw.sqlite3_step(stmt);
        if (rc != raw.SQLITE_ROW)
        {
            ThrowUnlessDone(rc);
        }
    }

    public override List<T> Query<T>(string sql, Func<StoreRow, T> map, params StoreArg[] args)
    {
        ArgumentNullException.ThrowIfNull(map);
        using sqlite3_stmt stmt = Prepare(sql, args);
        var row = new Row(stmt);
        var list = new List<T>();
        int rc;
        while ((rc = raw.sqlite3_step(stmt)) == raw.SQLITE_ROW)
        {
            list.Add(map(row));
        }
        ThrowUnlessDone(rc);
        return list;
    }

    public override T InTransaction<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Execute("BEGIN IMMEDIATE");
        try
        {
            T result = work();
            Execute("COMMIT");
            return result;
        }
        catch
        {
            try
            {
                Execute("ROLLBACK");
            }
            catch (SQLiteException)
            {
                // SQLite already rolled back (e.g. after SQLITE_FULL); the original error is what matters.
            }
            throw;
        }
    }

    /// <summary>
    /// The argument number of a parameter name: "$1" is 1. SQLite numbers parameters in order of first appearance, so a
    /// statement that uses <c>$2</c> before <c>$1</c>, or only <c>$2</c>, would bind the wrong values by index: every parameter is
    /// bound by its name instead. Only <c>$n</c> is accepted (<c>?</c>, <c>:a</c>, <c>@a</c> would not run on PostgreSQL).
    /// </summary>
    internal static int ArgumentNumber(string? name, int argCount)
    {
        if (name is null || name.Length < 2 || name[0] != '$' || name[1] == '0'
            || !int.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > argCount)
        {
            throw new ArgumentException($"SQL parameter '{name ?? "?"}' is not one of $1..${argCount} (the store's SQL numbers its parameters $1, $2, ... for both databases)");
        }
        return n;
    }

    private sqlite3_stmt Prepare(string sql, StoreArg[] args)
    {
        int rc = raw.sqlite3_prepare_v2(_db, sql, out sqlite3_stmt stmt);
        if (rc != raw.SQLITE_OK)
        {
            stmt?.Dispose();
            throw Error(rc);
        }
        try
        {
            int count = raw.sqlite3_bind_parameter_count(stmt);
            Span<bool> used = args.Length <= 64 ? stackalloc bool[args.Length] : new bool[args.Length];
            for (int i = 1; i <= count; i++)
            {
                int n = ArgumentNumber(raw.sqlite3_bind_parameter_name(stmt, i).utf8_to_string(), args.Length);
                used[n - 1] = true;
                Bind(stmt, i, args[n - 1]);
            }
            int unused = used.IndexOf(false);
            if (unused >= 0)
            {
                // PostgreSQL refuses a statement given more arguments than it uses; so does this one.
                throw new ArgumentException($"SQL argument ${unused + 1} of {args.Length} is not used by the statement");
            }
            return stmt;
        }
        catch
        {
            stmt.Dispose();
            throw;
        }
    }

    private void Bind(sqlite3_stmt stmt, int index, StoreArg arg)
    {
        int rc = arg.Value switch
        {
            null => raw.sqlite3_bind_null(stmt, index),
            string s => raw.sqlite3_bind_text(stmt, index, s),
            long l => raw.sqlite3_bind_int64(stmt, index, l),
            int i => raw.sqlite3_bind_int64(stmt, index, i),
            double d => raw.sqlite3_bind_double(stmt, index, d),
            byte[] b => raw.sqlite3_bind_blob(stmt, index, b),
            _ => throw new ArgumentException($"cannot bind a {arg.Value.GetType().Name}"),
        };
        if (rc != raw.SQLITE_OK)
        {
            throw Error(rc);
        }
    }

    private void ThrowUnlessDone(int rc)
    {
        if (rc != raw.SQLITE_DONE)
        {
            throw Error(rc);
        }
    }

    private SQLiteException Error(int rc) => SQLiteException.New((SQLite3.Result)rc, raw.sqlite3_errmsg(_db).utf8_to_string());

    private sealed class Row(sqlite3_stmt stmt) : StoreRow
    {
        public override bool IsNull(int ordinal) => raw.sqlite3_column_type(stmt, ordinal) == raw.SQLITE_NULL;

        public override string GetString(int ordinal) =>
            raw.sqlite3_column_text(stmt, ordinal).utf8_to_string() ?? throw new InvalidCastException($"column {ordinal} is NULL");

        public override long GetInt64(int ordinal) => raw.sqlite3_column_int64(stmt, ordinal);

        // SQLite has one integer type; a 32-bit column value is stored as a 64-bit integer.
        public override int GetInt32(int ordinal) => (int)raw.sqlite3_column_int64(stmt, ordinal);

        public override double GetDouble(int ordinal) => raw.sqlite3_column_double(stmt, ordinal);

        // SQLite has no boolean type: EXISTS and comparisons are the integers 0 and 1.
        public override bool GetBoolean(int ordinal) => raw.sqlite3_column_int64(stmt, ordinal) != 0;

        public override byte[]? GetBytes(int ordinal) => IsNull(ordinal) ? null : raw.sqlite3_column_blob(stmt, ordinal).ToArray();
    }
}
