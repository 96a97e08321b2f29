using System.Text.Json.Nodes;

namespace EdgeKws.Detection.Tests;

/// <summary>
/// The committed test models (tools/models/make_test_model.py) and synthetic MFCC streams for them.
/// </summary>
internal static class DetectionFixtures
{
    /// <summary>SHA-256 of "edgekws-test-feature-config-v1": the hash the test models were built with.</summary>
    public const string FeatureConfigHash = "5426fdf65bbc48a954e570abb3f6a80a2a28c91e336adc177bf05ef474e14f02";

    public const string Int8 = "int8";
    public const string Float = "float";

    public const int Coefficients = 13;
    public const int PatternFrames = 50;
    public const float PatternC1 = 20f;
    public const int StrideFrames = 10;

    /// <summary>
    /// Frames from the last pattern frame to the inference that fires, by the test model's design:
    /// the burst must have ended at least 5 frames (the model's tail) before the window end, then 3
    /// inferences (30 smoothing frames / 10 stride) must all see it, so the first firing inference is
    /// 5 + 2 * stride + (0..stride-1) frames after the end: 30 +- 5.
    /// </summary>
    public const int PatternEndToFireFrames = 30;

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "fixtures", "models");

    public static string ManifestPath(string variant) => Path.Combine(Folder, $"kws-test-{variant}.manifest.json");

    public static KeywordModel LoadModel(string variant)
    {
        Assert.True(KeywordModel.TryLoad(ManifestPath(variant), FeatureConfigHash, out var model, out string reason), reason);
        return model!;
    }

    public static KeywordDetector CreateDetector(string variant, KeywordDetectorOptions? options = null)
    {
        Assert.True(KeywordDetector.TryCreate(LoadModel(variant), options, out var detector, out string reason), reason);
        return detector!;
    }

    /// <summary>Copies a fixture model and manifest into a fresh temp folder, optionally editing the manifest.</summary>
    public static string CopyToTemp(string variant, Action<JsonObject>? editManifest = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "edgekws-detector-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string modelName = $"kws-test-{variant}.onnx";
        File.Copy(Path.Combine(Folder, modelName), Path.Combine(dir, modelName));
        var json = JsonNode.Parse(File.ReadAllText(ManifestPath(variant)))!.AsObject();
        editManifest?.Invoke(json);
        string manifestPath = Path.Combine(dir, $"kws-test-{variant}.manifest.json");
        File.WriteAllText(manifestPath, json.ToJsonString());
        return manifestPath;
    }

    /// <summary>
    /// A stream of <paramref name="frames"/> MFCC frames of background noise (every coefficient
    /// N(0, noiseSigma)), deterministic for a seed. Rows are frames.
    /// </summary>
    public static float[,] Noise(int frames, int seed, float noiseSigma = 1.5f)
    {
        var rng = new Random(seed);
        var m = new float[frames, Coefficients];
        for (int t = 0; t < frames; t++)
        {
            for (int c = 0; c < Coefficients; c++)
            {
                // Box-Muller: Gaussian noise without extra packages.
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                m[t, c] = (float)(noiseSigma * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
            }
        }
        return m;
    }

    /// <summary>Raises c1 by <see cref="PatternC1"/> on frames [start, start + length): the tone burst.</summary>
    public static void AddBurst(float[,] stream, int start, int length = PatternFrames)
    {
        for (int t = start; t < start + length; t++) stream[t, 1] += PatternC1;
    }

    /// <summary>Pushes every frame; returns the detections.</summary>
    public static List<DetectionEvent> Run(KeywordDetector detector, float[,] stream, Action<KeywordDetector>? afterInference = null)
    {
        var events = new List<DetectionEvent>();
        var frame = new float[Coefficients];
        long inferences = detector.InferenceCount;
        for (int t = 0; t < stream.GetLength(0); t++)
        {
            for (int c = 0; c < Coefficients; c++) frame[c] = stream[t, c];
            if (detector.TryPushFrame(frame, out var e)) events.Add(e);
            if (afterInference is not null && detector.InferenceCount != inferences)
            {
                inferences = detector.InferenceCount;
                afterInference(detector);
            }
        }
        return events;
    }
}
