using System.Collections.Concurrent;
using EdgeKws.Device.Outbox;

namespace EdgeKws.Device.Listening;

/// <summary>
/// Stores the pipeline's messages in the outbox on a thread of its own, so the audio thread never waits for a disk.
/// </summary>
/// <remarks>
/// <para>Every enqueue is an fsynced SQLite commit, which a busy SD card can stretch to hundreds of milliseconds: longer
/// than the ALSA buffer. So the audio thread only builds the message and <see cref="Post"/>s it to a bounded queue
/// (256); the writer thread stores it (and completes heartbeats with the outbox figures, <see cref="HeartbeatComposer"/>).
/// If the disk stalls long enough to fill the queue, messages are dropped and counted (in <see cref="Failed"/>, and per
/// class in the outbox's dropped counter, which heartbeats report) rather than stalling capture. <see cref="Stop"/>
/// returns only after everything posted is stored. Outside <see cref="Start"/>/<see cref="Stop"/> a post is written
/// inline.</para>
/// <para><b>Totals.</b> Every message is stored with the device totals of the moment it was posted, in the same
/// transaction, so a restart resumes from at least what any stored heartbeat reported.</para>
/// <para><b>Failures.</b> A failing store never stops detection: exceptions and refusals are counted and logged.</para>
/// </remarks>
internal sealed class QueuedOutboxWriter
{
    /// <summary>Messages waiting for the writer thread at most.</summary>
    public const int QueueCapacity = 256;

    private readonly OutboxStore _outbox;
    private readonly HeartbeatComposer _heartbeats;
    private readonly Func<OutboxDeviceTotals> _totals;
    private readonly string _nearMissTopic;
    private readonly Action<string>? _log;
    private readonly Action<OutboxMessageClass, EnqueueResult>? _enqueued;
    private readonly long[] _droppedByClass = new long[OutboxPolicy.ClassSlots]; // audio thread adds, writer thread hands them to the outbox
    private int _dropsPending;
    private long _clipsAudio, _clipsFeatures, _clipsDropped, _heartbeatsStored, _sketches, _refused, _failed, _queueFull, _nearMissesSent;
    private BlockingCollection<WriteItem>? _writes;
    private Thread? _thread;

    /// <param name="outbox">The store (not owned).</param>
    /// <param name="heartbeats">Completes posted heartbeats with the outbox's figures.</param>
    /// <param name="totals">The device totals now; called on the posting thread, once per post.</param>
    /// <param name="nearMissTopic">The near-miss report topic (near-miss clips share the class but are not reports).</param>
    /// <param name="log">Refusals, failures, drops.</param>
    /// <param name="enqueued">Called after every enqueue with its result.</param>
    public QueuedOutboxWriter(OutboxStore outbox, HeartbeatComposer heartbeats, Func<OutboxDeviceTotals> totals, string nearMissTopic,
        Action<string>? log, Action<OutboxMessageClass, EnqueueResult>? enqueued)
    {
        _outbox = outbox;
        _heartbeats = heartbeats;
        _totals = totals;
        _nearMissTopic = nearMissTopic;
        _log = log;
        _enqueued = enqueued;
    }

    public long ClipsAudio => Interlocked.Read(ref _clipsAudio);

    public long ClipsFeatures => Interlocked.Read(ref _clipsFeatures);

    /// <summary>Clips dropped here: the queue was full, or the outbox refused or failed them.</summary>
    public long ClipsDropped => Interlocked.Read(ref _clipsDropped);

    public long Heartbeats => Interlocked.Read(ref _heartbeatsStored);

    public long Sketches => Interlocked.Read(ref _sketches);

    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Enqueues that threw, heartbeats whose outbox figures could not be read, and messages dropped with the queue full.</summary>
    public long Failed => Interlocked.Read(ref _failed) + Interlocked.Read(ref _queueFull);

    public long NearMissesSent => Interlocked.Read(ref _nearMissesSent);

    /// <summary>Starts the writer thread.</summary>
    public void Start()
    {
        _writes = new BlockingCollection<WriteItem>(new ConcurrentQueue<WriteItem>(), QueueCapacity);
        _thread = new Thread(WriterLoop) { IsBackground = true, Name = "edgekws-outbox-writer" };
        _thread.Start();
    }

    /// <summary>Stores everything posted, then ends the writer thread; later posts are written inline.</summary>
    public void Stop()
    {
        _writes!.CompleteAdding();
        _thread!.Join();
        _writes.Dispose();
        _writes = null;
    }

    /// <summary>Never blocks the audio thread: past 256 waiting messages (a stalled disk) the message is dropped and counted.</summary>
    public void Post(OutboxMessageClass messageClass, string topic, byte[]? payload, HeartbeatSnapshot? heartbeat = null)
    {
        var item = new WriteItem(messageClass, topic, payload, heartbeat, _totals());
        BlockingCollection<WriteItem>? writes = _writes;
        if (writes is not null && writes.TryAdd(item))
        {
            return;
        }
        if (writes is null)
        {
            Write(item); // not running (no writer thread): write inline
            return;
        }
        Interlocked.Increment(ref _queueFull);
        Interlocked.Increment(ref _droppedByClass[(int)item.Class]);
        Volatile.Write(ref _dropsPending, 1);
        if (item.Class is OutboxMessageClass.ClipAudio or OutboxMessageClass.ClipFeatures)
        {
            Interlocked.Increment(ref _clipsDropped);
        }
        _log?.Invoke($"outbox writer is {QueueCapacity} messages behind: {item.Class} dropped");
    }

    /// <summary>One message for the writer thread: a payload, or a heartbeat to complete, and the device totals when it was posted.</summary>
    private readonly record struct WriteItem(OutboxMessageClass Class, string Topic, byte[]? Payload, HeartbeatSnapshot? Heartbeat, OutboxDeviceTotals Totals);

    private void WriterLoop()
    {
        foreach (WriteItem item in _writes!.GetConsumingEnumerable())
        {
            HandOverDrops();
            Write(item);
        }
        HandOverDrops();
    }

    /// <summary>Writer thread: tells the outbox what the audio thread dropped, so heartbeats count it per class.</summary>
    private void HandOverDrops()
    {
        if (Interlocked.Exchange(ref _dropsPending, 0) == 0)
        {
            return;
        }
        foreach (OutboxMessageClass c in OutboxPolicy.AllClasses)
        {
            long n = Interlocked.Exchange(ref _droppedByClass[(int)c], 0);
            if (n > 0)
            {
                try
                {
                    _outbox.RecordDropped(c, n);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        }
    }

    private void Write(WriteItem item)
    {
        byte[]? payload = item.Payload;
        if (item.Heartbeat is { } hb)
        {
            payload = ComposeHeartbeat(hb, item.Totals);
            if (payload is null) return;
        }
        bool accepted = Enqueue(item.Class, item.Topic, payload!, item.Totals);
        switch (item.Class)
        {
            case OutboxMessageClass.ClipAudio when accepted: Interlocked.Increment(ref _clipsAudio); break;
            case OutboxMessageClass.ClipFeatures when accepted: Interlocked.Increment(ref _clipsFeatures); break;
            case OutboxMessageClass.ClipAudio or OutboxMessageClass.ClipFeatures: Interlocked.Increment(ref _clipsDropped); break;
            case OutboxMessageClass.Heartbeat when accepted: Interlocked.Increment(ref _heartbeatsStored); break;
            case OutboxMessageClass.Sketch when accepted: Interlocked.Increment(ref _sketches); break;
            case OutboxMessageClass.NearMiss when accepted && ReferenceEquals(item.Topic, _nearMissTopic): Interlocked.Increment(ref _nearMissesSent); break;
        }
    }

    private byte[]? ComposeHeartbeat(HeartbeatSnapshot hb, OutboxDeviceTotals totals)
    {
        OutboxStats stats;
        try
        {
            stats = _outbox.GetStats();
        }
#pragma warning disable CA1031 // A failing store must not stop detection; the next interval tries again.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _failed);
            _log?.Invoke($"outbox: cannot read stats for the heartbeat: {ex.Message}");
            return null;
        }
        return _heartbeats.Compose(hb, totals, stats);
    }

    private bool Enqueue(OutboxMessageClass messageClass, string topic, ReadOnlySpan<byte> payload, OutboxDeviceTotals totals)
    {
        EnqueueResult result;
        try
        {
            result = _outbox.Enqueue(messageClass, topic, payload, totals);
        }
#pragma warning disable CA1031 // Disk full or I/O errors: count, log, keep detecting. Detection never stops for the outbox.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _failed);
            _log?.Invoke($"outbox: {messageClass} not stored: {ex.Message}");
            return false;
        }
        if (!result.IsAccepted)
        {
            Interlocked.Increment(ref _refused);
            _log?.Invoke($"outbox: {messageClass} refused ({result.Status}, {result.SizeBytes} bytes)");
        }
        _enqueued?.Invoke(messageClass, result);
        return result.IsAccepted;
    }
}
