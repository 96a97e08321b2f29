namespace EdgeKws.Device.Outbox;

/// <summary>
/// What kind of message an outbox row is. The class decides its time to live and how readily it is
/// evicted when the store is full (see <see cref="OutboxPolicy"/>).
/// </summary>
/// <remarks>
/// The numeric values are persisted in the database: never renumber them, only add new ones.
/// </remarks>
public enum OutboxMessageClass
{
    /// <summary>A keyword detection event: the numerator of FA/hour. Evicted last.</summary>
    Detection = 1,

    /// <summary>Periodic health report: per-interval counts plus cumulative totals since the device's first start
    /// (<c>Heartbeat.Totals</c>: listening seconds, the FA/hour denominator, and what the outbox lost), so a lost or
    /// evicted heartbeat costs time resolution, not listening time.</summary>
    Heartbeat = 2,

    /// <summary>Mergeable feature sketch for drift monitoring (PSI/KS against the baseline).</summary>
    Sketch = 3,

    /// <summary>Features (MFCCs) of a trigger clip.</summary>
    ClipFeatures = 4,

    /// <summary>Raw audio of a trigger clip, only with the user's consent. Largest, evicted first.</summary>
    ClipAudio = 5,

    /// <summary>Enrollment quality summary (SNR, duration, clipping...). Never the voice print itself.</summary>
    EnrollmentQc = 6,

    /// <summary>Model slot status: verification, health check, swap or rollback results.</summary>
    ModelStatus = 7,

    /// <summary>A near miss (score peak just below the threshold) and its clip frame: dataset material for missed keywords,
    /// never a detection. Evicted first of all (schema 3).</summary>
    NearMiss = 8,
}
