using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.LocalServers;
using SQLite;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>One real PostgreSQL 15 server for every test in the "postgres" collection, started on a free loopback port
/// in a temp directory and stopped at the end. Tests take a fresh database each. Starting fails the tests with a clear
/// message when PostgreSQL is not installed (it is a required part of the gateway's scale-out mode, not optional).</summary>
public sealed class PostgresFixture : IDisposable
{
    private readonly Lazy<LocalPostgres> _server = new(LocalPostgres.Start);

    public LocalPostgres Server => _server.Value;

    /// <summary>Options of a fresh store for a store theory's provider: "sqlite" (a file in <paramref name="dir"/>) or
    /// "postgres" (a new database on this server).</summary>
    internal StoreOptions StoreOptions(string provider, TempDirectory dir) => provider switch
    {
        "sqlite" => new StoreOptions { DatabasePath = dir.File("g.db") },
        "postgres" => new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = Server.ConnectionString(Server.CreateDatabase()) },
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "a store theory runs on \"sqlite\" or \"postgres\""),
    };

    /// <summary>Runs <paramref name="statements"/> on the store's database directly, bypassing the store (to set up an old schema,
    /// or to show what the database itself refuses). Throws with the database's message when one fails.</summary>
    internal void RawSql(StoreOptions options, params string[] statements)
    {
        if (options.Provider == StoreProvider.Sqlite)
        {
            using var raw = new SQLiteConnection(options.DatabasePath);
            foreach (string sql in statements)
            {
                raw.Execute(sql);
            }
            return;
        }
        Server.Sql(DatabaseOf(options), string.Join(";\n", statements));
    }

    /// <summary>The first column of the first row of <paramref name="sql"/>, as an integer.</summary>
    internal long RawScalar(StoreOptions options, string sql)
    {
        if (options.Provider == StoreProvider.Sqlite)
        {
            using var raw = new SQLiteConnection(options.DatabasePath);
            return raw.ExecuteScalar<long>(sql);
        }
        return long.Parse(Server.Sql(DatabaseOf(options), sql), CultureInfo.InvariantCulture);
    }

    private static string DatabaseOf(StoreOptions options) => new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString).Database!;

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }
    }
}

[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>;
