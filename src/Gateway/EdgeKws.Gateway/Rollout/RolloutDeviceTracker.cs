using System.Globalization;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Rollout;

/// <summary>
/// One device's state in a rollout, from what the store says about it: its model statuses since the last offer (confirmed,
/// refused, transfer lost) and its presence (online, offline: wait, deferred past the grace). Decides when an offer goes
/// (again) and what about the device should halt the rollout. Changes when the rules for slow, sleeping or lost devices change.
/// </summary>
internal sealed class RolloutDeviceTracker(IGatewayStore store, ModelLoopOptions options)
{
    private RolloutOptions Rules => options.Rollout;

    /// <summary>The fleet as the store knows it, by device id.</summary>
    public Dictionary<string, DeviceRecord> ReadFleet() => store.ReadDevices().ToDictionary(d => d.DeviceId, StringComparer.Ordinal);

    /// <summary>
    /// One device's step: its statuses since the last offer (confirmed / refused / transfer lost), its presence (offline: wait,
    /// and defer after the grace; back online: the offer again), the confirm timeout (online time only). <paramref name="send"/>:
    /// publish an offer now. <paramref name="problem"/>: why the rollout should halt (refusal, timeout, transfer lost too often).
    /// </summary>
    public RolloutDevice Track(RolloutDevice d, string version, DeviceRecord? device, DateTimeOffset now, out bool send, out string? problem)
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
    public bool IsOnline(DeviceRecord? device, DateTimeOffset now) =>
        device is { LastSeenUtc: { } seen } && device.Status != nameof(DeviceState.Offline) && now - seen <= Rules.OfflineAfterSilence;

    /// <summary>The device's own failure code (first word of its reason) for chunks that stopped arriving: the transfer was lost
    /// (the device dropped off mid-transfer), not refused, and is offered again (<c>ModelUpdateOutcome.Code(TransferTimedOut)</c>).</summary>
    private const string TransferTimedOutCode = "transfer-timed-out";

    /// <summary>Reads the device's statuses since the offer: confirmed when it runs the version, refused when it reports a failed
    /// install of it; <c>TransferLost</c> when it only reported that the transfer timed out.</summary>
    public (RolloutDevice Device, bool TransferLost) Observe(RolloutDevice d, string version, DateTimeOffset now)
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
}
