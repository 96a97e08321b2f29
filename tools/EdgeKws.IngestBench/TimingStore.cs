using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Security;
using EdgeKws.Gateway.Storage;

namespace EdgeKws.IngestBench;

/// <summary>Wraps the real store and records, for every stored (device, sequence), the moment its batch's
/// <see cref="IGatewayStore.WriteBatch"/> returned, i.e. its transaction committed. Same process and monotonic clock as
/// the simulated devices, so publish-to-commit latency needs no clock synchronisation.</summary>
internal sealed class TimingStore(IGatewayStore inner) : IGatewayStore
{
    public ConcurrentDictionary<(string Device, long Seq), long> CommittedAt { get; } = new();

    public void WriteBatch(ReadOnlySpan<StoreWrite> writes, Span<IngestResult> results)
    {
        inner.WriteBatch(writes, results);
        long now = Stopwatch.GetTimestamp();
        for (int i = 0; i < writes.Length; i++)
        {
            if (results[i].Outcome == IngestOutcome.Stored && writes[i].Message is { Sequence: { } seq } m)
            {
                CommittedAt.TryAdd((m.DeviceId, seq), now);
            }
        }
    }

    public void SetDeviceCredential(string deviceId, PasswordHash credential) => inner.SetDeviceCredential(deviceId, credential);

    public bool TryGetDeviceCredential(string deviceId, out PasswordHash? credential) => inner.TryGetDeviceCredential(deviceId, out credential);

    public IReadOnlyList<DeviceRecord> ReadDevices() => inner.ReadDevices();

    public IReadOnlyList<QuarantineRecord> ReadQuarantine(long afterId, int limit) => inner.ReadQuarantine(afterId, limit);

    public IReadOnlyList<long> ReadSequences(string deviceId) => inner.ReadSequences(deviceId);

    public StoreCounts Count() => inner.Count();

    public void Dispose() => inner.Dispose();
}
