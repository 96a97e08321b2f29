using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;

namespace EdgeKws.Device.Listening;

/// <summary>
/// Pre/post-trigger clips: keeps the recent audio in a fixed ring, remembers up to eight clips waiting for their
/// post-trigger audio, and posts each one when that audio has arrived (or at once, with what there is, on
/// <c>final</c>: mute or stop).
/// </summary>
/// <remarks>
/// <para>A clip is [end - PreTriggerMs, end + PostTriggerMs) around the keyword end (the end of the newest MFCC frame
/// of the window that fired). A detection's clip always goes as <see cref="ClipFeatures"/> (MFCCs of the same samples
/// through a second extractor of the same configuration, so the features are those the gateway would compute); with
/// consent (<see cref="ListeningPipelineOptions.UploadRawAudio"/>) also as <see cref="ClipAudio"/>, first, so the
/// gateway can compare the two (training-serving skew). A near miss sends one frame in its own outbox class: the raw
/// audio with consent, else the features.</para>
/// <para>Allocation: the ring, the clip sample, feature and frame buffers and the extractor are allocated in the
/// constructor; <see cref="Write"/> and <see cref="EmitDue"/> with nothing due allocate nothing (the per-block path).
/// A clip that goes allocates its frame's copy for the writer thread. Audio thread only, except <see cref="Dropped"/>.</para>
/// </remarks>
internal sealed class ClipRecorder
{
    private const int MaxPendingClips = 8;

    private readonly QueuedOutboxWriter _writer;
    private readonly DeviceUplinkTopics _topics;
    private readonly bool _uploadRawAudio;
    private readonly byte[] _hashBytes;
    private readonly int _rate;
    private readonly int _window;
    private readonly int _coefficients;
    private readonly int _preSamples;
    private readonly int _postSamples;
    private readonly AudioRing _ring;
    private readonly MfccExtractor _clipExtractor;
    private readonly short[] _clipSamples;
    private readonly float[] _clipFeatures;
    private readonly byte[] _clipBytes;
    private readonly Guid[] _pendingId = new Guid[MaxPendingClips];
    private readonly long[] _pendingEnd = new long[MaxPendingClips];
    private readonly DateTimeOffset[] _pendingUtc = new DateTimeOffset[MaxPendingClips];
    private readonly bool[] _pendingNearMiss = new bool[MaxPendingClips];
    private int _pendingCount;
    private long _dropped;

    /// <param name="options">Clip lengths, read block size, front end and consent.</param>
    /// <param name="hashBytes">The front end's feature configuration hash, as the clip frames carry it.</param>
    /// <param name="topics">Clip topics.</param>
    /// <param name="writer">Where clips go.</param>
    public ClipRecorder(ListeningPipelineOptions options, byte[] hashBytes, DeviceUplinkTopics topics, QueuedOutboxWriter writer)
    {
        MfccConfig mfcc = options.Mfcc;
        _writer = writer;
        _topics = topics;
        _uploadRawAudio = options.UploadRawAudio;
        _hashBytes = hashBytes;
        _rate = mfcc.SampleRateHz;
        _window = mfcc.WindowSamples;
        _coefficients = mfcc.CoefficientCount;
        _preSamples = (int)((long)options.PreTriggerMs * _rate / 1000);
        _postSamples = (int)((long)options.PostTriggerMs * _rate / 1000);
        // The clip's pre-trigger must still be in the ring when its post-trigger has arrived: one read
        // block and one MFCC window of slack on top of the clip itself.
        int clipMax = _preSamples + _postSamples;
        _ring = new AudioRing(clipMax + options.BlockSamples + _window);
        _clipExtractor = new MfccExtractor(mfcc);
        _clipSamples = new short[clipMax];
        _clipFeatures = new float[(mfcc.FrameCount(clipMax) + 1) * _coefficients];
        _clipBytes = new byte[Math.Max(ClipAudio.GetFrameSizeBytes(clipMax), ClipFeatures.GetFrameSizeBytes(mfcc.FrameCount(clipMax), _coefficients))];
    }

    /// <summary>Samples the ring holds (pre + post trigger + slack).</summary>
    public int CapacitySamples => _ring.CapacitySamples;

    /// <summary>Samples written since the start: the stream position of the next sample.</summary>
    public long WrittenSamples => _ring.WrittenSamples;

    /// <summary>Clips waiting for their post-trigger audio.</summary>
    public bool HasPending => _pendingCount > 0;

    /// <summary>Another clip can wait without pushing out the oldest.</summary>
    public bool HasRoom => _pendingCount < MaxPendingClips;

    /// <summary>Clips not sent from here: pushed out of a full list, cut too short, or (<see cref="CountDropped"/>) never taken.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>A block of audio, in stream order.</summary>
    public void Write(ReadOnlySpan<short> block) => _ring.Write(block);

    /// <summary>A clip that was never taken (a near miss with the list full).</summary>
    public void CountDropped() => Interlocked.Increment(ref _dropped);

    /// <summary>
    /// A clip around <paramref name="keywordEnd"/> waits for its post-trigger audio. With eight waiting already the
    /// oldest is dropped (it cannot happen with a refractory period longer than the post-trigger; dropping the oldest
    /// keeps the newest detection's clip).
    /// </summary>
    public void Add(Guid clipId, long keywordEnd, DateTimeOffset utc, bool nearMiss)
    {
        if (_pendingCount == MaxPendingClips)
        {
            RemovePending(0);
            Interlocked.Increment(ref _dropped);
        }
        _pendingId[_pendingCount] = clipId;
        _pendingEnd[_pendingCount] = keywordEnd;
        _pendingUtc[_pendingCount] = utc;
        _pendingNearMiss[_pendingCount] = nearMiss;
        _pendingCount++;
    }

    /// <summary>Posts the clips whose post-trigger audio has arrived; with <paramref name="final"/> all of them, with the audio there is.</summary>
    public void EmitDue(bool final)
    {
        int i = 0;
        while (i < _pendingCount)
        {
            long end = _pendingEnd[i] + _postSamples;
            if (!final && end > _ring.WrittenSamples)
            {
                i++;
                continue;
            }
            EmitClip(_pendingId[i], _pendingEnd[i], _pendingUtc[i], _pendingNearMiss[i]);
            RemovePending(i);
        }
    }

    private void RemovePending(int index)
    {
        for (int j = index; j < _pendingCount - 1; j++)
        {
            _pendingId[j] = _pendingId[j + 1];
            _pendingEnd[j] = _pendingEnd[j + 1];
            _pendingUtc[j] = _pendingUtc[j + 1];
            _pendingNearMiss[j] = _pendingNearMiss[j + 1];
        }
        _pendingCount--;
    }

    private void EmitClip(Guid clipId, long keywordEnd, DateTimeOffset utc, bool nearMiss)
    {
        long start = Math.Max(keywordEnd - _preSamples, _ring.OldestSample);
        long end = Math.Min(keywordEnd + _postSamples, _ring.WrittenSamples);
        int length = (int)(end - start);
        Span<short> samples = _clipSamples.AsSpan(0, Math.Max(0, length));
        if (length < _window || !_ring.TryCopy(start, samples))
        {
            Interlocked.Increment(ref _dropped);
            return;
        }
        // The frame is built in the reused buffer, then copied once for the writer thread.
        if (nearMiss)
        {
            // A near miss sends one frame, in its own class: the raw audio with consent, else the features.
            int nearSize = _uploadRawAudio
                ? ClipAudio.Write(_clipBytes, clipId, utc, _rate, _hashBytes, consentGranted: true, samples)
                : WriteFeatures(samples, clipId, utc);
            _writer.Post(OutboxMessageClass.NearMiss, _uploadRawAudio ? _topics.ClipAudio : _topics.ClipFeatures, _clipBytes.AsSpan(0, nearSize).ToArray());
            return;
        }
        if (_uploadRawAudio)
        {
            int size = ClipAudio.Write(_clipBytes, clipId, utc, _rate, _hashBytes, consentGranted: true, samples);
            _writer.Post(OutboxMessageClass.ClipAudio, _topics.ClipAudio, _clipBytes.AsSpan(0, size).ToArray());
        }
        // The features always go: without consent instead of the audio; with it as well, so the gateway can recompute them
        // from the audio and check training-serving skew.
        int featureSize = WriteFeatures(samples, clipId, utc);
        _writer.Post(OutboxMessageClass.ClipFeatures, _topics.ClipFeatures, _clipBytes.AsSpan(0, featureSize).ToArray());
    }

    /// <summary>The MFCCs of <paramref name="samples"/> as a ClipFeatures frame in the reused clip buffer; returns its size.</summary>
    private int WriteFeatures(ReadOnlySpan<short> samples, Guid clipId, DateTimeOffset utc)
    {
        _clipExtractor.Reset();
        int frames = _clipExtractor.Push(samples, _clipFeatures);
        return ClipFeatures.Write(_clipBytes, clipId, utc, _rate, _hashBytes, _coefficients, _clipFeatures.AsSpan(0, frames * _coefficients));
    }
}
