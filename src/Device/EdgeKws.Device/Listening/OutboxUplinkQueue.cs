using System.Globalization;
using System.Text;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Uplink;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Listening;

/// <summary>
/// Lets <see cref="MqttUplink"/> drain an <see cref="OutboxStore"/>: peeks in sequence order, removes
/// a message on its PUBACK, and dead-letters what the broker refuses for good.
/// </summary>
/// <remarks>
/// <para><b>Dead letters.</b> The outbox has no dead-letter table (its schema is versioned and owned by
/// the store), so a dead-lettered message is: (1) described in one JSON line appended and flushed to
/// <c>dead-letter.jsonl</c> next to the outbox (time, sequence, class, topic, payload size, reason;
/// the payload itself is NOT kept, since it may be consented raw audio that must not linger),
/// (2) logged, (3) counted (<see cref="DeadLetteredCount"/>), and only then (4) acknowledged so it
/// stops blocking the queue. A crash between (1) and (4) repeats the refusal once after restart:
/// at worst a duplicate dead-letter line, never a silent loss.</para>
/// <para><b>User properties.</b> Every message carries the wire schema version; detection, clip and
/// sketch messages carry the device's feature configuration hash (heartbeats and model status have
/// none).</para>
/// <para>Thread-safety: the uplink task calls it; the store itself is thread-safe, so the audio
/// thread keeps enqueueing meanwhile. Peeks allocate (the store copies payloads): uplink side only.</para>
/// </remarks>
public sealed class OutboxUplinkQueue : IOutboxQueue
{
    private readonly OutboxStore _store;
    private readonly string _featureConfigHash;
    private readonly string _deadLetterPath;
    private readonly Action<string>? _log;
    private readonly Dictionary<long, (OutboxMessageClass Class, string Topic, int Bytes)> _lastPeeked = [];
    private readonly Lock _gate = new();
    private long _deadLettered;

    /// <param name="store">The outbox to drain.</param>
    /// <param name="featureConfigHash">The device front end's hash (64 lowercase hex digits).</param>
    /// <param name="deadLetterPath">File dead letters are described in; null: <c>dead-letter.jsonl</c> next to the outbox.</param>
    /// <param name="log">Receives one line per dead letter.</param>
    public OutboxUplinkQueue(OutboxStore store, string featureConfigHash, string? deadLetterPath = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (!FeatureConfigHash.TryValidate(featureConfigHash, nameof(featureConfigHash), out string why))
        {
            throw new ArgumentException(why, nameof(featureConfigHash));
        }
        _store = store;
        _featureConfigHash = featureConfigHash;
        _deadLetterPath = deadLetterPath ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(store.DatabasePath))!, "dead-letter.jsonl");
        _log = log;
    }

    /// <summary>Messages dead-lettered since construction.</summary>
    public long DeadLetteredCount => Interlocked.Read(ref _deadLettered);

    /// <summary>Where dead letters are described.</summary>
    public string DeadLetterPath => _deadLetterPath;

    /// <summary>Whether messages of a class carry the feature configuration hash as a user property.</summary>
    public static bool CarriesFeatureConfigHash(OutboxMessageClass messageClass) => messageClass is
        OutboxMessageClass.Detection or OutboxMessageClass.Sketch or OutboxMessageClass.ClipFeatures or OutboxMessageClass.ClipAudio
            or OutboxMessageClass.NearMiss;

    /// <inheritdoc />
    public int PeekBatch(int max, List<OutboxItem> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        IReadOnlyList<OutboxMessage> batch = _store.PeekBatch(max);
        lock (_gate)
        {
            _lastPeeked.Clear();
            foreach (OutboxMessage m in batch)
            {
                into.Add(new OutboxItem(m.Sequence, m.Topic, m.Payload, WireLimits.SchemaVersion,
                    CarriesFeatureConfigHash(m.Class) ? _featureConfigHash : null));
                _lastPeeked[m.Sequence] = (m.Class, m.Topic, m.Payload.Length);
            }
        }
        return batch.Count;
    }

    /// <inheritdoc />
    public void Acknowledge(long sequence) => _store.Acknowledge(sequence);

    /// <inheritdoc />
    public void DeadLetter(long sequence, string reason)
    {
        (OutboxMessageClass Class, string Topic, int Bytes) info;
        lock (_gate)
        {
            if (!_lastPeeked.TryGetValue(sequence, out info))
            {
                info = (0, "?", -1);
            }
        }
        var line = new StringBuilder(256)
            .Append("{\"timeUtc\":\"").Append(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture))
            .Append("\",\"sequence\":").Append(sequence.ToString(CultureInfo.InvariantCulture))
            .Append(",\"class\":\"").Append(info.Class.ToString())
            .Append("\",\"topic\":\"").Append(JsonEscape(info.Topic))
            .Append("\",\"payloadBytes\":").Append(info.Bytes.ToString(CultureInfo.InvariantCulture))
            .Append(",\"reason\":\"").Append(JsonEscape(reason)).Append("\"}\n").ToString();
        using (var file = new FileStream(_deadLetterPath, FileMode.Append, FileAccess.Write, FileShare.Read))
        {
            file.Write(Encoding.UTF8.GetBytes(line));
            file.Flush(flushToDisk: true);
        }
        Interlocked.Increment(ref _deadLettered);
        _log?.Invoke($"outbox: dead-lettered sequence {sequence} ({info.Class}, {info.Topic}): {reason}");
        _store.Acknowledge(sequence);
    }

    private static string JsonEscape(string s)
    {
        var sb = new StringBuilder(s.Length + 8);
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                default:
                    if (c < ' ') sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }
}
