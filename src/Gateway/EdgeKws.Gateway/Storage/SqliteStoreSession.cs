using System.Globalization;
using SQLite;
using SQLitePCL;

namespace EdgeKws.Gateway.Storage;

/// <summary>
/// A <see cref="StoreSession"/> on one of <see cref="SqliteGatewayStore"/>'s sqlite-net connections. sqlite-net is not ADO.NET
/// (its queries map rows to classes by reflection), so statements go to the same connection handle through SQLitePCL's
/// <c>raw</c> API, which sqlite-net itself is built on: same connection, same busy timeout, same transaction, and the same
/// <see cref="SQLiteException"/> (with the SQLite result code <see cref="StoreErrors"/> reads) on failure.
/// <para>Each SQL text is compiled once and kept for the life of the session (<see cref="CachedStatement"/>): the store runs the same
/// few statements for every message, and compiling them again per call cost more than running them on small batches. A kept
/// statement is reset as soon as it has run, so it never holds a read snapshot or a lock between calls. Dispose the session before
/// its connection so the kept statements are finalized while the connection is open.</para>
/// </summary>
internal sealed class SqliteStoreSession(SQLiteConnection connection) : StoreSession, IDisposable
{
    /// <summary>At most this many SQL texts are kept; a text beyond them is compiled per call, as before the cache (the store's SQL
    /// texts are a fixed set, well under this; the bound only keeps a text built per call from growing the cache).</summary>
    private const int MaxCachedStatements = 256;

    private readonly sqlite3 _db = connection.Handle;
    private readonly Dictionary<string, CachedStatement> _statements = new(StringComparer.Ordinal);

    public override StoreDialect Dialect => StoreDialect.Sqlite;

    public override int Execute(string sql, params StoreArg[] args)
    {
        CachedStatement statement = Bind(sql, args);
        try
        {
            int rc;
            while ((rc = raw.sqlite3_step(statement.Handle)) == raw.SQLITE_ROW)
            {
                // A statement that returns rows (a PRAGMA) runs to its end; its rows are not wanted.
            }
            ThrowUnlessDone(rc);
            return raw.sqlite3_changes(_db);
        }
        finally
        {
            Release(statement);
        }
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
    /// <see cref="StoreDialect.ReclaimFreedPages"/>); compiled per call, not kept (it runs rarely).</summary>
    public void ExecuteFirstStep(string sql)
    {
        using sqlite3_stmt stmt = Compile(sql);
        int rc = raw.sqlite3_step(stmt);
        if (rc != raw.SQLITE_ROW)
        {
            ThrowUnlessDone(rc);
        }
    }

    /// <summary>Finalizes the kept statements (before the connection closes: sqlite-net closes with <c>sqlite3_close_v2</c>, which
    /// would otherwise leave the connection open until the statements' handles are collected).</summary>
    public void Dispose()
    {
        foreach (CachedStatement statement in _statements.Values)
        {
            statement.Handle.Dispose();
        }
        _statements.Clear();
    }

    public override List<T> Query<T>(string sql, Func<StoreRow, T> map, params StoreArg[] args)
    {
        ArgumentNullException.ThrowIfNull(map);
        CachedStatement statement = Bind(sql, args);
        try
        {
            var row = new Row(statement.Handle);
            var list = new List<T>();
            int rc;
            while ((rc = raw.sqlite3_step(statement.Handle)) == raw.SQLITE_ROW)
            {
                list.Add(map(row));
            }
            ThrowUnlessDone(rc);
            return list;
        }
        finally
        {
            Release(statement);
        }
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

    /// <summary>The statement for <paramref name="sql"/> with <paramref name="args"/> bound: the kept one, or, when that one is in
    /// use further up the stack (a <see cref="Query{T}"/> map running SQL) or the cache is full, one compiled for this call.
    /// Pass it to <see cref="Release"/> when done.</summary>
    private CachedStatement Bind(string sql, StoreArg[] args)
    {
        if (!_statements.TryGetValue(sql, out CachedStatement? statement) || statement.InUse)
        {
            statement = new CachedStatement(Compile(sql), kept: false);
            try
            {
                statement.Check(args.Length);
            }
            catch
            {
                statement.Handle.Dispose();
                throw;
            }
            if (_statements.Count < MaxCachedStatements && !_statements.ContainsKey(sql))
            {
                statement.Kept = true;
                _statements.Add(sql, statement);
            }
        }
        else
        {
            statement.Check(args.Length);
        }
        statement.InUse = true;
        try
        {
            ReadOnlySpan<int> argumentIndexes = statement.ArgumentIndexes;
            for (int i = 0; i < argumentIndexes.Length; i++)
            {
                Bind(statement.Handle, i + 1, args[argumentIndexes[i]]);
            }
            return statement;
        }
        catch
        {
            Release(statement);
            throw;
        }
    }

    /// <summary>Resets a kept statement for its next call (ending its read of the database; the error of a failed step was read
    /// already) and drops its bound values; finalizes a statement compiled for one call.</summary>
    private static void Release(CachedStatement statement)
    {
        if (statement.Kept)
        {
            raw.sqlite3_reset(statement.Handle);
            raw.sqlite3_clear_bindings(statement.Handle);
            statement.InUse = false;
        }
        else
        {
            statement.Handle.Dispose();
        }
    }

    private sqlite3_stmt Compile(string sql)
    {
        int rc = raw.sqlite3_prepare_v2(_db, sql, out sqlite3_stmt stmt);
        if (rc != raw.SQLITE_OK)
        {
            stmt?.Dispose();
            throw Error(rc);
        }
        return stmt;
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

    /// <summary>A compiled statement and, per SQLite parameter index, the argument it takes (parsed from the parameter names once).
    /// </summary>
    private sealed class CachedStatement(sqlite3_stmt handle, bool kept)
    {
        private readonly string?[] _names = ParameterNames(handle);
        private int[] _argumentIndexes = [];
        private int _checkedArgCount = -1;

        public sqlite3_stmt Handle { get; } = handle;

        /// <summary>Kept in the session's cache (reset after each call), else finalized after its one call.</summary>
        public bool Kept { get; set; } = kept;

        /// <summary>Running now (between <see cref="Bind(string, StoreArg[])"/> and <see cref="Release"/>).</summary>
        public bool InUse { get; set; }

        /// <summary>For parameter index i + 1, the index in the arguments of its value; valid after <see cref="Check"/>.</summary>
        public ReadOnlySpan<int> ArgumentIndexes => _argumentIndexes;

        /// <summary>
        /// Maps every parameter to its argument and checks that every argument is used, for a call with <paramref name="argCount"/>
        /// arguments. The store calls a statement with the same argument count every time, so the map is built once.
        /// </summary>
        public void Check(int argCount)
        {
            if (argCount == _checkedArgCount)
            {
                return;
            }
            var indexes = new int[_names.Length];
            Span<bool> used = argCount <= 64 ? stackalloc bool[argCount] : new bool[argCount];
            for (int i = 0; i < _names.Length; i++)
            {
                int n = ArgumentNumber(_names[i], argCount);
                used[n - 1] = true;
                indexes[i] = n - 1;
            }
            int unused = used.IndexOf(false);
            if (unused >= 0)
            {
                // PostgreSQL refuses a statement given more arguments than it uses; so does this one.
                throw new ArgumentException($"SQL argument ${unused + 1} of {argCount} is not used by the statement");
            }
            _argumentIndexes = indexes;
            _checkedArgCount = argCount;
        }

        private static string?[] ParameterNames(sqlite3_stmt stmt)
        {
            var names = new string?[raw.sqlite3_bind_parameter_count(stmt)];
            for (int i = 0; i < names.Length; i++)
            {
                names[i] = raw.sqlite3_bind_parameter_name(stmt, i + 1).utf8_to_string();
            }
            return names;
        }
    }

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
