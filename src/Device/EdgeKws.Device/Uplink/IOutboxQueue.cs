namespace EdgeKws.Device.Uplink;

/// <summary>One stored message as the uplink sees it.</summary>
/// <param name="Sequence">Per-device sequence number, strictly increasing in enqueue order; the gateway's idempotency key.</param>
/// <param name="Topic">Full MQTT topic (<c>edgekws/v1/{deviceId}/{kind}</c>, see <see cref="EdgeKws.Shared.Contracts.Topics"/>).</param>
/// <param name="Payload">The serialized message. Must stay valid until the uplink acknowledges or dead-letters it.</param>
/// <param name="SchemaVersion">Schema version of the payload, sent as a user property.</param>
/// <param name="FeatureConfigHash">Feature configuration hash (the SHA-256 as 64 lowercase hex digits, see
/// <see cref="EdgeKws.Shared.Contracts.FeatureConfigHash"/>) or null when the message has none; the uplink dead-letters
/// an item whose hash has any other form rather than send a property the gateway would reject.</param>
public readonly record struct OutboxItem(long Sequence, string Topic, ReadOnlyMemory<byte> Payload, int SchemaVersion, string? FeatureConfigHash);

/// <summary>
/// What the uplink needs from the store-and-forward outbox. The outbox is written by the detection
/// side and read here; implementations must be safe for one reader task concurrent with writers.
/// Enqueueing never involves the uplink, so detection never waits for the network.
/// </summary>
public interface IOutboxQueue
{
    /// <summary>
    /// Appends up to <paramref name="max"/> of the oldest unacknowledged items to <paramref name="into"/>
    /// in ascending sequence order without removing them, and returns how many were appended.
    /// </summary>
    int PeekBatch(int max, List<OutboxItem> into);

    /// <summary>The broker accepted <paramref name="sequence"/> (PUBACK with a success reason code): remove it.
    /// The uplink acknowledges strictly in sequence order, so the acknowledged set is always a prefix.</summary>
    void Acknowledge(long sequence);

    /// <summary>
    /// The broker refused <paramref name="sequence"/> for good (e.g. not authorised, invalid topic) or it kept
    /// refusing it: move it aside with <paramref name="reason"/> so it stops blocking the queue. It was not delivered.
    /// </summary>
    void DeadLetter(long sequence, string reason);
}
