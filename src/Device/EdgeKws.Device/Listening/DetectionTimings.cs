namespace EdgeKws.Device.Listening;

/// <summary>
/// The pipeline's latency figures: when the source delivered each recent block (to time a detection from the
/// block that held the keyword's last frame), the decision latency of the last 4096 detections and the inference
/// time of the last 4096 inferences.
/// </summary>
/// <remarks>Allocation: every array is allocated in the constructor; recording and <see cref="TryGetArrivalTimestamp"/>
/// allocate nothing (the per-block path). Only the percentile queries copy. Arrival probes and inference times are
/// written on the audio thread; decision latencies may be read from any thread (a racy snapshot while running).</remarks>
internal sealed class DetectionTimings
{
    private const int ArrivalProbes = 64;
    private const int LatencySamples = 4096;

    private readonly long[] _probeEnd = new long[ArrivalProbes];
    private readonly long[] _probeTimestamp = new long[ArrivalProbes];
    private readonly double[] _latencyMs = new double[LatencySamples];
    private readonly double[] _inferenceMs = new double[LatencySamples];
    private int _probeHead;
    private long _latencyCount;
    private long _inferenceTimings;

    /// <summary>Audio thread: the source delivered the block that ends before stream sample <paramref name="blockEnd"/> at <paramref name="timestamp"/>.</summary>
    public void RecordArrival(long blockEnd, long timestamp)
    {
        _probeEnd[_probeHead] = blockEnd;
        _probeTimestamp[_probeHead] = timestamp;
        _probeHead = _probeHead + 1 == ArrivalProbes ? 0 : _probeHead + 1;
    }

    /// <summary>Timestamp at which the source delivered the block holding stream sample <paramref name="sample"/>, for the last 64 blocks.</summary>
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

    /// <summary>Audio thread: one detection's decision latency.</summary>
    public void RecordDecisionLatency(double milliseconds)
    {
        long i = Interlocked.Increment(ref _latencyCount) - 1;
        _latencyMs[i % LatencySamples] = milliseconds;
    }

    /// <summary>Audio thread: one window's inference time.</summary>
    public void RecordInference(double milliseconds)
    {
        long i = _inferenceTimings++;
        _inferenceMs[i % LatencySamples] = milliseconds;
    }

    /// <summary>Nearest-rank p50 and p99 of the recorded decision latencies (the last 4096), and how many there are.</summary>
    public (double P50Ms, double P99Ms, int Count) DecisionLatencyMs() =>
        Percentiles(_latencyMs, (int)Math.Min(Interlocked.Read(ref _latencyCount), LatencySamples));

    /// <summary>Nearest-rank p50 and p99 of the recorded inference times (the last 4096), and how many there are.</summary>
    public (double P50Ms, double P99Ms, int Count) InferenceTimeMs() =>
        Percentiles(_inferenceMs, (int)Math.Min(Volatile.Read(ref _inferenceTimings), LatencySamples));

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.IsEmpty) return double.NaN;
        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static (double P50Ms, double P99Ms, int Count) Percentiles(double[] values, int count)
    {
        if (count == 0) return (double.NaN, double.NaN, 0);
        double[] copy = values.AsSpan(0, count).ToArray();
        Array.Sort(copy);
        return (Percentile(copy, 0.50), Percentile(copy, 0.99), count);
    }
}
