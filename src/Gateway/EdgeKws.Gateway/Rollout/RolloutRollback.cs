using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;
using Microsoft.Extensions.Logging;

namespace EdgeKws.Gateway.Rollout;

/// <summary>
/// The way back: <see cref="Halt"/> stops a rollout (devices not yet sent the model are left alone), then the rollback command
/// goes to every device that runs the halted version (when it is online, once) and each must confirm it runs something else.
/// Changes when how a halted version is taken off the fleet changes.
/// </summary>
internal sealed class RolloutRollback(IGatewayStore store, RolloutDeviceTracker tracker, ModelTransferSender sender, ModelLoopOptions options,
    TimeProvider clock, ILogger logger)
{
    private RolloutOptions Rules => options.Rollout;

    /// <summary>The rollout in state RollingBack with <paramref name="reason"/>: the next <see cref="AdvanceAsync"/> sends the rollbacks.</summary>
    public static RolloutRecord Halt(RolloutRecord r, string reason) => r with
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
    public async Task<RolloutRecord> AdvanceAsync(RolloutRecord r, CancellationToken cancellationToken)
    {
        DateTimeOffset now = clock.GetUtcNow();
        bool finished = r.State == RolloutState.RolledBack;
        Dictionary<string, DeviceRecord> fleet = tracker.ReadFleet();
        var devices = r.Devices.ToList();
        bool waiting = false;
        for (int i = 0; i < devices.Count; i++)
        {
            RolloutDevice d = devices[i];
            if (d.State == RolloutDeviceState.Sent)
            {
                // Sent before the halt: it may still install the model (it may have timed out only because it was offline);
                // it is watched for one more confirm timeout and, if it installs, rolled back like the others.
                d = tracker.Observe(d, r.ModelVersion, now).Device;
                if (d.State == RolloutDeviceState.Sent && now - d.SentUtc > 2 * Rules.ConfirmTimeout)
                {
                    d = d with { State = RolloutDeviceState.NotInstalled, Reason = "no model status within the confirm timeout" };
                }
            }
            else if (finished && d.State is RolloutDeviceState.NotInstalled or RolloutDeviceState.Deferred && d.SentUtc is not null
                && tracker.Observe(d, r.ModelVersion, now).Device is { State: RolloutDeviceState.Confirmed } late)
            {
                // It had the whole transfer when it went away and installed it on its return.
                d = late with { Reason = "installed the halted version after the rollback" };
            }
            if (d.State == RolloutDeviceState.Confirmed)
            {
                DeviceRecord? device = fleet.GetValueOrDefault(d.DeviceId);
                if (!tracker.IsOnline(device, now))
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
                    await sender.SendRollbackAsync(d.DeviceId, cancellationToken).ConfigureAwait(false);
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
}
