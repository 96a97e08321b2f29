using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Labeling;

/// <summary>A stored <c>ClipAudio</c> frame as a WAV file (16-bit PCM mono at the clip's rate), for the aligner and for reviewers' ears.</summary>
public static class ClipWav
{
    /// <summary>Writes the frame's samples as WAV to <paramref name="destination"/>; false with the reason when the frame is unreadable.</summary>
    public static bool TryWrite(ReadOnlySpan<byte> audioFrame, Stream destination, out string reason)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!ClipAudio.TryReadHeader(audioFrame, out ClipHeader header, out reason))
        {
            return false;
        }
        var samples = new short[header.FrameCount];
        ClipAudio.ReadSamples(audioFrame, header, samples);
        using var writer = new WavWriter(destination, header.SampleRateHz, 1, WavSampleFormat.Pcm16, leaveOpen: true);
        writer.Write(samples);
        return true;
    }

    /// <summary>The frame as WAV bytes; false with the reason when the frame is unreadable.</summary>
    public static bool TryToBytes(ReadOnlySpan<byte> audioFrame, out byte[] wav, out string reason)
    {
        using var buffer = new MemoryStream();
        bool ok = TryWrite(audioFrame, buffer, out reason);
        wav = ok ? buffer.ToArray() : [];
        return ok;
    }
}
