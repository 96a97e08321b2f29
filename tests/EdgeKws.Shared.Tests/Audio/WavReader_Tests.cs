using EdgeKws.Shared.Audio;

namespace EdgeKws.Shared.Tests.Audio;

public sealed class WavReader_Tests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // Each row: sox output options, then the format we must parse. Samples are compared with sox's own decode.
    [Theory]
    // sox writes WAVE_FORMAT_EXTENSIBLE for more than 16 bits or 2 channels unless -t wavpcm is given.
    [InlineData("-r 44100 -c 2 -b 24", 44100, 2, 24, WavEncoding.Pcm, true, 1e-7)]
    [InlineData("-r 44100 -c 2 -b 24 -t wavpcm", 44100, 2, 24, WavEncoding.Pcm, false, 1e-7)]
    [InlineData("-r 16000 -c 1 -b 16", 16000, 1, 16, WavEncoding.Pcm, false, 1e-7)]
    [InlineData("-r 8000 -c 1 -b 8", 8000, 1, 8, WavEncoding.Pcm, false, 1e-7)]
    [InlineData("-r 22050 -c 2 -b 32 -e signed-integer", 22050, 2, 32, WavEncoding.Pcm, true, 1e-7)]
    [InlineData("-r 48000 -c 3 -e floating-point -b 32", 48000, 3, 32, WavEncoding.IeeeFloat, false, 0)]
    [InlineData("-r 48000 -c 2 -e floating-point -b 32 -t wavpcm", 48000, 2, 32, WavEncoding.IeeeFloat, false, 0)]
    [InlineData("-r 96000 -c 1 -e floating-point -b 64", 96000, 1, 64, WavEncoding.IeeeFloat, false, 1e-7)]
    [InlineData("-r 48000 -c 6 -b 24", 48000, 6, 24, WavEncoding.Pcm, true, 1e-7)]
    [InlineData("-r 11025 -c 4 -b 16", 11025, 4, 16, WavEncoding.Pcm, true, 1e-7)]
    public void Decodes_sox_files_like_sox_does(string soxOptions, int rate, int channels, int bits, WavEncoding encoding, bool extensible, double tolerance)
    {
        string path = _dir.File("tone.wav");
        Sox.Run(["-D", "-n", .. soxOptions.Split(' '), path, "synth", "0.5", "sine", "440", "sine", "1000", "vol", "0.5"]);
        float[] expected = Sox.DecodeToFloat(path, _dir.Path);

        byte[] head = new byte[22];
        using (var fs = File.OpenRead(path))
        {
            fs.ReadExactly(head);
        }

        Assert.Equal(extensible, head[20] == 0xFE && head[21] == 0xFF);
        using var reader = new WavReader(path);
        WavFormat f = reader.Format;
        Assert.Equal((rate, channels, bits, encoding, extensible), (f.SampleRateHz, f.Channels, f.BitsPerSample, f.Encoding, f.IsExtensible));
        Assert.Equal(long.Parse(Sox.Soxi("-s", path), System.Globalization.CultureInfo.InvariantCulture), f.FrameCount);
        Assert.Equal(f.FrameCount / (double)rate, f.Duration.TotalSeconds, 6);
        Assert.InRange(f.Duration.TotalSeconds, 0.4999, 0.5);

        var interleaved = new float[f.FrameCount * channels];
        Assert.Equal(f.FrameCount, reader.Read(interleaved));
        Assert.Equal(0, reader.Read(interleaved));
        Assert.Equal(expected.Length, interleaved.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - interleaved[i]) <= tolerance, $"sample {i}: sox {expected[i]}, ours {interleaved[i]}");
        }
    }

    [Fact]
    public void Decodes_extensible_float_which_sox_does_not_write()
    {
        // WAVE_FORMAT_EXTENSIBLE, 2 channels, 32-bit, sub-format KSDATAFORMAT_SUBTYPE_IEEE_FLOAT.
        byte[] fmt = new byte[40];
        WavBytes.Fmt(tag: 0xFFFE, channels: 2, rate: 48000, bits: 32).CopyTo(fmt, 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(16), 22);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(18), 32);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(20), 3);
        byte[] guid = [0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
        guid.CopyTo(fmt, 24);
        byte[] data = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 0.25f);
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -0.75f);
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), 1f);
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(12), 0.5f);

        using var reader = new WavReader(new MemoryStream(WavBytes.Riff(WavBytes.Chunk("fmt ", fmt), WavBytes.Chunk("data", data))));
        Assert.Equal((WavEncoding.IeeeFloat, true, 2L), (reader.Format.Encoding, reader.Format.IsExtensible, reader.Format.FrameCount));
        var mono = new float[2];
        Assert.Equal(2, reader.ReadMono(mono));
        Assert.Equal([-0.25f, 0.75f], mono);
    }

    [Fact]
    public void ReadMono_averages_channels()
    {
        string path = _dir.File("stereo.wav");
        // Left and right carry different tones so a wrong downmix (left only, sum) shows.
        Sox.Run("-D", "-n", "-r", "16000", "-c", "2", "-b", "24", path, "synth", "0.25", "sine", "300", "sine", "2000", "vol", "0.7");
        float[] interleaved = Sox.DecodeToFloat(path, _dir.Path);

        using var reader = new WavReader(path);
        var mono = new float[reader.Format.FrameCount];
        int total = 0, n;
        while ((n = reader.ReadMono(mono.AsSpan(total, Math.Min(333, mono.Length - total)))) > 0)
        {
            total += n;
        }

        Assert.Equal(mono.Length, total);
        for (int i = 0; i < mono.Length; i++)
        {
            Assert.Equal((interleaved[2 * i] + interleaved[(2 * i) + 1]) / 2f, mono[i], 6);
        }
    }

    [Fact]
    public void Skips_unknown_and_odd_sized_chunks_before_data()
    {
        byte[] wav = WavBytes.Riff(
            WavBytes.Chunk("fmt ", WavBytes.Fmt()),
            WavBytes.Chunk("LIST", new byte[] { 1, 2, 3 }), // odd size: one pad byte follows
            WavBytes.Chunk("fact", new byte[4]),
            WavBytes.Chunk("data", WavBytes.Pcm16(1000, -1000, 32767)));

        using var reader = new WavReader(new MemoryStream(wav));
        var mono = new float[8];
        Assert.Equal(3, reader.ReadMono(mono));
        Assert.Equal([1000 / 32768f, -1000 / 32768f, 32767 / 32768f], mono[..3]);
    }

    [Fact]
    public void Accepts_sox_pipe_output_with_unfinalised_sizes()
    {
        // sox writing to a pipe cannot seek back, so it leaves 0x7FFFF000 in the data size.
        string piped = _dir.File("piped.wav");
        string shell = $"sox -D -n -r 16000 -b 16 -t wav - synth 0.1 sine 440 | cat > '{piped}'";
        using (var p = System.Diagnostics.Process.Start("bash", ["-c", shell]))
        {
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }

        using var seekable = new WavReader(piped);
        Assert.Equal(WavDataSize.UnfinalizedToEndOfStream, seekable.Format.DataSize);
        Assert.Equal(1600, seekable.Format.FrameCount);

        using var pipe = new WavReader(new PipeStream(File.OpenRead(piped)));
        Assert.False(pipe.Format.IsFrameCountKnown);
        var buffer = new float[4000];
        Assert.Equal(1600, pipe.ReadMono(buffer));
        Assert.Equal(0, pipe.ReadMono(buffer));
        Assert.False(pipe.WasTruncated);
    }

    [Fact]
    public void Throws_ObjectDisposedException_after_dispose()
    {
        var reader = new WavReader(new MemoryStream(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt()), WavBytes.Chunk("data", WavBytes.Pcm16(1)))));
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.ReadMono(new float[1]));
    }
}
