using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Rollout;

/// <summary>
/// The staged-rollout state machine. A rollout sends the signed model (ModelTransfer offer + chunks on the device's command
/// topics) to the canary step; every device of a step must confirm through its <c>model-status</c> messages that it runs the
/// new version, and the confirmed devices must accumulate the soak listening time, before the next wave is sent. All along,
/// <see cref="ProductionFaRule"/> compares the new version's production FA/hour (labels and heartbeat listening hours in the
/// store) with the old one's; when it trips, or a device refuses the model, or a device does not answer within the confirm
/// timeout, the rollout halts: every device that runs the new version gets the rollback command and must confirm its old
/// version. An operator can roll back any running or completed rollout (<see cref="RollbackAsync"/>).
/// <para>Devices that sleep, lose Wi-Fi or get unplugged: the gateway's broker keeps no session for an offline device, so an
/// offer published to it is lost. A device that is offline (presence Offline, or nothing stored from it for
/// <see cref="RolloutOptions.OfflineAfterSilence"/>) when its step comes up waits (WaitingOnline) and is sent the offer when its
/// presence says Online again (the agent subscribes to its commands before it publishes Online); one that drops off after the
/// offer without confirming, or reports that the transfer timed out, gets a fresh offer (new transfer id) when it is back, at
/// most <see cref="RolloutOptions.MaxResends"/> times. The confirm timeout counts from the last send to an online device. A device
/// offline longer than <see cref="RolloutOptions.OfflineGrace"/> is Deferred and no longer holds its wave; after the rollout
/// completed it gets the version when it returns (catch-up), after a rollback nothing. A rollback goes to an offline device when
/// it is back (once), without holding the rollout.</para>
/// <para>State lives in the store (<see cref="RolloutRecord"/>, optimistic revision); <see cref="TickAsync"/> is called by
/// <see cref="RolloutService"/> every poll interval and right after every request, under one lock.</para>
/// <para>The parts, each with one reason to change: <see cref="RolloutPlanner"/> (what a valid request is),
/// <see cref="RolloutWaves"/> (steps, soak, completion, catch-up), <see cref="RolloutDeviceTracker"/> (one device's statuses and
/// presence), <see cref="RolloutFaWatch"/> (production FA/hour), <see cref="RolloutRollback"/> (halt and rollback),
/// <see cref="ModelTransferSender"/> (the commands on the wire). This class holds the lock, saves each pass (optimistic revision),
/// and moves the registry's stages when a rollout finishes.</para>
/// </summary>
public sealed class RolloutController
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly IGatewayStore _store;
    private readonly ModelRegistry _registry;
    private readonly TimeProvider _clock;
    private readonly ILogger<RolloutController> _logger;
    private readonly RolloutPlanner _planner;
    private readonly RolloutWaves _waves;
    private readonly RolloutRollback _rollback;

    /// <summary>A controller over the store's rollouts; <paramref name="publisher"/> is asked for the command publisher at each send
    /// (the broker may start after the controller).</summary>
    public RolloutController(IGatewayStore store, ModelRegistry registry, Func<IDeviceCommandPublisher> publisher, ModelLoopOptions options,
        TimeProvider clock, ILogger<RolloutController> logger)
    {
        _store = store;
        _registry = registry;
        _clock = clock;
        _logger = logger;
        var tracker = new RolloutDeviceTracker(store, options);
        var sender = new ModelTransferSender(publisher, options);
        _planner = new RolloutPlanner(store, registry, options, clock);
        _waves = new RolloutWaves(store, tracker, sender, new RolloutFaWatch(store, options), options, clock, logger);
        _rollback = new RolloutRollback(store, tracker, sender, options, clock, logger);
    }

    /// <summary>Validates and stores a rollout, then sends its canary step.</summary>
    /// <exception cref="RolloutRefusedException">Unknown model or device, a model that did not pass the gate, another active rollout, a bad plan.</exception>
    public async Task<RolloutRecord> StartAsync(RolloutRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            RolloutRecord rollout = _planner.Plan(request);
            rollout = _store.AddRollout(rollout);
            _logger.LogInformation("rollout {Id}: {Version} to {Canaries} canaries then {Waves} waves", rollout.Id, rollout.ModelVersion,
                rollout.Devices.Count(d => d.Step == 0), rollout.StepCount - 1);
            return await AdvanceAsync(rollout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Halts a running or completed rollout and rolls back every device that runs its version (one call: the manual rollback).</summary>
    public async Task<RolloutRecord> RollbackAsync(long id, string? reason, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_store.TryGetRollout(id, out RolloutRecord? r))
            {
                throw new RolloutRefusedException($"rollout {id} does not exist", 404);
            }
            if (r!.State is RolloutState.RollingBack or RolloutState.RolledBack)
            {
                return r;
            }
            if (_store.ReadRollouts(activeOnly: false, limit: 1) is [var newest, ..] && newest.Id != id)
            {
                // A device's rollback returns to its previous slot, which a later rollout has replaced: only the newest rollout
                // can be rolled back this way (roll back the newer one, or roll the wanted version out as a new rollout).
                throw new RolloutRefusedException($"rollout {newest.Id} is newer than {id}; only the newest rollout can be rolled back", 409);
            }
            RolloutRecord halted = Save(RolloutRollback.Halt(r, "manual: " + (string.IsNullOrWhiteSpace(reason) ? "operator requested a rollback" : reason.Trim())))
                ?? throw new RolloutRefusedException($"rollout {id} changed meanwhile; retry", 409);
            if (r.State == RolloutState.Completed)
            {
                // The old version is what the fleet returns to: it is production again once the devices confirm.
                _logger.LogWarning("rollout {Id}: manual rollback of completed {Version}", id, r.ModelVersion);
            }
            return await AdvanceAsync(halted, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Advances every active rollout one step (confirmations, FA/hour rule, next wave, rollback confirmations).</summary>
    public async Task TickAsync(CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (RolloutRecord r in _store.ReadRollouts(activeOnly: true, limit: 100))
            {
                await AdvanceAsync(r, cancellationToken).ConfigureAwait(false);
            }
            // Only the newest rollout's version is what its devices should run: an older completed rollout's deferred devices
            // are left to the newer one (or to a new rollout).
            switch (_store.ReadRollouts(activeOnly: false, limit: 1))
            {
                case [{ State: RolloutState.Completed } done] when done.Devices.Any(d => d.State is RolloutDeviceState.Deferred or RolloutDeviceState.WaitingOnline or RolloutDeviceState.Sent):
                    await CatchUpAsync(done, cancellationToken).ConfigureAwait(false);
                    break;
                case [{ State: RolloutState.RolledBack } undone] when undone.Devices.Any(d => d.State is RolloutDeviceState.Confirmed or RolloutDeviceState.RollingBack
                    || (d.State is RolloutDeviceState.NotInstalled or RolloutDeviceState.Deferred && d.SentUtc is not null)):
                    await CatchUpAsync(undone, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task<RolloutRecord> AdvanceAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        try
        {
            RolloutRecord next = r.State == RolloutState.Running ? await _waves.AdvanceAsync(r, cancellationToken).ConfigureAwait(false) : r;
            if (next.State == RolloutState.RollingBack)
            {
                // A halt sends its rollback commands in the same pass.
                next = await _rollback.AdvanceAsync(next, cancellationToken).ConfigureAwait(false);
            }
            if (next == r)
            {
                return r;
            }
            RolloutRecord? saved = Save(next);
            if (saved is null)
            {
                _logger.LogWarning("rollout {Id} was changed by another writer; the next tick re-reads it", r.Id);
                return _store.TryGetRollout(r.Id, out RolloutRecord? fresh) ? fresh! : r;
            }
            if (saved.State != r.State)
            {
                _logger.LogInformation("rollout {Id} of {Version}: {From} -> {To}{Reason}", r.Id, r.ModelVersion, r.State, saved.State,
                    saved.Reason is null ? string.Empty : " (" + saved.Reason + ")");
                OnStateChanged(saved);
            }
            return saved;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException && ex is not RolloutRefusedException)
        {
            // A publish that failed (broker stopped, external broker down) is retried on the next tick.
            _logger.LogWarning(ex, "rollout {Id}: step failed, retried on the next tick", r.Id);
            return r;
        }
    }

    private void OnStateChanged(RolloutRecord r)
    {
        DateTimeOffset now = _clock.GetUtcNow();
        if (r.State == RolloutState.Completed)
        {
            _registry.SetStage(r.ModelVersion, ModelStage.Production, now);
        }
        else if (r.State == RolloutState.RolledBack)
        {
            _registry.SetStage(r.ModelVersion, ModelStage.RolledBack, now);
            if (r.PreviousVersion is { } previous && _store.TryGetRegisteredModel(previous, out _))
            {
                _registry.SetStage(previous, ModelStage.Production, now);
            }
        }
    }

    /// <summary>
    /// The newest rollout's devices follow its outcome after it finished. Completed: a deferred device that comes back online gets
    /// the version (within the resend budget); nothing halts any more, a refusal or a timeout only ends that device's catch-up
    /// (Refused / NotInstalled, with the reason). RolledBack: a device that runs the halted version (offline at the halt, or
    /// installed late) gets the rollback when it is online. So the fleet converges on what the rollout decided.
    /// </summary>
    private async Task CatchUpAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        try
        {
            RolloutRecord next = r.State == RolloutState.RolledBack
                ? await _rollback.AdvanceAsync(r, cancellationToken).ConfigureAwait(false)
                : await _waves.CatchUpAsync(r, cancellationToken).ConfigureAwait(false);
            if (next.Devices.SequenceEqual(r.Devices))
            {
                return;
            }
            if (Save(next) is null)
            {
                _logger.LogWarning("rollout {Id} was changed by another writer; the next tick re-reads it", r.Id);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            _logger.LogWarning(ex, "rollout {Id}: catch-up of a returning device failed, retried on the next tick", r.Id);
        }
    }

    private RolloutRecord? Save(RolloutRecord r) => _store.TryUpdateRollout(r with { UpdatedUtc = _clock.GetUtcNow() });
}
