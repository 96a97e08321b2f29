using EdgeKws.Shared.Audio;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Audio;

public sealed class AudioFileSource_Tests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(44100, 2, "24")]
    [InlineData(48000, 1, "16")]
    [InlineData(22050, 2, "8")]
    [InlineData(8000, 1, "16")]
    public void Yields_16_kHz_mono_that_matches_sox_downmix_and_rate(int rate, int channels, string bits)
    {
        string input = _dir.File("in.wav"), expectedPath = _dir.File("sox.wav");
        string r = rate.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Sox.Run("-D", "-n", "-r", r, "-c", channels.ToString(System.Globalization.CultureInfo.InvariantCulture), "-b", bits, input,
            "synth", "1.5", "sine", "300:3000", "sine", "1200", "vol", "0.4");
        Sox.Run("-D", input, "-e", "floating-point", "-b", "32", expectedPath, "channels", "1", "rate", "-v", "16000");
        float[] expected = WavFile.ReadAllMono(expectedPath, out _);

        using var source = new AudioFileSource(input);
        Assert.Equal(16000, source.SampleRateHz);
        var actual = new float[expected.Length + 1000];
        var hop = new float[160]; // one 10 ms hop per read, as the feature front end asks
        int total = 0, n;
        while ((n = source.Read(hop)) > 0)
        {
            hop.AsSpan(0, n).CopyTo(actual.AsSpan(total));
            total += n;
        }

        Assert.Equal(expected.Length, total);
        Assert.Equal(source.OutputSampleCount, total);
        // 8-bit sources carry about -48 dB of quantisation noise, which the two filters treat differently in the 7.2-8 kHz transition band.
        double agreement = Signal.SnrDb(expected, actual, 500, total - 500);
        output.WriteLine($"{rate} Hz {channels} ch {bits}-bit -> 16 kHz mono: agrees with sox 'channels 1 rate -v' to {agreement:F1} dB");
        Assert.True(agreement > (bits == "8" ? 60 : 100), $"agreement {agreement:F1} dB");
    }

    [Fact]
    public void Passes_a_16_kHz_mono_file_through_bit_exact()
    {
        string path = _dir.File("native.wav");
        Sox.Run("-D", "-n", "-r", "16000", "-c", "1", "-b", "16", path, "synth", "0.7", "sine", "440");
        float[] direct = WavFile.ReadAllMono(path, out _);

        using var source = new AudioFileSource(path);
        var all = new float[direct.Length];
        Assert.Equal(direct.Length, source.Read(all));
        Assert.Equal(0, source.Read(all));
        Assert.Equal(direct, all);
    }

    [Fact]
    public void Surfaces_the_readers_error_for_a_malformed_file()
    {
        string path = _dir.File("bad.wav");
        File.WriteAllBytes(path, WavBytes.Riff(WavBytes.Chunk("fmt ", WavBytes.Fmt(rate: 0)), WavBytes.Chunk("data", WavBytes.Pcm16(1))));
        var e = Assert.Throws<WavFormatException>(() => new AudioFileSource(path));
        Assert.Equal(WavError.InvalidSampleRate, e.Error);
    }
}
