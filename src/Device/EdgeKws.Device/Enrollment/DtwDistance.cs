namespace EdgeKws.Device.Enrollment;

/// <summary>
/// Dynamic time warping distance between two MFCC sequences, for take-to-take consistency.
/// </summary>
/// <remarks>
/// <para>Frame distance: Euclidean over C1..C(n-1) after cepstral mean normalization (each take's
/// per-coefficient mean over its frames is subtracted). C0 (overall level) and the mean (the
/// microphone and room colouring) are left out on purpose: a take said closer to or further
/// from the microphone is still the same take.</para>
/// <para>Recursion: symmetric steps, D(i,j) = min(D(i-1,j) + d, D(i,j-1) + d, D(i-1,j-1) + 2d),
/// normalized by n + m, so the result is a mean distance per frame, comparable across lengths.</para>
/// <para>Allocation: none. The caller passes a scratch span of 2 x (framesB + 1) doubles.</para>
/// </remarks>
public static class DtwDistance
{
    /// <summary>Doubles of scratch <see cref="Compute"/> needs for a second sequence of <paramref name="framesB"/> frames.</summary>
    public static int ScratchLength(int framesB) => 2 * (framesB + 1);

    /// <summary>Per-coefficient mean over <paramref name="frames"/> rows of <paramref name="stride"/> floats.</summary>
    public static void ComputeMean(ReadOnlySpan<float> features, int frames, int stride, Span<double> mean)
    {
        mean[..stride].Clear();
        for (int f = 0; f < frames; f++)
        {
            ReadOnlySpan<float> row = features.Slice(f * stride, stride);
            for (int c = 0; c < stride; c++)
            {
                mean[c] += row[c];
            }
        }

        if (frames > 0)
        {
            for (int c = 0; c < stride; c++)
            {
                mean[c] /= frames;
            }
        }
    }

    /// <summary>The normalized DTW distance between sequences a and b (rows of <paramref name="stride"/> coefficients, C0 first).</summary>
    /// <exception cref="ArgumentException">A sequence is empty or a span is too short.</exception>
    public static double Compute(
        ReadOnlySpan<float> a, int framesA, ReadOnlySpan<double> meanA,
        ReadOnlySpan<float> b, int framesB, ReadOnlySpan<double> meanB,
        int stride, Span<double> scratch)
    {
        if (framesA < 1 || framesB < 1)
        {
            throw new ArgumentException($"DTW needs at least one frame in each sequence (got {framesA} and {framesB}).");
        }

        if (a.Length < framesA * stride || b.Length < framesB * stride || meanA.Length < stride || meanB.Length < stride)
        {
            throw new ArgumentException("DTW: a feature or mean span is shorter than frames x stride.");
        }

        if (scratch.Length < ScratchLength(framesB))
        {
            throw new ArgumentException($"DTW scratch needs {ScratchLength(framesB)} doubles, got {scratch.Length}.", nameof(scratch));
        }

        Span<double> prev = scratch[..(framesB + 1)];
        Span<double> cur = scratch.Slice(framesB + 1, framesB + 1);
        prev.Fill(double.PositiveInfinity);
        prev[0] = 0;
        for (int i = 1; i <= framesA; i++)
        {
            cur[0] = double.PositiveInfinity;
            ReadOnlySpan<float> rowA = a.Slice((i - 1) * stride, stride);
            for (int j = 1; j <= framesB; j++)
            {
                double d = FrameDistance(rowA, meanA, b.Slice((j - 1) * stride, stride), meanB);
                double best = Math.Min(prev[j] + d, cur[j - 1] + d);
                cur[j] = Math.Min(best, prev[j - 1] + (2 * d));
            }

            Span<double> t = prev;
            prev = cur;
            cur = t;
        }

        return prev[framesB] / (framesA + framesB);
    }

    private static double FrameDistance(ReadOnlySpan<float> x, ReadOnlySpan<double> mx, ReadOnlySpan<float> y, ReadOnlySpan<double> my)
    {
        double sum = 0;
        for (int c = 1; c < x.Length; c++)
        {
            double diff = (x[c] - mx[c]) - (y[c] - my[c]);
            sum += diff * diff;
        }

        return Math.Sqrt(sum);
    }
}
