namespace EdgeKws.Shared.Contracts;

/// <summary>
/// Periodic device health, published on <c>edgekws/v1/{deviceId}/heartbeat</c>. Counts are per
/// interval (not cumulative) so the gateway can sum them over any window and a reboot needs no
/// special handling; <see cref="ListeningSeconds"/> is the FA/hour denominator.
/// </summary>
public sealed class Heartbeat : IWireMessage
{
    /// <summary>Longest interval a heartbeat may cover (a device that was offline sends on reconnect).</summary>
    public const double MaxIntervalSeconds = 24 * 3600;

    /// <inheritdoc />
    public int SchemaVersion { get; init; } = WireLimits.SchemaVersion;

    /// <summary>The reporting device.</summary>
    public string DeviceId { get; init; } = string.Empty;

    /// <summary>Device wall-clock time at the end of the interval, UTC.</summary>
    public DateTimeOffset DeviceTimeUtc { get; init; }

    /// <summary>Length of the interval this heartbeat covers.</summary>
    public double IntervalSeconds { get; init; }

    /// <summary>Seconds of audio actually run through the detector in the interval (excludes overruns and pauses).</summary>
    public double ListeningSeconds { get; init; }

    /// <summary>Detections fired in the interval.</summary>
    public int Detections { get; init; }

    /// <summary>Capture overruns (audio lost because processing fell behind) in the interval.</summary>
    public int AudioOverruns { get; init; }

    /// <summary>Messages waiting in the outbox at the end of the interval.</summary>
    public long OutboxDepthCount { get; init; }

    /// <summary>Bytes waiting in the outbox at the end of the interval.</summary>
    public long OutboxDepthBytes { get; init; }

    /// <summary>Messages the outbox evicted in the interval to stay under its byte quota.</summary>
    public long OutboxEvictedCount { get; init; }

    /// <summary>Messages the outbox dropped in the interval because they outlived their time to live.</summary>
    public long OutboxExpiredCount { get; init; }

    /// <summary>Active model version.</summary>
    public string ModelVersion { get; init; } = string.Empty;

    /// <summary>Resident set size of the agent process.</summary>
    public long RssBytes { get; init; }

    /// <summary>Seconds since the agent started.</summary>
    public double UptimeSeconds { get; init; }

    /// <inheritdoc />
    public bool TryValidate(out string reason)
    {
        if (!(Check.Schema(SchemaVersion, out reason)
            && Check.DeviceId(DeviceId, out reason)
            && Check.Time("deviceTimeUtc", DeviceTimeUtc, out reason)
            && Check.NonNegative("intervalSeconds", IntervalSeconds, out reason)
            && Check.NonNegative("listeningSeconds", ListeningSeconds, out reason)
            && Check.NonNegative("detections", Detections, out reason)
            && Check.NonNegative("audioOverruns", AudioOverruns, out reason)
            && Check.NonNegative("outboxDepthCount", OutboxDepthCount, out reason)
            && Check.NonNegative("outboxDepthBytes", OutboxDepthBytes, out reason)
            && Check.NonNegative("outboxEvictedCount", OutboxEvictedCount, out reason)
            && Check.NonNegative("outboxExpiredCount", OutboxExpiredCount, out reason)
            && Check.Text("modelVersion", ModelVersion, WireLimits.MaxModelVersionLength, required: true, out reason)
            && Check.NonNegative("rssBytes", RssBytes, out reason)
            && Check.NonNegative("uptimeSeconds", UptimeSeconds, out reason)))
        {
            return false;
        }
        if (IntervalSeconds == 0 || IntervalSeconds > MaxIntervalSeconds)
        {
            reason = $"intervalSeconds must be in (0, {MaxIntervalSeconds}], got {IntervalSeconds}";
            return false;
        }
        // A 1 % allowance covers timer jitter between the capture clock and the heartbeat timer.
        if (ListeningSeconds > IntervalSeconds * 1.01)
        {
            reason = $"listeningSeconds {ListeningSeconds} exceeds intervalSeconds {IntervalSeconds}";
            return false;
        }
        return true;
    }
}
