using System.Buffers.Binary;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Diagnostics;

namespace EdgeKws.Shared.Tests.Contracts;

public class ClipFrame_Tests
{
    private static readonly Guid Clip = Guid.Parse("11223344-5566-7788-99aa-bbccddeeff00");
    private static readonly byte[] Hash = Samples.HashBytes;

    private static byte[] AudioFrame(short[] samples, bool consent = true)
    {
        var buffer = new byte[ClipAudio.GetFrameSizeBytes(samples.Length)];
        int written = ClipAudio.Write(buffer, Clip, Samples.Now, 16_000, Hash, consent, samples);
        Assert.Equal(buffer.Length, written);
        return buffer;
    }

    [Fact]
    public void Audio_round_trips_header_and_samples_with_the_documented_layout()
    {
        short[] samples = [0, 1, -1, short.MaxValue, short.MinValue, 1234];
        byte[] frame = AudioFrame(samples);

        Assert.Equal("EKWA"u8.ToArray(), frame[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(frame.AsSpan(4)));
        Assert.Equal(16_000u, BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(8)));
        Assert.Equal(80, BinaryPrimitives.ReadUInt16LittleEndian(frame.AsSpan(6)));
        Assert.Equal(Hash, frame[20..52]);
        Assert.Equal(Samples.Now.ToUnixTimeMilliseconds(), BinaryPrimitives.ReadInt64LittleEndian(frame.AsSpan(52)));
        Assert.Equal(Clip, new Guid(frame.AsSpan(60, 16), bigEndian: true));
        Assert.Equal(12u, BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(76)));
        Assert.Equal(80 + 12, frame.Length);

        Assert.True(ClipAudio.TryReadHeader(frame, out ClipHeader header, out string reason), reason);
        Assert.Equal(new ClipHeader(MessageKind.ClipAudio, 1, 16_000, samples.Length, 1, new FeatureConfigDigest(Hash), Samples.Now, Clip, true), header);
        Assert.Equal(Samples.Hash, header.ConfigHash.ToString());
        var back = new short[header.FrameCount];
        ClipAudio.ReadSamples(frame, header, back);
        Assert.Equal(samples, back);
    }

    [Fact]
    public void Audio_writer_refuses_to_frame_audio_without_consent()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => AudioFrame([1, 2, 3], consent: false));
        Assert.Contains("consent", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Audio_reader_rejects_a_frame_whose_consent_flag_is_cleared()
    {
        byte[] frame = AudioFrame([1, 2, 3]);
        frame[19] = 0;
        Assert.False(ClipAudio.TryReadHeader(frame, out _, out string reason));
        Assert.Contains("lacks the consent flag", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Features_round_trip_frame_major_values()
    {
        float[] values = new float[13 * 4];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (i * 0.37f) - 5f;
        }
        var frame = new byte[ClipFeatures.GetFrameSizeBytes(4, 13)];
        ClipFeatures.Write(frame, Clip, Samples.Now, 16_000, Hash, 13, values);

        Assert.True(ClipFeatures.TryReadHeader(frame, out ClipHeader header, out string reason), reason);
        Assert.Equal(MessageKind.ClipFeatures, header.Kind);
        Assert.Equal(4, header.FrameCount);
        Assert.Equal(13, header.ValuesPerFrame);
        var back = new float[values.Length];
        Assert.True(ClipFeatures.TryReadFeatures(frame, header, back, out reason), reason);
        Assert.Equal(values, back);
    }

    [Fact]
    public void Readers_reject_truncated_frames_with_the_byte_counts()
    {
        byte[] frame = AudioFrame([1, 2, 3, 4]);
        Assert.False(ClipAudio.TryReadHeader(frame.AsSpan(0, frame.Length - 2), out _, out string reason));
        Assert.Contains("carries 6 payload bytes, header declares 8", reason, StringComparison.Ordinal);
        Assert.False(ClipAudio.TryReadHeader(frame.AsSpan(0, 10), out _, out reason));
        Assert.Contains("shorter than the 80-byte header", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Readers_reject_the_other_kind_wrong_schema_and_lying_lengths()
    {
        byte[] audio = AudioFrame([1, 2]);
        Assert.False(ClipFeatures.TryReadHeader(audio, out _, out string reason));
        Assert.Contains("magic", reason, StringComparison.Ordinal);

        byte[] v2 = (byte[])audio.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(v2.AsSpan(4), 2);
        Assert.False(ClipAudio.TryReadHeader(v2, out _, out reason));
        Assert.Contains("schemaVersion 2 is not supported", reason, StringComparison.Ordinal);

        byte[] lying = (byte[])audio.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(lying.AsSpan(12), 1_000_000);
        Assert.False(ClipAudio.TryReadHeader(lying, out _, out reason));
        Assert.Contains("declares 4 payload bytes", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Features_reader_rejects_non_finite_values_by_position()
    {
        var frame = new byte[ClipFeatures.GetFrameSizeBytes(2, 2)];
        ClipFeatures.Write(frame, Clip, Samples.Now, 16_000, Hash, 2, [1f, 2f, 3f, 4f]);
        BinaryPrimitives.WriteSingleLittleEndian(frame.AsSpan(ClipFrame.HeaderSizeBytes + 12), float.NaN);
        Assert.True(ClipFeatures.TryReadHeader(frame, out ClipHeader header, out _));
        Assert.False(ClipFeatures.TryReadFeatures(frame, header, new float[4], out string reason));
        Assert.Contains("value 3 (frame 1, coefficient 1) is NaN", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Writers_reject_bad_arguments_with_specific_messages()
    {
        var buf = new byte[1024];
        Assert.Contains("sample rate", Assert.Throws<ArgumentOutOfRangeException>(
            () => ClipAudio.Write(buf, Clip, Samples.Now, 4_000, Hash, true, new short[4])).Message, StringComparison.Ordinal);
        Assert.Contains("needs", Assert.Throws<ArgumentException>(
            () => ClipAudio.Write(buf.AsSpan(0, 84), Clip, Samples.Now, 16_000, Hash, true, new short[4])).Message, StringComparison.Ordinal);
        Assert.Contains("whole number", Assert.Throws<ArgumentException>(
            () => ClipFeatures.Write(buf, Clip, Samples.Now, 16_000, Hash, 13, new float[14])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Writers_reject_a_config_hash_that_is_not_the_32_byte_sha256()
    {
        var buf = new byte[1024];
        var ex = Assert.Throws<ArgumentException>(() => ClipAudio.Write(buf, Clip, Samples.Now, 16_000, new byte[8], true, new short[4]));
        Assert.Equal("configHash", ex.ParamName);
        Assert.Contains("32-byte SHA-256, got 8 bytes", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => ClipFeatures.Write(buf, Clip, Samples.Now, 16_000, new byte[33], 2, [1f, 2f]));
        Assert.Equal("configHash", ex.ParamName);
        Assert.Contains("got 33 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reader_carries_whatever_hash_bytes_the_frame_holds()
    {
        byte[] frame = AudioFrame([1, 2]);
        frame[20 + 31] ^= 0xff; // last hash byte
        Assert.True(ClipAudio.TryReadHeader(frame, out ClipHeader header, out string reason), reason);
        Assert.NotEqual(new FeatureConfigDigest(Hash), header.ConfigHash);
        Assert.False(header.ConfigHash.Matches(Samples.Hash));
        var back = new byte[FeatureConfigHash.ByteLength];
        header.ConfigHash.CopyTo(back);
        Assert.Equal(frame[20..52], back);
    }

    [Fact]
    public void Reading_a_header_allocates_nothing()
    {
        byte[] audio = AudioFrame([1, 2, 3]);
        var features = new byte[ClipFeatures.GetFrameSizeBytes(1, 2)];
        ClipFeatures.Write(features, Clip, Samples.Now, 16_000, Hash, 2, [1f, 2f]);
        Assert.True(ClipAudio.TryReadHeader(audio, out _, out string reason), reason);
        Assert.True(ClipFeatures.TryReadHeader(features, out _, out reason), reason);
        bool hashesAgree = true;
        long allocated = AllocationMeter.BytesAllocated(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                ClipAudio.TryReadHeader(audio, out ClipHeader a, out _);
                ClipFeatures.TryReadHeader(features, out ClipHeader f, out _);
                hashesAgree &= a.ConfigHash == f.ConfigHash;
            }
        });
        Assert.True(hashesAgree);
        Assert.Equal(0, allocated);
    }
}
