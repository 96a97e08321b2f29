using EdgeKws.Shared.Audio;

namespace EdgeKws.Shared.Tests.Audio;

public sealed class WavWriter_Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(WavSampleFormat.Pcm16, 1, 16000)]
    [InlineData(WavSampleFormat.Pcm16, 2, 44100)]
    [InlineData(WavSampleFormat.Float32, 1, 16000)]
    [InlineData(WavSampleFormat.Float32, 3, 48000)]
    public void Round_trips_through_reader_and_sox_agrees_on_the_header(WavSampleFormat format, int channels, int rate)
    {
        string path = _dir.File("out.wav");
        const int frames = 12345;
        float[] interleaved = new float[frames * channels];
        var rng = new Random(7);
        for (int i = 0; i < interleaved.Length; i++)
        {
            interleaved[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        using (var writer = new WavWriter(path, rate, channels, format))
        {
            writer.Write(interleaved.AsSpan(0, 999 * channels));
            writer.Write(interleaved.AsSpan(999 * channels));
            Assert.Equal(frames, writer.FramesWritten);
        }

        Assert.Equal(rate.ToString(System.Globalization.CultureInfo.InvariantCulture), Sox.Soxi("-r", path));
        Assert.Equal(channels.ToString(System.Globalization.CultureInfo.InvariantCulture), Sox.Soxi("-c", path));
        Assert.Equal(frames.ToString(System.Globalization.CultureInfo.InvariantCulture), Sox.Soxi("-s", path));
        Assert.Equal(format == WavSampleFormat.Pcm16 ? "Signed Integer PCM" : "Floating Point PCM", Sox.Soxi("-e", path));

        using var reader = new WavReader(path);
        Assert.Equal(WavDataSize.Declared, reader.Format.DataSize);
        var back = new float[interleaved.Length];
        Assert.Equal(frames, reader.Read(back));
        float tolerance = format == WavSampleFormat.Pcm16 ? 0.5f / 32768 : 0f;
        for (int i = 0; i < back.Length; i++)
        {
            Assert.True(Math.Abs(back[i] - interleaved[i]) <= tolerance, $"sample {i}: wrote {interleaved[i]}, read {back[i]}");
        }
    }

    [Fact]
    public void Writes_native_int16_samples_bit_exact()
    {
        string path = _dir.File("s16.wav");
        short[] samples = [short.MinValue, -1, 0, 1, short.MaxValue];
        using (var writer = new WavWriter(path, 16000, 1, WavSampleFormat.Pcm16))
        {
            writer.Write(samples);
        }

        Assert.Equal(44 + 10, new FileInfo(path).Length);
        float[] mono = WavFile.ReadAllMono(path, out WavFormat format);
        Assert.Equal(16, format.BitsPerSample);
        var back = new short[mono.Length];
        Pcm16.ToInt16(mono, back);
        Assert.Equal(samples, back);
    }

    [Fact]
    public void Leaves_readable_placeholders_on_a_non_seekable_stream()
    {
        var sink = new MemoryStream();
        using (var writer = new WavWriter(new WriteOnlyPipe(sink), 16000, 1, WavSampleFormat.Pcm16))
        {
            writer.Write(new float[] { 0.5f, -0.5f });
        }

        using var reader = new WavReader(new MemoryStream(sink.ToArray()));
        Assert.Equal((WavDataSize.UnfinalizedToEndOfStream, 2L), (reader.Format.DataSize, reader.Format.FrameCount));
    }

    [Fact]
    public void WavFile_Write_then_ReadAllMono_round_trips_float32_exactly()
    {
        string path = _dir.File("mono.wav");
        float[] tone = Signal.Sine(16000, 440, 16000, 0.8);
        WavFile.Write(path, tone, 16000, WavSampleFormat.Float32);
        Assert.Equal(tone, WavFile.ReadAllMono(path, out _));
    }

    [Fact]
    public void Rejects_a_partial_frame_and_bad_arguments()
    {
        using var writer = new WavWriter(new MemoryStream(), 16000, 2, WavSampleFormat.Pcm16);
        Assert.Throws<ArgumentException>(() => writer.Write(new float[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WavWriter(new MemoryStream(), 0, 1, WavSampleFormat.Pcm16));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WavWriter(new MemoryStream(), 16000, 0, WavSampleFormat.Pcm16));
    }

    private sealed class WriteOnlyPipe(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
    }
}
