using EdgeKws.Gateway.Tests.Monitoring;

namespace EdgeKws.Gateway.Tests.Api;

/// <summary>One seeded gateway (see <see cref="FleetSeed"/>) shared by read-only API and dashboard tests.</summary>
public sealed class SeededGatewayFixture : IAsyncLifetime
{
    internal WebGateway Gateway { get; private set; } = null!;

    internal DateTimeOffset SeededAt { get; private set; }

    public async Task InitializeAsync()
    {
        Gateway = await WebGateway.StartAsync(FleetSeed.Devices);
        SeededAt = await FleetSeed.SeedAsync(Gateway);
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}
