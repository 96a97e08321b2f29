namespace EdgeKws.Gateway.Ingest;

/// <summary>A snapshot of the gateway's counters (cumulative since start).</summary>
/// <param name="Received">Publishes handed to the pipeline.</param>
/// <param name="Stored">Messages stored for the first time.</param>
/// <param name="Duplicates">Redeliveries recognised and ignored.</param>
/// <param name="Quarantined">Messages written to quarantine.</param>
/// <param name="ForeignTopicRefused">Publishes outside the publisher's subtree (also quarantined).</param>
/// <param name="Failed">Messages that could not be committed (the publisher was disconnected so it re-sends).</param>
/// <param name="AuthFailures">Connections refused for a bad client id, user name or password.</param>
/// <param name="SubscribeRefused">Subscriptions refused by the topic ACL.</param>
/// <param name="BackpressureWaits">Receives that found the queue full and waited for the writer.</param>
/// <param name="Batches">Committed transactions.</param>
/// <param name="QueueDepth">Messages waiting for the writer now.</param>
/// <param name="PacketsTooLarge">MQTT packets refused at the broker for their announced size (the connection was dropped).</param>
/// <param name="StoreUnavailable">Messages not acknowledged because the store was unavailable (transient error: the publisher re-sends).</param>
public readonly record struct GatewayMetricsSnapshot(
    long Received, long Stored, long Duplicates, long Quarantined, long ForeignTopicRefused, long Failed,
    long AuthFailures, long SubscribeRefused, long BackpressureWaits, long Batches, long QueueDepth, long PacketsTooLarge = 0, long StoreUnavailable = 0);

/// <summary>Lock-free counters shared by the broker and the ingest pipeline.</summary>
public sealed class GatewayMetrics
{
    internal long Received, Stored, Duplicates, Quarantined, ForeignTopicRefused, Failed, AuthFailures, SubscribeRefused, BackpressureWaits, Batches, QueueDepth,
        PacketsTooLarge, StoreUnavailable;

    /// <summary>A consistent-enough snapshot (each counter read atomically).</summary>
    public GatewayMetricsSnapshot Snapshot() => new(
        Interlocked.Read(ref Received), Interlocked.Read(ref Stored), Interlocked.Read(ref Duplicates), Interlocked.Read(ref Quarantined),
        Interlocked.Read(ref ForeignTopicRefused), Interlocked.Read(ref Failed), Interlocked.Read(ref AuthFailures),
        Interlocked.Read(ref SubscribeRefused), Interlocked.Read(ref BackpressureWaits), Interlocked.Read(ref Batches), Interlocked.Read(ref QueueDepth),
        Interlocked.Read(ref PacketsTooLarge), Interlocked.Read(ref StoreUnavailable));
}
