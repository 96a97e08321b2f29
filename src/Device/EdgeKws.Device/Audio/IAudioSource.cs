namespace EdgeKws.Device.Audio;

/// <summary>
/// A source of 16-bit mono PCM at the device's native rate (16 kHz): the ALSA microphone, stdin,
/// or a file. The agent reads it on one thread; implementations are not thread-safe.
/// </summary>
/// <remarks>
/// Allocation contract: after construction, <see cref="Read"/> allocates nothing on the managed
/// heap (errors excepted), so the capture loop can run for months without GC pressure.
/// Whoever creates a source disposes it; dispose only after the last <see cref="Read"/> returned
/// (use the cancellation token to stop a blocked read).
/// </remarks>
public interface IAudioSource : IDisposable
{
    /// <summary>Samples per second delivered by <see cref="Read"/> (16000 on every source here).</summary>
    int SampleRateHz { get; }

    /// <summary>Human-readable origin, e.g. <c>alsa:plughw:CARD=Device,DEV=0</c> or <c>stdin</c>.</summary>
    string Name { get; }

    /// <summary>Samples delivered by <see cref="Read"/> so far.</summary>
    long SamplesRead { get; }

    /// <summary>
    /// Times audio was lost because the reader fell behind (ALSA overrun). Always 0 for sources
    /// that cannot overrun (a stream only blocks its writer).
    /// </summary>
    long OverrunCount { get; }

    /// <summary>
    /// Blocks until at least one sample is available, copies up to <paramref name="destination"/>.Length
    /// samples and returns how many; returns 0 only at end of stream (and from then on).
    /// Throws <see cref="OperationCanceledException"/> when <paramref name="ct"/> is cancelled.
    /// </summary>
    int Read(Span<short> destination, CancellationToken ct);
}
