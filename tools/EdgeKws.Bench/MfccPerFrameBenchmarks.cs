using BenchmarkDotNet.Attributes;
using EdgeKws.Shared.Features;

namespace EdgeKws.Bench;

/// <summary>Question: what does one 25 ms frame cost, and what does it allocate?</summary>
[MemoryDiagnoser]
public class MfccPerFrameBenchmarks
{
    private readonly short[] _window = BenchAudio.Generate(400, seed: 3);
    private readonly float[] _coefficients = new float[13];
    private MfccExtractor _extractor = null!;
    private MathNetBaselineMfcc _baseline = null!;

    [GlobalSetup]
    public void Setup()
    {
        _extractor = new MfccExtractor(MfccConfig.Default);
        _baseline = new MathNetBaselineMfcc(MfccConfig.Default);
    }

    [Benchmark(Baseline = true, Description = "MathNet baseline (allocating)")]
    public float[] MathNetBaseline() => _baseline.ComputeFrame(_window);

    [Benchmark(Description = "EdgeKws MfccExtractor.ProcessFrame")]
    public float EdgeKws()
    {
        _extractor.ProcessFrame(_window, _coefficients);
        return _coefficients[0];
    }
}
