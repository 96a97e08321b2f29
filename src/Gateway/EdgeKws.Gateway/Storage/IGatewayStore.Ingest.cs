using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;

namespace EdgeKws.Gateway.Storage;

/// <summary>One message for <see cref="IIngestStore.WriteBatch"/>: either valid (stored under its (device, sequence))
/// or rejected (quarantined with the reason).</summary>
/// <param name="Envelope">The message as received.</param>
/// <param name="Message">The parsed message when it passed validation, else null.</param>
/// <param name="Rejection">Why it was rejected (None when valid).</param>
/// <param name="Reason">The specific reason (empty when valid).</param>
public readonly record struct StoreWrite(IngestEnvelope Envelope, ValidMessage? Message, RejectionKind Rejection, string Reason)
{
    /// <summary>The same message routed to quarantine with another reason.</summary>
    public StoreWrite AsQuarantine(RejectionKind rejection, string reason) => new(Envelope, null, rejection, reason);
}

/// <summary>A device row.</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="HasCredential">Whether a password is provisioned.</param>
/// <param name="FirstSeenUtc">First stored message, or null.</param>
/// <param name="LastSeenUtc">Latest stored message, or null.</param>
/// <param name="ModelVersion">Model version last reported, or null.</param>
/// <param name="Status">Last presence state ("Online"/"Offline"), or null.</param>
/// <param name="Cohort">Fleet segment set by an operator (hardware revision, site, ...), or null.</param>
public sealed record DeviceRecord(string DeviceId, bool HasCredential, DateTimeOffset? FirstSeenUtc, DateTimeOffset? LastSeenUtc, string? ModelVersion, string? Status,
    string? Cohort = null);

/// <summary>A quarantined message.</summary>
/// <param name="Id">Row id (arrival order).</param>
/// <param name="ReceivedUtc">When the gateway received it.</param>
/// <param name="ClientId">The authenticated publisher, or null.</param>
/// <param name="Topic">The topic as published.</param>
/// <param name="Rejection">The class of problem.</param>
/// <param name="Reason">The specific problem.</param>
/// <param name="Payload">The raw payload (possibly cut, see <paramref name="PayloadBytes"/>).</param>
/// <param name="PayloadBytes">The full payload length as received.</param>
public sealed record QuarantineRecord(long Id, DateTimeOffset ReceivedUtc, string? ClientId, string Topic, RejectionKind Rejection, string Reason, byte[] Payload, long PayloadBytes);

/// <summary>Row counts per table, for tests and the metrics endpoint.</summary>
/// <param name="Messages">Distinct (device, sequence) pairs stored.</param>
/// <param name="Detections">Detection rows.</param>
/// <param name="Heartbeats">Heartbeat rows.</param>
/// <param name="Clips">Clip rows (audio and features).</param>
/// <param name="Sketches">Drift sketch rows.</param>
/// <param name="ModelStatuses">Model status rows.</param>
/// <param name="Quarantined">Quarantine rows.</param>
/// <param name="Devices">Device rows.</param>
public readonly record struct StoreCounts(long Messages, long Detections, long Heartbeats, long Clips, long Sketches, long ModelStatuses, long Quarantined, long Devices);

/// <summary>The ingest concern of <see cref="IGatewayStore"/>, which every store is.</summary>
public partial interface IGatewayStore : IIngestStore
{
}

/// <summary>
/// Ingest (schema step 1: <c>devices</c>, the ledger <c>messages</c>, the typed message tables, <c>quarantine</c>): the batch write,
/// device credentials and the ingest reads. One implementation over both databases (<see cref="IngestStore"/>).
/// <para>Contract of <see cref="WriteBatch"/>: the whole batch commits atomically and durably before it returns;
/// writes are idempotent on (device, sequence) so a redelivered message changes nothing; a (device, sequence)
/// already stored with different content is quarantined as a <see cref="RejectionKind.SequenceConflict"/>.
/// Only one thread calls <see cref="WriteBatch"/> (the ingest writer); the read members may be called from any thread.</para>
/// </summary>
public interface IIngestStore
{
    /// <summary>Commits <paramref name="writes"/> in one transaction and fills <paramref name="results"/> (same length).
    /// Throws on a database failure, in which case nothing of the batch is stored.</summary>
    void WriteBatch(ReadOnlySpan<StoreWrite> writes, Span<IngestResult> results);

    /// <summary>Creates or replaces a device's credential.</summary>
    void SetDeviceCredential(string deviceId, PasswordHash credential);

    /// <summary>The device's credential, or false when it has none.</summary>
    bool TryGetDeviceCredential(string deviceId, out PasswordHash? credential);

    /// <summary>All devices, ordered by id.</summary>
    IReadOnlyList<DeviceRecord> ReadDevices();

    /// <summary>Quarantined messages, oldest first, after <paramref name="afterId"/>.</summary>
    IReadOnlyList<QuarantineRecord> ReadQuarantine(long afterId, int limit);

    /// <summary>Stored sequences of one device, ascending.</summary>
    IReadOnlyList<long> ReadSequences(string deviceId);

    /// <summary>Row counts.</summary>
    StoreCounts Count();
}
