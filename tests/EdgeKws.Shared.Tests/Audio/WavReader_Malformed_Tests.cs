using EdgeKws.Shared.Audio;

namespace EdgeKws.Shared.Tests.Audio;

/// <summary>Each corruption is built in code and must give its own <see cref="WavError"/>, never an exception from deep inside.</summary>
public sealed class WavReader_Malformed_Tests
{
    private static readonly byte[] Fmt16 = WavBytes.Chunk("fmt ", WavBytes.Fmt());
    private static readonly byte[] Data3 = WavBytes.Chunk("data", WavBytes.Pcm16(1, 2, 3));

    private static WavFormatException Fails(byte[] wav, WavReaderOptions? options = null)
        => Assert.Throws<WavFormatException>(() => new WavReader(new MemoryStream(wav), options: options).Dispose());

    private static WavFormatException FailsWhileReading(Stream stream, WavReaderOptions? options = null)
        => Assert.Throws<WavFormatException>(() =>
        {
            using var reader = new WavReader(stream, options: options);
            var buffer = new float[64];
            while (reader.ReadMono(buffer) > 0)
            {
            }
        });

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(11)]
    public void Reports_TruncatedHeader_when_file_is_shorter_than_the_RIFF_header(int length)
    {
        byte[] wav = WavBytes.Riff(Fmt16, Data3)[..length];
        var e = Fails(wav);
        Assert.Equal(WavError.TruncatedHeader, e.Error);
        Assert.Contains($"after {length} bytes", e.Message);
    }

    [Theory]
    [InlineData(16)] // inside the fmt chunk header
    [InlineData(30)] // inside the fmt chunk body
    public void Reports_TruncatedHeader_when_file_ends_inside_fmt(int length)
    {
        var e = Fails(WavBytes.Riff(Fmt16, Data3)[..length]);
        Assert.Equal(WavError.TruncatedHeader, e.Error);
        Assert.Contains("offset 12", e.Message);
    }

    [Fact]
    public void Reports_NotRiff_for_other_magic()
    {
        var e = Fails(WavBytes.RiffWith("RIFX", "WAVE", null, Fmt16, Data3));
        Assert.Equal(WavError.NotRiff, e.Error);
        Assert.Contains("\"RIFX\"", e.Message);
    }

    [Fact]
    public void Reports_NotRiff_for_a_text_file()
    {
        var e = Fails("hello, this is not audio at all"u8.ToArray());
        Assert.Equal(WavError.NotRiff, e.Error);
    }

    [Fact]
    public void Reports_NotWave_for_another_RIFF_form()
    {
        var e = Fails(WavBytes.RiffWith("RIFF", "AVI ", null, Fmt16, Data3));
        Assert.Equal(WavError.NotWave, e.Error);
        Assert.Contains("\"AVI \"", e.Message);
    }

    [Fact]
    public void Reports_DataChunkLargerThanFile_for_a_lying_data_size()
    {
        byte[] wav = WavBytes.Riff(Fmt16, WavBytes.Chunk("data", WavBytes.Pcm16(1, 2, 3), declaredSize: 10_000_000));
        var e = Fails(wav);
        Assert.Equal(WavError.DataChunkLargerThanFile, e.Error);
        Assert.Contains("10000000", e.Message);
        Assert.Contains("only 6", e.Message);
    }

    [Fact]
    public void Reports_DataChunkTruncated_while_reading_a_lying_size_from_a_pipe()
    {
        byte[] wav = WavBytes.Riff(Fmt16, WavBytes.Chunk("data", WavBytes.Pcm16(1, 2, 3), declaredSize: 10_000_000));
        var e = FailsWhileReading(new PipeStream(new MemoryStream(wav)));
        Assert.Equal(WavError.DataChunkTruncated, e.Error);
        Assert.Contains("3 of the 5000000 declared frames", e.Message);
    }

    [Fact]
    public void Reads_what_is_there_and_reports_truncation_when_AllowTruncatedData()
    {
        byte[] wav = WavBytes.Riff(Fmt16, WavBytes.Chunk("data", WavBytes.Pcm16(1, 2, 3), declaredSize: 10_000_000));
        var options = new WavReaderOptions { AllowTruncatedData = true };
        using var reader = new WavReader(new MemoryStream(wav), options: options);
        Assert.Equal(WavDataSize.TruncatedToEndOfStream, reader.Format.DataSize);
        Assert.Equal(3, reader.Format.FrameCount);
        Assert.True(reader.WasTruncated);
        Assert.Equal(3, reader.ReadMono(new float[10]));

        using var pipe = new WavReader(new PipeStream(new MemoryStream(wav)), options: options);
        Assert.False(pipe.WasTruncated);
        Assert.Equal(3, pipe.ReadMono(new float[10]));
        Assert.True(pipe.WasTruncated);
    }

    [Theory]
    [InlineData(0xFFFFFFFFu)]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(0x7FFFF000u)]
    public void Reads_to_end_of_stream_for_unfinalised_placeholder_sizes(uint placeholder)
    {
        byte[] wav = WavBytes.Riff(Fmt16, WavBytes.Chunk("data", WavBytes.Pcm16(1, 2, 3), declaredSize: placeholder));
        using var reader = new WavReader(new MemoryStream(wav));
        Assert.Equal((WavDataSize.UnfinalizedToEndOfStream, 3L), (reader.Format.DataSize, reader.Format.FrameCount));
        Assert.Equal(3, reader.ReadMono(new float[10]));
        Assert.False(reader.WasTruncated);

        var strict = Fails(wav, new WavReaderOptions { AcceptUnfinalizedDataSize = false });
        Assert.Equal(WavError.DataChunkLargerThanFile, strict.Error);
    }

    [Fact]
    public void Treats_zero_data_size_as_unfinalised_only_when_RIFF_size_is_zero_too()
    {
        byte[] unpatched = WavBytes.RiffWith("RIFF", "WAVE", 0, Fmt16, WavBytes.Chunk("data", WavBytes.Pcm16(1, 2, 3), declaredSize: 0));
        using (var reader = new WavReader(new MemoryStream(unpatched)))
        {
            Assert.Equal(3, reader.Format.FrameCount);
        }

        byte[] empty = WavBytes.Riff(Fmt16, WavBytes.Chunk("data", []), WavBytes.Chunk("LIST", new byte[8]));
        using var emptyReader = new WavReader(new MemoryStream(empty));
        Assert.Equal((WavDataSize.Declared, 0L), (emptyReader.Format.DataSize, emptyReader.Format.FrameCount));
        Assert.Equal(0, emptyReader.ReadMono(new float[10]));
    }

    [Fact]
    public void Reports_InvalidChannelCount_for_zero_channels()
    {
        var e = Fails(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(channels: 0, blockAlign: 2)), Data3));
        Assert.Equal(WavError.InvalidChannelCount, e.Error);
        Assert.Contains("0 channels", e.Message);
    }

    [Fact]
    public void Reports_InvalidSampleRate_for_zero_rate()
    {
        var e = Fails(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(rate: 0)), Data3));
        Assert.Equal(WavError.InvalidSampleRate, e.Error);
        Assert.Contains("0 Hz", e.Message);
    }

    [Fact]
    public void Reports_InconsistentBlockAlign_when_it_disagrees_with_channels_and_bits()
    {
        var e = Fails(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(channels: 2, bits: 16, blockAlign: 3)), Data3));
        Assert.Equal(WavError.InconsistentBlockAlign, e.Error);
        Assert.Contains("block align of 3", e.Message);
        Assert.Contains("need 4", e.Message);
    }

    [Fact]
    public void Reports_OversizedChunk_for_a_huge_fmt_chunk()
    {
        byte[] fmt = WavBytes.Chunk("fmt ", WavBytes.Fmt(), declaredSize: 0x7FFFFFF0);
        var e = Fails(WavBytes.Riff(fmt, Data3));
        Assert.Equal(WavError.OversizedChunk, e.Error);
        Assert.Contains("2147483632", e.Message);
    }

    [Fact]
    public void Reports_FmtChunkTooSmall_for_a_short_fmt_chunk()
    {
        var e = Fails(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt()[..12]), Data3));
        Assert.Equal(WavError.FmtChunkTooSmall, e.Error);
    }

    [Fact]
    public void Reports_FmtChunkTooSmall_for_extensible_without_its_extension()
    {
        var e = Fails(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(tag: 0xFFFE)), Data3));
        Assert.Equal(WavError.FmtChunkTooSmall, e.Error);
        Assert.Contains("EXTENSIBLE", e.Message);
    }

    [Theory]
    [InlineData(7, "mu-law")]
    [InlineData(0x55, "MPEG Layer 3")]
    [InlineData(0x1234, "unknown")]
    public void Reports_UnsupportedEncoding_naming_the_format_tag(int tag, string name)
    {
        var e = Fails(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(tag: tag, bits: 8)), Data3));
        Assert.Equal(WavError.UnsupportedEncoding, e.Error);
        Assert.Contains($"0x{tag:X4} ({name})", e.Message);
    }

    [Theory]
    [InlineData(1, 12)]
    [InlineData(3, 16)]
    public void Reports_UnsupportedBitDepth(int tag, int bits)
    {
        var e = Fails(WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(tag: tag, bits: bits, blockAlign: 2)), Data3));
        Assert.Equal(WavError.UnsupportedBitDepth, e.Error);
        Assert.Contains($"{bits}-bit", e.Message);
    }

    [Fact]
    public void Reports_MissingFmtChunk_when_data_comes_first()
    {
        var e = Fails(WavBytes.Riff(Data3, Fmt16));
        Assert.Equal(WavError.MissingFmtChunk, e.Error);
        Assert.Contains("offset 12", e.Message);
    }

    [Fact]
    public void Reports_MissingFmtChunk_for_a_bare_WAVE_header()
    {
        Assert.Equal(WavError.MissingFmtChunk, Fails(WavBytes.Riff()).Error);
    }

    [Fact]
    public void Reports_MissingDataChunk_when_file_ends_after_fmt()
    {
        var e = Fails(WavBytes.Riff(Fmt16, WavBytes.Chunk("LIST", new byte[10])));
        Assert.Equal(WavError.MissingDataChunk, e.Error);
        Assert.Contains("offset 54", e.Message);
    }

    [Fact]
    public void Reports_ChunkExtendsPastEndOfFile_for_a_lying_chunk_before_data()
    {
        byte[] wav = WavBytes.Riff(Fmt16, WavBytes.Chunk("LIST", new byte[4], declaredSize: 5_000_000), Data3);
        var e = Fails(wav);
        Assert.Equal(WavError.ChunkExtendsPastEndOfFile, e.Error);
        Assert.Contains("'LIST'", e.Message);
        Assert.Contains("5000000", e.Message);

        var piped = Assert.Throws<WavFormatException>(() => new WavReader(new PipeStream(new MemoryStream(wav))));
        Assert.Equal(WavError.ChunkExtendsPastEndOfFile, piped.Error);
    }

    [Fact]
    public void Reports_TruncatedHeader_when_file_ends_inside_a_chunk_header()
    {
        byte[] wav = WavBytes.Riff(Fmt16, Data3);
        var e = Fails(wav[..40]);
        Assert.Equal(WavError.TruncatedHeader, e.Error);
        Assert.Contains("offset 36", e.Message);
    }

    [Fact]
    public void Disposes_an_owned_stream_when_the_header_is_rejected()
    {
        var stream = new MemoryStream("nope nope nope"u8.ToArray());
        Assert.Throws<WavFormatException>(() => new WavReader(stream));
        Assert.False(stream.CanRead);
    }

    [Fact]
    public void Drops_a_trailing_partial_frame()
    {
        byte[] wav = WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(channels: 2)), WavBytes.Chunk("data", WavBytes.Pcm16(1, 2, 3)));
        using var reader = new WavReader(new MemoryStream(wav));
        Assert.Equal(1, reader.Format.FrameCount);
        Assert.Equal(1, reader.ReadMono(new float[4]));
        Assert.Equal(0, reader.ReadMono(new float[4]));
    }
}
