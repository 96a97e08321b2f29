using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Rollout;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeKws.Rollout.Tests;

/// <summary>Records every command the controller publishes (the end-to-end test sends them through the real broker).</summary>
internal sealed class RecordingPublisher : IDeviceCommandPublisher
{
    private readonly List<(string Device, string Command, byte[] Payload)> _sent = [];

    public IReadOnlyList<(string Device, string Command, byte[] Payload)> Sent
    {
        get { lock (_sent) return [.. _sent]; }
    }

    public Task PublishCommandAsync(string deviceId, string command, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        lock (_sent) _sent.Add((deviceId, command, payload.ToArray()));
        return Task.CompletedTask;
    }

    public string[] DevicesSent(string command) => Sent.Where(s => s.Command == command).Select(s => s.Device).Distinct().ToArray();

    /// <summary>Reassembles the model a device was sent from its offer and chunks.</summary>
    public (ModelOffer Offer, byte[] Model) Transfer(string device)
    {
        var sent = Sent.Where(s => s.Device == device).ToList();
        Assert.True(ModelOffer.TryRead(sent.Single(s => s.Command == ModelTransfer.OfferCommand).Payload, out ModelOffer? offer, out string why), why);
        var model = new List<byte>();
        foreach (var c in sent.Where(s => s.Command == ModelTransfer.ChunkCommand))
        {
            Assert.True(ModelChunk.TryRead(c.Payload, out ModelChunkView chunk, out string reason), reason);
            Assert.Equal(offer!.TransferId, chunk.TransferId);
            model.AddRange(chunk.Payload.ToArray());
        }
        return (offer!, [.. model]);
    }
}

/// <summary>The rollout state machine against a real SQLite store: statuses, heartbeats, detections and labels go in through the
/// store's write path; commands are recorded.</summary>
public sealed class RolloutController_Tests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new();
    private readonly SqliteGatewayStore _store;
    private readonly ManualClock _clock = new(T0);
    private readonly RecordingPublisher _commands = new();
    private readonly ModelLoopOptions _options = new() { ChunkSizeBytes = 4096 };
    private readonly ModelRegistry _registry;
    private readonly RolloutController _controller;
    private readonly DeviceFeed _feed;

    public RolloutController_Tests()
    {
        _store = SqliteGatewayStore.Open(new StoreOptions { DatabasePath = _dir.File("gateway.db"), Durability = StoreDurability.Normal });
        _registry = new ModelRegistry(_store, _options);
        _controller = new RolloutController(_store, _registry, () => _commands, _options, _clock, NullLogger<RolloutController>.Instance);
        _feed = new DeviceFeed(_store);
        foreach ((string v, ModelStage s) in new[] { ("1.0.0", ModelStage.Production), ("2.0.0", ModelStage.Candidate), ("3.0.0-bad", ModelStage.Refused) })
        {
            Assert.True(_store.TryAddRegisteredModel(Registered.Model(v, s, gate: s == ModelStage.Refused ? "REFUSE: deployed FA/hour (9 > 1)" : "PROMOTE"),
                Registered.Package(v), out string why), why);
        }
        // Three devices that run 1.0.0 (their boot status).
        foreach (string d in new[] { "dev-a", "dev-b", "dev-c" })
        {
            _feed.Status(d, "1.0.0", ModelUpdateResult.None, null, T0.AddMinutes(-5));
        }
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private RolloutRecord Get(long id) => _store.TryGetRollout(id, out RolloutRecord? r) ? r! : throw new InvalidOperationException("gone");

    private static RolloutDeviceState StateOf(RolloutRecord r, string device) => r.Devices.Single(d => d.DeviceId == device).State;

    [Fact]
    public async Task Sends_the_canaries_first_and_each_wave_only_after_every_device_before_it_confirmed()
    {
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b"], ["dev-c"]], SoakListeningHours: 0));
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.OfferCommand));
        (ModelOffer offer, byte[] model) = _commands.Transfer("dev-a");
        Assert.True(_store.TryGetModelPackage("2.0.0", out ModelPackage? package));
        Assert.Equal(package!.Model, model);
        Assert.Equal(package.Manifest, offer.Manifest);
        Assert.Equal(ModelTransfer.GetChunkCount(package.Model.Length, 4096), offer.ChunkCount);
        Assert.Equal(RolloutDeviceState.Sent, StateOf(Get(r.Id), "dev-a"));

        // No confirmation yet: ticks send nothing more.
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.OfferCommand));

        // A refusal of another version or a plain status of the old one does not confirm.
        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.None, null, _clock.GetUtcNow());
        await _controller.TickAsync();
        Assert.Equal(RolloutDeviceState.Sent, StateOf(Get(r.Id), "dev-a"));

        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(RolloutDeviceState.Confirmed, StateOf(r, "dev-a"));
        Assert.Equal(1, r.Step);
        Assert.Equal(["dev-a", "dev-b"], _commands.DevicesSent(ModelTransfer.OfferCommand));

        _feed.Status("dev-b", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(["dev-a", "dev-b", "dev-c"], _commands.DevicesSent(ModelTransfer.OfferCommand));
        _feed.Status("dev-c", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();

        r = Get(r.Id);
        Assert.Equal(RolloutState.Completed, r.State);
        Assert.All(r.Devices, d => Assert.Equal(RolloutDeviceState.Confirmed, d.State));
        Assert.Empty(_commands.DevicesSent(ModelTransfer.RollbackCommand));
        Assert.True(_store.TryGetRegisteredModel("2.0.0", out RegisteredModel? two));
        Assert.Equal(ModelStage.Production, two!.Stage);
        Assert.True(_store.TryGetRegisteredModel("1.0.0", out RegisteredModel? one));
        Assert.Equal(ModelStage.Retired, one!.Stage);
    }

    [Fact]
    public async Task Waits_for_the_soak_listening_hours_of_the_new_version_before_the_next_wave()
    {
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b"]], SoakListeningHours: 1.0));
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(0, Get(r.Id).Step);

        // 0.5 h of listening: not yet; another 0.5 h: the wave goes.
        _feed.Heartbeat("dev-a", "2.0.0", _clock.GetUtcNow().AddMinutes(1), 1800);
        _clock.Advance(TimeSpan.FromMinutes(30));
        await _controller.TickAsync();
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.OfferCommand));
        _feed.Heartbeat("dev-a", "2.0.0", _clock.GetUtcNow().AddMinutes(1), 1800);
        _clock.Advance(TimeSpan.FromMinutes(30));
        await _controller.TickAsync();
        Assert.Equal(1, Get(r.Id).Step);
        Assert.Equal(["dev-a", "dev-b"], _commands.DevicesSent(ModelTransfer.OfferCommand));
    }

    [Fact]
    public async Task Does_not_send_the_next_wave_while_detections_pending_review_could_trip_the_rule_and_sends_it_once_they_are_decided()
    {
        // The old version's fleet record: dev-b and dev-c listened 10 h on 1.0.0 with one labelled false accept (0.1 FA/hour): limit 0.65.
        foreach (string d in new[] { "dev-b", "dev-c" })
        {
            _feed.Heartbeat(d, "1.0.0", T0.AddHours(-3), 5 * 3600);
        }
        long old = _feed.Detection("dev-b", "1.0.0", T0.AddHours(-2));
        Assert.All(_store.WriteLabels([new DetectionLabel("dev-b", old, DetectionLabelKind.FalseAccept, "test", T0)]), Assert.Null);

        // No soak: the wave would go as soon as the canary confirms.
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b", "dev-c"]], SoakListeningHours: 0));
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", T0.AddSeconds(1));
        // 2.5 h on the new version: one labelled false accept (0.4 FA/hour, under the limit and under the rule's 3) and two triggers
        // whose clips wait for review. Were both false accepts: 3 in 2.5 h = 1.2 FA/hour > 0.65, the rule would trip.
        _feed.Heartbeat("dev-a", "2.0.0", T0.AddHours(2.5), 2.5 * 3600);
        long decided = _feed.Detection("dev-a", "2.0.0", T0.AddHours(1));
        Assert.All(_store.WriteLabels([new DetectionLabel("dev-a", decided, DetectionLabelKind.FalseAccept, "human:test", T0)]), Assert.Null);
        var pending = new List<long>();
        foreach (double h in new[] { 1.5, 2.0 })
        {
            var clip = Guid.NewGuid();
            _feed.FeatureClip("dev-a", clip, T0.AddHours(h));
            pending.Add(_feed.Detection("dev-a", "2.0.0", T0.AddHours(h), clip));
        }
        _clock.Advance(TimeSpan.FromHours(3));
        await _controller.TickAsync();
        await _controller.TickAsync(); // and it keeps waiting

        r = Get(r.Id);
        Assert.Equal(RolloutState.Running, r.State);
        Assert.Equal(RolloutDeviceState.Confirmed, StateOf(r, "dev-a"));
        Assert.Equal(0, r.Step);
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.OfferCommand));
        Assert.Empty(_commands.DevicesSent(ModelTransfer.RollbackCommand));
        FaWatch watch = r.Watch!;
        Assert.False(watch.Trip);
        Assert.True(watch.Hold);
        Assert.Equal((1L, 2L, 2.5), (watch.NewFalseAccepts, watch.NewPendingReview, watch.NewListeningHours));
        Assert.Equal(0.4, watch.NewFaPerHour!.Value, 9);
        Assert.Equal(1.2, watch.NewFaPerHourUpper!.Value, 9);
        Assert.Equal(0.65, watch.LimitFaPerHour, 9);
        Assert.Equal("holding: production FA/hour 0.4 – 1.2 FA/h (2 pending review) in 2.5 h; the upper end > limit 0.65: the next step waits "
            + "until the 2 pending reviews are decided (decided: ok: 1 labelled false accepts (the rule needs >= 3 to trip))", watch.Verdict);
        Assert.Equal(watch.Verdict, r.Reason);

        // Both reviewed as true accepts: the range closes at 0.4 FA/hour and the wave goes on the next tick.
        Assert.All(_store.WriteLabels(pending.Select(s => new DetectionLabel("dev-a", s, DetectionLabelKind.TrueAccept, "review:carol", T0.AddHours(3))).ToList()), Assert.Null);
        foreach (string d in new[] { "dev-b", "dev-c" })
        {
            _feed.Status(d, "1.0.0", ModelUpdateResult.None, null, _clock.GetUtcNow()); // online for their offers
        }
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(1, r.Step);
        Assert.Null(r.Reason);
        Assert.False(r.Watch!.Hold);
        Assert.Equal((0L, 0.4), (r.Watch.NewPendingReview, r.Watch.NewFaPerHourUpper!.Value));
        Assert.Equal(["dev-a", "dev-b", "dev-c"], _commands.DevicesSent(ModelTransfer.OfferCommand));
    }

    [Fact]
    public async Task Rolls_back_automatically_when_production_fa_per_hour_trips_the_rule_and_finishes_when_the_device_confirms_its_old_version()
    {
        // The old version's fleet record: dev-b and dev-c listened 10 h on 1.0.0 with one labelled false accept (0.1 FA/hour).
        foreach (string d in new[] { "dev-b", "dev-c" })
        {
            _feed.Heartbeat(d, "1.0.0", T0.AddHours(-3), 5 * 3600);
        }
        long old = _feed.Detection("dev-b", "1.0.0", T0.AddHours(-2));
        Assert.All(_store.WriteLabels([new DetectionLabel("dev-b", old, DetectionLabelKind.FalseAccept, "test", T0)]), Assert.Null);

        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b", "dev-c"]], SoakListeningHours: 10));
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(RolloutDeviceState.Confirmed, StateOf(Get(r.Id), "dev-a"));

        // 2.5 h on the new version with 2 labelled false accepts: 0.8 FA/hour, the rule needs 3 to trip.
        _feed.Heartbeat("dev-a", "2.0.0", _clock.GetUtcNow().AddHours(2.5), 2.5 * 3600);
        var fa = new List<DetectionLabel>();
        for (int i = 0; i < 3; i++)
        {
            long seq = _feed.Detection("dev-a", "2.0.0", _clock.GetUtcNow().AddHours(1 + (i * 0.5)));
            fa.Add(new DetectionLabel("dev-a", seq, DetectionLabelKind.FalseAccept, "human:test", T0));
        }
        Assert.All(_store.WriteLabels(fa.Take(2).ToList()), Assert.Null);
        _clock.Advance(TimeSpan.FromHours(3));
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(RolloutState.Running, r.State);
        Assert.False(r.Watch!.Trip);
        Assert.Contains("needs >= 3", r.Watch.Verdict, StringComparison.Ordinal);

        // The third: 1.2 FA/hour > 1.5 x 0.1 + 0.5 = 0.65.
        Assert.All(_store.WriteLabels(fa.Skip(2).ToList()), Assert.Null);
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(RolloutState.RollingBack, r.State);
        Assert.True(r.Watch!.Trip);
        Assert.Equal(0.1, r.Watch.OldFaPerHour, 6);
        Assert.Equal(0.65, r.Watch.LimitFaPerHour, 6);
        Assert.StartsWith("production FA/hour 1.2 ", r.Reason, StringComparison.Ordinal);
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.RollbackCommand));
        Assert.Equal(RolloutDeviceState.RollingBack, StateOf(r, "dev-a"));
        Assert.Equal(RolloutDeviceState.NotInstalled, StateOf(r, "dev-b"));
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.OfferCommand));

        // Until the device confirms, the rollout stays RollingBack.
        await _controller.TickAsync();
        Assert.Equal(RolloutState.RollingBack, Get(r.Id).State);
        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.RolledBack, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Equal(RolloutDeviceState.RolledBack, StateOf(r, "dev-a"));
        Assert.Equal("1.0.0", r.Devices.Single(d => d.DeviceId == "dev-a").ReportedVersion);
        Assert.True(_store.TryGetRegisteredModel("2.0.0", out RegisteredModel? two));
        Assert.Equal(ModelStage.RolledBack, two!.Stage);
        Assert.True(_store.TryGetRegisteredModel("1.0.0", out RegisteredModel? one));
        Assert.Equal(ModelStage.Production, one!.Stage);
        Assert.Single(_commands.DevicesSent(ModelTransfer.RollbackCommand));
    }

    [Fact]
    public async Task Halts_without_a_rollback_command_when_the_canary_refuses_the_model()
    {
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b"]], SoakListeningHours: 0));
        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.RejectedHealthCheck, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.StartsWith("device 'dev-a' refused 2.0.0: RejectedHealthCheck", r.Reason, StringComparison.Ordinal);
        Assert.Equal(RolloutDeviceState.Refused, StateOf(r, "dev-a"));
        // It still runs 1.0.0: a rollback command would take it to the model before that.
        Assert.Empty(_commands.DevicesSent(ModelTransfer.RollbackCommand));
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.OfferCommand));
    }

    [Fact]
    public async Task Halts_when_a_canary_does_not_confirm_within_the_timeout()
    {
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [], SoakListeningHours: 0));
        _clock.Advance(_options.Rollout.ConfirmTimeout - TimeSpan.FromSeconds(1));
        await _controller.TickAsync();
        Assert.Equal(RolloutState.Running, Get(r.Id).State);
        _clock.Advance(TimeSpan.FromSeconds(2));
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(RolloutState.RollingBack, r.State);
        Assert.Contains("did not confirm 2.0.0 within", r.Reason, StringComparison.Ordinal);
        // Sent before the halt: if it installs late, it is rolled back like the others.
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.RollbackCommand));
    }

    [Fact]
    public async Task A_manual_rollback_of_a_completed_rollout_rolls_back_every_device_and_restores_the_old_production_model()
    {
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b"]], SoakListeningHours: 0));
        foreach (string d in new[] { "dev-a", "dev-b" })
        {
            _feed.Status(d, "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
            _clock.Advance(TimeSpan.FromSeconds(5));
            await _controller.TickAsync();
        }
        Assert.Equal(RolloutState.Completed, Get(r.Id).State);

        r = await _controller.RollbackAsync(r.Id, "field reports");
        Assert.Equal(RolloutState.RollingBack, r.State);
        Assert.Equal("manual: field reports", r.Reason);
        Assert.Equal(["dev-a", "dev-b"], _commands.DevicesSent(ModelTransfer.RollbackCommand));
        foreach (string d in new[] { "dev-a", "dev-b" })
        {
            _feed.Status(d, "1.0.0", ModelUpdateResult.RolledBack, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        }
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(RolloutState.RolledBack, Get(r.Id).State);
        Assert.True(_store.TryGetRegisteredModel("1.0.0", out RegisteredModel? one));
        Assert.Equal(ModelStage.Production, one!.Stage);
    }

    [Fact]
    public async Task A_rollback_is_confirmed_by_the_device_reporting_any_version_but_the_halted_one()
    {
        // The gateway's view of dev-a when the rollout starts is 0.9.0 (e.g. an older heartbeat arrived last); the device's
        // slot holds 1.0.0 as its previous model and reports that on rollback: the device is the authority.
        _feed.Heartbeat("dev-a", "0.9.0", T0.AddMinutes(-1), 60);
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], []));
        Assert.Equal("0.9.0", r.Devices.Single().FromVersion);
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(RolloutDeviceState.Confirmed, StateOf(Get(r.Id), "dev-a"));

        await _controller.RollbackAsync(r.Id, "field reports");
        // A failed rollback (still on the halted version) does not confirm it.
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Failed, "1.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        Assert.Equal(RolloutState.RollingBack, Get(r.Id).State);

        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.RolledBack, "1.0.0", _clock.GetUtcNow().AddSeconds(1));
        _clock.Advance(TimeSpan.FromSeconds(5));
        await _controller.TickAsync();
        r = Get(r.Id);
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Equal("manual: field reports", r.Reason); // no "did not confirm" suffix
        Assert.Equal(RolloutDeviceState.RolledBack, StateOf(r, "dev-a"));
        Assert.Equal("1.0.0", r.Devices.Single().ReportedVersion);
    }

    private ModelOffer[] OffersTo(string device) => _commands.Sent.Where(s => s.Device == device && s.Command == ModelTransfer.OfferCommand)
        .Select(s => ModelOffer.TryRead(s.Payload, out ModelOffer? o, out string why) ? o! : throw new InvalidOperationException(why)).ToArray();

    private async Task TickAfter(TimeSpan by)
    {
        _clock.Advance(by);
        await _controller.TickAsync();
    }

    [Fact]
    public async Task Waits_for_a_device_that_is_offline_when_its_step_comes_up_and_sends_when_it_is_back_online()
    {
        _feed.Presence("dev-a", DeviceState.Offline, T0.AddMinutes(-1));
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [], SoakListeningHours: 0));
        Assert.Empty(_commands.Sent);
        RolloutDevice a = Get(r.Id).Devices.Single();
        Assert.Equal(RolloutDeviceState.WaitingOnline, a.State);
        Assert.Equal(T0.AddMinutes(-1), a.OfflineSinceUtc);
        Assert.Contains("presence Offline", a.Reason, StringComparison.Ordinal);
        Assert.Equal(1, Get(r.Id).WaitingOnlineCount);

        // Hours offline: far past the confirm timeout, short of the grace; nothing is sent and nothing halts.
        await TickAfter(TimeSpan.FromHours(3));
        r = Get(r.Id);
        Assert.Equal(RolloutState.Running, r.State);
        Assert.Equal(RolloutDeviceState.WaitingOnline, StateOf(r, "dev-a"));
        Assert.Empty(_commands.Sent);

        _feed.Presence("dev-a", DeviceState.Online, _clock.GetUtcNow());
        await TickAfter(TimeSpan.FromSeconds(5));
        a = Get(r.Id).Devices.Single();
        Assert.Equal(RolloutDeviceState.Sent, a.State);
        Assert.Equal(0, a.Resends);
        Assert.Null(a.OfflineSinceUtc);
        Assert.Equal(a.TransferId, Assert.Single(OffersTo("dev-a")).TransferId);

        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutState.Completed, r.State);
        Assert.Null(r.Reason);
        Assert.Equal(0, r.DeferredCount);
    }

    [Fact]
    public async Task Resends_the_offer_with_a_new_transfer_id_when_a_device_reconnects_without_confirming_at_most_MaxResends_times()
    {
        _options.Rollout.MaxResends = 2;
        _feed.Presence("dev-a", DeviceState.Online, T0);
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [], SoakListeningHours: 0));
        Assert.Single(OffersTo("dev-a"));

        for (int round = 1; round <= 3; round++)
        {
            // It drops off (the broker publishes its will) before confirming, then reconnects.
            _feed.Presence("dev-a", DeviceState.Offline, _clock.GetUtcNow().AddSeconds(1));
            await TickAfter(TimeSpan.FromSeconds(5));
            Assert.Equal(RolloutDeviceState.WaitingOnline, StateOf(Get(r.Id), "dev-a"));
            Assert.Equal(Math.Min(round, 3), OffersTo("dev-a").Length); // nothing is sent while it is away
            _feed.Presence("dev-a", DeviceState.Online, _clock.GetUtcNow().AddSeconds(1));
            await TickAfter(TimeSpan.FromSeconds(5));
        }
        ModelOffer[] offers = OffersTo("dev-a");
        Assert.Equal(3, offers.Length); // the first and two resends, each a whole transfer under a new id
        Assert.Equal(3, offers.Select(o => o.TransferId).Distinct().Count());
        Assert.Equal(3 * offers[0].ChunkCount, _commands.Sent.Count(s => s.Device == "dev-a" && s.Command == ModelTransfer.ChunkCommand));
        RolloutDevice a = Get(r.Id).Devices.Single();
        Assert.Equal(2, a.Resends);
        Assert.Equal(offers[^1].TransferId, a.TransferId);
        // Third reconnect, no resend left: Sent again, its confirm timeout counting from the reconnect.
        Assert.Equal(RolloutDeviceState.Sent, a.State);
        Assert.NotNull(a.ReconnectedUtc);
        Assert.Contains("no resend left", a.Reason, StringComparison.Ordinal);

        await TickAfter(_options.Rollout.ConfirmTimeout - TimeSpan.FromSeconds(10));
        Assert.Equal(RolloutState.Running, Get(r.Id).State);
        await TickAfter(TimeSpan.FromSeconds(20));
        r = Get(r.Id);
        Assert.Equal(RolloutState.RollingBack, r.State); // watched one more timeout for a late install, as before
        Assert.Equal("device 'dev-a' did not confirm 2.0.0 within 00:30:00 (after 2 resends)", r.Reason);
        Assert.Equal(3, OffersTo("dev-a").Length);
    }

    [Fact]
    public async Task The_confirm_timeout_does_not_run_while_the_device_is_offline_and_restarts_with_the_resend()
    {
        _feed.Presence("dev-a", DeviceState.Online, T0);
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [], SoakListeningHours: 0));
        await TickAfter(TimeSpan.FromMinutes(10));
        _feed.Presence("dev-a", DeviceState.Offline, _clock.GetUtcNow());
        await TickAfter(TimeSpan.FromSeconds(5));
        Assert.Equal(RolloutDeviceState.WaitingOnline, StateOf(Get(r.Id), "dev-a"));

        // Offline for 6 confirm timeouts: still running.
        await TickAfter(6 * _options.Rollout.ConfirmTimeout);
        Assert.Equal(RolloutState.Running, Get(r.Id).State);

        _feed.Presence("dev-a", DeviceState.Online, _clock.GetUtcNow());
        await TickAfter(TimeSpan.FromSeconds(5));
        DateTimeOffset resent = _clock.GetUtcNow();
        RolloutDevice a = Get(r.Id).Devices.Single();
        Assert.Equal(RolloutDeviceState.Sent, a.State);
        Assert.Equal(resent, a.SentUtc);
        Assert.Equal(1, a.Resends);

        // Online again: the timeout counts from the resend only.
        _feed.Heartbeat("dev-a", "1.0.0", resent.AddMinutes(20), 60);
        await TickAfter(_options.Rollout.ConfirmTimeout - TimeSpan.FromSeconds(5));
        Assert.Equal(RolloutState.Running, Get(r.Id).State);
        await TickAfter(TimeSpan.FromSeconds(10));
        r = Get(r.Id);
        Assert.Equal(RolloutState.RollingBack, r.State);
        Assert.StartsWith("device 'dev-a' did not confirm 2.0.0 within", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_transfer_the_device_reports_as_timed_out_is_offered_again_not_taken_for_a_refusal()
    {
        _feed.Presence("dev-a", DeviceState.Online, T0);
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [], SoakListeningHours: 0));
        // The receiver's report when chunks stop arriving (ModelUpdateReceiver.TryExpire).
        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.Failed, "2.0.0", _clock.GetUtcNow().AddSeconds(1),
            "transfer-timed-out: transfer x got 1 of 3 chunks, then nothing for 60 s (limit 60 s); missing: 1, 2");
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutState.Running, r.State);
        Assert.Equal(RolloutDeviceState.Sent, StateOf(r, "dev-a"));
        Assert.Equal(2, OffersTo("dev-a").Length);
        Assert.Equal(1, r.Devices.Single().Resends);

        // A real refusal still halts.
        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.RejectedHealthCheck, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.StartsWith("device 'dev-a' refused 2.0.0: RejectedHealthCheck", r.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Defers_a_device_offline_longer_than_the_grace_so_the_wave_goes_on_and_sends_it_the_version_when_it_returns()
    {
        // Device times may not run more than a day ahead of the real clock (wire validation): a short grace keeps the test's clock near T0.
        _options.Rollout.OfflineGrace = TimeSpan.FromHours(2);
        _feed.Presence("dev-c", DeviceState.Offline, T0);
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b", "dev-c"]], SoakListeningHours: 0));
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(1, r.Step);
        Assert.Equal(RolloutDeviceState.Sent, StateOf(r, "dev-b"));
        Assert.Equal(RolloutDeviceState.WaitingOnline, StateOf(r, "dev-c"));
        _feed.Status("dev-b", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        Assert.Equal(RolloutState.Running, Get(r.Id).State); // dev-c holds the wave within the grace

        await TickAfter(_options.Rollout.OfflineGrace);
        r = Get(r.Id);
        RolloutDevice c = r.Devices.Single(d => d.DeviceId == "dev-c");
        Assert.Equal(RolloutDeviceState.Deferred, c.State);
        Assert.StartsWith("deferred: offline (presence Offline) since ", c.Reason, StringComparison.Ordinal);
        Assert.Equal(RolloutState.Completed, r.State);
        Assert.Equal(1, r.DeferredCount);
        Assert.Equal("1 device(s) deferred at completion (offline longer than the 02:00:00 grace): dev-c; each gets 2.0.0 when it is back online", r.Reason);
        Assert.Empty(OffersTo("dev-c"));
        Assert.True(_store.TryGetRegisteredModel("2.0.0", out RegisteredModel? two));
        Assert.Equal(ModelStage.Production, two!.Stage);

        // Back hours later: the completed rollout's version goes to it.
        await TickAfter(TimeSpan.FromHours(5));
        Assert.Empty(OffersTo("dev-c"));
        _feed.Presence("dev-c", DeviceState.Online, _clock.GetUtcNow());
        await TickAfter(TimeSpan.FromSeconds(5));
        Assert.Single(OffersTo("dev-c"));
        Assert.Equal(RolloutDeviceState.Sent, StateOf(Get(r.Id), "dev-c"));
        _feed.Status("dev-c", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutState.Completed, r.State);
        Assert.All(r.Devices, d => Assert.Equal(RolloutDeviceState.Confirmed, d.State));
        Assert.Equal(0, r.DeferredCount);
        Assert.Empty(_commands.DevicesSent(ModelTransfer.RollbackCommand));
    }

    [Fact]
    public async Task A_deferred_device_gets_nothing_when_it_returns_after_the_rollout_was_rolled_back_and_deferred_canaries_alone_halt()
    {
        // Every canary deferred: nothing has judged the version, the rollout halts instead of going on to the waves.
        _options.Rollout.OfflineGrace = TimeSpan.FromHours(2);
        _feed.Presence("dev-a", DeviceState.Offline, T0);
        _clock.Advance(TimeSpan.FromHours(3));
        _feed.Presence("dev-b", DeviceState.Online, _clock.GetUtcNow());
        RolloutRecord first = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b"]], SoakListeningHours: 0));
        first = Get(first.Id);
        Assert.Equal(RolloutState.RolledBack, first.State);
        Assert.Equal("every canary was offline longer than the 02:00:00 grace: none confirmed 2.0.0", first.Reason);
        Assert.Equal(RolloutDeviceState.Deferred, StateOf(first, "dev-a"));
        Assert.Equal(RolloutDeviceState.NotInstalled, StateOf(first, "dev-b"));
        Assert.Empty(_commands.Sent);

        // dev-a returns: the rollout was rolled back, it is sent nothing.
        _feed.Presence("dev-a", DeviceState.Online, _clock.GetUtcNow());
        await TickAfter(TimeSpan.FromSeconds(5));
        await TickAfter(TimeSpan.FromSeconds(5));
        Assert.Empty(_commands.Sent);
        Assert.Equal(RolloutDeviceState.Deferred, StateOf(Get(first.Id), "dev-a"));
    }

    [Fact]
    public async Task A_device_offline_at_the_rollback_gets_it_once_when_it_is_back_and_the_rollback_does_not_wait_for_it()
    {
        _feed.Presence("dev-a", DeviceState.Online, T0);
        _feed.Presence("dev-b", DeviceState.Online, T0);
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a", "dev-b"], [], SoakListeningHours: 0));
        foreach (string d in new[] { "dev-a", "dev-b" })
        {
            _feed.Status(d, "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        }
        await TickAfter(TimeSpan.FromSeconds(5));
        Assert.Equal(RolloutState.Completed, Get(r.Id).State);

        // dev-b goes to sleep on the new version; the operator rolls back.
        _feed.Presence("dev-b", DeviceState.Offline, _clock.GetUtcNow());
        _clock.Advance(TimeSpan.FromMinutes(1));
        r = await _controller.RollbackAsync(r.Id, "field reports");
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.RollbackCommand));
        RolloutDevice b = r.Devices.Single(d => d.DeviceId == "dev-b");
        Assert.Equal(RolloutDeviceState.Confirmed, b.State);
        Assert.Contains("the rollback goes when it is back online", b.Reason, StringComparison.Ordinal);

        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.RolledBack, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutState.RolledBack, r.State); // not held by the sleeping device
        Assert.Equal("manual: field reports; 1 device(s) run 2.0.0 and are offline, the rollback goes when they are back: dev-b", r.Reason);
        Assert.True(_store.TryGetRegisteredModel("1.0.0", out RegisteredModel? one));
        Assert.Equal(ModelStage.Production, one!.Stage);

        await TickAfter(TimeSpan.FromHours(5));
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.RollbackCommand));
        _feed.Presence("dev-b", DeviceState.Online, _clock.GetUtcNow());
        await TickAfter(TimeSpan.FromSeconds(5));
        Assert.Equal(["dev-a", "dev-b"], _commands.DevicesSent(ModelTransfer.RollbackCommand));
        Assert.Equal(RolloutDeviceState.RollingBack, StateOf(Get(r.Id), "dev-b"));
        _feed.Status("dev-b", "1.0.0", ModelUpdateResult.RolledBack, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.All(r.Devices, d => Assert.Equal(RolloutDeviceState.RolledBack, d.State));
        // Once per device: a second rollback would switch its slots back to 2.0.0.
        Assert.Equal(2, _commands.Sent.Count(s => s.Command == ModelTransfer.RollbackCommand));
    }

    [Fact]
    public async Task A_deferred_canary_that_installs_the_halted_version_on_its_return_is_rolled_back()
    {
        _options.Rollout.OfflineGrace = TimeSpan.FromHours(2);
        _feed.Presence("dev-a", DeviceState.Online, T0);
        RolloutRecord r = await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-b"]], SoakListeningHours: 0));
        Assert.Single(OffersTo("dev-a"));
        // It had the whole transfer and loses power while installing.
        _feed.Presence("dev-a", DeviceState.Offline, _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        Assert.Equal(RolloutDeviceState.WaitingOnline, StateOf(Get(r.Id), "dev-a"));
        await TickAfter(TimeSpan.FromHours(3));
        r = Get(r.Id);
        Assert.Equal(RolloutState.RolledBack, r.State);
        Assert.Equal(RolloutDeviceState.Deferred, StateOf(r, "dev-a"));
        Assert.Empty(_commands.DevicesSent(ModelTransfer.RollbackCommand));

        // Back: its outbox delivers the activation of the halted version; it gets the rollback, no new offer.
        _feed.Presence("dev-a", DeviceState.Online, _clock.GetUtcNow());
        _feed.Status("dev-a", "2.0.0", ModelUpdateResult.Activated, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutDeviceState.RollingBack, StateOf(r, "dev-a"));
        Assert.Equal(["dev-a"], _commands.DevicesSent(ModelTransfer.RollbackCommand));
        _feed.Status("dev-a", "1.0.0", ModelUpdateResult.RolledBack, "2.0.0", _clock.GetUtcNow().AddSeconds(1));
        await TickAfter(TimeSpan.FromSeconds(5));
        r = Get(r.Id);
        Assert.Equal(RolloutDeviceState.RolledBack, StateOf(r, "dev-a"));
        Assert.Equal("1.0.0", r.Devices.Single(d => d.DeviceId == "dev-a").ReportedVersion);
        Assert.Single(OffersTo("dev-a"));
        Assert.Empty(OffersTo("dev-b"));
    }

    [Fact]
    public void Offline_options_are_validated_naming_the_setting()
    {
        new RolloutOptions().Validate();
        Assert.Equal("Gateway:Models:Rollout:OfflineGrace (00:10:00) must be at least ConfirmTimeout (00:30:00)",
            Assert.Throws<ArgumentException>(() => new RolloutOptions { OfflineGrace = TimeSpan.FromMinutes(10) }.Validate()).Message);
        Assert.Equal("Gateway:Models:Rollout:MaxResends must be 0..100, got -1",
            Assert.Throws<ArgumentException>(() => new RolloutOptions { MaxResends = -1 }.Validate()).Message);
        Assert.Equal("Gateway:Models:Rollout:OfflineAfterSilence must be positive",
            Assert.Throws<ArgumentException>(() => new RolloutOptions { OfflineAfterSilence = TimeSpan.Zero }.Validate()).Message);
        new RolloutOptions { MaxResends = 0, OfflineGrace = TimeSpan.FromMinutes(30) }.Validate();
    }

    [Fact]
    public async Task Refuses_a_model_the_gate_refused_an_unknown_device_and_a_second_active_rollout()
    {
        var refused = await Assert.ThrowsAsync<RolloutRefusedException>(() => _controller.StartAsync(new RolloutRequest("3.0.0-bad", ["dev-a"], [])));
        Assert.Equal(409, refused.StatusCode);
        Assert.Equal("model '3.0.0-bad' failed the offline gate and is never rolled out: REFUSE: deployed FA/hour (9 > 1)", refused.Message);
        var unknown = await Assert.ThrowsAsync<RolloutRefusedException>(() => _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-x"], [])));
        Assert.Equal(404, unknown.StatusCode);
        Assert.Equal(400, (await Assert.ThrowsAsync<RolloutRefusedException>(() => _controller.StartAsync(new RolloutRequest("2.0.0", [], [])))).StatusCode);
        Assert.Equal(400, (await Assert.ThrowsAsync<RolloutRefusedException>(() => _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], [["dev-a"]])))).StatusCode);
        Assert.Empty(_commands.Sent);

        await _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-a"], []));
        var second = await Assert.ThrowsAsync<RolloutRefusedException>(() => _controller.StartAsync(new RolloutRequest("2.0.0", ["dev-b"], [])));
        Assert.Equal(409, second.StatusCode);
        Assert.Contains("one rollout at a time", second.Message, StringComparison.Ordinal);
    }
}
