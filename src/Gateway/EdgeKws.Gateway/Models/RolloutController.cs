using System.Globalization;
using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Models;

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
        var devices = r.Devices.ToList();
        string? halt = null;
        for (int i = 0; i < devices.Count; i++)
        {
            RolloutDevice d = devices[i];
            if (d.State != RolloutDeviceState.Sent)
            {
                continue;
            }
            devices[i] = d = Observe(d, r.ModelVersion, now);
            if (d.State == RolloutDeviceState.Refused)
            {
                halt ??= $"device '{d.DeviceId}' refused {r.ModelVersion}: {d.Reason}";
            }
            else if (d.State == RolloutDeviceState.Sent && now - d.SentUtc > Rules.ConfirmTimeout)
            {
                halt ??= $"device '{d.DeviceId}' did not confirm {r.ModelVersion} within {Rules.ConfirmTimeout}";
            }
        }
        r = r with { Devices = devices };
        if (halt is null && devices.Any(d => d.State == RolloutDeviceState.Confirmed))
        {
            FaWatch watch = Watch(r, now);
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

        List<RolloutDevice> step = devices.Where(d => d.Step == r.Step).ToList();
        if (step.Any(d => d.State == RolloutDeviceState.Pending))
        {
            return await SendStepAsync(r, cancellationToken).ConfigureAwait(false);
        }
        if (step.All(d => d.State == RolloutDeviceState.Confirmed))
        {
            DateTimeOffset confirmed = r.StepConfirmedUtc ?? now;
            r = r with { StepConfirmedUtc = confirmed };
            double soaked = r.SoakListeningHours <= 0 ? 0 : Activity(r, confirmed, now, onlyRolloutDevices: true, r.ModelVersion).ListeningHours;
            if (soaked >= r.SoakListeningHours)
            {
                if (r.Step == r.StepCount - 1)
                {
                    return r with { State = RolloutState.Completed, FinishedUtc = now, UpdatedUtc = now };
                }
                r = r with { Step = r.Step + 1, StepConfirmedUtc = null, UpdatedUtc = now };
                return await SendStepAsync(r, cancellationToken).ConfigureAwait(false);
            }
        }
        return r;
    }

    private async Task<RolloutRecord> SendStepAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        if (!store.TryGetModelPackage(r.ModelVersion, out ModelPackage? package))
        {
            return Halt(r, $"the package of '{r.ModelVersion}' is missing from the registry");
        }
        var devices = r.Devices.ToList();
        for (int i = 0; i < devices.Count; i++)
        {
            if (devices[i].Step != r.Step || devices[i].State != RolloutDeviceState.Pending)
            {
                continue;
            }
            var transfer = Guid.NewGuid();
            DateTimeOffset sent = clock.GetUtcNow();
            await SendModelAsync(devices[i].DeviceId, transfer, package!, cancellationToken).ConfigureAwait(false);
            devices[i] = devices[i] with { State = RolloutDeviceState.Sent, TransferId = transfer, SentUtc = sent };
            logger.LogInformation("rollout {Id}: sent {Version} to {Device} (step {Step})", r.Id, r.ModelVersion, devices[i].DeviceId, r.Step);
        }
        return r with { Devices = devices, UpdatedUtc = clock.GetUtcNow() };
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

    /// <summary>Reads the device's statuses since the offer: confirmed when it runs the version, refused when it reports a failed install of it.</summary>
    private RolloutDevice Observe(RolloutDevice d, string version, DateTimeOffset now)
    {
        foreach (ModelStatusRecord s in store.ReadModelStatuses(d.DeviceId, d.SentUtc!.Value.AddMilliseconds(-1)))
        {
            if (s.ActiveModelVersion == version && s.UpdateResult is ModelUpdateResult.Activated or ModelUpdateResult.None)
            {
                return d with { State = RolloutDeviceState.Confirmed, ConfirmedUtc = now, ReportedVersion = s.ActiveModelVersion, Reason = null };
            }
            if (s.TargetModelVersion == version && s.UpdateResult is ModelUpdateResult.RejectedSignature or ModelUpdateResult.RejectedHealthCheck or ModelUpdateResult.Failed)
            {
                return d with { State = RolloutDeviceState.Refused, ReportedVersion = s.ActiveModelVersion, Reason = $"{s.UpdateResult}: {s.Reason}" };
            }
        }
        return d;
    }

    private static RolloutRecord Halt(RolloutRecord r, string reason) => r with
    {
        State = RolloutState.RollingBack,
        Reason = reason,
        Devices = r.Devices.Select(d => d.State == RolloutDeviceState.Pending ? d with { State = RolloutDeviceState.NotInstalled, Reason = "rollout halted before this step" } : d).ToList(),
    };

    private async Task<RolloutRecord> AdvanceRollingBackAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        DateTimeOffset now = clock.GetUtcNow();
        var devices = r.Devices.ToList();
        bool waiting = false;
        for (int i = 0; i < devices.Count; i++)
        {
            RolloutDevice d = devices[i];
            if (d.State == RolloutDeviceState.Sent)
            {
                // Sent before the halt: it may still install the model (it may have timed out only because it was offline);
                // it is watched for one more confirm timeout and, if it installs, rolled back like the others.
                d = Observe(d, r.ModelVersion, now);
                if (d.State == RolloutDeviceState.Sent && now - d.SentUtc > 2 * Rules.ConfirmTimeout)
                {
                    d = d with { State = RolloutDeviceState.NotInstalled, Reason = "no model status within the confirm timeout" };
                }
            }
            if (d.State == RolloutDeviceState.Confirmed)
            {
                DateTimeOffset sent = clock.GetUtcNow();
                await publisher().PublishCommandAsync(d.DeviceId, ModelTransfer.RollbackCommand, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                d = d with { State = RolloutDeviceState.RollingBack, RollbackSentUtc = sent };
                logger.LogInformation("rollout {Id}: rollback sent to {Device}", r.Id, d.DeviceId);
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
        r = r with { Devices = devices, UpdatedUtc = now };
        if (!waiting)
        {
            int unconfirmed = devices.Count(d => d.State == RolloutDeviceState.RollingBack);
            r = r with
            {
                State = RolloutState.RolledBack,
                FinishedUtc = now,
                Reason = unconfirmed == 0 ? r.Reason : string.Create(CultureInfo.InvariantCulture, $"{r.Reason}; {unconfirmed} devices did not confirm the rollback"),
            };
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
        long falseAccepts = 0;
        // One bucket covering the whole range: the store sums per (device, version).
        foreach (ActivityRow row in store.ReadActivity(fromUtc, toUtc, (toUtc - fromUtc) + TimeSpan.FromDays(1)))
        {
            if (row.ModelVersion == version && (!onlyRolloutDevices || ids.Contains(row.DeviceId)))
            {
                seconds += row.ListeningSeconds;
                falseAccepts += row.FalseAccepts;
            }
        }
        return new FaActivity(seconds / 3600.0, falseAccepts);
    }

    private RolloutRecord? Save(RolloutRecord r) => store.TryUpdateRollout(r with { UpdatedUtc = clock.GetUtcNow() });
}
