using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;
using EdgeKws.Shared.Quality;

namespace EdgeKws.Device.Pipeline;

/// <summary>Counters of a <see cref="ListeningPipeline"/> since it was created.</summary>
/// <param name="SamplesProcessed">Samples run through the MFCC front end and the detector.</param>
/// <param name="FramesProcessed">MFCC frames computed.</param>
/// <param name="Detections">Detections raised.</param>
/// <param name="ClipsAudio">Raw-audio clips enqueued (consent given).</param>
/// <param name="ClipsFeatures">Feature clips enqueued (no consent).</param>
/// <param name="ClipsDropped">Clips not sent: pending-clip slots full, or the outbox refused them.</param>
/// <param name="Heartbeats">Heartbeats enqueued.</param>
/// <param name="Sketches">Drift sketches enqueued.</param>
/// <param name="EnqueueRefused">Enqueues the outbox refused (quota full of classes this one may not evict, or too large).</param>
/// <param name="EnqueueFailed">Enqueues that threw (disk error), or messages dropped because the outbox writer
/// fell more than 256 messages behind (a stalled disk); detection went on.</param>
/// <param name="Overruns">Capture overruns reported by the source.</param>
/// <param name="SourceEnded">The source reached its end (WAV or stdin), rather than being cancelled.</param>
/// <param name="NearMisses">Near misses found (score peaks in the band below the threshold), rate-limited ones included. Never detections.</param>
/// <param name="NearMissesRateLimited">Near misses found but not sent: the per-hour rate limit had no token.</param>
/// <param name="NearMissesSent">Near-miss reports stored in the outbox.</param>
public readonly record struct ListeningPipelineStats(
    long SamplesProcessed,
    long FramesProcessed,
    long Detections,
    long ClipsAudio,
    long ClipsFeatures,
    long ClipsDropped,
    long Heartbeats,
    long Sketches,
    long EnqueueRefused,
    long EnqueueFailed,
    long Overruns,
    bool SourceEnded,
    long NearMisses = 0,
    long NearMissesRateLimited = 0,
    long NearMissesSent = 0)
{
    /// <summary>Seconds of audio processed: the FA/hour denominator.</summary>
    public double ListeningSeconds => SamplesProcessed / 16000.0;
}

/// <summary>
/// The always-on loop: <see cref="IAudioSource"/> -> <see cref="MfccExtractor"/> -> <see cref="KeywordDetector"/>
/// -> detection report + pre/post-trigger clip -> <see cref="OutboxStore"/>; heartbeats and drift sketches
/// at a fixed cadence. The uplink drains the outbox on its own task, so nothing here ever waits for the
/// network: detection goes on while the broker is away, and messages wait in the outbox.
/// </summary>
/// <remarks>
/// <para><b>Allocation.</b> Every buffer (read block, float block, MFCC rows, audio ring, clip buffers,
/// latency probes) and every DSP object is created in the constructor. Per audio block the loop (read,
/// ring, level meter, SNR estimator, MFCC, drift sketch, detector inference) allocates nothing; a test
/// asserts 0 bytes over 60 s of audio. Detections, clips and heartbeats allocate their messages
/// (serialization, outbox copy): at most a few per second by design.</para>
/// <para><b>Clips.</b> The keyword end is the end of the newest MFCC frame of the window that fired. The
/// clip is [end - PreTriggerMs, end + PostTriggerMs), taken from a fixed audio ring when the post-trigger
/// audio has arrived. It always goes as <see cref="ClipFeatures"/> (MFCCs of the same samples through a
/// second extractor of the same configuration, so the features are those the gateway would compute); with
/// consent (<see cref="ListeningPipelineOptions.UploadRawAudio"/>) also as <see cref="ClipAudio"/>, first, so
/// the gateway can compare the two (training-serving skew).</para>
/// <para><b>Outbox writes off the audio thread.</b> Every enqueue is an fsynced SQLite commit, which a busy SD
/// card can stretch to hundreds of milliseconds: longer than the ALSA buffer. So the audio thread only builds
/// the message and posts it to a bounded queue (256); a writer thread stores it (and completes heartbeats with
/// the outbox figures). If the disk stalls long enough to fill the queue, messages are dropped and counted
/// (<see cref="ListeningPipelineStats.EnqueueFailed"/>, and per class in the outbox's dropped counter, which heartbeats
/// report) rather than stalling capture. <see cref="Run"/> returns only after everything posted is stored.</para>
/// <para><b>Totals.</b> Heartbeats carry cumulative totals since the device's first start (<see cref="HeartbeatTotals"/>):
/// listening seconds, detections and overruns continue from what the outbox persisted (<see cref="OutboxStore.DeviceTotals"/>),
/// and every message the writer stores persists the totals as they were when it was posted, in the same transaction, so
/// a restart resumes from at least what any stored heartbeat reported.</para>
/// <para><b>Threads.</b> <see cref="Run"/> runs on the caller's thread (the audio thread). <see cref="Stats"/>,
/// <see cref="SwapDetectorAsync"/> and <see cref="DecisionLatencyMs"/> may be called from any thread.</para>
/// <para><b>Ownership.</b> The pipeline owns neither the source, the outbox nor the detectors: the caller
/// disposes them (a swapped-out detector is handed back by <see cref="SwapDetectorAsync"/>).</para>
/// </remarks>
public sealed class ListeningPipeline
{
    private const int MaxPendingClips = 8;
    private const int ArrivalProbes = 64;
    private const int LatencySamples = 4096;
    private const int WriteQueueCapacity = 256;

    private readonly IAudioSource _source;
    private readonly OutboxStore _outbox;
    private readonly ListeningPipelineOptions _options;
    private readonly IAgentStatusSink? _sink;
    private readonly TimeProvider _clock;
    private readonly MfccExtractor _extractor;
    private readonly MfccExtractor _clipExtractor;
    private readonly AudioRing _ring;
    private readonly LevelMeter _level;
    private readonly SnrEstimator _snr;
    private readonly int _rate;
    private readonly int _hop;
    private readonly int _window;
    private readonly int _coefficients;
    private readonly int _preSamples;
    private readonly int _postSamples;
    private readonly long _snrWindowSamples;
    private readonly long _heartbeatSamples;
    private readonly string _featureConfigHash;
    private readonly byte[] _hashBytes = new byte[EdgeKws.Shared.Contracts.FeatureConfigHash.ByteLength];
    private readonly string _topicDetection, _topicHeartbeat, _topicDrift, _topicClipAudio, _topicClipFeatures, _topicNearMiss;
    private readonly NearMissFinder _nearMiss;

    // Fixed working memory.
    private readonly short[] _block;
    private readonly float[] _floatBlock;
    private readonly float[] _rows;
    private readonly short[] _clipSamples;
    private readonly float[] _clipFeatures;
    private readonly byte[] _clipBytes;
    private readonly Guid[] _pendingId = new Guid[MaxPendingClips];
    private readonly long[] _pendingEnd = new long[MaxPendingClips];
    private readonly DateTimeOffset[] _pendingUtc = new DateTimeOffset[MaxPendingClips];
    private readonly bool[] _pendingNearMiss = new bool[MaxPendingClips];
    private readonly long[] _probeEnd = new long[ArrivalProbes];
    private readonly long[] _probeTimestamp = new long[ArrivalProbes];
    private readonly double[] _latencyMs = new double[LatencySamples];
    private readonly double[] _inferenceMs = new double[LatencySamples];

    private readonly Lock _swapGate = new();
    private KeywordDetector _detector;
    private KeywordDetector? _swapNext;
    private TaskCompletionSource<KeywordDetector>? _swapDone;
    private volatile bool _swapRequested;
    private bool _running;
    private long _detectorFrameOffset;

    private DriftSketch _sketch;
    private int _pendingCount;
    private int _probeHead;
    private long _latencyCount;
    private long _inferenceTimings;
    private long _levelWindows;
    private long _snrSamples;

    private long _samples, _frames, _detections, _clipsAudio, _clipsFeatures, _clipsDropped, _heartbeats, _sketches, _refused, _failed, _writeQueueFull, _nearMissesSent;
    private readonly long[] _droppedByClass = new long[OutboxPolicy.ClassSlots]; // audio thread adds, writer thread hands them to the outbox
    private int _dropsPending;
    private readonly OutboxDeviceTotals _baseTotals;
    private readonly string _totalsEpoch;
    private bool _heartbeatPosted;
    private BlockingCollection<WriteItem>? _writes;
    private Thread? _writer;
    private bool _sourceEnded;

    private long _startTimestamp;
    private long _hbTimestamp;
    private long _hbSamples;
    private long _hbDetections;
    private long _hbOverruns;
    private long _hbEvicted = -1; // writer thread only
    private long _hbExpired = -1; // writer thread only
    private DateTimeOffset _sketchStartUtc;
    private volatile bool _muted;
    private bool _mutedBefore; // audio thread only
    private long _mutedSamples;

    /// <summary>Builds the loop and all its buffers. Throws <see cref="ArgumentException"/> naming the problem
    /// when the options are invalid or the detector does not fit the front end.</summary>
    public ListeningPipeline(IAudioSource source, KeywordDetector detector, OutboxStore outbox, ListeningPipelineOptions options, IAgentStatusSink? sink = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(detector);
        ArgumentNullException.ThrowIfNull(outbox);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        MfccConfig mfcc = options.Mfcc;
        if (source.SampleRateHz != mfcc.SampleRateHz)
        {
            throw new ArgumentException($"audio source '{source.Name}' delivers {source.SampleRateHz} Hz, the MFCC front end needs {mfcc.SampleRateHz} Hz", nameof(source));
        }
        _featureConfigHash = mfcc.FeatureConfigHash;
        CheckDetector(detector, mfcc, _featureConfigHash);
        EdgeKws.Shared.Contracts.FeatureConfigHash.TryParse(_featureConfigHash, _hashBytes);

        _source = source;
        _detector = detector;
        _outbox = outbox;
        _options = options;
        _sink = sink;
        _clock = options.Clock;
        _rate = mfcc.SampleRateHz;
        _hop = mfcc.HopSamples;
        _window = mfcc.WindowSamples;
        _coefficients = mfcc.CoefficientCount;
        _preSamples = (int)((long)options.PreTriggerMs * _rate / 1000);
        _postSamples = (int)((long)options.PostTriggerMs * _rate / 1000);
        _snrWindowSamples = (long)options.SnrWindowSeconds * _rate;
        _heartbeatSamples = (long)(options.HeartbeatInterval.TotalSeconds * _rate);

        _extractor = new MfccExtractor(mfcc);
        _clipExtractor = new MfccExtractor(mfcc);
        _level = new LevelMeter(_rate);
        _snr = new SnrEstimator(_rate);
        _block = new short[options.BlockSamples];
        _floatBlock = new float[options.BlockSamples];
        // At most ceil(block / hop) frames complete per block, whatever the extractor holds already.
        _rows = new float[(((options.BlockSamples + _hop - 1) / _hop) + 1) * _coefficients];
        // The clip's pre-trigger must still be in the ring when its post-trigger has arrived: one read
        // block and one MFCC window of slack on top of the clip itself.
        int clipMax = _preSamples + _postSamples;
        _ring = new AudioRing(clipMax + options.BlockSamples + _window);
        _clipSamples = new short[clipMax];
        _clipFeatures = new float[(mfcc.FrameCount(clipMax) + 1) * _coefficients];
        _clipBytes = new byte[Math.Max(ClipAudio.GetFrameSizeBytes(clipMax), ClipFeatures.GetFrameSizeBytes(mfcc.FrameCount(clipMax), _coefficients))];

        _baseTotals = outbox.DeviceTotals;
        _totalsEpoch = outbox.TotalsEpoch;
        _topicDetection = Topics.Uplink(options.DeviceId, MessageKind.Detection);
        _topicHeartbeat = Topics.Uplink(options.DeviceId, MessageKind.Heartbeat);
        _topicDrift = Topics.Uplink(options.DeviceId, MessageKind.DriftSketch);
        _topicClipAudio = Topics.Uplink(options.DeviceId, MessageKind.ClipAudio);
        _topicClipFeatures = Topics.Uplink(options.DeviceId, MessageKind.ClipFeatures);
        _topicNearMiss = Topics.Uplink(options.DeviceId, MessageKind.NearMiss);
        _nearMiss = new NearMissFinder(detector.Threshold, options.NearMissBandFraction, options.NearMissMaxPerHour);
        _sketch = NewSketch();
    }

    /// <summary>The detector in use.</summary>
    public KeywordDetector Detector => Volatile.Read(ref _detector);

    /// <summary>The device front end's feature configuration hash.</summary>
    public string FeatureConfigHash => _featureConfigHash;

    /// <summary>Samples the audio ring holds (pre + post trigger + slack).</summary>
    public int RingCapacitySamples => _ring.CapacitySamples;

    /// <summary>
    /// Mute (the panel's button): while true, blocks are still read from the source, so capture never
    /// overruns and resumes at once, but they are discarded: no ring, no MFCC, no inference, and they
    /// do not count as listening seconds (heartbeats go on, with fewer listening seconds than their
    /// interval). Muting sends the clips still waiting with the post-trigger audio they have, so no
    /// audio from after the mute ever leaves in a clip. Settable from any thread; takes effect at the next block.
    /// </summary>
    public bool Muted
    {
        get => _muted;
        set => _muted = value;
    }

    /// <summary>Seconds of audio read and discarded while <see cref="Muted"/>.</summary>
    public double MutedSeconds => Interlocked.Read(ref _mutedSamples) / (double)_rate;

    /// <summary>A snapshot of the counters.</summary>
    public ListeningPipelineStats Stats => new(
        Interlocked.Read(ref _samples), Interlocked.Read(ref _frames), Interlocked.Read(ref _detections),
        Interlocked.Read(ref _clipsAudio), Interlocked.Read(ref _clipsFeatures), Interlocked.Read(ref _clipsDropped),
        Interlocked.Read(ref _heartbeats), Interlocked.Read(ref _sketches), Interlocked.Read(ref _refused),
        Interlocked.Read(ref _failed) + Interlocked.Read(ref _writeQueueFull), _source.OverrunCount, Volatile.Read(ref _sourceEnded),
        _nearMiss.Found, _nearMiss.RateLimited, Interlocked.Read(ref _nearMissesSent));

    /// <summary>
    /// Runs until the source ends (returns 0) or <paramref name="ct"/> is cancelled. Then sends the clips
    /// still waiting (with whatever post-trigger audio arrived), a final heartbeat and sketch, and returns.
    /// </summary>
    public void Run(CancellationToken ct)
    {
        lock (_swapGate)
        {
            if (_running) throw new InvalidOperationException("the pipeline is already running");
            _running = true;
        }
        _writes = new BlockingCollection<WriteItem>(new ConcurrentQueue<WriteItem>(), WriteQueueCapacity);
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "edgekws-outbox-writer" };
        _writer.Start();
        _startTimestamp = _clock.GetTimestamp();
        _hbTimestamp = _startTimestamp;
        _sketchStartUtc = _clock.GetUtcNow();
        _sketch.WindowStartUtc = _sketchStartUtc;
        _sink?.OnStatus(AgentStatus.Listening);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (_swapRequested)
                {
                    ApplySwap();
                }
                int n;
                try
                {
                    n = _source.Read(_block, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                if (n == 0)
                {
                    Volatile.Write(ref _sourceEnded, true);
                    break;
                }
                if (_muted)
                {
                    SkipMutedBlock(n);
                    continue;
                }
                _mutedBefore = false;
                ProcessBlock(_block.AsSpan(0, n), _clock.GetTimestamp());
                if (HeartbeatDue())
                {
                    EmitHeartbeat();
                }
            }
            EmitDueClips(final: true);
            EmitHeartbeat();
        }
        finally
        {
            // Everything posted is written before Run returns (the caller may close the outbox next).
            _writes.CompleteAdding();
            _writer.Join();
            _writes.Dispose();
            _writes = null;
            lock (_swapGate)
            {
                _running = false;
            }
            if (_swapRequested)
            {
                ApplySwap();
            }
            _sink?.OnStatus(AgentStatus.Stopped);
        }
    }

    /// <summary>
    /// Hands the loop a new detector (the model-slot hook). The loop switches between two audio blocks,
    /// first closing the current heartbeat/sketch window so no window mixes two models; the task then
    /// completes with the previous detector, which the caller disposes. The new detector starts with an
    /// empty window (no detection for its first window length). Throws <see cref="ArgumentException"/>
    /// when the detector does not fit this front end.
    /// </summary>
    public Task<KeywordDetector> SwapDetectorAsync(KeywordDetector next)
    {
        ArgumentNullException.ThrowIfNull(next);
        CheckDetector(next, _options.Mfcc, _featureConfigHash);
        var done = new TaskCompletionSource<KeywordDetector>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_swapGate)
        {
            if (_swapNext is not null)
            {
                throw new InvalidOperationException("a detector swap is already pending");
            }
            if (!_running)
            {
                KeywordDetector old = _detector;
                Volatile.Write(ref _detector, next);
                _detectorFrameOffset = _extractor.FramesEmitted;
                _nearMiss.Reset(next.Threshold);
                done.SetResult(old);
                return done.Task;
            }
            _swapNext = next;
            _swapDone = done;
            _swapRequested = true;
        }
        return done.Task;
    }

    /// <summary>
    /// Decision latency of the detections so far (the last 4096): TimeProvider time from the source
    /// delivering the block that held the keyword's last frame to the event being raised.
    /// </summary>
    public (double P50Ms, double P99Ms, int Count) DecisionLatencyMs()
    {
        int count = (int)Math.Min(Interlocked.Read(ref _latencyCount), LatencySamples);
        if (count == 0) return (double.NaN, double.NaN, 0);
        double[] copy = _latencyMs.AsSpan(0, count).ToArray();
        Array.Sort(copy);
        return (Percentile(copy, 0.50), Percentile(copy, 0.99), count);
    }

    /// <summary>
    /// Per-window inference time of the last 4096 inferences (Stopwatch wall time of the detector's push
    /// that ran the model). Read it after <see cref="Run"/> returned, or accept a racy snapshot.
    /// </summary>
    public (double P50Ms, double P99Ms, int Count) InferenceTimeMs()
    {
        int count = (int)Math.Min(Volatile.Read(ref _inferenceTimings), LatencySamples);
        if (count == 0) return (double.NaN, double.NaN, 0);
        double[] copy = _inferenceMs.AsSpan(0, count).ToArray();
        Array.Sort(copy);
        return (Percentile(copy, 0.50), Percentile(copy, 0.99), count);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.IsEmpty) return double.NaN;
        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>
    /// Timestamp at which the source delivered the block holding stream sample <paramref name="sample"/>,
    /// for the last 64 blocks. Valid on the audio thread (e.g. inside <see cref="IAgentStatusSink.OnDetection"/>).
    /// </summary>
    public bool TryGetArrivalTimestamp(long sample, out long timestamp)
    {
        long bestEnd = long.MaxValue;
        timestamp = 0;
        for (int i = 0; i < ArrivalProbes; i++)
        {
            long end = _probeEnd[i];
            if (end > sample && end < bestEnd)
            {
                bestEnd = end;
                timestamp = _probeTimestamp[i];
            }
        }
        return bestEnd != long.MaxValue;
    }

    // The per-block hot path: allocation-free.
    internal void ProcessBlock(ReadOnlySpan<short> block, long arrivalTimestamp)
    {
        _ring.Write(block);
        _probeEnd[_probeHead] = _ring.WrittenSamples;
        _probeTimestamp[_probeHead] = arrivalTimestamp;
        _probeHead = _probeHead + 1 == ArrivalProbes ? 0 : _probeHead + 1;

        Span<float> floats = _floatBlock.AsSpan(0, block.Length);
        Pcm16.ToFloat(block, floats);
        _level.Push(floats);
        long windows = _level.SampleCount / _level.WindowSamples;
        if (windows != _levelWindows && _level.TryGetWindow(out LevelReading reading))
        {
            _levelWindows = windows;
            _sketch.AddRmsDbfs((float)reading.RmsDbFs);
        }
        _snr.Push(floats);
        _snrSamples += block.Length;
        if (_snrSamples >= _snrWindowSamples)
        {
            if (_snr.TryGetEstimate(out SnrEstimate snr))
            {
                _sketch.AddSnrDb((float)snr.SnrDb);
            }
            _snr.Reset();
            _snrSamples = 0;
        }

        int frames = _extractor.Push(block, _rows);
        KeywordDetector detector = _detector;
        bool sketchFrames = _coefficients == DriftSketchLayout.CoefficientCount;
        for (int f = 0; f < frames; f++)
        {
            ReadOnlySpan<float> row = _rows.AsSpan(f * _coefficients, _coefficients);
            if (sketchFrames)
            {
                _sketch.AddMfccFrame(row);
            }
            long inferences = detector.InferenceCount;
            long t0 = Stopwatch.GetTimestamp();
            bool fired = detector.TryPushFrame(row, out DetectionEvent detection);
            if (detector.InferenceCount != inferences)
            {
                // Wall time of the window's inference (ring copy, quantization, ONNX Runtime run, smoothing).
                long i = _inferenceTimings++;
                _inferenceMs[i % LatencySamples] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                _sketch.AddScore(Math.Clamp(detector.LastSmoothedScore, 0f, 1f));
                long frameIndex = detector.FramesPushed - 1;
                if (_nearMiss.TryPush(detector.LastSmoothedScore, frameIndex, (_detectorFrameOffset + frameIndex + 1) * _hop * 1000 / _rate, out NearMissPeak peak))
                {
                    OnNearMiss(peak, detector);
                }
            }
            if (fired)
            {
                OnDetection(detection);
            }
        }
        Interlocked.Add(ref _frames, frames);
        Interlocked.Add(ref _samples, block.Length);
        if (_pendingCount > 0)
        {
            EmitDueClips(final: false);
        }
    }

    private void OnDetection(in DetectionEvent detection)
    {
        long now = _clock.GetTimestamp();
        long keywordEnd = ((_detectorFrameOffset + detection.EndFrameIndex) * _hop) + _window;
        long latencyTicks = TryGetArrivalTimestamp(keywordEnd - 1, out long arrived) ? now - arrived : -1;
        if (latencyTicks >= 0)
        {
            long i = Interlocked.Increment(ref _latencyCount) - 1;
            _latencyMs[i % LatencySamples] = latencyTicks * 1000.0 / _clock.TimestampFrequency;
        }
        Interlocked.Increment(ref _detections);
        var clipId = Guid.NewGuid();
        DateTimeOffset utc = _clock.GetUtcNow();

        var report = new DetectionReport
        {
            DeviceId = _options.DeviceId,
            DeviceTimeUtc = utc,
            StreamOffsetMs = keywordEnd * 1000 / _rate,
            Score = Math.Clamp(detection.Score, 0f, 1f),
            ModelVersion = detection.ModelVersion,
            FeatureConfigHash = detection.FeatureConfigHash,
            ClipId = clipId,
        };
        Post(OutboxMessageClass.Detection, _topicDetection, WireJson.Serialize(report));

        if (_pendingCount == MaxPendingClips)
        {
            // Cannot happen with a refractory period longer than the post-trigger; dropping the oldest
            // pending clip keeps the newest detection's clip.
            RemovePending(0);
            Interlocked.Increment(ref _clipsDropped);
        }
        _pendingId[_pendingCount] = clipId;
        _pendingEnd[_pendingCount] = keywordEnd;
        _pendingUtc[_pendingCount] = utc;
        _pendingNearMiss[_pendingCount] = false;
        _pendingCount++;

        if (_sink is not null)
        {
            _sink.OnStatus(AgentStatus.Detected);
            _sink.OnDetection(new DetectionNotice(detection, keywordEnd, now, latencyTicks, clipId));
        }
    }

    /// <summary>A near miss: its report now, its clip (raw audio with consent, else features) when the post-trigger audio has
    /// arrived, both in the outbox's NearMiss class. Not a detection: no counter, sink or LED of detections sees it.</summary>
    private void OnNearMiss(in NearMissPeak peak, KeywordDetector detector)
    {
        long keywordEnd = ((_detectorFrameOffset + peak.FrameIndex) * _hop) + _window;
        Guid? clipId = _pendingCount < MaxPendingClips ? Guid.NewGuid() : null; // a full clip list keeps the detections' clips
        DateTimeOffset utc = _clock.GetUtcNow();
        var report = new NearMissReport
        {
            DeviceId = _options.DeviceId,
            DeviceTimeUtc = utc,
            StreamOffsetMs = keywordEnd * 1000 / _rate,
            Score = peak.Score,
            Threshold = _nearMiss.Threshold,
            BandFloor = _nearMiss.BandFloor,
            ModelVersion = detector.ModelVersion,
            FeatureConfigHash = detector.FeatureConfigHash,
            ClipId = clipId,
        };
        Post(OutboxMessageClass.NearMiss, _topicNearMiss, WireJson.Serialize(report));
        if (clipId is not { } id)
        {
            Interlocked.Increment(ref _clipsDropped);
            return;
        }
        _pendingId[_pendingCount] = id;
        _pendingEnd[_pendingCount] = keywordEnd;
        _pendingUtc[_pendingCount] = utc;
        _pendingNearMiss[_pendingCount] = true;
        _pendingCount++;
    }

    private void EmitDueClips(bool final)
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
            Interlocked.Increment(ref _clipsDropped);
            return;
        }
        // The frame is built in the reused buffer, then copied once for the writer thread.
        if (nearMiss)
        {
            // A near miss sends one frame, in its own class: the raw audio with consent, else the features.
            int nearSize = _options.UploadRawAudio
                ? ClipAudio.Write(_clipBytes, clipId, utc, _rate, _hashBytes, consentGranted: true, samples)
                : WriteFeatures(samples, clipId, utc);
            Post(OutboxMessageClass.NearMiss, _options.UploadRawAudio ? _topicClipAudio : _topicClipFeatures, _clipBytes.AsSpan(0, nearSize).ToArray());
            return;
        }
        if (_options.UploadRawAudio)
        {
            int size = ClipAudio.Write(_clipBytes, clipId, utc, _rate, _hashBytes, consentGranted: true, samples);
            Post(OutboxMessageClass.ClipAudio, _topicClipAudio, _clipBytes.AsSpan(0, size).ToArray());
        }
        // The features always go: without consent instead of the audio; with it as well, so the gateway can recompute them
        // from the audio and check training-serving skew.
        int featureSize = WriteFeatures(samples, clipId, utc);
        Post(OutboxMessageClass.ClipFeatures, _topicClipFeatures, _clipBytes.AsSpan(0, featureSize).ToArray());
    }

    /// <summary>The MFCCs of <paramref name="samples"/> as a ClipFeatures frame in the reused clip buffer; returns its size.</summary>
    private int WriteFeatures(ReadOnlySpan<short> samples, Guid clipId, DateTimeOffset utc)
    {
        _clipExtractor.Reset();
        int frames = _clipExtractor.Push(samples, _clipFeatures);
        return ClipFeatures.Write(_clipBytes, clipId, utc, _rate, _hashBytes, _coefficients, _clipFeatures.AsSpan(0, frames * _coefficients));
    }

    private bool HeartbeatDue() => _options.HeartbeatClock == HeartbeatClock.Stream
        ? _samples - _hbSamples >= _heartbeatSamples
        : _clock.GetElapsedTime(_hbTimestamp) >= _options.HeartbeatInterval;

    /// <summary>
    /// Closes a heartbeat interval on the audio thread: snapshots the per-interval counts and hands them,
    /// with the drift sketch of the same window, to the writer thread, which adds the outbox figures and
    /// RSS, serializes and stores them (so neither the stats query nor the fsync stalls capture). The
    /// interval is the wall time since the last one, or the audio time processed if that is longer (fast
    /// replay), so listening seconds never exceed it.
    /// </summary>
    private void EmitHeartbeat()
    {
        long now = _clock.GetTimestamp();
        DateTimeOffset utc = _clock.GetUtcNow();
        long samples = Interlocked.Read(ref _samples);
        double listening = (samples - _hbSamples) / (double)_rate;
        double wall = _clock.GetElapsedTime(_hbTimestamp, now).TotalSeconds;
        double interval = Math.Min(Math.Max(wall, listening), Heartbeat.MaxIntervalSeconds);
        if (interval <= 0 || (samples == _hbSamples && _heartbeatPosted && wall < 1))
        {
            return; // nothing happened since the last one (e.g. the final heartbeat right after a periodic one)
        }
        long detections = Interlocked.Read(ref _detections);
        long overruns = _source.OverrunCount;
        var snapshot = new HeartbeatSnapshot(utc, interval, listening,
            (int)Math.Min(int.MaxValue, detections - _hbDetections), (int)Math.Min(int.MaxValue, overruns - _hbOverruns),
            _detector.ModelVersion, _clock.GetElapsedTime(_startTimestamp, now).TotalSeconds);
        Post(OutboxMessageClass.Heartbeat, _topicHeartbeat, null, snapshot);
        _heartbeatPosted = true;

        if (_sketch.MfccFrameCount() > 0)
        {
            _sketch.WindowEndUtc = utc > _sketch.WindowStartUtc ? utc : _sketch.WindowStartUtc.AddMilliseconds(1);
            Post(OutboxMessageClass.Sketch, _topicDrift, WireJson.Serialize(_sketch));
            _sketch = NewSketch();
            _sketch.WindowStartUtc = utc;
        }

        _hbTimestamp = now;
        _hbSamples = samples;
        _hbDetections = detections;
        _hbOverruns = overruns;
    }

    /// <summary>Per-interval heartbeat figures taken on the audio thread.</summary>
    private sealed record HeartbeatSnapshot(DateTimeOffset Utc, double IntervalSeconds, double ListeningSeconds, int Detections,
        int Overruns, string ModelVersion, double UptimeSeconds);

    /// <summary>One message for the writer thread: a payload, or a heartbeat to complete, and the device totals when it was posted.</summary>
    private readonly record struct WriteItem(OutboxMessageClass Class, string Topic, byte[]? Payload, HeartbeatSnapshot? Heartbeat, OutboxDeviceTotals Totals);

    /// <summary>The device totals now: what the outbox had persisted at start plus this run's counts.</summary>
    private OutboxDeviceTotals CurrentTotals() => new(
        _baseTotals.ListeningSeconds + (Interlocked.Read(ref _samples) / (double)_rate),
        _baseTotals.Detections + Interlocked.Read(ref _detections),
        _baseTotals.AudioOverruns + _source.OverrunCount,
        _baseTotals.NearMisses + _nearMiss.Found,
        _baseTotals.NearMissesRateLimited + _nearMiss.RateLimited);

    /// <summary>Never blocks the audio thread: past 256 waiting messages (a stalled disk) the message is dropped and counted.</summary>
    private void Post(OutboxMessageClass messageClass, string topic, byte[]? payload, HeartbeatSnapshot? heartbeat = null)
    {
        var item = new WriteItem(messageClass, topic, payload, heartbeat, CurrentTotals());
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
        Interlocked.Increment(ref _writeQueueFull);
        Interlocked.Increment(ref _droppedByClass[(int)item.Class]);
        Volatile.Write(ref _dropsPending, 1);
        if (item.Class is OutboxMessageClass.ClipAudio or OutboxMessageClass.ClipFeatures)
        {
            Interlocked.Increment(ref _clipsDropped);
        }
        _options.Log?.Invoke($"outbox writer is {WriteQueueCapacity} messages behind: {item.Class} dropped");
    }

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
            payload = BuildHeartbeat(hb, item.Totals);
            if (payload is null) return;
        }
        bool accepted = Enqueue(item.Class, item.Topic, payload!, item.Totals);
        switch (item.Class)
        {
            case OutboxMessageClass.ClipAudio when accepted: Interlocked.Increment(ref _clipsAudio); break;
            case OutboxMessageClass.ClipFeatures when accepted: Interlocked.Increment(ref _clipsFeatures); break;
            case OutboxMessageClass.ClipAudio or OutboxMessageClass.ClipFeatures: Interlocked.Increment(ref _clipsDropped); break;
            case OutboxMessageClass.Heartbeat when accepted: Interlocked.Increment(ref _heartbeats); break;
            case OutboxMessageClass.Sketch when accepted: Interlocked.Increment(ref _sketches); break;
            case OutboxMessageClass.NearMiss when accepted && ReferenceEquals(item.Topic, _topicNearMiss): Interlocked.Increment(ref _nearMissesSent); break;
        }
    }

    /// <summary>
    /// Writer thread: the heartbeat with the outbox's figures: the per-interval counts of the wire's first fields, and
    /// the cumulative <see cref="HeartbeatTotals"/> (device totals as posted, outbox counters per class as of now).
    /// </summary>
    private byte[]? BuildHeartbeat(HeartbeatSnapshot hb, OutboxDeviceTotals totals)
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
            _options.Log?.Invoke($"outbox: cannot read stats for the heartbeat: {ex.Message}");
            return null;
        }
        long evicted = 0, expired = 0;
        foreach (OutboxClassStats s in stats.PerClass)
        {
            evicted += s.EvictedCount;
            expired += s.ExpiredCount;
        }
        if (_hbEvicted < 0)
        {
            // The store's counters are cumulative over its life; report what happened since this agent started.
            _hbEvicted = evicted;
            _hbExpired = expired;
        }
        var heartbeat = new Heartbeat
        {
            DeviceId = _options.DeviceId,
            DeviceTimeUtc = hb.Utc,
            IntervalSeconds = hb.IntervalSeconds,
            ListeningSeconds = hb.ListeningSeconds,
            Detections = hb.Detections,
            AudioOverruns = hb.Overruns,
            OutboxDepthCount = stats.TotalCount,
            OutboxDepthBytes = stats.TotalBytes,
            OutboxEvictedCount = evicted - _hbEvicted,
            OutboxExpiredCount = expired - _hbExpired,
            ModelVersion = hb.ModelVersion,
            Totals = new HeartbeatTotals
            {
                Epoch = _totalsEpoch,
                ListeningSeconds = totals.ListeningSeconds,
                Detections = totals.Detections,
                AudioOverruns = totals.AudioOverruns,
                Outbox = new OutboxTotals
                {
                    Detection = ClassTotals(stats, OutboxMessageClass.Detection),
                    Heartbeat = ClassTotals(stats, OutboxMessageClass.Heartbeat),
                    DriftSketch = ClassTotals(stats, OutboxMessageClass.Sketch),
                    ClipFeatures = ClassTotals(stats, OutboxMessageClass.ClipFeatures),
                    ClipAudio = ClassTotals(stats, OutboxMessageClass.ClipAudio),
                    ModelStatus = ClassTotals(stats, OutboxMessageClass.ModelStatus),
                    EnrollmentQc = ClassTotals(stats, OutboxMessageClass.EnrollmentQc),
                    NearMiss = ClassTotals(stats, OutboxMessageClass.NearMiss),
                },
                NearMisses = totals.NearMisses,
                NearMissesRateLimited = totals.NearMissesRateLimited,
            },
            RssBytes = ProcessMemory.ResidentBytes(),
            UptimeSeconds = hb.UptimeSeconds,
        };
        _hbEvicted = evicted;
        _hbExpired = expired;
        if (!heartbeat.TryValidate(out string why))
        {
            _options.Log?.Invoke($"heartbeat not sent, it fails the wire contract: {why}");
            return null;
        }
        return WireJson.Serialize(heartbeat);
    }

    /// <summary>One class's outbox counters as the wire names them: refusals and failed writes are both "failed".</summary>
    private static OutboxClassTotals ClassTotals(OutboxStats stats, OutboxMessageClass messageClass)
    {
        OutboxClassStats c = stats.For(messageClass);
        return new OutboxClassTotals
        {
            Written = c.WrittenCount,
            Evicted = c.EvictedCount,
            Expired = c.ExpiredCount,
            Failed = c.RefusedCount + c.FailedCount,
            Dropped = c.DroppedCount,
        };
    }

    private DriftSketch NewSketch() => new()
    {
        DeviceId = _options.DeviceId,
        ModelVersion = Volatile.Read(ref _detector).ModelVersion,
        FeatureConfigHash = _featureConfigHash,
    };

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
            _options.Log?.Invoke($"outbox: {messageClass} not stored: {ex.Message}");
            return false;
        }
        if (!result.IsAccepted)
        {
            Interlocked.Increment(ref _refused);
            _options.Log?.Invoke($"outbox: {messageClass} refused ({result.Status}, {result.SizeBytes} bytes)");
        }
        _options.Enqueued?.Invoke(messageClass, result);
        return result.IsAccepted;
    }

    private void SkipMutedBlock(int samples)
    {
        if (!_mutedBefore)
        {
            _mutedBefore = true;
            EmitDueClips(final: true);
            _nearMiss.Reset(_detector.Threshold); // muted audio is never scored: a run cut by the mute is no near miss
        }
        Interlocked.Add(ref _mutedSamples, samples);
        if (HeartbeatDue())
        {
            EmitHeartbeat();
        }
    }

    private void ApplySwap()
    {
        KeywordDetector next;
        TaskCompletionSource<KeywordDetector> done;
        lock (_swapGate)
        {
            if (_swapNext is null || _swapDone is null)
            {
                _swapRequested = false;
                return;
            }
            next = _swapNext;
            done = _swapDone;
            _swapNext = null;
            _swapDone = null;
            _swapRequested = false;
        }
        if (_running)
        {
            EmitHeartbeat(); // close the window of the old model
        }
        KeywordDetector old = _detector;
        Volatile.Write(ref _detector, next);
        _detectorFrameOffset = _extractor.FramesEmitted;
        _nearMiss.Reset(next.Threshold); // a run of the old model's scores is not one of the new model's
        _sketch = NewSketch();
        _sketch.WindowStartUtc = _clock.GetUtcNow();
        _options.Log?.Invoke($"detector swapped: {old.ModelVersion} -> {next.ModelVersion}");
        done.SetResult(old);
    }

    private static void CheckDetector(KeywordDetector detector, MfccConfig mfcc, string hash)
    {
        if (detector.Coefficients != mfcc.CoefficientCount)
        {
            throw new ArgumentException($"model {detector.ModelVersion} takes {detector.Coefficients} coefficients per frame, the front end makes {mfcc.CoefficientCount}", nameof(detector));
        }
        if (!string.Equals(detector.FeatureConfigHash, hash, StringComparison.Ordinal))
        {
            throw new ArgumentException($"model {detector.ModelVersion} was trained on feature config {detector.FeatureConfigHash}, this front end is {hash}", nameof(detector));
        }
    }
}
