using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using EdgeKws.Bench.Report;
using EdgeKws.Detection;

namespace EdgeKws.Bench.Detection;

/// <summary>
/// Question: what does one detector inference cost on this machine (window copy + INT8
/// quantization + ONNX Runtime run + smoothing), and does the way the pre-allocated OrtValues are
/// handed to ONNX Runtime matter? One operation pushes exactly one stride of frames, so it
/// contains exactly one inference.
/// </summary>
/// <remarks>
/// Uses the committed test models (tests/fixtures/models, 98 x 13 input,
/// ~1.7 KB); a trained model of similar size will cost more in the Run part only.
/// Run: dotnet run -c Release --project tools/EdgeKws.Bench -- --filter '*KeywordDetector*'
/// </remarks>
[MemoryDiagnoser]
[SimpleJob(RuntimeMoniker.Net10_0, launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class KeywordDetectorBenchmarks
{
    private const string FeatureConfigHash = "5426fdf65bbc48a954e570abb3f6a80a2a28c91e336adc177bf05ef474e14f02";

    private KeywordDetector _detector = null!;
    private float[][] _frames = null!;
    private int _next;

    [Params("int8", "float")]
    public string Variant { get; set; } = "int8";

    [Params(InferenceBinding.IoBinding, InferenceBinding.PreallocatedRun)]
    public InferenceBinding Binding { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string manifest = Path.Combine(Builds.FindRepoRoot(AppContext.BaseDirectory), "tests", "fixtures", "models", $"kws-test-{Variant}.manifest.json");
        if (!KeywordModel.TryLoad(manifest, FeatureConfigHash, out var model, out string reason)
            || !KeywordDetector.TryCreate(model!, new KeywordDetectorOptions { Binding = Binding }, out var detector, out reason))
        {
            throw new InvalidOperationException(reason);
        }
        _detector = detector!;
        // 10 s of frames with a c1 burst every second, replayed in a loop.
        var rng = new Random(1);
        _frames = new float[1000][];
        for (int t = 0; t < _frames.Length; t++)
        {
            _frames[t] = new float[_detector.Coefficients];
            for (int c = 0; c < _frames[t].Length; c++) _frames[t][c] = (float)(rng.NextDouble() * 4 - 2);
            if (t % 100 < 50) _frames[t][1] += 20f;
        }
        for (int t = 0; t < _detector.WindowFrames; t++) _detector.TryPushFrame(_frames[t], out _);
        _next = _detector.WindowFrames;
    }

    [GlobalCleanup]
    public void Cleanup() => _detector.Dispose();

    [Benchmark(Description = "push one stride (1 inference)")]
    public float PushOneStride()
    {
        for (int i = 0; i < _detector.StrideFrames; i++)
        {
            _detector.TryPushFrame(_frames[_next], out _);
            _next = _next + 1 == _frames.Length ? 0 : _next + 1;
        }
        return _detector.LastSmoothedScore;
    }
}
