using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.LocalServers;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Rollout.Tests;

/// <summary>One real PostgreSQL server for the store theories (started on first use, stopped at the end).</summary>
public sealed class PostgresServer : IDisposable
{
    private readonly Lazy<LocalPostgres> _server = new(LocalPostgres.Start);

    internal StoreOptions Options(string provider, TempDirectory dir) => provider switch
    {
        "sqlite" => new StoreOptions { DatabasePath = dir.File("g.db"), Durability = StoreDurability.Normal },
        "postgres" => new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = _server.Value.ConnectionString(_server.Value.CreateDatabase()) },
        _ => throw new ArgumentOutOfRangeException(nameof(provider)),
    };

    public void Dispose()
    {
        if (_server.IsValueCreated) _server.Value.Dispose();
    }
}

/// <summary>The registry and rollout members of both stores (schema version 4) behave the same.</summary>
public sealed class RolloutStore_Tests(PostgresServer postgres) : IClassFixture<PostgresServer>, IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Stores_registered_models_with_their_package_refuses_a_duplicate_version_and_updates_the_stage(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.Options(provider, _dir));
        RegisteredModel one = Registered.Model("1.0.0", ModelStage.Production) with { RegisteredUtc = DateTimeOffset.UnixEpoch.AddDays(1) };
        RegisteredModel two = Registered.Model("2.0.0", ModelStage.Candidate) with { RegisteredUtc = DateTimeOffset.UnixEpoch.AddDays(2) };
        Assert.True(store.TryAddRegisteredModel(one, Registered.Package("1.0.0"), out _));
        Assert.True(store.TryAddRegisteredModel(two, Registered.Package("2.0.0", 70_000), out _));
        Assert.False(store.TryAddRegisteredModel(two, Registered.Package("2.0.0"), out string why));
        Assert.Equal("model version '2.0.0' is already registered", why);
        Assert.Throws<ArgumentException>(() => store.TryAddRegisteredModel(Registered.Model("x", ModelStage.Candidate), new ModelPackage([1], new byte[63], [1]), out _));

        Assert.Equal(["2.0.0", "1.0.0"], store.ReadRegisteredModels().Select(m => m.ModelVersion));
        Assert.True(store.TryGetModelPackage("2.0.0", out ModelPackage? p));
        Assert.Equal(Registered.Package("2.0.0", 70_000).Model, p!.Model);
        Assert.True(store.TryGetRegisteredModel("1.0.0", out RegisteredModel? back));
        Assert.Equal(one.DatasetId, back!.DatasetId);
        Assert.Equal(one.FaPerHour, back.FaPerHour);
        Assert.True(store.UpdateRegisteredModel(back with { Stage = ModelStage.Retired }));
        Assert.True(store.TryGetRegisteredModel("1.0.0", out back));
        Assert.Equal(ModelStage.Retired, back!.Stage);
        Assert.False(store.UpdateRegisteredModel(Registered.Model("9.9.9", ModelStage.Candidate)));
        Assert.False(store.TryGetRegisteredModel("9.9.9", out _));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Rollout_updates_need_the_current_revision_and_model_statuses_are_read_after_a_time(string provider)
    {
        using IGatewayStore store = GatewayStores.Open(postgres.Options(provider, _dir));
        DateTimeOffset t0 = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
        var plan = new RolloutRecord(0, "2.0.0", "1.0.0", RolloutState.Running, 0, 2, 0, t0, t0, null, null, null,
            [new RolloutDevice("dev-a", 0, RolloutDeviceState.Pending, "1.0.0", null, null, null, null, null, null, null)], null, 0);
        RolloutRecord stored = store.AddRollout(plan);
        Assert.Equal(1, stored.Revision);
        RolloutRecord? next = store.TryUpdateRollout(stored with { State = RolloutState.Completed });
        Assert.NotNull(next);
        Assert.Equal(2, next!.Revision);
        Assert.Null(store.TryUpdateRollout(stored with { State = RolloutState.RollingBack })); // stale revision
        Assert.True(store.TryGetRollout(stored.Id, out RolloutRecord? back));
        Assert.Equal(RolloutState.Completed, back!.State);
        Assert.Equal("dev-a", back.Devices.Single().DeviceId);
        RolloutRecord other = store.AddRollout(plan);
        Assert.Equal([other.Id], store.ReadRollouts(activeOnly: true, 10).Select(r => r.Id));
        Assert.Equal([other.Id, stored.Id], store.ReadRollouts(activeOnly: false, 10).Select(r => r.Id));

        var feed = new DeviceFeed(store);
        feed.Status("dev-a", "1.0.0", ModelUpdateResult.None, null, t0);
        feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", t0.AddSeconds(10));
        IReadOnlyList<ModelStatusRecord> after = store.ReadModelStatuses("dev-a", t0.AddSeconds(5));
        ModelStatusRecord s = Assert.Single(after);
        Assert.Equal(("2.0.0", ModelUpdateResult.Activated, "2.0.0"), (s.ActiveModelVersion, s.UpdateResult, s.TargetModelVersion));
        Assert.Equal(2, store.ReadModelStatuses("dev-a", t0.AddSeconds(-1)).Count);
        Assert.Empty(store.ReadModelStatuses("dev-b", t0.AddSeconds(-1)));
    }
}
