using System.Globalization;
using EdgeKws.Shared.Quality;
using Xunit.Abstractions;

namespace EdgeKws.Shared.Tests.Quality;

public sealed class EnergyVad_Tests(ITestOutputHelper output)
{
    private const double ToleranceMs = 50.0;

    /// <summary>
    /// espeak-ng speech, its own leading/trailing silence trimmed with sox <c>silence</c> (0.5 %
    /// threshold), padded with sox <c>pad</c>; optionally white noise from sox mixed over the whole.
    /// </summary>
    [Theory]
    [InlineData("hey computer", 0.6, 0.8, null)]
    [InlineData("hey computer", 0.6, 0.8, "0.003")]   // white noise ~ -55 dBFS RMS
    [InlineData("okay device", 0.3, 1.2, "0.01")]     // white noise ~ -45 dBFS RMS
    [InlineData("alexa", 1.0, 0.4, "0.003")]
    [InlineData("hey computer", 0.6, 0.8, "0.015")]  // ~ -41 dBFS: near the 20 dB enrollment SNR
    [InlineData("okay device", 0.6, 0.8, "0.015")]
    public void Finds_espeak_speech_within_50_ms_of_the_padding_boundaries(string text, double padBeforeS, double padAfterS, string? noiseVolume)
    {
        using var fx = new AudioFixtures();
        string wav = fx.Espeak(text, "speech.wav");
        string trimmed = fx.PathOf("trimmed.wav");
        fx.Sox(wav, "-r", "16000", "-b", "16", trimmed,
            "silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse");
        double speechS = AudioFixtures.SoxiSeconds(trimmed);
        string padded = fx.PathOf("padded.wav");
        fx.Sox(trimmed, padded, "pad", Inv(padBeforeS), Inv(padAfterS));
        string take = padded;
        if (noiseVolume is not null)
        {
            double totalS = AudioFixtures.SoxiSeconds(padded);
            string noise = fx.PathOf("noise.wav");
            fx.Sox("-r", "16000", "-n", "-r", "16000", "-c", "1", "-b", "16", noise, "synth", Inv(totalS), "whitenoise", "vol", noiseVolume);
            take = fx.PathOf("take.wav");
            fx.Sox("-m", "-v", "1", padded, "-v", "1", noise, take);
        }

        float[] x = fx.ToSamples(take);
        var vad = new EnergyVad();
        vad.Push(x);

        Assert.True(vad.TryGetMainSegment(out SpeechSegment main));
        Assert.True(vad.TryGetSpeechSpan(out SpeechSegment span));
        var snr = new SnrEstimator();
        snr.Push(x);
        string snrText = snr.TryGetEstimate(out SnrEstimate e) ? $"{e.SnrDb:F1} dB" : "n/a";
        double expectedStartMs = padBeforeS * 1000;
        double expectedEndMs = (padBeforeS + speechS) * 1000;
        output.WriteLine($"'{text}' noise vol {noiseVolume ?? "none"} (estimated SNR {snrText}): speech {speechS * 1000:F0} ms; " +
            $"span {span.StartMs:F0}-{span.EndMs:F0} ms (expected {expectedStartMs:F0}-{expectedEndMs:F0}), " +
            $"errors start {span.StartMs - expectedStartMs:+0;-0} ms, end {span.EndMs - expectedEndMs:+0;-0} ms; " +
            $"main {main.StartMs:F0}-{main.EndMs:F0} ms, {vad.SegmentCount} segment(s)");
        Assert.InRange(span.StartMs, expectedStartMs - ToleranceMs, expectedStartMs + ToleranceMs);
        Assert.InRange(span.EndMs, expectedEndMs - ToleranceMs, expectedEndMs + ToleranceMs);
    }

    [Fact]
    public void Reports_two_segments_and_picks_the_louder_as_main()
    {
        // 0.5 s noise, 300 ms tone at -20 dBFS, 500 ms noise, 400 ms tone at -30 dBFS, 0.5 s noise.
        float[] x = Signals.Noise(8000 + 4800 + 8000 + 6400 + 8000, 0.001, seed: 11);
        AddTone(x, 8000, 4800, 0.1);
        AddTone(x, 8000 + 4800 + 8000, 6400, 0.0316);

        var vad = new EnergyVad();
        vad.Push(x);

        Assert.Equal(2, vad.SegmentCount);
        Assert.True(vad.TryGetMainSegment(out SpeechSegment main));
        Assert.Equal(8000, main.StartSample);
        Assert.Equal(12_800, main.EndSample);
        Assert.True(vad.TryGetSpeechSpan(out SpeechSegment span));
        Assert.Equal(8000, span.StartSample);
        Assert.Equal(8000 + 4800 + 8000 + 6400, span.EndSample);
    }

    [Fact]
    public void Joins_a_gap_shorter_than_the_hangover()
    {
        // Two 200 ms tones 150 ms apart (hangover 200 ms): one segment.
        float[] x = Signals.Noise(8000 + 3200 + 2400 + 3200 + 8000, 0.001, seed: 12);
        AddTone(x, 8000, 3200, 0.1);
        AddTone(x, 8000 + 3200 + 2400, 3200, 0.1);

        var vad = new EnergyVad();
        vad.Push(x);

        Assert.Equal(1, vad.SegmentCount);
        Assert.True(vad.TryGetMainSegment(out SpeechSegment main));
        Assert.Equal(8000, main.StartSample);
        Assert.Equal(8000 + 3200 + 2400 + 3200, main.EndSample);
    }

    [Fact]
    public void Ignores_a_click_shorter_than_the_minimum_speech_duration()
    {
        float[] x = Signals.Noise(16_000, 0.001, seed: 13);
        AddTone(x, 8000, 800, 0.5); // 50 ms < 100 ms

        var vad = new EnergyVad();
        vad.Push(x);

        Assert.Equal(0, vad.SegmentCount);
        Assert.False(vad.TryGetMainSegment(out _));
    }

    [Fact]
    public void Follows_a_rising_noise_floor_instead_of_calling_it_speech()
    {
        // 1 s at -60 dBFS, then the noise steps up 20 dB for 3 s, then a tone at -20 dBFS RMS.
        float[] quiet = Signals.Noise(16_000, 0.001, seed: 14);
        float[] loud = Signals.Noise(48_000 + 8000 + 16_000, 0.01, seed: 15);
        AddTone(loud, 48_000, 8000, 0.141);
        float[] x = Signals.Concat(quiet, loud);

        var vad = new EnergyVad();
        vad.Push(x);

        Assert.True(vad.TryGetNoiseFloorDbFs(out double floor));
        output.WriteLine($"floor after step {floor:F1} dBFS, segments {vad.SegmentCount}");
        Assert.InRange(floor, -43.0, -39.0);
        // The step itself reads as speech until the louder noise fills the noise window (<= 1.6 s),
        // then the floor has caught up and the tone is found as a separate, stronger segment.
        Assert.Equal(2, vad.SegmentCount);
        Assert.True(vad.TryGetMainSegment(out SpeechSegment main));
        Assert.Equal(16_000 + 48_000, main.StartSample);
        Assert.Equal(16_000 + 48_000 + 8000, main.EndSample);
    }

    [Fact]
    public void Reports_an_open_segment_without_closing_it()
    {
        float[] x = Signals.Noise(8000 + 4800, 0.001, seed: 16);
        AddTone(x, 8000, 4800, 0.1);

        var vad = new EnergyVad();
        vad.Push(x);

        Assert.True(vad.IsInSpeech);
        Assert.True(vad.TryGetMainSegment(out SpeechSegment open));
        Assert.Equal(8000, open.StartSample);
        Assert.Equal(12_800, open.EndSample);
        Assert.True(vad.IsInSpeech); // asking did not close it

        vad.Push(Signals.Noise(8000, 0.001, seed: 17));
        Assert.False(vad.IsInSpeech);
        Assert.Equal(1, vad.SegmentCount);
    }

    [Fact]
    public void Rejects_an_offset_above_the_onset_with_a_message_naming_both()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new EnergyVad(new EnergyVadSettings { OnsetDb = 6, OffsetDb = 9 }));
        Assert.Contains("OffsetDb must be in (0, OnsetDb = 6]", ex.Message);
    }

    private static void AddTone(float[] x, int start, int length, double amplitude)
    {
        float[] tone = Signals.Sine(length, 500, amplitude);
        for (int i = 0; i < length; i++)
        {
            x[start + i] += tone[i];
        }
    }

    private static string Inv(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
