using BenchmarkDotNet.Attributes;
using EdgeKws.Shared.Features;
using NWaves.FeatureExtractors.Base;
using NWaves.FeatureExtractors.Options;
using NWaves.Filters.Fda;
using NWaves.Utils;
using NWaves.Windows;
using NWavesMfcc = NWaves.FeatureExtractors.MfccExtractor;

namespace EdgeKws.Bench;

/// <summary>
/// Question: what does NWaves 0.9.6 (the design card's DSP library, a second MFCC peer next to the MathNet
/// baseline) cost per frame and allocate, against the device extractor, on the same 16 kHz audio?
/// NWaves is set as close to the project's features as it goes: 400/160 samples, 512-point FFT, the same
/// 40-bin mel filterbank over 20-7600 Hz, 13 coefficients, orthonormal DCT-II, lifter 22, pre-emphasis 0.97;
/// it has no Povey window (Hamming here) and no per-frame DC removal, so its features are not the Kaldi ones
/// (the stage agreement on Kaldi frames is tests/EdgeKws.Shared.Tests/Features/MfccNWavesPeer_Tests.cs).
/// Bench only: no device or gateway project references NWaves.
/// </summary>
[MemoryDiagnoser]
public class MfccNWavesPeerBenchmarks
{
    public const int Samples = MfccStreamBenchmarks.Samples;
    private const int Block = 160;
    private readonly short[] _audio = BenchAudio.Generate(Samples);
    private readonly short[] _window = BenchAudio.Generate(400, seed: 3);
    private float[] _audioFloat = null!;
    private float[] _windowFloat = null!;
    private float[][] _blocks = null!;
    private float[] _features = null!;
    private readonly float[] _coefficients = new float[13];
    private MfccExtractor _extractor = null!;
    private NWavesMfcc _nwaves = null!;
    private OnlineFeatureExtractor _nwavesOnline = null!;

    public static NWavesMfcc CreateNWaves()
    {
        MfccConfig c = MfccConfig.Default;
        return new NWavesMfcc(new MfccOptions
        {
            SamplingRate = c.SampleRateHz,
            FeatureCount = c.CoefficientCount,
            FrameSize = 400,
            HopSize = 160,
            FftSize = c.FftSize,
            FilterBank = FilterBanks.Triangular(c.FftSize, c.SampleRateHz, FilterBanks.MelBands(c.MelBinCount, c.SampleRateHz, c.MelLowHz, c.MelHighHz), null, Scale.HerzToMel),
            PreEmphasis = c.PreemphasisCoefficient,
            Window = WindowType.Hamming,
            LifterSize = (int)c.CepstralLifter,
            DctType = "2N",
            NonLinearity = NonLinearityType.LogE,
            SpectrumType = SpectrumType.Power,
            LogFloor = (float)MfccConfig.KaldiLogFloor,
        });
    }

    [GlobalSetup]
    public void Setup()
    {
        _extractor = new MfccExtractor(MfccConfig.Default);
        _nwaves = CreateNWaves();
        _nwavesOnline = new OnlineFeatureExtractor(CreateNWaves());
        // NWaves takes float[]: the same int16 values, converted once outside the timed code.
        _audioFloat = Array.ConvertAll(_audio, s => (float)s);
        _windowFloat = Array.ConvertAll(_window, s => (float)s);
        _blocks = new float[Samples / Block][];
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b] = _audioFloat.AsSpan(b * Block, Block).ToArray();
        }

        _features = new float[MfccConfig.Default.FrameCount(Samples) * 13];
    }

    [Benchmark(Baseline = true, Description = "EdgeKws ProcessFrame, 1 frame")]
    public float EdgeKwsFrame()
    {
        _extractor.ProcessFrame(_window, _coefficients);
        return _coefficients[0];
    }

    [Benchmark(Description = "NWaves ComputeFrom, 1 frame")]
    public List<float[]> NWavesFrame() => _nwaves.ComputeFrom(_windowFloat);

    [Benchmark(Description = "EdgeKws Push in 160-sample blocks, 1 min")]
    public int EdgeKwsStream()
    {
        _extractor.Reset();
        int frames = 0;
        ReadOnlySpan<short> audio = _audio;
        for (int i = 0; i < audio.Length; i += Block)
        {
            frames += _extractor.Push(audio.Slice(i, Block), _features.AsSpan(frames * 13));
        }

        return frames;
    }

    [Benchmark(Description = "NWaves OnlineFeatureExtractor in 160-sample blocks, 1 min")]
    public int NWavesStream()
    {
        _nwavesOnline.Reset();
        int frames = 0;
        foreach (float[] block in _blocks)
        {
            frames += _nwavesOnline.ComputeFrom(block).Count;
        }

        return frames;
    }

    [Benchmark(Description = "NWaves ComputeFrom whole signal (batch), 1 min")]
    public int NWavesBatch() => _nwaves.ComputeFrom(_audioFloat).Count;
}
