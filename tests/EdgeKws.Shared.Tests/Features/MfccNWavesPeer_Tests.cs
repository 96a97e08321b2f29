using EdgeKws.Shared.Features;
using NWaves.FeatureExtractors.Options;
using NWaves.Filters.Fda;
using NWaves.Utils;
using NWaves.Windows;
using Xunit.Abstractions;
using Dct2 = NWaves.Transforms.Dct2;
using NWavesMfcc = NWaves.FeatureExtractors.MfccExtractor;

namespace EdgeKws.Shared.Tests.Features;

/// <summary>
/// NWaves 0.9.6 (an independent DSP library; bench and tests only) as a peer of the MFCC front end, stage by
/// stage, on the same pre-processed frames. NWaves has no per-frame DC removal and no Povey window, so both
/// sides start from Kaldi frames (DC removed, pre-emphasised within the frame, Povey-windowed, zero-padded to
/// 512) and NWaves is set to a rectangular window and no pre-emphasis. Stated tolerances:
/// power spectrum within 1e-5 of the frame's peak bin (NWaves' FFT is float32, ours double);
/// mel filterbank weights within 1e-5; log mel energies of the same spectrum within 1e-3 (absolute, natural log);
/// DCT + lifter of the same log mel energies within 1e-3 (absolute); and the whole MFCC of our product extractor
/// vs NWaves' MfccExtractor fed the Kaldi frames within 1e-3 per frame, relative to max(|coefficient|, 1), the
/// parity metric of docs/mfcc.md, on speech and noise.
/// </summary>
public sealed class MfccNWavesPeer_Tests(ITestOutputHelper output)
{
    private static readonly MfccConfig Config = MfccConfig.Default;
    private const int Fft = 512;
    private const int Window = 400;
    private const int Hop = 160;

    /// <summary>Kaldi's pre-processing of one frame in double, as the extractor does it.</summary>
    private static double[] KaldiFrame(ReadOnlySpan<short> samples)
    {
        double[] half = MfccTables.HalfWindow(MfccWindow.Povey, Window);
        var x = new double[Fft];
        double mean = 0;
        for (int i = 0; i < Window; i++)
        {
            mean += samples[i];
        }

        mean /= Window;
        for (int i = Window - 1; i >= 0; i--)
        {
            double current = samples[i] - mean;
            double previous = i > 0 ? samples[i - 1] - mean : current;
            double w = i < half.Length ? half[i] : half[Window - 1 - i];
            x[i] = (current - Config.PreemphasisCoefficient * previous) * w;
        }

        return x;
    }

    private static IEnumerable<(string Name, short[] Signal)> Signals(params string[] fixtures)
    {
        foreach (string name in fixtures)
        {
            yield return (name, MfccFixtures.Get(name).Signal);
        }
    }

    private static IEnumerable<double[]> Frames(short[] signal)
    {
        for (int start = 0; start + Window <= signal.Length; start += Hop)
        {
            yield return KaldiFrame(signal.AsSpan(start, Window));
        }
    }

    private static float[] ToFloat(double[] x) => Array.ConvertAll(x, v => (float)v);

    /// <summary>Ours: the product's sparse Kaldi filterbank expanded to a dense [bin][fft bin] matrix.</summary>
    private static double[][] OurFilterbank()
    {
        (ushort[] start, ushort[] count, float[] weights) = MfccTables.MelFilterbank(Config);
        var dense = new double[Config.MelBinCount][];
        int at = 0;
        for (int b = 0; b < dense.Length; b++)
        {
            dense[b] = new double[Fft / 2 + 1];
            for (int k = 0; k < count[b]; k++)
            {
                dense[b][start[b] + k] = weights[at++];
            }
        }

        return dense;
    }

    private static float[][] NWavesFilterbank()
        => FilterBanks.Triangular(Fft, Config.SampleRateHz, FilterBanks.MelBands(Config.MelBinCount, Config.SampleRateHz, Config.MelLowHz, Config.MelHighHz), null, Scale.HerzToMel);

    private static double[] OurPower(double[] kaldiFrame)
    {
        var data = (double[])kaldiFrame.Clone();
        new EdgeKws.Shared.Features.RealFft(Fft).PowerSpectrumInPlace(data);
        var p = new double[Fft / 2 + 1];
        for (int k = 0; k < Fft / 2; k++)
        {
            p[k] = data[EdgeKws.Shared.Features.RealFft.PowerIndex(k)];
        }

        p[Fft / 2] = data[0];
        return p;
    }

    [Fact]
    public void Power_spectra_agree_within_1e_5_of_the_peak_bin()
    {
        var nwaves = new NWaves.Transforms.RealFft(Fft);
        var theirs = new float[Fft / 2 + 1];
        double worst = 0;
        int frames = 0;
        foreach ((string name, short[] signal) in Signals("speech_hey_edge", "white_noise", "chirp", "tone_440", "tone_3k_quiet"))
        {
            foreach (double[] frame in Frames(signal))
            {
                double[] ours = OurPower(frame);
                nwaves.PowerSpectrum(ToFloat(frame), theirs, normalize: false);
                double peak = Math.Max(ours.Max(), 1e-30);
                for (int k = 0; k <= Fft / 2; k++)
                {
                    worst = Math.Max(worst, Math.Abs(ours[k] - theirs[k]) / peak);
                }

                frames++;
            }
        }

        output.WriteLine($"power spectrum: {frames} frames, worst |ours - NWaves| / peak = {worst:E2}");
        Assert.True(frames > 200);
        Assert.True(worst <= 1e-5, $"worst relative power difference {worst:E3}");
    }

    [Fact]
    public void Mel_filterbanks_and_log_mel_energies_agree()
    {
        double[][] ours = OurFilterbank();
        float[][] theirs = NWavesFilterbank();
        Assert.Equal(ours.Length, theirs.Length);
        double worstWeight = 0;
        for (int b = 0; b < ours.Length; b++)
        {
            for (int k = 0; k <= Fft / 2; k++)
            {
                worstWeight = Math.Max(worstWeight, Math.Abs(ours[b][k] - (k < theirs[b].Length ? theirs[b][k] : 0)));
            }
        }

        // Log mel energies of the same (our) power spectrum through each filterbank.
        double worstLog = 0;
        var mel = new float[ours.Length];
        foreach ((string _, short[] signal) in Signals("speech_hey_edge", "white_noise", "chirp", "tone_440", "tone_3k_quiet"))
        {
            foreach (double[] frame in Frames(signal))
            {
                double[] p = OurPower(frame);
                FilterBanks.ApplyAndLog(theirs, ToFloat(p), mel, (float)MfccConfig.KaldiLogFloor);
                for (int b = 0; b < ours.Length; b++)
                {
                    double acc = 0;
                    for (int k = 0; k <= Fft / 2; k++)
                    {
                        acc += ours[b][k] * p[k];
                    }

                    worstLog = Math.Max(worstLog, Math.Abs(Math.Log(Math.Max(acc, MfccConfig.KaldiLogFloor)) - mel[b]));
                }
            }
        }

        output.WriteLine($"mel weights: worst |ours - NWaves| = {worstWeight:E2}; log mel energies: worst = {worstLog:E2}");
        Assert.True(worstWeight <= 1e-5, $"worst weight difference {worstWeight:E3}");
        Assert.True(worstLog <= 1e-3, $"worst log-mel difference {worstLog:E3}");
    }

    [Fact]
    public void Dct_and_lifter_agree_within_1e_3()
    {
        int bins = Config.MelBinCount;
        int coefficients = Config.CoefficientCount;
        float[] half = MfccTables.HalfDct(coefficients, bins);
        float[] lifter = MfccTables.Lifter(coefficients, Config.CepstralLifter);
        int rowLength = (bins + 1) / 2;
        var dct = new Dct2(bins);
        var theirs = new float[bins];
        float[] nwavesLifter = Window_Liftering(coefficients, (int)Config.CepstralLifter);
        var rng = new Random(5);
        double worst = 0;
        for (int trial = 0; trial < 500; trial++)
        {
            // Log mel energies over the range real frames give (-16 floor to ~+30).
            var logMel = new float[bins];
            for (int m = 0; m < bins; m++)
            {
                logMel[m] = (float)(rng.NextDouble() * 46 - 16);
            }

            dct.DirectNorm(logMel, theirs);
            for (int c = 0; c < coefficients; c++)
            {
                double acc = 0;
                for (int m = 0; m < bins; m++)
                {
                    // Unfold our half table: d[c, bins-1-m] = (-1)^c d[c, m].
                    int j = m < rowLength ? m : bins - 1 - m;
                    double sign = m < rowLength || c % 2 == 0 ? 1 : -1;
                    acc += sign * half[c * rowLength + j] * logMel[m];
                }

                worst = Math.Max(worst, Math.Abs(acc * lifter[c] - theirs[c] * nwavesLifter[c]));
            }
        }

        output.WriteLine($"DCT-II (orthonormal) + lifter 22: worst |ours - NWaves| = {worst:E2}");
        Assert.True(worst <= 1e-3, $"worst cepstral difference {worst:E3}");
    }

    private static float[] Window_Liftering(int count, int lifter) => NWaves.Windows.Window.OfType(WindowType.Liftering, count, lifter);

    [Fact]
    public void Whole_mfcc_of_our_extractor_and_NWaves_fed_Kaldi_frames_agree_within_1e_3_per_frame()
    {
        var nwaves = new NWavesMfcc(new MfccOptions
        {
            SamplingRate = Config.SampleRateHz,
            FeatureCount = Config.CoefficientCount,
            FrameSize = Window,
            HopSize = Hop,
            FftSize = Fft,
            FilterBank = NWavesFilterbank(),
            PreEmphasis = 0,
            Window = WindowType.Rectangular,
            LifterSize = (int)Config.CepstralLifter,
            DctType = "2N",
            NonLinearity = NonLinearityType.LogE,
            SpectrumType = SpectrumType.Power,
            LogFloor = (float)MfccConfig.KaldiLogFloor,
            IncludeEnergy = false,
        });
        var ours = new MfccExtractor(Config);
        var mine = new float[Config.CoefficientCount];
        var theirs = new float[Config.CoefficientCount];
        double worstOverall = 0;
        foreach ((string name, short[] signal) in Signals("speech_hey_edge", "white_noise"))
        {
            double worst = 0;
            int frames = 0;
            for (int start = 0; start + Window <= signal.Length; start += Hop)
            {
                ours.ProcessFrame(signal.AsSpan(start, Window), mine);
                nwaves.ProcessFrame(ToFloat(KaldiFrame(signal.AsSpan(start, Window))), theirs);
                double diff = 0, scale = 1;
                for (int c = 0; c < mine.Length; c++)
                {
                    diff = Math.Max(diff, Math.Abs(mine[c] - theirs[c]));
                    scale = Math.Max(scale, Math.Abs(mine[c]));
                }

                worst = Math.Max(worst, diff / scale);
                frames++;
            }

            output.WriteLine($"{name}: {frames} frames, worst per-frame relative MFCC difference ours vs NWaves = {worst:E2}");
            worstOverall = Math.Max(worstOverall, worst);
        }

        Assert.True(worstOverall <= 1e-3, $"worst per-frame relative difference {worstOverall:E3}");
    }
}
