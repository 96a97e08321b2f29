using SQLite;
using SQLitePCL;

namespace EdgeKws.Device.Outbox;

/// <summary>
/// A prepared statement used through SQLitePCL.raw: no ORM mapping and no reflection, so it is
/// trim/NativeAOT-safe, binds spans without copying, and is prepared once and reused.
/// Not thread-safe: the owning <see cref="OutboxStore"/> serializes all use under its lock.
/// </summary>
internal sealed class SqliteStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;
    private readonly string _sql;

    public SqliteStatement(sqlite3 db, string sql)
    {
        _db = db;
        _sql = sql;
        int rc = raw.sqlite3_prepare_v2(db, sql, out _stmt);
        if (rc != raw.SQLITE_OK)
            throw Error(db, rc, sql);
    }

    public SqliteStatement Bind(int index, long value)
    {
        Check(raw.sqlite3_bind_int64(_stmt, index, value));
        return this;
    }

    public SqliteStatement Bind(int index, double value)
    {
        Check(raw.sqlite3_bind_double(_stmt, index, value));
        return this;
    }

    public SqliteStatement Bind(int index, string value)
    {
        Check(raw.sqlite3_bind_text(_stmt, index, value));
        return this;
    }

    public SqliteStatement Bind(int index, ReadOnlySpan<byte> value)
    {
        // An empty span would bind NULL (null pointer); an empty payload is a zero-length blob.
        Check(value.IsEmpty ? raw.sqlite3_bind_zeroblob(_stmt, index, 0) : raw.sqlite3_bind_blob(_stmt, index, value));
        return this;
    }

    /// <summary>Advances one row: true when a row is ready, false when done.</summary>
    public bool Step()
    {
        int rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW)
            return true;
        if (rc == raw.SQLITE_DONE)
            return false;
        // sqlite3_reset returns the same error; reset so the statement is reusable after a failure.
        raw.sqlite3_reset(_stmt);
        throw Error(_db, rc, _sql);
    }

    /// <summary>Clears bindings and rewinds; call after every use (in a finally).</summary>
    public void Reset()
    {
        raw.sqlite3_reset(_stmt);
        raw.sqlite3_clear_bindings(_stmt);
    }

    public void Execute()
    {
        try
        {
            while (Step())
            {
            }
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>Runs a statement whose first row's first column is an integer; null when no row or NULL.</summary>
    public long? ExecuteScalarInt64()
    {
        try
        {
            if (!Step() || raw.sqlite3_column_type(_stmt, 0) == raw.SQLITE_NULL)
                return null;
            return raw.sqlite3_column_int64(_stmt, 0);
        }
        finally
        {
            Reset();
        }
    }

    public long Int64(int column) => raw.sqlite3_column_int64(_stmt, column);

    public double Double(int column) => raw.sqlite3_column_double(_stmt, column);

    public string Text(int column) => raw.sqlite3_column_text(_stmt, column).utf8_to_string() ?? string.Empty;

    public ReadOnlySpan<byte> Blob(int column) => raw.sqlite3_column_blob(_stmt, column);

    public void Dispose() => _stmt.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
            throw Error(_db, rc, _sql);
    }

    internal static SQLiteException Error(sqlite3 db, int rc, string sql) =>
        SQLiteException.New((SQLite3.Result)(rc & 0xFF), $"SQLite error {rc} ({raw.sqlite3_errmsg(db).utf8_to_string()}) in: {sql}");

    /// <summary>One-off helper: the first row's first column as an integer, null when no row or NULL.</summary>
    public static long? QueryInt64(sqlite3 db, string sql)
    {
        using var stmt = new SqliteStatement(db, sql);
        return stmt.ExecuteScalarInt64();
    }

    /// <summary>One-off helper for pragmas and DDL: runs <paramref name="sql"/> and collects column 0 of every row as text.</summary>
    public static List<string> QueryTexts(sqlite3 db, string sql)
    {
        using var stmt = new SqliteStatement(db, sql);
        var rows = new List<string>();
        try
        {
            while (stmt.Step())
                rows.Add(stmt.Text(0));
        }
        finally
        {
            stmt.Reset();
        }

        return rows;
    }
}
