using EdgeKws.Gateway.Storage;
using Npgsql;
using SQLite;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The dialect seam under the concern classes (<see cref="StoreDialect"/>, <see cref="StoreSession"/>): the SQL is written
/// once with <c>$1, $2, ...</c>, so SQLite must bind those by name, and a negative LIMIT must mean "no limit" on both databases.</summary>
[Collection("postgres")]
public sealed class StoreSession_Tests(PostgresFixture postgres)
{
    private static List<string> One(StoreSession s, string sql, params StoreArg[] args) => s.Query(sql, r => r.GetString(0), args);

    [Fact]
    public void Sqlite_binds_dollar_parameters_by_number_whatever_their_order_and_reuse()
    {
        using var db = new SQLiteConnection(":memory:");
        var s = new SqliteStoreSession(db);

        // SQLite numbers parameters by first appearance ($2 would be index 1 here): bound by name, each gets its own argument.
        Assert.Equal(new[] { "b-a-b" }, One(s, "SELECT $2 || '-' || $1 || '-' || $2", "a", "b"));
        Assert.Equal(new[] { "x" }, One(s, "SELECT coalesce($1, $2)", (string?)null, "x"));
    }

    [Theory]
    [InlineData("SELECT ?", "'?'")]
    [InlineData("SELECT :a", "':a'")]
    [InlineData("SELECT $0", "'$0'")]
    [InlineData("SELECT $3", "'$3'")]
    public void Sqlite_refuses_a_parameter_that_is_not_one_of_the_arguments(string sql, string named)
    {
        using var db = new SQLiteConnection(":memory:");
        var s = new SqliteStoreSession(db);

        var e = Assert.Throws<ArgumentException>(() => s.Execute(sql, "a", "b"));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sqlite_refuses_an_argument_the_statement_does_not_use_as_PostgreSQL_does()
    {
        using var db = new SQLiteConnection(":memory:");
        var s = new SqliteStoreSession(db);

        var e = Assert.Throws<ArgumentException>(() => s.Execute("SELECT $1", "a", "b"));
        Assert.Contains("$2 of 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sqlite_has_no_row_locks_and_runs_no_statement_for_them()
    {
        using var db = new SQLiteConnection(":memory:");
        var s = new SqliteStoreSession(db);

        // The write transaction already holds the database's write lock; a statement here would fail (no such table).
        s.InTransaction(() =>
        {
            StoreDialect.Sqlite.LockRows(s, "SELECT 1 FROM no_such_table WHERE id = $1", 1L);
            return 0;
        });
    }

    [Fact]
    public void Sqlite_has_no_transaction_lock_and_runs_no_statement_for_it()
    {
        using var db = new SQLiteConnection(":memory:");
        var s = new SqliteStoreSession(db);

        // BEGIN IMMEDIATE already holds the database's write lock; pg_advisory_xact_lock does not exist in SQLite, so a statement fails.
        s.InTransaction(() =>
        {
            StoreDialect.Sqlite.LockTransaction(s, 42);
            return 0;
        });
    }

    [Fact]
    public void A_PostgreSQL_transaction_lock_keeps_out_another_session_until_the_commit()
    {
        string cs = postgres.Server.ConnectionString(postgres.Server.CreateDatabase());
        using var a = new NpgsqlConnection(cs);
        using var b = new NpgsqlConnection(cs);
        a.Open();
        b.Open();
        var sa = new PostgresStoreSession(a);
        var sb = new PostgresStoreSession(b);
        // The other session tries the same key without waiting (pg_try_advisory_xact_lock, in its own transaction each time).
        bool OtherGetsIt() => sb.InTransaction(() => sb.Query("SELECT pg_try_advisory_xact_lock($1)", r => r.GetBoolean(0), 42L)[0]);

        sa.InTransaction(() =>
        {
            StoreDialect.Postgres.LockTransaction(sa, 42);
            Assert.False(OtherGetsIt());
            return 0;
        });
        Assert.True(OtherGetsIt()); // released by the commit
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_negative_limit_means_no_limit_and_a_null_argument_keeps_its_type(string provider)
    {
        using var dir = new TempDirectory();
        using SQLiteConnection? sqlite = provider == "sqlite" ? new SQLiteConnection(dir.File("s.db")) : null;
        using NpgsqlConnection? pg = provider == "postgres" ? new NpgsqlConnection(postgres.Server.ConnectionString(postgres.Server.CreateDatabase())) : null;
        pg?.Open();
        StoreSession s = sqlite is not null ? new SqliteStoreSession(sqlite) : new PostgresStoreSession(pg!);
        s.Execute($"CREATE TABLE n (v {s.Dialect.Int64} NOT NULL, t {s.Dialect.Text})");
        for (long v = 1; v <= 3; v++)
        {
            s.Execute("INSERT INTO n (v, t) VALUES ($1, $2)", v, (string?)null);
        }
        const string sql = "SELECT v FROM n WHERE ($1 IS NULL OR t = $1) ORDER BY v LIMIT $2";

        Assert.Equal(new[] { 1L, 2L, 3L }, s.Query(sql, r => r.GetInt64(0), (string?)null, s.Dialect.Limit(-1)));
        Assert.Equal(new[] { 1L, 2L }, s.Query(sql, r => r.GetInt64(0), (string?)null, s.Dialect.Limit(2)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Exists_reads_as_a_boolean_on_both_databases(string provider)
    {
        using var dir = new TempDirectory();
        using SQLiteConnection? sqlite = provider == "sqlite" ? new SQLiteConnection(dir.File("s.db")) : null;
        using NpgsqlConnection? pg = provider == "postgres" ? new NpgsqlConnection(postgres.Server.ConnectionString(postgres.Server.CreateDatabase())) : null;
        pg?.Open();
        StoreSession s = sqlite is not null ? new SqliteStoreSession(sqlite) : new PostgresStoreSession(pg!);
        s.Execute($"CREATE TABLE b (v {s.Dialect.Int64} NOT NULL)");
        s.Execute("INSERT INTO b (v) VALUES ($1)", 1L);
        const string sql = "SELECT EXISTS (SELECT 1 FROM b WHERE v = $1)";

        // PostgreSQL answers a boolean, SQLite the integer 1 or 0: both read as bool.
        Assert.Equal(new[] { true }, s.Query(sql, r => r.GetBoolean(0), 1L));
        Assert.Equal(new[] { false }, s.Query(sql, r => r.GetBoolean(0), 2L));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_ledgered_insert_stores_the_typed_row_only_with_a_new_ledger_row_and_its_last_statement_says_which(string provider)
    {
        using var dir = new TempDirectory();
        using SQLiteConnection? sqlite = provider == "sqlite" ? new SQLiteConnection(dir.File("s.db")) : null;
        using NpgsqlConnection? pg = provider == "postgres" ? new NpgsqlConnection(postgres.Server.ConnectionString(postgres.Server.CreateDatabase())) : null;
        pg?.Open();
        StoreSession s = sqlite is not null ? new SqliteStoreSession(sqlite) : new PostgresStoreSession(pg!);
        StoreDialect d = s.Dialect;
        s.Execute($"CREATE TABLE messages (device_id {d.Text} NOT NULL, seq {d.Int64} NOT NULL, kind {d.Text} NOT NULL, payload_sha256 {d.Blob} NOT NULL, received_utc_ms {d.Int64} NOT NULL, PRIMARY KEY (device_id, seq)){d.WithoutRowId}");
        s.Execute($"CREATE TABLE typed (device_id {d.Text} NOT NULL, seq {d.Int64} NOT NULL, v {d.Text} NOT NULL, PRIMARY KEY (device_id, seq))");
        LedgeredInsert insert = d.LedgeredInsert("typed", "device_id, seq, v");
        var statements = new List<StoreStatement>();
        var last = new List<int>();
        foreach ((long seq, string v) in new[] { (1L, "first"), (2L, "second"), (1L, "again") })
        {
            insert.AddTo(statements, ["dev", seq, "detection", new byte[] { 1 }, 5L], ["dev", seq, v]);
            last.Add(statements.Count - 1);
        }

        int[] changed = s.InTransaction(() => s.ExecuteBatch(statements));

        Assert.Equal(new[] { 1, 1, 0 }, last.Select(i => changed[i]));
        Assert.Equal(new[] { "first", "second" }, s.Query("SELECT v FROM typed ORDER BY seq", r => r.GetString(0)));
        Assert.Equal(new[] { 2L }, s.Query("SELECT count(*) FROM messages", r => r.GetInt64(0)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void A_failing_statement_of_a_batch_rolls_back_the_whole_transaction(string provider)
    {
        using var dir = new TempDirectory();
        using SQLiteConnection? sqlite = provider == "sqlite" ? new SQLiteConnection(dir.File("s.db")) : null;
        using NpgsqlConnection? pg = provider == "postgres" ? new NpgsqlConnection(postgres.Server.ConnectionString(postgres.Server.CreateDatabase())) : null;
        pg?.Open();
        StoreSession s = sqlite is not null ? new SqliteStoreSession(sqlite) : new PostgresStoreSession(pg!);
        s.Execute($"CREATE TABLE k (v {s.Dialect.Int64} PRIMARY KEY NOT NULL)");

        Assert.ThrowsAny<Exception>(() => s.InTransaction(() => s.ExecuteBatch(
            [new StoreStatement("INSERT INTO k (v) VALUES ($1)", [1L]), new StoreStatement("INSERT INTO k (v) VALUES ($1)", [1L])])));

        Assert.Equal(new[] { 0L }, s.Query("SELECT count(*) FROM k", r => r.GetInt64(0)));
    }
}
