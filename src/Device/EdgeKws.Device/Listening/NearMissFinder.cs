namespace EdgeKws.Device.Listening;

/// <summary>A near miss found by <see cref="NearMissFinder"/>.</summary>
/// <param name="Score">The peak smoothed score, in [<see cref="NearMissFinder.BandFloor"/>, <see cref="NearMissFinder.Threshold"/>).</param>
/// <param name="FrameIndex">The detector's frame index of the inference that peaked (the newest frame of its window).</param>
/// <param name="StreamMs">Stream time of that inference, in milliseconds (the caller's clock for the rate limit).</param>
public readonly record struct NearMissPeak(float Score, long FrameIndex, long StreamMs);

/// <summary>
/// Finds near misses in the detector's smoothed scores: a <b>run</b> is a contiguous sequence of scores at or above the band
/// floor (<c>BandFraction x threshold</c>); a run whose scores all stay below the threshold is one near miss, reported once,
/// when the run ends (the score falls below the floor), at the run's maximum. A run in which any score reaches the threshold
/// is a detection's (or lies in the detector's refractory period) and is never a near miss, before or after the crossing.
/// Near misses are rate-limited by a token bucket of <c>MaxPerHour</c> tokens refilled continuously over an hour of stream
/// time; a near miss found without a token is counted in <see cref="RateLimited"/> and not reported.
/// </summary>
/// <remarks>
/// The goal of this class is to avoid any heap allocation: <see cref="TryPush"/> runs on the audio thread once per inference
/// and touches only primitive fields. Counters are written with <see cref="Interlocked"/> so other threads may read them.
/// Not thread-safe otherwise: one audio thread pushes.
/// </remarks>
public sealed class NearMissFinder
{
    private const double MsPerHour = 3_600_000;

    private readonly double _bandFraction;
    private readonly int _maxPerHour;
    private bool _inRun;
    private bool _reached;
    private float _peak;
    private long _peakFrame;
    private long _peakMs;
    private double _tokens;
    private long _tokensAtMs = long.MinValue;
    private long _found;
    private long _rateLimited;

    /// <summary>Creates a finder for a detector with <paramref name="threshold"/>.</summary>
    /// <param name="threshold">The detector's threshold, in (0, 1].</param>
    /// <param name="bandFraction">The band's floor as a fraction of the threshold, in (0, 1).</param>
    /// <param name="maxPerHour">Near misses reported per hour at most (burst included); 0 turns the finder off.</param>
    public NearMissFinder(float threshold, double bandFraction, int maxPerHour)
    {
        if (!(bandFraction > 0 && bandFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(bandFraction), bandFraction, "NearMiss.BandFraction must be between 0 and 1 (exclusive)");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(maxPerHour);
        _bandFraction = bandFraction;
        _maxPerHour = maxPerHour;
        _tokens = maxPerHour;
        Reset(threshold);
    }

    /// <summary>The detection threshold the band sits under.</summary>
    public float Threshold { get; private set; }

    /// <summary>The band's floor: <c>BandFraction x Threshold</c> (inclusive).</summary>
    public float BandFloor { get; private set; }

    /// <summary>False when MaxPerHour is 0: nothing is found or counted.</summary>
    public bool Enabled => _maxPerHour > 0;

    /// <summary>Near misses found, those the rate limit dropped included.</summary>
    public long Found => Interlocked.Read(ref _found);

    /// <summary>Near misses found but dropped by the rate limit.</summary>
    public long RateLimited => Interlocked.Read(ref _rateLimited);

    /// <summary>
    /// Pushes the smoothed score of one inference. Returns true, with the peak, when this score ends a near-miss run and the
    /// rate limit has a token for it. A NaN score counts as below the floor.
    /// </summary>
    public bool TryPush(float smoothed, long frameIndex, long streamMs, out NearMissPeak peak)
    {
        peak = default;
        if (_maxPerHour == 0)
        {
            return false;
        }
        if (!(smoothed >= BandFloor))
        {
            if (!_inRun)
            {
                return false;
            }
            _inRun = false;
            if (_reached)
            {
                return false;
            }
            Interlocked.Increment(ref _found);
            if (!TryTakeToken(streamMs))
            {
                Interlocked.Increment(ref _rateLimited);
                return false;
            }
            peak = new NearMissPeak(_peak, _peakFrame, _peakMs);
            return true;
        }
        if (!_inRun)
        {
            _inRun = true;
            _reached = false;
            _peak = float.NegativeInfinity;
        }
        if (smoothed >= Threshold)
        {
            _reached = true;
        }
        else if (smoothed > _peak)
        {
            _peak = smoothed;
            _peakFrame = frameIndex;
            _peakMs = streamMs;
        }
        return false;
    }

    /// <summary>Forgets the current run without reporting it (mute, detector swap) and takes the (new) detector's threshold.
    /// Counters and the rate limit's tokens are kept.</summary>
    public void Reset(float threshold)
    {
        if (!(threshold > 0f && threshold <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the detection threshold must be in (0, 1]");
        }
        Threshold = threshold;
        BandFloor = (float)(threshold * _bandFraction);
        _inRun = false;
        _reached = false;
    }

    private bool TryTakeToken(long nowMs)
    {
        if (_tokensAtMs != long.MinValue && nowMs > _tokensAtMs)
        {
            _tokens = Math.Min(_maxPerHour, _tokens + ((nowMs - _tokensAtMs) * _maxPerHour / MsPerHour));
        }
        _tokensAtMs = Math.Max(_tokensAtMs, nowMs);
        if (_tokens < 1)
        {
            return false;
        }
        _tokens -= 1;
        return true;
    }
}
