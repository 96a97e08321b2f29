namespace EdgeKws.Acoustics;

/// <summary>Room-acoustic measures of an impulse response. Each call allocates one double array of the response's length.</summary>
public static class ReverberationTime
{
    /// <summary>
    /// Schroeder backward integration (EDC(n) = sum of h^2 from n to the end, in dB re its value at 0),
    /// least-squares line through the decay curve between -5 and -25 dB (T20), extrapolated to 60 dB:
    /// RT60 = -60 / slope. The response is used as given: trim leading silence or noise floor first if needed.
    /// </summary>
    /// <exception cref="ArgumentException">The response has no energy, or its decay never reaches -25 dB, or the fit range has fewer than 2 samples.</exception>
    public static double EstimateRt60Seconds(ReadOnlySpan<float> impulseResponse, int sampleRateHz)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRateHz);
        double[] decay = new double[impulseResponse.Length];
        double total = 0;
        for (int n = impulseResponse.Length - 1; n >= 0; n--)
        {
            total += (double)impulseResponse[n] * impulseResponse[n];
            decay[n] = total;
        }

        if (!(total > 0) || !double.IsFinite(total))
        {
            throw new ArgumentException("The impulse response has no (finite) energy, so it has no decay to measure.", nameof(impulseResponse));
        }

        double upper = total * Math.Pow(10, -0.5);  // -5 dB
        double lower = total * Math.Pow(10, -2.5);  // -25 dB
        int begin = -1, end = -1;
        for (int n = 0; n < decay.Length; n++)
        {
            if (begin < 0 && decay[n] <= upper)
            {
                begin = n;
            }

            if (decay[n] <= lower)
            {
                end = n;
                break;
            }
        }

        if (end < 0)
        {
            double reachedDb = 10 * Math.Log10(decay[^1] / total);
            throw new ArgumentException(
                $"The Schroeder decay never reaches -25 dB (it ends at {reachedDb:F1} dB after {impulseResponse.Length} samples), so T20 cannot be measured: the response is too short or does not decay.",
                nameof(impulseResponse));
        }

        if (end - begin < 1)
        {
            throw new ArgumentException("The decay falls from -5 to -25 dB within one sample; there is nothing to fit.", nameof(impulseResponse));
        }

        // Least squares of level (dB) against time (samples) over [begin, end], centred for accuracy.
        int count = end - begin + 1;
        double meanT = (begin + end) / 2.0;
        double meanL = 0;
        for (int n = begin; n <= end; n++)
        {
            meanL += 10 * Math.Log10(decay[n] / total);
        }

        meanL /= count;
        double sxy = 0, sxx = 0;
        for (int n = begin; n <= end; n++)
        {
            double t = n - meanT;
            sxy += t * (10 * Math.Log10(decay[n] / total) - meanL);
            sxx += t * t;
        }

        double slopeDbPerSecond = sxy / sxx * sampleRateHz;
        return -60.0 / slopeDbPerSecond;
    }

    /// <summary>
    /// Direct-to-reverberant ratio in dB: energy within +-2.5 ms of the strongest sample (the direct path)
    /// against the energy of all other samples. +Infinity when nothing lies outside that window. Reflections
    /// arriving within 2.5 ms of the direct path (a floor bounce at a few metres) count as direct, and in a
    /// symmetric placement two coincident images can outweigh the direct path and become the "strongest sample".
    /// </summary>
    /// <exception cref="ArgumentException">The response has no energy.</exception>
    public static double DirectToReverberantRatioDb(ReadOnlySpan<float> impulseResponse, int sampleRateHz)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRateHz);
        int peak = 0;
        float peakMagnitude = -1;
        for (int n = 0; n < impulseResponse.Length; n++)
        {
            float magnitude = Math.Abs(impulseResponse[n]);
            if (magnitude > peakMagnitude)
            {
                peakMagnitude = magnitude;
                peak = n;
            }
        }

        if (!(peakMagnitude > 0))
        {
            throw new ArgumentException("The impulse response has no energy.", nameof(impulseResponse));
        }

        return DirectToReverberantRatioDb(impulseResponse, sampleRateHz, peak);
    }

    /// <summary>
    /// Direct-to-reverberant ratio in dB with the direct path at a known sample (0 for a response from
    /// <see cref="RoomImpulseResponse.Generate"/> with the delay removed): energy within +-2.5 ms of
    /// <paramref name="directIndex"/> against the rest. Use this when the direct path is known, since at a few
    /// metres coinciding low-order reflections can sum to more than the direct sample.
    /// </summary>
    /// <exception cref="ArgumentException">The response has no energy in the direct window.</exception>
    public static double DirectToReverberantRatioDb(ReadOnlySpan<float> impulseResponse, int sampleRateHz, int directIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRateHz);
        ArgumentOutOfRangeException.ThrowIfNegative(directIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(directIndex, impulseResponse.Length);
        int peak = directIndex;
        int half = (int)Math.Round(0.0025 * sampleRateHz);
        int first = Math.Max(0, peak - half), last = Math.Min(impulseResponse.Length - 1, peak + half);
        double direct = 0, reverberant = 0;
        for (int n = 0; n < impulseResponse.Length; n++)
        {
            double energy = (double)impulseResponse[n] * impulseResponse[n];
            if (n >= first && n <= last)
            {
                direct += energy;
            }
            else
            {
                reverberant += energy;
            }
        }

        if (!(direct > 0))
        {
            throw new ArgumentException("The impulse response has no energy around the direct path.", nameof(impulseResponse));
        }

        return reverberant > 0 ? 10 * Math.Log10(direct / reverberant) : double.PositiveInfinity;
    }
}
