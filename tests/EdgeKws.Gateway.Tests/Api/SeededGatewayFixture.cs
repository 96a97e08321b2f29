using EdgeKws.Gateway.Tests.Monitoring;
using EdgeKws.LocalServers;

namespace EdgeKws.Gateway.Tests.Api;

/// <summary>One seeded gateway (see <see cref="FleetSeed"/>) on a SQLite store, shared by read-only API and dashboard tests.</summary>
public class SeededGatewayFixture : IAsyncLifetime
{
    internal WebGateway Gateway { get; private set; } = null!;

    internal DateTimeOffset SeededAt { get; private set; }

    /// <summary>Configuration overrides that choose the store (none: the temp SQLite file).</summary>
    protected virtual string[] StoreArgs() => [];

    public async Task InitializeAsync()
    {
        Gateway = await WebGateway.StartAsync(FleetSeed.Devices, StoreArgs());
        SeededAt = await FleetSeed.SeedAsync(Gateway);
    }

    public virtual async Task DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }
    }
}

/// <summary>The same seeded gateway on a PostgreSQL store: its own real server (initdb on a free loopback port), removed at the end.</summary>
public sealed class SeededPostgresGatewayFixture : SeededGatewayFixture
{
    private LocalPostgres? _server;

    protected override string[] StoreArgs()
    {
        _server = LocalPostgres.Start();
        return ["--Gateway:Store:Provider=Postgres", "--Gateway:Store:ConnectionString=" + _server.ConnectionString(_server.CreateDatabase())];
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _server?.Dispose();
    }
}
