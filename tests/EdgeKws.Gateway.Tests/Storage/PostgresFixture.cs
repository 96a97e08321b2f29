using EdgeKws.TestSupport.Servers;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>One real PostgreSQL 15 server for every test in the "postgres" collection, started on a free loopback port
/// in a temp directory and stopped at the end. Tests take a fresh database each. Starting fails the tests with a clear
/// message when PostgreSQL is not installed (it is a required part of the gateway's scale-out mode, not optional).</summary>
public sealed class PostgresFixture : IDisposable
{
    private readonly Lazy<LocalPostgres> _server = new(LocalPostgres.Start);

    public LocalPostgres Server => _server.Value;

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
