using BenchmarkDotNet.Attributes;
using EdgeKws.Shared.Features;

namespace EdgeKws.Bench;

/// <summary>
/// Question: what does a minute of 16 kHz audio cost end to end (5,998 frames)? Multiply by 60 for
/// an hour. EdgeKws is fed the way the device feeds it: 10 ms blocks of int16 from the capture loop.
/// </summary>
[MemoryDiagnoser]
public class MfccStreamBenchmarks
{
    public const int Samples = 16000 * 60;
    private readonly short[] _audio = BenchAudio.Generate(Samples);
    private float[] _features = null!;
    private MfccExtractor _extractor = null!;
    private MathNetBaselineMfcc _baseline = null!;

    [GlobalSetup]
    public void Setup()
    {
        _extractor = new MfccExtractor(MfccConfig.Default);
        _baseline = new MathNetBaselineMfcc(MfccConfig.Default);
        _features = new float[MfccConfig.Default.FrameCount(Samples) * 13];
    }

    [Benchmark(Baseline = true, Description = "MathNet baseline, 1 min")]
    public float[][] MathNetBaseline() => _baseline.Compute(_audio);

    [Benchmark(Description = "EdgeKws Push in 160-sample blocks, 1 min")]
    public int EdgeKws()
    {
        _extractor.Reset();
        int frames = 0;
        ReadOnlySpan<short> audio = _audio;
        for (int i = 0; i < audio.Length; i += 160)
        {
            frames += _extractor.Push(audio.Slice(i, 160), _features.AsSpan(frames * 13));
        }

        return frames;
    }
}
