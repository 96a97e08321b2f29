using System.Globalization;
using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Registry;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Rollout;

/// <summary>A rollout request (HTTP body of <c>POST /api/rollouts</c>).</summary>
/// <param name="ModelVersion">Registered version to roll out (stage Candidate: it passed the offline gate).</param>
/// <param name="Canaries">Devices of the first step.</param>
/// <param name="Waves">Later steps, in order.</param>
/// <param name="SoakListeningHours">New-version listening hours each confirmed step must accumulate before the next; null: the configured default.</param>
public sealed record RolloutRequest(string? ModelVersion, string[]? Canaries, string[][]? Waves, double? SoakListeningHours = null);

/// <summary>A request the controller refuses, with the HTTP status that fits.</summary>
public sealed class RolloutRefusedException(string message, int statusCode) : InvalidOperationException(message)
{
    /// <summary>400 bad request, 404 unknown, 409 conflict with the current state.</summary>
    public int StatusCode { get; } = statusCode;
}

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
/// </summary>
public sealed class RolloutController(IGatewayStore store, ModelRegistry registry, Func<IDeviceCommandPublisher> publisher, ModelLoopOptions options,
    TimeProvider clock, ILogger<RolloutController> logger)
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private RolloutOptions Rules => options.Rollout;

    /// <summary>Validates and stores a rollout, then sends its canary step.</summary>
    /// <exception cref="RolloutRefusedException">Unknown model or device, a model that did not pass the gate, another active rollout, a bad plan.</exception>
    public async Task<RolloutRecord> StartAsync(RolloutRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            RolloutRecord rollout = Plan(request);
            rollout = store.AddRollout(rollout);
            logger.LogInformation("rollout {Id}: {Version} to {Canaries} canaries then {Waves} waves", rollout.Id, rollout.ModelVersion,
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
            if (!store.TryGetRollout(id, out RolloutRecord? r))
            {
                throw new RolloutRefusedException($"rollout {id} does not exist", 404);
            }
            if (r!.State is RolloutState.RollingBack or RolloutState.RolledBack)
            {
                return r;
            }
            if (store.ReadRollouts(activeOnly: false, limit: 1) is [var newest, ..] && newest.Id != id)
            {
                // A device's rollback returns to its previous slot, which a later rollout has replaced: only the newest rollout
                // can be rolled back this way (roll back the newer one, or roll the wanted version out as a new rollout).
                throw new RolloutRefusedException($"rollout {newest.Id} is newer than {id}; only the newest rollout can be rolled back", 409);
            }
            RolloutRecord halted = Save(Halt(r, "manual: " + (string.IsNullOrWhiteSpace(reason) ? "operator requested a rollback" : reason.Trim())))
                ?? throw new RolloutRefusedException($"rollout {id} changed meanwhile; retry", 409);
            if (r.State == RolloutState.Completed)
            {
                // The old version is what the fleet returns to: it is production again once the devices confirm.
                logger.LogWarning("rollout {Id}: manual rollback of completed {Version}", id, r.ModelVersion);
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
            foreach (RolloutRecord r in store.ReadRollouts(activeOnly: true, limit: 100))
            {
                await AdvanceAsync(r, cancellationToken).ConfigureAwait(false);
            }
            // Only the newest rollout's version is what its devices should run: an older completed rollout's deferred devices
            // are left to the newer one (or to a new rollout).
            switch (store.ReadRollouts(activeOnly: false, limit: 1))
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

    private RolloutRecord Plan(RolloutRequest request)
    {
        string version = request.ModelVersion ?? string.Empty;
        if (!registry.Store.TryGetRegisteredModel(version, out RegisteredModel? model))
        {
            throw new RolloutRefusedException($"model '{version}' is not registered", 404);
        }
        switch (model!.Stage)
        {
            case ModelStage.Refused:
                throw new RolloutRefusedException($"model '{version}' failed the offline gate and is never rolled out: {model.GateSummary}", 409);
            case ModelStage.Production:
                throw new RolloutRefusedException($"model '{version}' is production already", 409);
            case ModelStage.RolledBack:
            case ModelStage.Retired:
                throw new RolloutRefusedException($"model '{version}' is {model.Stage}; register a new version to try again", 409);
        }
        if (store.ReadRollouts(activeOnly: true, limit: 1) is [var active, ..])
        {
            throw new RolloutRefusedException($"rollout {active.Id} of '{active.ModelVersion}' is still {active.State}; one rollout at a time", 409);
        }
        string[][] steps = [request.Canaries ?? [], .. request.Waves ?? []];
        if (steps[0].Length == 0)
        {
            throw new RolloutRefusedException("canaries: at least one canary device is required", 400);
        }
        if (steps.Any(s => s.Length == 0))
        {
            throw new RolloutRefusedException("waves: every wave needs at least one device", 400);
        }
        double soak = request.SoakListeningHours ?? Rules.SoakListeningHours;
        if (!(soak >= 0) || double.IsInfinity(soak))
        {
            throw new RolloutRefusedException("soakListeningHours must be >= 0", 400);
        }
        Dictionary<string, DeviceRecord> known = store.ReadDevices().ToDictionary(d => d.DeviceId, StringComparer.Ordinal);
        var devices = new List<RolloutDevice>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int step = 0; step < steps.Length; step++)
        {
            foreach (string id in steps[step])
            {
                if (!seen.Add(id))
                {
                    throw new RolloutRefusedException($"device '{id}' is listed twice", 400);
                }
                if (!known.TryGetValue(id, out DeviceRecord? device))
                {
                    throw new RolloutRefusedException($"device '{id}' is unknown", 404);
                }
                if (device.ModelVersion == version)
                {
                    throw new RolloutRefusedException($"device '{id}' already runs '{version}'", 409);
                }
                devices.Add(new RolloutDevice(id, step, RolloutDeviceState.Pending, device.ModelVersion, null, null, null, null, null, device.ModelVersion, null));
            }
        }
        DateTimeOffset now = clock.GetUtcNow();
        return new RolloutRecord(0, version, registry.Production?.ModelVersion, RolloutState.Running, 0, steps.Length, soak, now, now, null, null, null,
            devices, null, 0);
    }

    private async Task<RolloutRecord> AdvanceAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        try
        {
            RolloutRecord next = r.State == RolloutState.Running ? await AdvanceRunningAsync(r, cancellationToken).ConfigureAwait(false) : r;
            if (next.State == RolloutState.RollingBack)
            {
                // A halt sends its rollback commands in the same pass.
                next = await AdvanceRollingBackAsync(next, cancellationToken).ConfigureAwait(false);
            }
            if (next == r)
            {
                return r;
            }
            RolloutRecord? saved = Save(next);
            if (saved is null)
            {
                logger.LogWarning("rollout {Id} was changed by another writer; the next tick re-reads it", r.Id);
                return store.TryGetRollout(r.Id, out RolloutRecord? fresh) ? fresh! : r;
            }
            if (saved.State != r.State)
            {
                logger.LogInformation("rollout {Id} of {Version}: {From} -> {To}{Reason}", r.Id, r.ModelVersion, r.State, saved.State,
                    saved.Reason is null ? string.Empty : " (" + saved.Reason + ")");
                OnStateChanged(saved);
            }
            return saved;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException && ex is not RolloutRefusedException)
        {
            // A publish that failed (broker stopped, external broker down) is retried on the next tick.
            logger.LogWarning(ex, "rollout {Id}: step failed, retried on the next tick", r.Id);
            return r;
        }
    }

    private void OnStateChanged(RolloutRecord r)
    {
        DateTimeOffset now = clock.GetUtcNow();
        if (r.State == RolloutState.Completed)
        {
            registry.SetStage(r.ModelVersion, ModelStage.Production, now);
        }
        else if (r.State == RolloutState.RolledBack)
        {
            registry.SetStage(r.ModelVersion, ModelStage.RolledBack, now);
            if (r.PreviousVersion is { } previous && store.TryGetRegisteredModel(previous, out _))
            {
                registry.SetStage(previous, ModelStage.Production, now);
            }
        }
    }

    private async Task<RolloutRecord> AdvanceRunningAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        DateTimeOffset now = clock.GetUtcNow();
        Dictionary<string, DeviceRecord> fleet = ReadFleet();
        (r, string? halt) = await DispatchAsync(r, fleet, now, catchUp: false, cancellationToken).ConfigureAwait(false);
        FaWatch? watch = null;
        if (halt is null && r.Devices.Any(d => d.State == RolloutDeviceState.Confirmed))
        {
            watch = Watch(r, now);
            r = r with { Watch = watch };
            if (watch.Trip)
            {
                halt = watch.Verdict;
            }
        }
        if (halt is not null)
        {
            return Halt(r, halt);
        }

        List<RolloutDevice> step = r.Devices.Where(d => d.Step == r.Step).ToList();
        if (step.All(d => d.State is RolloutDeviceState.Confirmed or RolloutDeviceState.Deferred))
        {
            if (r.Step == 0 && step.All(d => d.State == RolloutDeviceState.Deferred))
            {
                // The canaries are the evidence the waves go on: with none of them back, nothing has judged the version.
                return Halt(r, $"every canary was offline longer than the {Rules.OfflineGrace} grace: none confirmed {r.ModelVersion}");
            }
            DateTimeOffset confirmed = r.StepConfirmedUtc ?? now;
            r = r with { StepConfirmedUtc = confirmed };
            double soaked = r.SoakListeningHours <= 0 ? 0 : Activity(r, confirmed, now, onlyRolloutDevices: true, r.ModelVersion).ListeningHours;
            if (soaked >= r.SoakListeningHours && watch is { Hold: true } held)
            {
                // Pending reviews could hide a bad model: the step waits (and says why) until they are decided.
                if (r.Reason is null || !r.Reason.StartsWith("holding:", StringComparison.Ordinal))
                {
                    logger.LogWarning("rollout {Id}: step {Step} soaked but waits: {Verdict}", r.Id, r.Step, held.Verdict);
                }
                return r with { Reason = held.Verdict };
            }
            if (soaked >= r.SoakListeningHours)
            {
                r = r with { Reason = null };
                if (r.Step == r.StepCount - 1)
                {
                    int deferred = r.DeferredCount;
                    string? outcome = deferred == 0 ? null : string.Create(CultureInfo.InvariantCulture,
                        $"{deferred} device(s) deferred at completion (offline longer than the {Rules.OfflineGrace} grace): "
                        + $"{string.Join(", ", r.Devices.Where(d => d.State == RolloutDeviceState.Deferred).Select(d => d.DeviceId))}; each gets {r.ModelVersion} when it is back online");
                    return r with { State = RolloutState.Completed, FinishedUtc = now, UpdatedUtc = now, Reason = outcome };
                }
                r = r with { Step = r.Step + 1, StepConfirmedUtc = null, UpdatedUtc = now };
                (r, halt) = await DispatchAsync(r, fleet, now, catchUp: false, cancellationToken).ConfigureAwait(false);
                return halt is null ? r : Halt(r, halt);
            }
        }
        return r;
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
                ? await AdvanceRollingBackAsync(r, cancellationToken).ConfigureAwait(false)
                : (await DispatchAsync(r, ReadFleet(), clock.GetUtcNow(), catchUp: true, cancellationToken).ConfigureAwait(false)).Rollout;
            if (next.Devices.SequenceEqual(r.Devices))
            {
                return;
            }
            if (Save(next) is null)
            {
                logger.LogWarning("rollout {Id} was changed by another writer; the next tick re-reads it", r.Id);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            logger.LogWarning(ex, "rollout {Id}: catch-up of a returning device failed, retried on the next tick", r.Id);
        }
    }

    private Dictionary<string, DeviceRecord> ReadFleet() => store.ReadDevices().ToDictionary(d => d.DeviceId, StringComparer.Ordinal);

    /// <summary>
    /// One pass over the devices that are due (running: every device of the current and earlier steps that has not finished;
    /// catch-up: the deferred and the ones caught up since): confirmations, presence, offers. Returns the updated rollout and,
    /// while running, the first reason to halt.
    /// </summary>
    private async Task<(RolloutRecord Rollout, string? Halt)> DispatchAsync(RolloutRecord r, Dictionary<string, DeviceRecord> fleet, DateTimeOffset now,
        bool catchUp, CancellationToken cancellationToken)
    {
        var devices = r.Devices.ToList();
        string? halt = null;
        ModelPackage? package = null;
        for (int i = 0; i < devices.Count; i++)
        {
            RolloutDevice d = devices[i];
            bool open = d.State is RolloutDeviceState.Sent or RolloutDeviceState.WaitingOnline or RolloutDeviceState.Deferred
                || (!catchUp && d.State == RolloutDeviceState.Pending);
            if (!open || (!catchUp && d.Step > r.Step))
            {
                continue;
            }
            d = Track(d, r.ModelVersion, fleet.GetValueOrDefault(d.DeviceId), now, out bool send, out string? problem);
            if (problem is not null)
            {
                if (!catchUp)
                {
                    halt ??= problem;
                }
                else if (d.State == RolloutDeviceState.Sent)
                {
                    d = d with { State = RolloutDeviceState.NotInstalled, Reason = problem };
                }
            }
            if (send && halt is null)
            {
                if (package is null && !store.TryGetModelPackage(r.ModelVersion, out package))
                {
                    string missing = $"the package of '{r.ModelVersion}' is missing from the registry";
                    if (!catchUp)
                    {
                        halt = missing;
                    }
                    logger.LogWarning("rollout {Id}: {Problem}", r.Id, missing);
                    devices[i] = d;
                    break;
                }
                var transfer = Guid.NewGuid();
                DateTimeOffset sent = clock.GetUtcNow();
                await SendModelAsync(d.DeviceId, transfer, package!, cancellationToken).ConfigureAwait(false);
                bool again = d.TransferId is not null;
                d = d with
                {
                    State = RolloutDeviceState.Sent,
                    TransferId = transfer,
                    SentUtc = sent,
                    Resends = again ? d.Resends + 1 : d.Resends,
                    OfflineSinceUtc = null,
                    ReconnectedUtc = null,
                    Reason = null,
                };
                logger.LogInformation("rollout {Id}: sent {Version} to {Device} (step {Step}{Again})", r.Id, r.ModelVersion, d.DeviceId, d.Step,
                    again ? string.Create(CultureInfo.InvariantCulture, $", resend {d.Resends} of at most {Rules.MaxResends}") : catchUp ? ", catch-up" : string.Empty);
            }
            devices[i] = d;
        }
        return (r with { Devices = devices, UpdatedUtc = now }, halt);
    }

    /// <summary>
    /// One device's step: its statuses since the last offer (confirmed / refused / transfer lost), its presence (offline: wait,
    /// and defer after the grace; back online: the offer again), the confirm timeout (online time only). <paramref name="send"/>:
    /// publish an offer now. <paramref name="problem"/>: why the rollout should halt (refusal, timeout, transfer lost too often).
    /// </summary>
    private RolloutDevice Track(RolloutDevice d, string version, DeviceRecord? device, DateTimeOffset now, out bool send, out string? problem)
    {
        send = false;
        problem = null;
        bool lost = false;
        if (d.SentUtc is not null)
        {
            (d, lost) = Observe(d, version, now);
            if (d.State == RolloutDeviceState.Confirmed)
            {
                return d;
            }
            if (d.State == RolloutDeviceState.Refused)
            {
                problem = $"device '{d.DeviceId}' refused {version}: {d.Reason}";
                return d;
            }
        }
        bool online = IsOnline(device, now);
        // A device whose own reports already say it runs the version gets no second transfer (installing it into the other
        // slot too would leave it nothing to roll back to); its status is on the way.
        bool mayResend = d.Resends < Rules.MaxResends && device?.ModelVersion != version;
        switch (d.State)
        {
            case RolloutDeviceState.Pending:
                if (online)
                {
                    send = true;
                }
                else
                {
                    d = GoneOffline(d, device, now);
                }
                break;
            case RolloutDeviceState.Sent when lost && d.Resends >= Rules.MaxResends:
                problem = $"device '{d.DeviceId}' did not receive {version}: {d.Reason} (after {d.Resends} resends)";
                d = d with { State = RolloutDeviceState.Refused };
                break;
            case RolloutDeviceState.Sent when !online:
                d = GoneOffline(d, device, now);
                break;
            case RolloutDeviceState.Sent when lost:
                send = mayResend;
                break;
            case RolloutDeviceState.Sent:
                DateTimeOffset from = d.ReconnectedUtc is { } back && back > d.SentUtc!.Value ? back : d.SentUtc!.Value;
                if (now - from > Rules.ConfirmTimeout)
                {
                    problem = string.Create(CultureInfo.InvariantCulture, $"device '{d.DeviceId}' did not confirm {version} within {Rules.ConfirmTimeout}")
                        + (d.Resends > 0 ? string.Create(CultureInfo.InvariantCulture, $" (after {d.Resends} resends)") : string.Empty);
                }
                break;
            case RolloutDeviceState.WaitingOnline when online:
                if (d.TransferId is null || mayResend)
                {
                    send = true;
                }
                else
                {
                    // Resends used up: its last offer may still be on its way (an external broker's persistent session); the
                    // confirm timeout runs from now.
                    d = d with { State = RolloutDeviceState.Sent, ReconnectedUtc = now, OfflineSinceUtc = null, Reason = $"back online, no resend left ({d.Resends} sent)" };
                }
                break;
            case RolloutDeviceState.WaitingOnline:
                d = GoneOffline(d, device, now);
                break;
            case RolloutDeviceState.Deferred when online:
                send = d.TransferId is null || mayResend;
                break;
            case RolloutDeviceState.Deferred:
                d = d with { OfflineSinceUtc = device?.LastSeenUtc ?? d.OfflineSinceUtc };
                break;
        }
        return d;
    }

    /// <summary>Online: presence not Offline and something stored from it within <see cref="RolloutOptions.OfflineAfterSilence"/>.</summary>
    private bool IsOnline(DeviceRecord? device, DateTimeOffset now) =>
        device is { LastSeenUtc: { } seen } && device.Status != nameof(DeviceState.Offline) && now - seen <= Rules.OfflineAfterSilence;

    /// <summary>WaitingOnline since its last stored message (the will's arrival for a dropped connection), Deferred past the grace.</summary>
    private RolloutDevice GoneOffline(RolloutDevice d, DeviceRecord? device, DateTimeOffset now)
    {
        DateTimeOffset since = device?.LastSeenUtc ?? d.OfflineSinceUtc ?? now;
        string how = device?.Status == nameof(DeviceState.Offline) ? "presence Offline" : "silent";
        if (now - since > Rules.OfflineGrace)
        {
            return d with
            {
                State = RolloutDeviceState.Deferred,
                OfflineSinceUtc = since,
                Reason = string.Create(CultureInfo.InvariantCulture, $"deferred: offline ({how}) since {since:u}, longer than the {Rules.OfflineGrace} grace"),
            };
        }
        return d with
        {
            State = RolloutDeviceState.WaitingOnline,
            OfflineSinceUtc = since,
            Reason = string.Create(CultureInfo.InvariantCulture, $"offline ({how}) since {since:u}: the offer goes when it is back online"),
        };
    }

    private async Task SendModelAsync(string deviceId, Guid transfer, ModelPackage package, CancellationToken cancellationToken)
    {
        IDeviceCommandPublisher commands = publisher();
        int size = options.ChunkSizeBytes;
        int count = ModelTransfer.GetChunkCount(package.Model.Length, size);
        var offer = new ModelOffer { TransferId = transfer, Manifest = package.Manifest, Signature = package.Signature, ChunkCount = count, ChunkSizeBytes = size };
        await commands.PublishCommandAsync(deviceId, ModelTransfer.OfferCommand, offer.Serialize(), cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> payload = package.Model.AsSpan(i * size, Math.Min(size, package.Model.Length - (i * size)));
            var frame = new byte[ModelChunk.GetFrameSizeBytes(payload.Length)];
            ModelChunk.Write(frame, transfer, i, count, payload);
            await commands.PublishCommandAsync(deviceId, ModelTransfer.ChunkCommand, frame, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The device's own failure code (first word of its reason) for chunks that stopped arriving: the transfer was lost
    /// (the device dropped off mid-transfer), not refused, and is offered again (<c>ModelUpdateOutcome.Code(TransferTimedOut)</c>).</summary>
    private const string TransferTimedOutCode = "transfer-timed-out";

    /// <summary>Reads the device's statuses since the offer: confirmed when it runs the version, refused when it reports a failed
    /// install of it; <c>TransferLost</c> when it only reported that the transfer timed out.</summary>
    private (RolloutDevice Device, bool TransferLost) Observe(RolloutDevice d, string version, DateTimeOffset now)
    {
        bool lost = false;
        foreach (ModelStatusRecord s in store.ReadModelStatuses(d.DeviceId, d.SentUtc!.Value.AddMilliseconds(-1)))
        {
            if (s.ActiveModelVersion == version && s.UpdateResult is ModelUpdateResult.Activated or ModelUpdateResult.None)
            {
                return (d with { State = RolloutDeviceState.Confirmed, ConfirmedUtc = now, ReportedVersion = s.ActiveModelVersion, Reason = null }, false);
            }
            if (s.TargetModelVersion == version && s.UpdateResult is ModelUpdateResult.RejectedSignature or ModelUpdateResult.RejectedHealthCheck or ModelUpdateResult.Failed)
            {
                if (s.UpdateResult == ModelUpdateResult.Failed && s.Reason is { } why && why.StartsWith(TransferTimedOutCode, StringComparison.Ordinal))
                {
                    lost = true;
                    d = d with { ReportedVersion = s.ActiveModelVersion, Reason = $"{s.UpdateResult}: {s.Reason}" };
                    continue;
                }
                return (d with { State = RolloutDeviceState.Refused, ReportedVersion = s.ActiveModelVersion, Reason = $"{s.UpdateResult}: {s.Reason}" }, false);
            }
        }
        return (d, lost);
    }

    private static RolloutRecord Halt(RolloutRecord r, string reason) => r with
    {
        State = RolloutState.RollingBack,
        Reason = reason,
        Devices = r.Devices.Select(d => d.State switch
        {
            RolloutDeviceState.Pending => d with { State = RolloutDeviceState.NotInstalled, Reason = "rollout halted before this step" },
            RolloutDeviceState.WaitingOnline when d.TransferId is null =>
                d with { State = RolloutDeviceState.NotInstalled, Reason = "rollout halted while it was offline, before it was sent the model" },
            // Sent before it dropped off: it may install once back; watched like the other Sent devices and rolled back if it does.
            RolloutDeviceState.WaitingOnline => d with { State = RolloutDeviceState.Sent },
            _ => d,
        }).ToList(),
    };

    /// <summary>
    /// RollingBack: rollback commands to the devices that run the halted version, and their confirmations. Also the newest
    /// RolledBack rollout (<paramref name="r"/> already finished): its devices that were offline at the halt get the rollback when
    /// they are back, and a device that reports the halted version later (it installed after the halt) is rolled back too.
    /// A rollback is sent once per device: a second one would switch its slots back to the halted version.
    /// </summary>
    private async Task<RolloutRecord> AdvanceRollingBackAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        DateTimeOffset now = clock.GetUtcNow();
        bool finished = r.State == RolloutState.RolledBack;
        Dictionary<string, DeviceRecord> fleet = ReadFleet();
        var devices = r.Devices.ToList();
        bool waiting = false;
        for (int i = 0; i < devices.Count; i++)
        {
            RolloutDevice d = devices[i];
            if (d.State == RolloutDeviceState.Sent)
            {
                // Sent before the halt: it may still install the model (it may have timed out only because it was offline);
                // it is watched for one more confirm timeout and, if it installs, rolled back like the others.
                d = Observe(d, r.ModelVersion, now).Device;
                if (d.State == RolloutDeviceState.Sent && now - d.SentUtc > 2 * Rules.ConfirmTimeout)
                {
                    d = d with { State = RolloutDeviceState.NotInstalled, Reason = "no model status within the confirm timeout" };
                }
            }
            else if (finished && d.State is RolloutDeviceState.NotInstalled or RolloutDeviceState.Deferred && d.SentUtc is not null
                && Observe(d, r.ModelVersion, now).Device is { State: RolloutDeviceState.Confirmed } late)
            {
                // It had the whole transfer when it went away and installed it on its return.
                d = late with { Reason = "installed the halted version after the rollback" };
            }
            if (d.State == RolloutDeviceState.Confirmed)
            {
                DeviceRecord? device = fleet.GetValueOrDefault(d.DeviceId);
                if (!IsOnline(device, now))
                {
                    // The command would be lost (no session for an offline device): it goes when the device is back, even after
                    // the rollout finished; the rollout does not wait for it.
                    DateTimeOffset since = device?.LastSeenUtc ?? d.OfflineSinceUtc ?? now;
                    d = d with
                    {
                        OfflineSinceUtc = since,
                        Reason = string.Create(CultureInfo.InvariantCulture, $"offline since {since:u}: the rollback goes when it is back online"),
                    };
                }
                else
                {
                    DateTimeOffset sent = clock.GetUtcNow();
                    await publisher().PublishCommandAsync(d.DeviceId, ModelTransfer.RollbackCommand, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                    d = d with { State = RolloutDeviceState.RollingBack, RollbackSentUtc = sent, OfflineSinceUtc = null, Reason = null };
                    logger.LogInformation("rollout {Id}: rollback sent to {Device}", r.Id, d.DeviceId);
                }
            }
            if (d.State == RolloutDeviceState.RollingBack)
            {
                foreach (ModelStatusRecord s in store.ReadModelStatuses(d.DeviceId, d.RollbackSentUtc!.Value.AddMilliseconds(-1)))
                {
                    // The device's rollback switches to its previous slot: confirmed once the device reports running anything but
                    // the halted version. Not "the version it ran before" alone: FromVersion is the gateway's view when the rollout
                    // was created, and the device's slot is the authority (the reported version is kept for the record).
                    if (s.ActiveModelVersion != r.ModelVersion)
                    {
                        d = d with { State = RolloutDeviceState.RolledBack, RolledBackUtc = now, ReportedVersion = s.ActiveModelVersion, Reason = s.Reason };
                        break;
                    }
                    if (s.UpdateResult != ModelUpdateResult.None && s.UpdateResult != ModelUpdateResult.Activated)
                    {
                        d = d with { Reason = $"{s.UpdateResult}: {s.Reason}" }; // e.g. no-previous-model: keeps waiting until the timeout
                    }
                }
                if (d.State == RolloutDeviceState.RollingBack && now - d.RollbackSentUtc <= Rules.ConfirmTimeout)
                {
                    waiting = true;
                }
            }
            waiting |= d.State == RolloutDeviceState.Sent;
            devices[i] = d;
        }
        if (finished)
        {
            return devices.SequenceEqual(r.Devices) ? r : r with { Devices = devices, UpdatedUtc = now };
        }
        r = r with { Devices = devices, UpdatedUtc = now };
        if (!waiting)
        {
            int unconfirmed = devices.Count(d => d.State == RolloutDeviceState.RollingBack);
            string[] away = devices.Where(d => d.State == RolloutDeviceState.Confirmed).Select(d => d.DeviceId).ToArray();
            string reason = r.Reason ?? string.Empty;
            if (unconfirmed > 0)
            {
                reason += string.Create(CultureInfo.InvariantCulture, $"; {unconfirmed} devices did not confirm the rollback");
            }
            if (away.Length > 0)
            {
                reason += string.Create(CultureInfo.InvariantCulture,
                    $"; {away.Length} device(s) run {r.ModelVersion} and are offline, the rollback goes when they are back: {string.Join(", ", away)}");
            }
            r = r with { State = RolloutState.RolledBack, FinishedUtc = now, Reason = reason };
        }
        return r;
    }

    private FaWatch Watch(RolloutRecord r, DateTimeOffset now)
    {
        FaActivity fresh = Activity(r, r.StartedUtc, now, onlyRolloutDevices: true, r.ModelVersion);
        FaActivity old = r.PreviousVersion is { } previous ? Activity(r, now - Rules.ComparisonWindow, now, onlyRolloutDevices: false, previous) : default;
        double? offline = r.PreviousVersion is { } p && store.TryGetRegisteredModel(p, out RegisteredModel? m) ? m!.FaPerHour : null;
        return ProductionFaRule.Evaluate(fresh, old, offline, Rules, now);
    }

    private FaActivity Activity(RolloutRecord r, DateTimeOffset fromUtc, DateTimeOffset toUtc, bool onlyRolloutDevices, string version)
    {
        if (toUtc <= fromUtc)
        {
            return default;
        }
        HashSet<string> ids = r.Devices.Select(d => d.DeviceId).ToHashSet(StringComparer.Ordinal);
        double seconds = 0;
        long falseAccepts = 0, pending = 0;
        // One bucket covering the whole range: the store sums per (device, version).
        foreach (ActivityRow row in store.ReadActivity(fromUtc, toUtc, (toUtc - fromUtc) + TimeSpan.FromDays(1)))
        {
            if (row.ModelVersion == version && (!onlyRolloutDevices || ids.Contains(row.DeviceId)))
            {
                seconds += row.ListeningSeconds;
                falseAccepts += row.FalseAccepts;
                pending += row.PendingReview;
            }
        }
        return new FaActivity(seconds / 3600.0, falseAccepts, pending);
    }

    private RolloutRecord? Save(RolloutRecord r) => store.TryUpdateRollout(r with { UpdatedUtc = clock.GetUtcNow() });
}
