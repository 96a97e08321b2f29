namespace EdgeKws.Device.Outbox;

/// <summary>
/// The outbox's fixed retention rules: default time to live per class, and the order in which
/// classes are evicted when the store is full (its byte quota, its page cap, or the disk).
/// </summary>
/// <remarks>
/// <para><b>Eviction</b> happens only when an enqueue would not fit: past the data quota, past the database's page cap,
/// or on a full disk (see <see cref="OutboxBudget"/>); the same order applies to all three. Expired messages are dropped
/// first (they would never be sent anyway). Then, oldest first within each step:</para>
/// <list type="number">
/// <item><see cref="OutboxMessageClass.NearMiss"/>: near misses (report and clip) are extra dataset material, the least essential of all:
/// they go before any trigger clip, so a near miss never costs a detection's clip.</item>
/// <item><see cref="OutboxMessageClass.ClipAudio"/>: largest and least essential; raw audio is also the data we least want lingering.</item>
/// <item><see cref="OutboxMessageClass.ClipFeatures"/>: useful for datasets, not for operations.</item>
/// <item><see cref="OutboxMessageClass.Sketch"/>: drift sketches are mergeable summaries; losing old ones costs resolution of the drift windows.</item>
/// <item><see cref="OutboxMessageClass.EnrollmentQc"/>: small and rare.</item>
/// <item><see cref="OutboxMessageClass.ModelStatus"/>: a newer status supersedes an older one.</item>
/// <item><see cref="OutboxMessageClass.Heartbeat"/>, except the newest heartbeat. The agent's heartbeats carry cumulative
/// totals since the device's first start (<c>Heartbeat.Totals</c> on the wire: listening seconds, detections, and per class
/// written/evicted/expired/failed/dropped), persisted in this store with the message that carries them. The gateway takes
/// differences between the heartbeats it receives, so dropping an older one loses time resolution, never the FA/hour
/// denominator: the next heartbeat carries the totals. (Their per-interval fields, kept for older gateways, lose the
/// interval; docs/outbox.md.) This is coalescing by construction, without the outbox parsing payloads.</item>
/// <item><see cref="OutboxMessageClass.Detection"/>: dropping a detection silently lowers FA/hour and
/// would make a bad model look good in a rollout gate, so detections go only when nothing else remains.</item>
/// <item>The newest <see cref="OutboxMessageClass.Heartbeat"/>.</item>
/// </list>
/// <para>An incoming message may only evict messages of its own class or of classes earlier in that
/// list: a new audio clip never pushes out a detection. When that cannot free enough room, the
/// incoming message is refused (<see cref="EnqueueStatus.RefusedQuotaFull"/>, or <see cref="EnqueueStatus.RefusedDiskFull"/>
/// on a full disk) and counted.</para>
/// <para>Every eviction, expiry, refusal and failure is counted per class, persisted, and reported by
/// <see cref="OutboxStore.GetStats"/>; the next heartbeat carries the cumulative counts, so the gateway sees what was lost.</para>
/// </remarks>
public static class OutboxPolicy
{
    /// <summary>All classes, in persisted-value order.</summary>
    public static ReadOnlySpan<OutboxMessageClass> AllClasses =>
    [
        OutboxMessageClass.Detection, OutboxMessageClass.Heartbeat, OutboxMessageClass.Sketch,
        OutboxMessageClass.ClipFeatures, OutboxMessageClass.ClipAudio, OutboxMessageClass.EnrollmentQc,
        OutboxMessageClass.ModelStatus, OutboxMessageClass.NearMiss,
    ];

    /// <summary>Classes in eviction order, first evicted first (the newest-heartbeat rule is applied on top).</summary>
    public static ReadOnlySpan<OutboxMessageClass> EvictionOrder =>
    [
        OutboxMessageClass.NearMiss, OutboxMessageClass.ClipAudio, OutboxMessageClass.ClipFeatures, OutboxMessageClass.Sketch,
        OutboxMessageClass.EnrollmentQc, OutboxMessageClass.ModelStatus, OutboxMessageClass.Heartbeat,
        OutboxMessageClass.Detection,
    ];

    internal const int ClassSlots = 9; // persisted values are 1..8; index 0 unused

    /// <summary>True when <paramref name="messageClass"/> is one of the defined classes.</summary>
    public static bool IsDefined(OutboxMessageClass messageClass) =>
        messageClass >= OutboxMessageClass.Detection && messageClass <= OutboxMessageClass.NearMiss;

    /// <summary>Position in <see cref="EvictionOrder"/>: lower is evicted sooner.</summary>
    public static int RetentionRank(OutboxMessageClass messageClass) => messageClass switch
    {
        OutboxMessageClass.NearMiss => 0,
        OutboxMessageClass.ClipAudio => 1,
        OutboxMessageClass.ClipFeatures => 2,
        OutboxMessageClass.Sketch => 3,
        OutboxMessageClass.EnrollmentQc => 4,
        OutboxMessageClass.ModelStatus => 5,
        OutboxMessageClass.Heartbeat => 6,
        OutboxMessageClass.Detection => 7,
        _ => throw new ArgumentOutOfRangeException(nameof(messageClass), messageClass, "Not a defined outbox message class."),
    };

    /// <summary>
    /// Default time to live. Past it a message is dropped unsent and counted as expired. Long for
    /// the FA/hour inputs (a gateway outage of weeks must not lose them), 7 days for drift sketches
    /// (the longest drift window), short for raw audio (consent data should not sit on a device).
    /// </summary>
    public static TimeSpan DefaultTimeToLive(OutboxMessageClass messageClass) => messageClass switch
    {
        OutboxMessageClass.Detection => TimeSpan.FromDays(30),
        OutboxMessageClass.Heartbeat => TimeSpan.FromDays(30),
        OutboxMessageClass.Sketch => TimeSpan.FromDays(7),
        OutboxMessageClass.ClipFeatures => TimeSpan.FromDays(3),
        OutboxMessageClass.ClipAudio => TimeSpan.FromDays(1),
        OutboxMessageClass.EnrollmentQc => TimeSpan.FromDays(7),
        OutboxMessageClass.ModelStatus => TimeSpan.FromDays(7),
        OutboxMessageClass.NearMiss => TimeSpan.FromDays(1), // may hold consented raw audio, which should not sit on a device
        _ => throw new ArgumentOutOfRangeException(nameof(messageClass), messageClass, "Not a defined outbox message class."),
    };
}
