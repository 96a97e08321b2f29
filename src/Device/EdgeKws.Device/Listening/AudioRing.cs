namespace EdgeKws.Device.Listening;

/// <summary>
/// Fixed-size ring of the most recent 16-bit samples, addressed by absolute stream position (samples
/// since the pipeline started). It gives each detection its pre/post-trigger clip.
/// </summary>
/// <remarks>Allocation: the buffer is allocated once in the constructor; <see cref="Write"/> and
/// <see cref="TryCopy"/> allocate nothing. Not thread-safe (the audio thread owns it).</remarks>
public sealed class AudioRing
{
    private readonly short[] _buffer;
    private long _written;

    /// <param name="capacitySamples">Samples kept; older ones are overwritten.</param>
    public AudioRing(int capacitySamples)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacitySamples, 1);
        _buffer = new short[capacitySamples];
    }

    /// <summary>Samples the ring holds at most.</summary>
    public int CapacitySamples => _buffer.Length;

    /// <summary>Samples written since construction: the stream position one past the newest sample.</summary>
    public long WrittenSamples => _written;

    /// <summary>Stream position of the oldest sample still held.</summary>
    public long OldestSample => Math.Max(0, _written - _buffer.Length);

    /// <summary>Appends samples, overwriting the oldest.</summary>
    public void Write(ReadOnlySpan<short> samples)
    {
        if (samples.Length > _buffer.Length)
        {
            // Only the newest capacity samples survive; skip the rest as if written and overwritten.
            _written += samples.Length - _buffer.Length;
            samples = samples[^_buffer.Length..];
        }
        int start = (int)(_written % _buffer.Length);
        int first = Math.Min(samples.Length, _buffer.Length - start);
        samples[..first].CopyTo(_buffer.AsSpan(start));
        samples[first..].CopyTo(_buffer);
        _written += samples.Length;
    }

    /// <summary>
    /// Copies samples [<paramref name="startSample"/>, <paramref name="startSample"/> + destination.Length)
    /// of the stream; false when any of them is no longer (or not yet) in the ring.
    /// </summary>
    public bool TryCopy(long startSample, Span<short> destination)
    {
        if (startSample < OldestSample || startSample + destination.Length > _written)
        {
            return false;
        }
        int start = (int)(startSample % _buffer.Length);
        int first = Math.Min(destination.Length, _buffer.Length - start);
        _buffer.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
        return true;
    }
}
