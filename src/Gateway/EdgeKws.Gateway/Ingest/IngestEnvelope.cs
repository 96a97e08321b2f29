using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Ingest;

/// <summary>
/// One received MQTT publish as the ingest pipeline sees it, independent of the broker that delivered it.
/// </summary>
/// <param name="ClientId">The authenticated device id of the publisher (the broker guarantees client id = user name = device id),
/// or null when the transport cannot say (an external broker enforces the ACL itself).</param>
/// <param name="Topic">The topic as published.</param>
/// <param name="Payload">The payload bytes (owned by the envelope).</param>
/// <param name="UserProperties">MQTT 5 user properties in wire order (names may repeat).</param>
/// <param name="ContentType">MQTT 5 content type, or null.</param>
/// <param name="ReceivedUtc">When the gateway received it.</param>
public sealed record IngestEnvelope(
    string? ClientId,
    string Topic,
    byte[] Payload,
    IReadOnlyList<KeyValuePair<string, string>> UserProperties,
    string? ContentType,
    DateTimeOffset ReceivedUtc);

/// <summary>Why a message was not accepted, coarse enough to choose an MQTT reason code and a metric label.</summary>
public enum RejectionKind
{
    /// <summary>Not rejected.</summary>
    None = 0,

    /// <summary>The publisher wrote outside its own topic subtree (an access-control violation).</summary>
    ForeignTopic = 1,

    /// <summary>Inside its subtree, but not a topic of the v1 scheme (unknown kind, extra levels).</summary>
    InvalidTopic = 2,

    /// <summary>Missing, malformed or inconsistent MQTT user properties.</summary>
    InvalidProperties = 3,

    /// <summary>The payload failed the shared contract's validation.</summary>
    InvalidPayload = 4,

    /// <summary>A (device, sequence) already stored with different content: the device reused a sequence number.</summary>
    SequenceConflict = 5,

    /// <summary>The store failed to write it as a normal message; kept in quarantine so it is not lost.</summary>
    StoreError = 6,
}

/// <summary>A message that passed every boundary check, parsed.</summary>
/// <param name="DeviceId">The device (from the topic, equal to the authenticated client and the payload's device id).</param>
/// <param name="Sequence">The device's outbox sequence, or null for presence (status) messages, which have none.</param>
/// <param name="Kind">Message kind.</param>
/// <param name="Body">The parsed message: <see cref="DetectionReport"/>, <see cref="NearMissReport"/>, <see cref="Heartbeat"/>, <see cref="DriftSketch"/>,
/// <see cref="ModelStatus"/>, <see cref="DeviceStatus"/>, or a <see cref="ClipHeader"/> for clip frames.</param>
/// <param name="ConfigHash">The feature configuration hash the message carries, or null.</param>
public sealed record ValidMessage(string DeviceId, long? Sequence, MessageKind Kind, object Body, string? ConfigHash);

/// <summary>What became of a message.</summary>
public enum IngestOutcome
{
    /// <summary>Stored for the first time (committed).</summary>
    Stored = 1,

    /// <summary>Already stored with identical content: a redelivery; nothing changed.</summary>
    Duplicate = 2,

    /// <summary>Written to the quarantine table (committed) with its reason.</summary>
    Quarantined = 3,

    /// <summary>Could not be committed at all (database failure); the publisher must send it again.</summary>
    Failed = 4,
}

/// <summary>The result the receiver gets back once the message's transaction committed (or failed).</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Rejection">Why it was quarantined (None otherwise).</param>
/// <param name="Reason">The specific reason, empty when stored.</param>
public readonly record struct IngestResult(IngestOutcome Outcome, RejectionKind Rejection, string Reason);
