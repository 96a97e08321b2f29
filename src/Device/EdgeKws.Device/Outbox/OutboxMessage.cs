using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Outbox;

/// <summary>One stored message as handed to the uplink by <see cref="OutboxStore.PeekBatch"/>.</summary>
/// <param name="Sequence">Per-device sequence number, assigned at enqueue, never reused. Carry it
/// in the MQTT user properties so the gateway can upsert idempotently.</param>
/// <param name="Class">Message class.</param>
/// <param name="Topic">MQTT topic to publish to.</param>
/// <param name="Payload">Payload bytes (a copy owned by the caller).</param>
/// <param name="CreatedUtc">When it was enqueued.</param>
/// <param name="ExpiresUtc">After this it is dropped unsent.</param>
/// <param name="SizeBytes">Bytes it counts against the quota (<see cref="OutboxStore.AccountedSize"/>).</param>
/// <param name="AttemptCount">How many times it has been handed out by a peek, this one included (counted in memory
/// since the store was opened, plus what builds before schema 2 persisted).</param>
public sealed record OutboxMessage(
    long Sequence,
    OutboxMessageClass Class,
    string Topic,
    byte[] Payload,
    DateTimeOffset CreatedUtc,
    DateTimeOffset ExpiresUtc,
    int SizeBytes,
    int AttemptCount);

/// <summary>Outcome of <see cref="OutboxStore.Enqueue"/>.</summary>
public enum EnqueueStatus
{
    /// <summary>Durably stored (fsynced); <see cref="EnqueueResult.Sequence"/> is valid.</summary>
    Accepted = 1,

    /// <summary>The message alone is larger than the whole quota. Counted as refused.</summary>
    RefusedTooLarge = 2,

    /// <summary>The store is full of messages this class may not evict (see <see cref="OutboxPolicy"/>). Counted as refused.</summary>
    RefusedQuotaFull = 3,

    /// <summary>The disk is full and evicting what this class may evict did not make room. Counted as failed.</summary>
    RefusedDiskFull = 4,
}

/// <summary>Result of an enqueue: refusals are results, not exceptions, because a full store is an
/// expected operating condition on a device that is offline for days.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Sequence">The assigned sequence when accepted, otherwise 0.</param>
/// <param name="SizeBytes">Bytes the message counts (or would have counted) against the quota.</param>
/// <param name="EvictedMessages">How many older messages were evicted to make room.</param>
public readonly record struct EnqueueResult(EnqueueStatus Status, long Sequence, int SizeBytes, int EvictedMessages)
{
    /// <summary>True when the message is stored.</summary>
    public bool IsAccepted => Status == EnqueueStatus.Accepted;
}

/// <summary>Depth and loss counters of one class. Every counter is cumulative since the store was created (a
/// corruption recovery starts a new store) and persisted; failures and drops that happen while nothing can be written
/// (a full disk) are held in memory and persisted with the next transaction that succeeds.</summary>
/// <param name="Class">Message class.</param>
/// <param name="Count">Messages stored now and not yet acknowledged.</param>
/// <param name="Bytes">Their accounted bytes.</param>
/// <param name="EvictedCount">Evicted unsent to make room (quota or full disk).</param>
/// <param name="EvictedBytes">Their bytes.</param>
/// <param name="ExpiredCount">Dropped unsent past their time to live.</param>
/// <param name="ExpiredBytes">Their bytes.</param>
/// <param name="RefusedCount">Enqueues refused by the policy: too large, or the quota is full of classes this one may not evict.</param>
/// <param name="WrittenCount">Messages stored (enqueues accepted).</param>
/// <param name="FailedCount">Enqueues that failed: the disk was full and nothing evictable made room
/// (<see cref="EnqueueStatus.RefusedDiskFull"/>), or the write threw (I/O error).</param>
/// <param name="DroppedCount">Messages the producer dropped before they reached the store (reported with
/// <see cref="OutboxStore.RecordDropped"/>, e.g. the agent's writer queue was full).</param>
public readonly record struct OutboxClassStats(
    OutboxMessageClass Class,
    long Count,
    long Bytes,
    long EvictedCount,
    long EvictedBytes,
    long ExpiredCount,
    long ExpiredBytes,
    long RefusedCount,
    long WrittenCount = 0,
    long FailedCount = 0,
    long DroppedCount = 0);

/// <summary>Snapshot for heartbeats. Counters are cumulative so a lost heartbeat loses nothing:
/// the gateway takes differences between the ones it receives.</summary>
/// <param name="PerClass">One entry per class, in <see cref="OutboxPolicy.AllClasses"/> order.</param>
/// <param name="TotalCount">Messages stored and not yet acknowledged.</param>
/// <param name="TotalBytes">Their accounted bytes.</param>
/// <param name="QuotaBytes">The quota (bound on the files on disk).</param>
/// <param name="NextSequence">The sequence the next accepted message will get.</param>
/// <param name="DiskFull">The store is in disk-full mode (the disk had no room; it is waiting for space to come back).</param>
/// <param name="PendingDeletes">Acknowledged messages whose delete could not be written yet (full disk); they are never sent again by this process.</param>
public sealed record OutboxStats(
    IReadOnlyList<OutboxClassStats> PerClass,
    long TotalCount,
    long TotalBytes,
    long QuotaBytes,
    long NextSequence,
    bool DiskFull = false,
    long PendingDeletes = 0)
{
    /// <summary>The entry of one class.</summary>
    public OutboxClassStats For(OutboxMessageClass messageClass)
    {
        foreach (var s in PerClass)
            if (s.Class == messageClass)
                return s;
        throw new ArgumentOutOfRangeException(nameof(messageClass), messageClass, "Not a defined outbox message class.");
    }

    /// <summary>The counters as a heartbeat's <see cref="HeartbeatTotals.Outbox"/> names them (refusals and failed writes
    /// are both "failed"): the one mapping the agent and the tests that stand in for it use.</summary>
    public OutboxTotals ToWireTotals() => new()
    {
        Detection = WireTotals(OutboxMessageClass.Detection),
        Heartbeat = WireTotals(OutboxMessageClass.Heartbeat),
        DriftSketch = WireTotals(OutboxMessageClass.Sketch),
        ClipFeatures = WireTotals(OutboxMessageClass.ClipFeatures),
        ClipAudio = WireTotals(OutboxMessageClass.ClipAudio),
        ModelStatus = WireTotals(OutboxMessageClass.ModelStatus),
        EnrollmentQc = WireTotals(OutboxMessageClass.EnrollmentQc),
        NearMiss = WireTotals(OutboxMessageClass.NearMiss),
    };

    private OutboxClassTotals WireTotals(OutboxMessageClass messageClass)
    {
        OutboxClassStats c = For(messageClass);
        return new OutboxClassTotals
        {
            Written = c.WrittenCount,
            Evicted = c.EvictedCount,
            Expired = c.ExpiredCount,
            Failed = c.RefusedCount + c.FailedCount,
            Dropped = c.DroppedCount,
        };
    }
}

/// <summary>
/// The device's own running totals, persisted in the outbox in the same transaction as the message that carries them,
/// so they only ever grow and survive restarts. A heartbeat reports them as they were when it was built.
/// </summary>
/// <param name="ListeningSeconds">Seconds of audio run through the detector since the device's first start.</param>
/// <param name="Detections">Detections raised since the device's first start.</param>
/// <param name="AudioOverruns">Capture overruns since the device's first start.</param>
/// <param name="NearMisses">Near misses found since the device's first start (those the rate limit dropped included; schema 3).</param>
/// <param name="NearMissesRateLimited">Near misses the per-hour rate limit dropped (schema 3).</param>
public readonly record struct OutboxDeviceTotals(double ListeningSeconds, long Detections, long AudioOverruns, long NearMisses = 0, long NearMissesRateLimited = 0);

/// <summary>Why and where a corrupt database was moved aside when the store was opened.</summary>
/// <param name="Reason">The integrity check output or the SQLite error.</param>
/// <param name="MovedAsidePath">Where the damaged file now is (kept for forensics).</param>
/// <param name="FirstSequenceAfterRecovery">Where sequences resume: above anything salvageable from
/// the old file and above a wall-clock floor, so the gateway never sees a reused number.</param>
public sealed record OutboxCorruptionRecovery(string Reason, string MovedAsidePath, long FirstSequenceAfterRecovery);
