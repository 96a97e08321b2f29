using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Listening;

/// <summary>Per-interval heartbeat figures taken on the audio thread; the writer thread completes them (<see cref="HeartbeatComposer"/>).</summary>
internal sealed record HeartbeatSnapshot(DateTimeOffset Utc, double IntervalSeconds, double ListeningSeconds, int Detections,
    int Overruns, string ModelVersion, double UptimeSeconds);

/// <summary>
/// The heartbeat cadence on the audio thread: when the next heartbeat is due (wall time, or audio time for
/// as-fast-as-possible replay) and the per-interval counts of the interval it closes.
/// </summary>
/// <remarks>Allocation: <see cref="IsDue"/> allocates nothing; closing an interval allocates its snapshot (once per
/// heartbeat). Audio thread only.</remarks>
internal sealed class HeartbeatWindow
{
    private readonly TimeProvider _clock;
    private readonly HeartbeatClock _pacing;
    private readonly TimeSpan _interval;
    private readonly long _intervalSamples;
    private readonly int _sampleRateHz;
    private long _startTimestamp;
    private long _timestamp;
    private long _samples;
    private long _detections;
    private long _overruns;
    private bool _posted;

    public HeartbeatWindow(TimeProvider clock, HeartbeatClock pacing, TimeSpan interval, int sampleRateHz)
    {
        _clock = clock;
        _pacing = pacing;
        _interval = interval;
        _sampleRateHz = sampleRateHz;
        _intervalSamples = (long)(interval.TotalSeconds * sampleRateHz);
    }

    /// <summary>Listening starts: uptime and the first interval count from <paramref name="timestamp"/>.</summary>
    public void Start(long timestamp)
    {
        _startTimestamp = timestamp;
        _timestamp = timestamp;
    }

    /// <summary>The interval is over: <paramref name="samples"/> (processed so far) is an interval of audio past the last
    /// heartbeat, or the wall clock says so.</summary>
    public bool IsDue(long samples) => _pacing == HeartbeatClock.Stream
        ? samples - _samples >= _intervalSamples
        : _clock.GetElapsedTime(_timestamp) >= _interval;

    /// <summary>
    /// Closes the interval at <paramref name="now"/>: the interval is the wall time since the last one, or the audio time
    /// processed if that is longer (fast replay), so listening seconds never exceed it. False, and nothing changes, when
    /// nothing happened since the last heartbeat (e.g. the final heartbeat right after a periodic one).
    /// </summary>
    public bool TryClose(long now, DateTimeOffset utc, long samples, long detections, long overruns, string modelVersion,
        out HeartbeatSnapshot? snapshot)
    {
        double listening = (samples - _samples) / (double)_sampleRateHz;
        double wall = _clock.GetElapsedTime(_timestamp, now).TotalSeconds;
        double interval = Math.Min(Math.Max(wall, listening), Heartbeat.MaxIntervalSeconds);
        if (interval <= 0 || (samples == _samples && _posted && wall < 1))
        {
            snapshot = null;
            return false;
        }
        snapshot = new HeartbeatSnapshot(utc, interval, listening,
            (int)Math.Min(int.MaxValue, detections - _detections), (int)Math.Min(int.MaxValue, overruns - _overruns),
            modelVersion, _clock.GetElapsedTime(_startTimestamp, now).TotalSeconds);
        _posted = true;
        _timestamp = now;
        _samples = samples;
        _detections = detections;
        _overruns = overruns;
        return true;
    }
}
