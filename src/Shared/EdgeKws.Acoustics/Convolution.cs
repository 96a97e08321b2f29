namespace EdgeKws.Acoustics;

/// <summary>
/// Linear convolution by FFT overlap-add, in double precision. Per call it allocates the FFT tables and four
/// double buffers of the FFT size (chosen to minimise work, at most the next power of two of the output
/// length); nothing is allocated per block or per sample. The shorter input is the one transformed once,
/// and the blocks of the longer one are transformed two at a time, packed as the real and imaginary parts
/// of one complex FFT (the kernel spectrum is that of a real signal, so the two results come back
/// separated in the real and imaginary parts).
/// </summary>
public static class Convolution
{
    private const int MinFftSize = 4;

    /// <summary>
    /// Full linear convolution, output length x.Length + h.Length - 1. Equals direct convolution to about
    /// 1e-7 of the output peak (float output; the arithmetic is double).
    /// </summary>
    /// <exception cref="ArgumentException">Either input is empty.</exception>
    public static float[] Convolve(ReadOnlySpan<float> signal, ReadOnlySpan<float> impulseResponse)
    {
        RequireNonEmpty(signal, impulseResponse);
        var output = new float[signal.Length + impulseResponse.Length - 1];
        Convolve(signal, impulseResponse, output);
        return output;
    }

    /// <summary>
    /// "Same" alignment: output length == signal.Length, output[n] = full[n]. With a response whose sample 0
    /// is the direct path (<see cref="RirOptions.RemoveDirectPathDelay"/>) the dry signal keeps its timing;
    /// the reverberation past the signal's end is cut off.
    /// </summary>
    /// <exception cref="ArgumentException">Either input is empty.</exception>
    public static float[] ConvolveSame(ReadOnlySpan<float> signal, ReadOnlySpan<float> impulseResponse)
    {
        RequireNonEmpty(signal, impulseResponse);
        var output = new float[signal.Length];
        Convolve(signal, impulseResponse, output);
        return output;
    }

    /// <summary>
    /// Writes the first destination.Length samples of the full convolution into the caller's
    /// <paramref name="destination"/> (which may be anything from 0 to x.Length + h.Length - 1 long);
    /// only the blocks that reach the destination are computed.
    /// </summary>
    /// <exception cref="ArgumentException">Either input is empty, or the destination is longer than the full convolution.</exception>
    public static void Convolve(ReadOnlySpan<float> signal, ReadOnlySpan<float> impulseResponse, Span<float> destination)
    {
        RequireNonEmpty(signal, impulseResponse);
        int fullLength = signal.Length + impulseResponse.Length - 1;
        if (destination.Length > fullLength)
        {
            throw new ArgumentException($"The destination holds {destination.Length} samples but the full convolution has only {fullLength}.", nameof(destination));
        }

        destination.Clear();
        if (destination.IsEmpty)
        {
            return;
        }

        bool signalIsLonger = signal.Length >= impulseResponse.Length;
        ReadOnlySpan<float> longer = signalIsLonger ? signal : impulseResponse;
        ReadOnlySpan<float> kernel = signalIsLonger ? impulseResponse : signal;

        // Samples of the longer input at or past the destination's end cannot reach it.
        int usedLength = Math.Min(longer.Length, destination.Length);
        int fftSize = ChooseFftSize(kernel.Length, usedLength);
        int blockLength = fftSize - kernel.Length + 1;

        var fft = new ComplexFft(fftSize);
        var kernelRe = new double[fftSize];
        var kernelIm = new double[fftSize];
        for (int i = 0; i < kernel.Length; i++)
        {
            kernelRe[i] = kernel[i];
        }

        fft.Transform(kernelRe, kernelIm, inverse: false);

        var re = new double[fftSize];
        var im = new double[fftSize];
        for (int start = 0; start < usedLength; start += 2 * blockLength)
        {
            int firstCount = Math.Min(blockLength, usedLength - start);
            int secondStart = start + blockLength;
            int secondCount = Math.Max(0, Math.Min(blockLength, usedLength - secondStart));

            Array.Clear(re);
            Array.Clear(im);
            for (int i = 0; i < firstCount; i++)
            {
                re[i] = longer[start + i];
            }

            for (int i = 0; i < secondCount; i++)
            {
                im[i] = longer[secondStart + i];
            }

            fft.Transform(re, im, inverse: false);
            for (int k = 0; k < fftSize; k++)
            {
                double xr = re[k], xi = im[k], hr = kernelRe[k], hi = kernelIm[k];
                re[k] = xr * hr - xi * hi;
                im[k] = xr * hi + xi * hr;
            }

            fft.Transform(re, im, inverse: true);
            Accumulate(re, firstCount + kernel.Length - 1, destination, start);
            if (secondCount > 0)
            {
                Accumulate(im, secondCount + kernel.Length - 1, destination, secondStart);
            }
        }
    }

    /// <summary>The power-of-two FFT size with the least butterfly work for this kernel and length.</summary>
    internal static int ChooseFftSize(int kernelLength, int usedLength)
    {
        int smallest = Math.Max(MinFftSize, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)kernelLength));
        int largest = Math.Max(smallest, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(usedLength + kernelLength - 1)));
        int best = smallest;
        double bestCost = double.MaxValue;
        for (long size = smallest; size <= largest; size <<= 1)
        {
            int block = (int)size - kernelLength + 1;
            long blocks = (usedLength + block - 1) / block;
            long transforms = (blocks + 1) / 2 * 2 + 1; // forward + inverse per pair, + the kernel
            double cost = transforms * size * Math.Log2(size) + blocks * 2.0 * size;
            if (cost < bestCost)
            {
                bestCost = cost;
                best = (int)size;
            }
        }

        return best;
    }

    private static void Accumulate(double[] block, int count, Span<float> destination, int offset)
    {
        int end = Math.Min(count, destination.Length - offset);
        for (int i = 0; i < end; i++)
        {
            destination[offset + i] += (float)block[i];
        }
    }

    private static void RequireNonEmpty(ReadOnlySpan<float> signal, ReadOnlySpan<float> impulseResponse)
    {
        if (signal.IsEmpty || impulseResponse.IsEmpty)
        {
            throw new ArgumentException("Convolution needs a non-empty signal and impulse response.");
        }
    }
}
