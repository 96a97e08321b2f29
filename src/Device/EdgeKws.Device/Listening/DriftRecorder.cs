using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Quality;

namespace EdgeKws.Device.Listening;

/// <summary>
/// Fills the drift sketch of the current heartbeat window on the audio thread: RMS level per level-meter window,
/// SNR per <see cref="ListeningPipelineOptions.SnrWindowSeconds"/>, every MFCC frame (when the front end makes the
/// sketch's 13 coefficients) and every inference's smoothed score. <see cref="TryCloseWindow"/> hands the window over
/// as its wire JSON and starts the next one.
/// </summary>
/// <remarks>Allocation: the level meter and SNR estimator are created once; <see cref="AddAudio"/>,
/// <see cref="AddMfccFrame"/> and <see cref="AddScore"/> allocate nothing (the sketch's histograms are fixed).
/// A new sketch is allocated per window (once per heartbeat). Audio thread only.</remarks>
internal sealed class DriftRecorder
{
    private readonly string _deviceId;
    private readonly string _featureConfigHash;
    private readonly LevelMeter _level;
    private readonly SnrEstimator _snr;
    private readonly long _snrWindowSamples;
    private readonly bool _sketchFrames;
    private DriftSketch _sketch;
    private long _levelWindows;
    private long _snrSamples;

    public DriftRecorder(string deviceId, string featureConfigHash, int sampleRateHz, int coefficients, int snrWindowSeconds, string modelVersion)
    {
        _deviceId = deviceId;
        _featureConfigHash = featureConfigHash;
        _level = new LevelMeter(sampleRateHz);
        _snr = new SnrEstimator(sampleRateHz);
        _snrWindowSamples = (long)snrWindowSeconds * sampleRateHz;
        _sketchFrames = coefficients == DriftSketchLayout.CoefficientCount;
        _sketch = NewSketch(modelVersion);
    }

    /// <summary>Sets the start of the window being filled (when listening starts).</summary>
    public void StartWindow(DateTimeOffset utc) => _sketch.WindowStartUtc = utc;

    /// <summary>Drops the window being filled and starts an empty one for <paramref name="modelVersion"/> (a detector swap:
    /// no window mixes two models).</summary>
    public void Restart(string modelVersion, DateTimeOffset utc)
    {
        _sketch = NewSketch(modelVersion);
        _sketch.WindowStartUtc = utc;
    }

    /// <summary>A block of audio (as floats): level and SNR readings as their windows complete.</summary>
    public void AddAudio(ReadOnlySpan<float> floats)
    {
        _level.Push(floats);
        long windows = _level.SampleCount / _level.WindowSamples;
        if (windows != _levelWindows && _level.TryGetWindow(out LevelReading reading))
        {
            _levelWindows = windows;
            _sketch.AddRmsDbfs((float)reading.RmsDbFs);
        }
        _snr.Push(floats);
        _snrSamples += floats.Length;
        if (_snrSamples >= _snrWindowSamples)
        {
            if (_snr.TryGetEstimate(out SnrEstimate snr))
            {
                _sketch.AddSnrDb((float)snr.SnrDb);
            }
            _snr.Reset();
            _snrSamples = 0;
        }
    }

    /// <summary>One MFCC frame, when the front end's coefficient count is the sketch's.</summary>
    public void AddMfccFrame(ReadOnlySpan<float> row)
    {
        if (_sketchFrames)
        {
            _sketch.AddMfccFrame(row);
        }
    }

    /// <summary>One inference's smoothed score, clamped to [0, 1].</summary>
    public void AddScore(float smoothed) => _sketch.AddScore(Math.Clamp(smoothed, 0f, 1f));

    /// <summary>
    /// Ends the window at <paramref name="utc"/> (at least 1 ms after its start) and returns it as wire JSON, then starts an
    /// empty one for <paramref name="modelVersion"/> at <paramref name="utc"/>. False, and the window goes on, when it holds
    /// no MFCC frame.
    /// </summary>
    public bool TryCloseWindow(DateTimeOffset utc, string modelVersion, out byte[] payload)
    {
        if (_sketch.MfccFrameCount() <= 0)
        {
            payload = [];
            return false;
        }
        _sketch.WindowEndUtc = utc > _sketch.WindowStartUtc ? utc : _sketch.WindowStartUtc.AddMilliseconds(1);
        payload = WireJson.Serialize(_sketch);
        _sketch = NewSketch(modelVersion);
        _sketch.WindowStartUtc = utc;
        return true;
    }

    private DriftSketch NewSketch(string modelVersion) => new()
    {
        DeviceId = _deviceId,
        ModelVersion = modelVersion,
        FeatureConfigHash = _featureConfigHash,
    };
}
