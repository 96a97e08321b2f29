using System.Diagnostics;
using EdgeKws.Detection;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;

namespace EdgeKws.Device.Listening;

/// <summary>
/// The always-on loop: <see cref="IAudioSource"/> -> <see cref="MfccExtractor"/> -> <see cref="KeywordDetector"/>
/// -> detection report + pre/post-trigger clip -> <see cref="OutboxStore"/>; heartbeats and drift sketches
/// at a fixed cadence. The uplink drains the outbox on its own task, so nothing here ever waits for the
/// network: detection goes on while the broker is away, and messages wait in the outbox.
/// </summary>
/// <remarks>
/// <para><b>Parts.</b> This type reads the source, runs the front end and the detector, and turns their events into
/// messages. Around it, each with one job: <see cref="DetectionReporter"/> (detections and near misses as messages),
/// <see cref="ClipRecorder"/> (audio ring and pre/post-trigger clips),
/// <see cref="DriftRecorder"/> (the drift sketch of the current window), <see cref="HeartbeatWindow"/> (heartbeat
/// cadence and per-interval counts), <see cref="QueuedOutboxWriter"/> (the writer thread: every enqueue off the audio
/// thread; <see cref="HeartbeatComposer"/> completes heartbeats there), <see cref="DetectionTimings"/> (decision latency
/// and inference time), <see cref="DetectorSwap"/> (hot swap hand-over), <see cref="NearMissFinder"/>.</para>
/// <para><b>Allocation.</b> Every buffer (read block, float block, MFCC rows, audio ring, clip buffers,
/// latency probes) and every DSP object is created in the constructor. Per audio block the loop (read,
/// ring, level meter, SNR estimator, MFCC, drift sketch, detector inference) allocates nothing; a test
/// asserts 0 bytes over 60 s of audio. Detections, clips and heartbeats allocate their messages
/// (serialization, outbox copy): at most a few per second by design.</para>
/// <para><b>Outbox writes off the audio thread</b> (<see cref="QueuedOutboxWriter"/>): messages dropped because the
/// writer fell 256 behind count in <see cref="ListeningPipelineStats.EnqueueFailed"/>. <see cref="Run"/> returns only
/// after everything posted is stored.</para>
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
    private readonly IAudioSource _source;
    private readonly ListeningPipelineOptions _options;
    private readonly IAgentStatusSink? _sink;
    private readonly TimeProvider _clock;
    private readonly MfccExtractor _extractor;
    private readonly int _rate;
    private readonly int _hop;
    private readonly int _window;
    private readonly int _coefficients;
    private readonly string _featureConfigHash;
    private readonly OutboxDeviceTotals _baseTotals;
    private readonly DeviceUplinkTopics _topics;
    private readonly NearMissFinder _nearMiss;
    private readonly QueuedOutboxWriter _writer;
    private readonly ClipRecorder _clips;
    private readonly DriftRecorder _drift;
    private readonly HeartbeatWindow _heartbeat;
    private readonly DetectionTimings _timings = new();
    private readonly DetectorSwap _swap = new();
    private readonly DetectionReporter _reporter;

    // Fixed working memory.
    private readonly short[] _block;
    private readonly float[] _floatBlock;
    private readonly float[] _rows;

    private KeywordDetector _detector;
    private long _detectorFrameOffset;
    private long _samples, _frames;
    private bool _sourceEnded;
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
        byte[] hashBytes = new byte[EdgeKws.Shared.Contracts.FeatureConfigHash.ByteLength];
        EdgeKws.Shared.Contracts.FeatureConfigHash.TryParse(_featureConfigHash, hashBytes);

        _source = source;
        _detector = detector;
        _options = options;
        _sink = sink;
        _clock = options.Clock;
        _rate = mfcc.SampleRateHz;
        _hop = mfcc.HopSamples;
        _window = mfcc.WindowSamples;
        _coefficients = mfcc.CoefficientCount;

        _extractor = new MfccExtractor(mfcc);
        _block = new short[options.BlockSamples];
        _floatBlock = new float[options.BlockSamples];
        // At most ceil(block / hop) frames complete per block, whatever the extractor holds already.
        _rows = new float[(((options.BlockSamples + _hop - 1) / _hop) + 1) * _coefficients];

        _baseTotals = outbox.DeviceTotals;
        _topics = new DeviceUplinkTopics(options.DeviceId);
        _nearMiss = new NearMissFinder(detector.Threshold, options.NearMissBandFraction, options.NearMissMaxPerHour);
        _writer = new QueuedOutboxWriter(outbox, new HeartbeatComposer(options.DeviceId, outbox.TotalsEpoch, options.Log), CurrentTotals,
            _topics.NearMiss, options.Log, options.Enqueued);
        _clips = new ClipRecorder(options, hashBytes, _topics, _writer);
        _drift = new DriftRecorder(options.DeviceId, _featureConfigHash, _rate, _coefficients, options.SnrWindowSeconds, detector.ModelVersion);
        _heartbeat = new HeartbeatWindow(_clock, options.HeartbeatClock, options.HeartbeatInterval, _rate);
        _reporter = new DetectionReporter(options.DeviceId, _clock, _rate, _nearMiss, _topics, _writer, _clips, _timings, sink);
    }

    /// <summary>The detector in use.</summary>
    public KeywordDetector Detector => Volatile.Read(ref _detector);

    /// <summary>The device front end's feature configuration hash.</summary>
    public string FeatureConfigHash => _featureConfigHash;

    /// <summary>Samples the audio ring holds (pre + post trigger + slack).</summary>
    public int RingCapacitySamples => _clips.CapacitySamples;

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
        Interlocked.Read(ref _samples), Interlocked.Read(ref _frames), _reporter.Detections,
        _writer.ClipsAudio, _writer.ClipsFeatures, _clips.Dropped + _writer.ClipsDropped,
        _writer.Heartbeats, _writer.Sketches, _writer.Refused,
        _writer.Failed, _source.OverrunCount, Volatile.Read(ref _sourceEnded),
        _nearMiss.Found, _nearMiss.RateLimited, _writer.NearMissesSent);

    /// <summary>
    /// Runs until the source ends (returns 0) or <paramref name="ct"/> is cancelled. Then sends the clips
    /// still waiting (with whatever post-trigger audio arrived), a final heartbeat and sketch, and returns.
    /// </summary>
    public void Run(CancellationToken ct)
    {
        _swap.BeginRun();
        _writer.Start();
        _heartbeat.Start(_clock.GetTimestamp());
        _drift.StartWindow(_clock.GetUtcNow());
        _sink?.OnStatus(AgentStatus.Listening);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (_swap.Requested)
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
                if (_heartbeat.IsDue(_samples))
                {
                    EmitHeartbeat();
                }
            }
            _clips.EmitDue(final: true);
            EmitHeartbeat();
        }
        finally
        {
            // Everything posted is written before Run returns (the caller may close the outbox next).
            _writer.Stop();
            _swap.EndRun();
            if (_swap.Requested)
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
        return _swap.Request(next, InstallDetector);
    }

    /// <summary>
    /// Decision latency of the detections so far (the last 4096): TimeProvider time from the source
    /// delivering the block that held the keyword's last frame to the event being raised.
    /// </summary>
    public (double P50Ms, double P99Ms, int Count) DecisionLatencyMs() => _timings.DecisionLatencyMs();

    /// <summary>
    /// Per-window inference time of the last 4096 inferences (Stopwatch wall time of the detector's push
    /// that ran the model). Read it after <see cref="Run"/> returned, or accept a racy snapshot.
    /// </summary>
    public (double P50Ms, double P99Ms, int Count) InferenceTimeMs() => _timings.InferenceTimeMs();

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double p) => DetectionTimings.Percentile(sorted, p);

    /// <summary>
    /// Timestamp at which the source delivered the block holding stream sample <paramref name="sample"/>,
    /// for the last 64 blocks. Valid on the audio thread (e.g. inside <see cref="IAgentStatusSink.OnDetection"/>).
    /// </summary>
    public bool TryGetArrivalTimestamp(long sample, out long timestamp) => _timings.TryGetArrivalTimestamp(sample, out timestamp);

    // The per-block hot path: allocation-free.
    internal void ProcessBlock(ReadOnlySpan<short> block, long arrivalTimestamp)
    {
        _clips.Write(block);
        _timings.RecordArrival(_clips.WrittenSamples, arrivalTimestamp);

        Span<float> floats = _floatBlock.AsSpan(0, block.Length);
        Pcm16.ToFloat(block, floats);
        _drift.AddAudio(floats);

        int frames = _extractor.Push(block, _rows);
        KeywordDetector detector = _detector;
        for (int f = 0; f < frames; f++)
        {
            ReadOnlySpan<float> row = _rows.AsSpan(f * _coefficients, _coefficients);
            _drift.AddMfccFrame(row);
            long inferences = detector.InferenceCount;
            long t0 = Stopwatch.GetTimestamp();
            bool fired = detector.TryPushFrame(row, out DetectionEvent detection);
            if (detector.InferenceCount != inferences)
            {
                // Wall time of the window's inference (ring copy, quantization, ONNX Runtime run, smoothing).
                _timings.RecordInference(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                _drift.AddScore(detector.LastSmoothedScore);
                long frameIndex = detector.FramesPushed - 1;
                if (_nearMiss.TryPush(detector.LastSmoothedScore, frameIndex, (_detectorFrameOffset + frameIndex + 1) * _hop * 1000 / _rate, out NearMissPeak peak))
                {
                    _reporter.OnNearMiss(peak, KeywordEnd(peak.FrameIndex), detector);
                }
            }
            if (fired)
            {
                _reporter.OnDetection(detection, KeywordEnd(detection.EndFrameIndex));
            }
        }
        Interlocked.Add(ref _frames, frames);
        Interlocked.Add(ref _samples, block.Length);
        if (_clips.HasPending)
        {
            _clips.EmitDue(final: false);
        }
    }

    /// <summary>Stream sample just past the newest MFCC frame of the detector's frame <paramref name="frameIndex"/>.</summary>
    private long KeywordEnd(long frameIndex) => ((_detectorFrameOffset + frameIndex) * _hop) + _window;

    /// <summary>
    /// Closes a heartbeat interval on the audio thread: snapshots the per-interval counts and hands them,
    /// with the drift sketch of the same window, to the writer thread, which adds the outbox figures and
    /// RSS, serializes and stores them (so neither the stats query nor the fsync stalls capture).
    /// </summary>
    private void EmitHeartbeat()
    {
        long now = _clock.GetTimestamp();
        DateTimeOffset utc = _clock.GetUtcNow();
        if (!_heartbeat.TryClose(now, utc, Interlocked.Read(ref _samples), _reporter.Detections, _source.OverrunCount,
            _detector.ModelVersion, out HeartbeatSnapshot? snapshot))
        {
            return; // nothing happened since the last one
        }
        _writer.Post(OutboxMessageClass.Heartbeat, _topics.Heartbeat, null, snapshot);
        if (_drift.TryCloseWindow(utc, Volatile.Read(ref _detector).ModelVersion, out byte[] sketch))
        {
            _writer.Post(OutboxMessageClass.Sketch, _topics.Drift, sketch);
        }
    }

    /// <summary>The device totals now: what the outbox had persisted at start plus this run's counts.</summary>
    private OutboxDeviceTotals CurrentTotals() => new(
        _baseTotals.ListeningSeconds + (Interlocked.Read(ref _samples) / (double)_rate),
        _baseTotals.Detections + _reporter.Detections,
        _baseTotals.AudioOverruns + _source.OverrunCount,
        _baseTotals.NearMisses + _nearMiss.Found,
        _baseTotals.NearMissesRateLimited + _nearMiss.RateLimited);

    private void SkipMutedBlock(int samples)
    {
        if (!_mutedBefore)
        {
            _mutedBefore = true;
            _clips.EmitDue(final: true);
            _nearMiss.Reset(_detector.Threshold); // muted audio is never scored: a run cut by the mute is no near miss
        }
        Interlocked.Add(ref _mutedSamples, samples);
        if (_heartbeat.IsDue(_samples))
        {
            EmitHeartbeat();
        }
    }

    /// <summary>Audio thread, between two blocks: installs the requested detector after closing the old model's window.</summary>
    private void ApplySwap()
    {
        if (!_swap.TryTake(out KeywordDetector? next, out TaskCompletionSource<KeywordDetector>? done))
        {
            return;
        }
        if (_swap.Running)
        {
            EmitHeartbeat(); // close the window of the old model
        }
        KeywordDetector old = InstallDetector(next);
        _drift.Restart(next.ModelVersion, _clock.GetUtcNow());
        _options.Log?.Invoke($"detector swapped: {old.ModelVersion} -> {next.ModelVersion}");
        done.SetResult(old);
    }

    /// <summary>Makes <paramref name="next"/> the detector; returns the previous one. Audio thread, or under the swap lock when not running.</summary>
    private KeywordDetector InstallDetector(KeywordDetector next)
    {
        KeywordDetector old = _detector;
        Volatile.Write(ref _detector, next);
        _detectorFrameOffset = _extractor.FramesEmitted;
        _nearMiss.Reset(next.Threshold); // a run of the old model's scores is not one of the new model's
        return old;
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
