using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Rollout;

/// <summary>
/// Moves a running rollout through its steps: the offers to the devices that are due (<see cref="RolloutDeviceTracker"/> says
/// which), the FA/hour watch once devices confirmed (<see cref="RolloutFaWatch"/>), and when every device of the step confirmed
/// (or was deferred) and the step soaked its listening hours, the next wave or completion. Halts (<see cref="RolloutRollback.Halt"/>)
/// on the first reason to stop. After completion, the catch-up of devices that come back. Changes when the staging rules change.
/// </summary>
internal sealed class RolloutWaves(IGatewayStore store, RolloutDeviceTracker tracker, ModelTransferSender sender, RolloutFaWatch faWatch,
    ModelLoopOptions options, TimeProvider clock, ILogger logger)
{
    private RolloutOptions Rules => options.Rollout;

    /// <summary>One pass over a Running rollout; the result is Running, Completed or RollingBack.</summary>
    public async Task<RolloutRecord> AdvanceAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        DateTimeOffset now = clock.GetUtcNow();
        Dictionary<string, DeviceRecord> fleet = tracker.ReadFleet();
        (r, string? halt) = await DispatchAsync(r, fleet, now, catchUp: false, cancellationToken).ConfigureAwait(false);
        FaWatch? watch = null;
        if (halt is null && r.Devices.Any(d => d.State == RolloutDeviceState.Confirmed))
        {
            watch = faWatch.Watch(r, now);
            r = r with { Watch = watch };
            if (watch.Trip)
            {
                halt = watch.Verdict;
            }
        }
        if (halt is not null)
        {
            return RolloutRollback.Halt(r, halt);
        }

        List<RolloutDevice> step = r.Devices.Where(d => d.Step == r.Step).ToList();
        if (step.All(d => d.State is RolloutDeviceState.Confirmed or RolloutDeviceState.Deferred))
        {
            if (r.Step == 0 && step.All(d => d.State == RolloutDeviceState.Deferred))
            {
                // The canaries are the evidence the waves go on: with none of them back, nothing has judged the version.
                return RolloutRollback.Halt(r, $"every canary was offline longer than the {Rules.OfflineGrace} grace: none confirmed {r.ModelVersion}");
            }
            DateTimeOffset confirmed = r.StepConfirmedUtc ?? now;
            r = r with { StepConfirmedUtc = confirmed };
            double soaked = r.SoakListeningHours <= 0 ? 0 : faWatch.ListeningHours(r, confirmed, now);
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
                return halt is null ? r : RolloutRollback.Halt(r, halt);
            }
        }
        return r;
    }
    /// <summary>A Completed rollout's pass over its deferred devices and the ones caught up since (<see cref="DispatchAsync"/> with catch-up).</summary>
    public async Task<RolloutRecord> CatchUpAsync(RolloutRecord r, CancellationToken cancellationToken) =>
        (await DispatchAsync(r, tracker.ReadFleet(), clock.GetUtcNow(), catchUp: true, cancellationToken).ConfigureAwait(false)).Rollout;

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
            d = tracker.Track(d, r.ModelVersion, fleet.GetValueOrDefault(d.DeviceId), now, out bool send, out string? problem);
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
                await sender.SendModelAsync(d.DeviceId, transfer, package!, cancellationToken).ConfigureAwait(false);
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
}
