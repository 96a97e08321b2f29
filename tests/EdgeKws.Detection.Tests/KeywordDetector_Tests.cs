using System.Security.Cryptography;
using EdgeKws.Shared.Diagnostics;
using Xunit.Abstractions;

namespace EdgeKws.Detection.Tests;

// Every test runs the real ONNX Runtime session over the committed test models.
public class KeywordDetector_Tests(ITestOutputHelper output)
{
    private const int Stride = DetectionFixtures.StrideFrames;

    [Theory]
    [InlineData(DetectionFixtures.Int8)]
    [InlineData(DetectionFixtures.Float)]
    public void Fires_once_per_burst_at_the_burst_end(string variant)
    {
        using var detector = DetectionFixtures.CreateDetector(variant);
        var stream = DetectionFixtures.Noise(2000, seed: 11);
        int[] starts = [150, 480, 777, 1101, 1500, 1873];
        foreach (int s in starts) DetectionFixtures.AddBurst(stream, s);

        var events = DetectionFixtures.Run(detector, stream);

        Assert.Equal(starts.Length, events.Count);
        for (int i = 0; i < starts.Length; i++)
        {
            long lastBurstFrame = starts[i] + DetectionFixtures.PatternFrames - 1;
            long expected = lastBurstFrame + DetectionFixtures.PatternEndToFireFrames;
            output.WriteLine($"burst ends at {lastBurstFrame}: fired at {events[i].EndFrameIndex} (score {events[i].Score:F4})");
            Assert.InRange(events[i].EndFrameIndex, expected - Stride, expected + Stride);
            Assert.True(events[i].Score >= detector.Threshold);
        }
    }

    [Fact]
    public void Event_carries_model_version_feature_hash_and_stream_time()
    {
        using var detector = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);
        var stream = DetectionFixtures.Noise(400, seed: 5);
        DetectionFixtures.AddBurst(stream, 200);

        var e = Assert.Single(DetectionFixtures.Run(detector, stream));

        Assert.Equal("0.1.0-test-int8", e.ModelVersion);
        Assert.Equal(DetectionFixtures.FeatureConfigHash, e.FeatureConfigHash);
        Assert.Equal((e.EndFrameIndex + 1) * 10, e.EndStreamTimeMs);
        Assert.InRange(e.RawScore, 0.99f, 1f);
    }

    [Fact]
    public void Suppresses_a_second_burst_inside_the_refractory_period()
    {
        // Burst B ends 90 frames (900 ms) after burst A, so B's detection would come ~900 ms after
        // A's: inside the manifest's 1000 ms refractory period. (90 frames is also the closest
        // spacing at which A has left the 98-frame window by the time B is detected.)
        var stream = DetectionFixtures.Noise(600, seed: 23);
        DetectionFixtures.AddBurst(stream, 150);
        DetectionFixtures.AddBurst(stream, 240);

        using var withRefractory = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);
        using var withoutRefractory = DetectionFixtures.CreateDetector(DetectionFixtures.Int8, new KeywordDetectorOptions { RefractoryMs = 0 });
        var suppressed = DetectionFixtures.Run(withRefractory, stream);
        var both = DetectionFixtures.Run(withoutRefractory, stream);

        Assert.Equal(100, withRefractory.RefractoryFrames);
        var only = Assert.Single(suppressed);
        Assert.Equal(2, both.Count);
        Assert.Equal(both[0].EndFrameIndex, only.EndFrameIndex);
        Assert.InRange(both[1].EndFrameIndex - both[0].EndFrameIndex, 90 - Stride, 90 + Stride);
    }

    [Fact]
    public void Fires_again_for_a_burst_after_the_refractory_period()
    {
        var stream = DetectionFixtures.Noise(700, seed: 29);
        DetectionFixtures.AddBurst(stream, 150);
        DetectionFixtures.AddBurst(stream, 150 + 120); // 1200 ms later

        using var detector = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);
        var events = DetectionFixtures.Run(detector, stream);

        Assert.Equal(2, events.Count);
        Assert.True(events[1].EndFrameIndex - events[0].EndFrameIndex >= detector.RefractoryFrames);
    }

    [Theory]
    [InlineData(DetectionFixtures.Int8)]
    [InlineData(DetectionFixtures.Float)]
    public void Never_fires_on_ten_minutes_of_noise_blips_and_sustained_tones(string variant)
    {
        using var detector = DetectionFixtures.CreateDetector(variant);
        const int frames = 60_000; // 10 minutes at 10 ms
        var stream = DetectionFixtures.Noise(frames, seed: 42);
        for (int t = 0; t < frames; t++)
        {
            if (t % 7_000 is >= 3_000 and < 4_000) // loud broadband noise: every coefficient N(0, 3)
            {
                for (int c = 0; c < DetectionFixtures.Coefficients; c++) stream[t, c] *= 2f;
            }
        }
        for (int s = 100; s + 25 < frames; s += 600) DetectionFixtures.AddBurst(stream, s, length: 25);     // short blips
        for (int s = 400; s + 600 < frames; s += 9_000) DetectionFixtures.AddBurst(stream, s, length: 600); // 6 s tones
        float maxSmoothed = 0f;

        var events = DetectionFixtures.Run(detector, stream, d => maxSmoothed = Math.Max(maxSmoothed, d.LastSmoothedScore));

        output.WriteLine($"{detector.InferenceCount} inferences, max smoothed score {maxSmoothed:F4}");
        Assert.Empty(events);
        Assert.Equal((frames - 98) / Stride + 1, detector.InferenceCount);
        Assert.True(maxSmoothed < detector.Threshold, $"max smoothed score {maxSmoothed} reached the threshold");
    }

    [Fact]
    public void Int8_device_quantization_matches_the_graphs_own_quantizer()
    {
        // The float model quantizes inside the graph (QuantizeLinear); the int8 model relies on the
        // detector's quantizer. Same function, so the posteriors must agree at every inference.
        using var int8 = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);
        using var f32 = DetectionFixtures.CreateDetector(DetectionFixtures.Float);
        var stream = DetectionFixtures.Noise(1200, seed: 3, noiseSigma: 4f);
        DetectionFixtures.AddBurst(stream, 300);
        DetectionFixtures.AddBurst(stream, 700, length: 47);
        var frame = new float[DetectionFixtures.Coefficients];
        int compared = 0;

        for (int t = 0; t < stream.GetLength(0); t++)
        {
            for (int c = 0; c < frame.Length; c++) frame[c] = stream[t, c];
            long before = int8.InferenceCount;
            int8.TryPushFrame(frame, out _);
            f32.TryPushFrame(frame, out _);
            if (int8.InferenceCount != before)
            {
                Assert.Equal(f32.LastRawScore, int8.LastRawScore, 1e-6f);
                compared++;
            }
        }
        Assert.Equal((1200 - 98) / Stride + 1, compared);
    }

    [Fact]
    public void Allocates_nothing_per_inference_with_io_binding()
    {
        var stream = DetectionFixtures.Noise(1098 + 500, seed: 8);
        DetectionFixtures.AddBurst(stream, 700); // make sure the measured stretch includes a detection
        var frame = new float[DetectionFixtures.Coefficients];
        KeywordDetector detector = null!;
        long inferencesBefore = 0;
        int detections = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                detector?.Dispose();
                detector = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);
                for (int t = 0; t < 500; t++) Push(detector, stream, t, frame); // warm-up: JIT, ORT arena
                inferencesBefore = detector.InferenceCount;
                detections = 0;
            },
            measured: () =>
            {
                for (int t = 500; t < stream.GetLength(0); t++) detections += Push(detector, stream, t, frame) ? 1 : 0;
            });
        using KeywordDetector lastDetector = detector;

        long inferences = detector.InferenceCount - inferencesBefore;
        output.WriteLine($"{allocated} bytes over {inferences} inferences, {detections} detection(s)");
        Assert.Equal(110, inferences);
        Assert.Equal(1, detections);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Preallocated_run_allocates_only_ort_wrapper_arrays_per_inference()
    {
        // InferenceSession.Run(runOptions, names, values, names, values) with the same pinned
        // OrtValues still builds 4 small IntPtr arrays (names and handles, via LINQ ToArray) and a
        // delegate in ONNX Runtime's managed wrapper on every call: a fixed amount per inference,
        // independent of the model or window size. That is why IoBinding is the default.
        var stream = DetectionFixtures.Noise(1598, seed: 8);
        var frame = new float[DetectionFixtures.Coefficients];
        KeywordDetector detector = null!;
        long inferencesBefore = 0;
        long allocated = AllocationMeter.BytesAllocated(
            prepare: () =>
            {
                detector?.Dispose();
                detector = DetectionFixtures.CreateDetector(DetectionFixtures.Int8,
                    new KeywordDetectorOptions { Binding = InferenceBinding.PreallocatedRun });
                for (int t = 0; t < 500; t++) Push(detector, stream, t, frame);
                inferencesBefore = detector.InferenceCount;
            },
            measured: () =>
            {
                for (int t = 500; t < stream.GetLength(0); t++) Push(detector, stream, t, frame);
            });
        using KeywordDetector lastDetector = detector;

        long inferences = detector.InferenceCount - inferencesBefore;
        double perInference = (double)allocated / inferences;
        output.WriteLine($"{allocated} bytes over {inferences} inferences = {perInference:F1} B/inference");
        Assert.Equal(110, inferences);
        Assert.InRange(perInference, 0, 400);
    }

    [Theory]
    [InlineData(DetectionFixtures.Int8, 98 * 13 * 4 + 98 * 13 + 2 * 4 + 3 * 4)]
    [InlineData(DetectionFixtures.Float, 98 * 13 * 4 * 2 + 2 * 4 + 3 * 4)]
    public void Reports_its_fixed_working_memory(string variant, int expectedBytes)
    {
        using var detector = DetectionFixtures.CreateDetector(variant);

        Assert.Equal(expectedBytes, detector.WorkingMemoryBytes);
        output.WriteLine($"{variant}: {detector.WorkingMemoryBytes} bytes");
    }

    [Fact]
    public void Applies_manifest_streaming_parameters_and_overrides()
    {
        using var fromManifest = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);
        using var overridden = DetectionFixtures.CreateDetector(DetectionFixtures.Int8,
            new KeywordDetectorOptions { Threshold = 0.5f, SmoothingFrames = 10, RefractoryMs = 250 });

        Assert.Equal((98, 10, 0.8f, 3, 100L), (fromManifest.WindowFrames, fromManifest.StrideFrames, fromManifest.Threshold,
            fromManifest.SmoothingInferences, fromManifest.RefractoryFrames));
        Assert.Equal((0.5f, 1, 25L), (overridden.Threshold, overridden.SmoothingInferences, overridden.RefractoryFrames));
    }

    [Fact]
    public void Refuses_an_override_that_breaks_the_stride()
    {
        var model = DetectionFixtures.LoadModel(DetectionFixtures.Int8);

        Assert.False(KeywordDetector.TryCreate(model, new KeywordDetectorOptions { SmoothingFrames = 15 }, out var d, out string reason));

        Assert.Null(d);
        Assert.Equal("smoothing must be a positive multiple of the 10-frame stride, got 15 frames", reason);
    }

    [Fact]
    public void Refuses_a_manifest_whose_input_contract_disagrees_with_the_model()
    {
        // The int8 model described as float input: hashes are right, the graph is not what the manifest says.
        string manifest = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8, m => m["input"]!["elementType"] = "float");
        Assert.True(KeywordModel.TryLoad(manifest, DetectionFixtures.FeatureConfigHash, out var model, out string loadReason), loadReason);

        Assert.False(KeywordDetector.TryCreate(model!, null, out var detector, out string reason));

        Assert.Null(detector);
        Assert.Contains("input 'mfcc_q' is Int8, the manifest says float", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_bytes_that_are_not_an_onnx_model_with_the_runtime_error()
    {
        string manifestPath = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8);
        byte[] garbage = new byte[512];
        new Random(1).NextBytes(garbage);
        File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(manifestPath)!, "kws-test-int8.onnx"), garbage);
        string json = File.ReadAllText(manifestPath);
        var original = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        original["sha256"] = Convert.ToHexStringLower(SHA256.HashData(garbage));
        original["sizeBytes"] = garbage.Length;
        File.WriteAllText(manifestPath, original.ToJsonString());
        Assert.True(KeywordModel.TryLoad(manifestPath, DetectionFixtures.FeatureConfigHash, out var model, out string loadReason), loadReason);

        Assert.False(KeywordDetector.TryCreate(model!, null, out _, out string reason));

        Assert.StartsWith("ONNX Runtime cannot load model edgekws-test-kws 0.1.0-test-int8", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_a_frame_of_the_wrong_width_naming_both_sizes()
    {
        using var detector = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);

        var ex = Assert.Throws<ArgumentException>(() => detector.TryPushFrame(new float[12], out _));

        Assert.StartsWith("expected 13 MFCC coefficients per frame (the model's input width), got 12", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, detector.FramesPushed);
    }

    [Theory]
    [InlineData(DetectionFixtures.Int8)]
    [InlineData(DetectionFixtures.Float)]
    public void Never_fires_when_non_finite_features_fill_the_window(string variant)
    {
        using var detector = DetectionFixtures.CreateDetector(variant);
        var stream = DetectionFixtures.Noise(600, seed: 2);
        for (int t = 100; t < 600; t++) stream[t, t % DetectionFixtures.Coefficients] = t % 2 == 0 ? float.NaN : float.PositiveInfinity;
        DetectionFixtures.AddBurst(stream, 300);

        var events = DetectionFixtures.Run(detector, stream);

        Assert.Empty(events);
        Assert.True(detector.InferenceCount > 40);
    }

    [Fact]
    public void Reset_restarts_frame_indices_and_forgets_the_window()
    {
        using var detector = DetectionFixtures.CreateDetector(DetectionFixtures.Int8);
        var stream = DetectionFixtures.Noise(400, seed: 9);
        DetectionFixtures.AddBurst(stream, 200);
        var first = Assert.Single(DetectionFixtures.Run(detector, stream));

        detector.Reset();
        var second = Assert.Single(DetectionFixtures.Run(detector, stream));

        Assert.Equal(first.EndFrameIndex, second.EndFrameIndex);
        Assert.Equal(400, detector.FramesPushed);
    }

    private static bool Push(KeywordDetector detector, float[,] stream, int t, float[] frame)
    {
        for (int c = 0; c < frame.Length; c++) frame[c] = stream[t, c];
        return detector.TryPushFrame(frame, out _);
    }
}
