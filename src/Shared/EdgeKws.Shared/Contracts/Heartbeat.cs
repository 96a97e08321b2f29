namespace EdgeKws.Shared.Contracts;

/// <summary>
/// Periodic device health, published on <c>edgekws/v1/{deviceId}/heartbeat</c>.
/// </summary>
/// <remarks>
/// <para>Two kinds of count. The top-level counts (<see cref="ListeningSeconds"/>, <see cref="Detections"/>,
/// <see cref="AudioOverruns"/>, <see cref="OutboxEvictedCount"/>, <see cref="OutboxExpiredCount"/>) cover one interval;
/// they are what the first agents sent and what older gateways sum. <see cref="Totals"/> (optional, added to schema 1
/// compatibly: older gateways ignore unknown members, newer ones accept heartbeats without it) carries cumulative
/// totals since the device's first start. A receiver that has totals takes differences between the heartbeats it
/// gets, so a heartbeat that is lost or that the device's outbox evicted costs time resolution, never listening
/// seconds (the FA/hour denominator). Without totals, a lost heartbeat loses its interval.</para>
/// </remarks>
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

    /// <summary>Cumulative totals since the device's first start; null from devices that predate them.</summary>
    public HeartbeatTotals? Totals { get; init; }

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
        if (Totals is not null && !Totals.TryValidate(out reason))
        {
            reason = "totals." + reason;
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

/// <summary>
/// Totals a device has counted since its first start (the creation of its outbox): they only grow, and they survive
/// restarts. A device whose state is lost starts again from zero under a new <see cref="Epoch"/>.
/// </summary>
public sealed class HeartbeatTotals
{
    /// <summary>Longest epoch id accepted.</summary>
    public const int MaxEpochLength = 64;

    /// <summary>Identifies the counting run: the same value as long as the totals keep growing; a new value when the
    /// device's counters restarted from zero (lost or corrupt state). 1 to 64 characters of [0-9a-z-].</summary>
    public string Epoch { get; init; } = string.Empty;

    /// <summary>Seconds of audio run through the detector (the FA/hour denominator).</summary>
    public double ListeningSeconds { get; init; }

    /// <summary>Detections raised.</summary>
    public long Detections { get; init; }

    /// <summary>Capture overruns (audio lost because processing fell behind).</summary>
    public long AudioOverruns { get; init; }

    /// <summary>What the device's outbox did with each kind of message.</summary>
    public OutboxTotals Outbox { get; init; } = new();

    /// <summary>Near misses found (score peaks in the band below the threshold, <see cref="NearMissReport"/>), those dropped by the
    /// rate limit included. Optional (added after the first agents; null from a device that predates near misses): older readers
    /// ignore it. Never part of <see cref="Detections"/>.</summary>
    public long? NearMisses { get; init; }

    /// <summary>Near misses found but not sent because the per-hour rate limit was exhausted (part of <see cref="NearMisses"/>). Optional.</summary>
    public long? NearMissesRateLimited { get; init; }

    /// <summary>Checks every field; the reason names the first bad one.</summary>
    public bool TryValidate(out string reason)
    {
        if (string.IsNullOrEmpty(Epoch) || Epoch.Length > MaxEpochLength)
        {
            reason = $"epoch must be 1 to {MaxEpochLength} characters, got {Epoch?.Length ?? 0}";
            return false;
        }
        foreach (char c in Epoch)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'z') or '-'))
            {
                reason = $"epoch '{Check.Truncate(Epoch)}' may contain only 0-9, a-z and '-'";
                return false;
            }
        }
        if (!(Check.NonNegative("listeningSeconds", ListeningSeconds, out reason)
            && Check.NonNegative("detections", Detections, out reason)
            && Check.NonNegative("audioOverruns", AudioOverruns, out reason)
            && Check.NonNegative("nearMisses", NearMisses ?? 0, out reason)
            && Check.NonNegative("nearMissesRateLimited", NearMissesRateLimited ?? 0, out reason)))
        {
            return false;
        }
        if (NearMissesRateLimited > (NearMisses ?? 0))
        {
            reason = $"nearMissesRateLimited {NearMissesRateLimited} exceeds nearMisses {NearMisses ?? 0}";
            return false;
        }
        if (Outbox is null)
        {
            reason = "outbox is required";
            return false;
        }
        return Outbox.TryValidate(out reason);
    }
}

/// <summary>Outbox totals per kind of message (the outbox's classes are the uplink message kinds).</summary>
public sealed class OutboxTotals
{
    /// <summary>Detections (the FA/hour numerator).</summary>
    public OutboxClassTotals Detection { get; init; } = new();

    /// <summary>Heartbeats.</summary>
    public OutboxClassTotals Heartbeat { get; init; } = new();

    /// <summary>Drift sketches.</summary>
    public OutboxClassTotals DriftSketch { get; init; } = new();

    /// <summary>Feature clips.</summary>
    public OutboxClassTotals ClipFeatures { get; init; } = new();

    /// <summary>Raw audio clips.</summary>
    public OutboxClassTotals ClipAudio { get; init; } = new();

    /// <summary>Model status reports.</summary>
    public OutboxClassTotals ModelStatus { get; init; } = new();

    /// <summary>Enrollment QC reports.</summary>
    public OutboxClassTotals EnrollmentQc { get; init; } = new();

    /// <summary>Near misses (the report and its clip frames share the outbox class). Optional: null from a device that predates
    /// near misses; older readers ignore it.</summary>
    public OutboxClassTotals? NearMiss { get; init; }

    /// <summary>The kinds in a fixed order with their wire names (for reports and loops).</summary>
    public IEnumerable<(string Kind, OutboxClassTotals Totals)> All()
    {
        yield return ("detection", Detection);
        yield return ("heartbeat", Heartbeat);
        yield return ("driftSketch", DriftSketch);
        yield return ("clipFeatures", ClipFeatures);
        yield return ("clipAudio", ClipAudio);
        yield return ("modelStatus", ModelStatus);
        yield return ("enrollmentQc", EnrollmentQc);
        if (NearMiss is not null)
        {
            yield return ("nearMiss", NearMiss);
        }
    }

    /// <summary>Checks every class; the reason names the first bad field.</summary>
    public bool TryValidate(out string reason)
    {
        foreach ((string kind, OutboxClassTotals totals) in All())
        {
            if (totals is null)
            {
                reason = $"outbox.{kind} is required";
                return false;
            }
            if (!totals.TryValidate(out reason))
            {
                reason = $"outbox.{kind}.{reason}";
                return false;
            }
        }
        reason = string.Empty;
        return true;
    }
}

/// <summary>What happened to the messages of one kind, counted since the device's first start.</summary>
public sealed class OutboxClassTotals
{
    /// <summary>Stored in the outbox (to be sent).</summary>
    public long Written { get; init; }

    /// <summary>Removed unsent to make room (quota or full disk).</summary>
    public long Evicted { get; init; }

    /// <summary>Removed unsent past their time to live.</summary>
    public long Expired { get; init; }

    /// <summary>Not stored: refused (too large, or the store was full of messages it may not evict) or the write failed (full disk, I/O error).</summary>
    public long Failed { get; init; }

    /// <summary>Never reached the outbox: dropped by the device before the write (its writer queue was full).</summary>
    public long Dropped { get; init; }

    /// <summary>Messages lost: evicted + expired + failed + dropped (computed, not on the wire).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long Lost => Evicted + Expired + Failed + Dropped;

    /// <summary>Checks that every count is non-negative.</summary>
    public bool TryValidate(out string reason) =>
        Check.NonNegative("written", Written, out reason)
        && Check.NonNegative("evicted", Evicted, out reason)
        && Check.NonNegative("expired", Expired, out reason)
        && Check.NonNegative("failed", Failed, out reason)
        && Check.NonNegative("dropped", Dropped, out reason);
}
