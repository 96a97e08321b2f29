using EdgeKws.Dataset;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Verification;
using EdgeKws.TestSupport;

namespace EdgeKws.Labeling.Tests.Verification;

/// <summary>
/// <c>edgekws-dataset label-bench</c> on the small corpus (real espeak-ng/flite/festival voices, real pocketsphinx, the bundled
/// device model through ONNX Runtime): the command fits a calibration on one split, reports on the other, and its figures add up.
/// </summary>
[Collection(SmallCorpusCollection.Name)]
public class LabelingBenchmark_Tests(SmallCorpusFixture corpus)
{
    private static string BundledModel() =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Path, "models", "default"), "*.int8.manifest.json").Single();

    [Fact]
    public void Fits_on_validation_reports_on_test_and_writes_a_calibration_the_gateway_can_load()
    {
        using var dir = new TempDirectory();
        string output = Path.Combine(dir.Path, "out");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = DatasetCommand.Run(["label-bench", "--corpus", corpus.Root, "--model", BundledModel(), "--per-kind", "4", "--out", output], stdout, stderr);
        Assert.True(exit == 0, stderr.ToString());

        string text = stdout.ToString();
        Assert.Contains("calibrated labeler, precision target 0.98", text, StringComparison.Ordinal);
        Assert.Contains("fixed-rule verifier", text, StringComparison.Ordinal);
        LabelCalibration calibration = LabelCalibration.Load(Path.Combine(output, "label-calibration.json"));
        Assert.Contains("split 'validation'", calibration.FittedOn, StringComparison.Ordinal);
        Assert.Contains("device model", calibration.FittedOn, StringComparison.Ordinal);

        // The figures in label-bench.json: only test-split clips, every one decided or reviewed once by both labelers, and the
        // precision target only ever sends more clips to review.
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "label-bench.json")));
        var clips = json.RootElement.GetProperty("clips").EnumerateArray().ToList();
        Assert.NotEmpty(clips);
        Assert.All(clips, c => Assert.StartsWith("test/", c.GetProperty("path").GetString(), StringComparison.Ordinal));
        Assert.Contains(clips, c => c.GetProperty("holdsWakePhrase").GetBoolean());
        Assert.Contains(clips, c => !c.GetProperty("holdsWakePhrase").GetBoolean());
        Assert.All(clips, c => Assert.InRange(c.GetProperty("probability").GetDouble(), 0, 1));
        foreach (string labeler in new[] { "calibrated", "rules" })
        {
            System.Text.Json.JsonElement all = json.RootElement.GetProperty(labeler)[0];
            Assert.Equal("all", all.GetProperty("group").GetString());
            Assert.Equal(clips.Count, all.GetProperty("clips").GetInt32());
            Assert.Equal(clips.Count, all.GetProperty("decidedTrueAccepts").GetInt32() + all.GetProperty("decidedFalseAccepts").GetInt32() + all.GetProperty("reviews").GetInt32());
            // The review rate's 95 % interval is the Wilson interval of reviews / clips, and it holds the rate.
            int reviewsAll = all.GetProperty("reviews").GetInt32();
            Assert.True(EdgeKws.Shared.Metrics.ConfidenceIntervals.TryWilson(reviewsAll, clips.Count, out var expected));
            System.Text.Json.JsonElement interval = all.GetProperty("reviewRate95");
            Assert.Equal(expected.Low, interval.GetProperty("low").GetDouble(), 12);
            Assert.Equal(expected.High, interval.GetProperty("high").GetDouble(), 12);
            Assert.InRange(reviewsAll / (double)clips.Count, expected.Low, expected.High);

            // The per-class precision columns, recomputed from the clips' own labels and ground truth.
            var decidedTa = clips.Where(c => c.GetProperty(labeler).GetString() == nameof(TriggerLabel.TrueAccept)).ToList();
            var decidedFa = clips.Where(c => c.GetProperty(labeler).GetString() == nameof(TriggerLabel.FalseAccept)).ToList();
            int taRight = decidedTa.Count(c => c.GetProperty("holdsWakePhrase").GetBoolean());
            int faRight = decidedFa.Count(c => !c.GetProperty("holdsWakePhrase").GetBoolean());
            Assert.Equal((decidedTa.Count, taRight, decidedFa.Count, faRight), (all.GetProperty("decidedTrueAccepts").GetInt32(),
                all.GetProperty("correctTrueAccepts").GetInt32(), all.GetProperty("decidedFalseAccepts").GetInt32(), all.GetProperty("correctFalseAccepts").GetInt32()));
            if (decidedTa.Count > 0) Assert.Equal(taRight / (double)decidedTa.Count, all.GetProperty("trueAcceptPrecision").GetDouble(), 12);
            if (decidedFa.Count > 0) Assert.Equal(faRight / (double)decidedFa.Count, all.GetProperty("falseAcceptPrecision").GetDouble(), 12);
        }
        Assert.Contains("95 % interval", text, StringComparison.Ordinal);

        // The "device fires" group (second row) is exactly the test clips whose device score reaches the bundled model's own
        // threshold: the population a field gateway labels.
        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(BundledModel()));
        double threshold = manifest.RootElement.GetProperty("threshold").GetDouble();
        Assert.Equal(threshold, json.RootElement.GetProperty("deviceThreshold").GetDouble(), 6);
        var fired = clips.Where(c => c.GetProperty("evidence").GetProperty("deviceScore").GetDouble() >= json.RootElement.GetProperty("deviceThreshold").GetDouble()).ToList();
        Assert.NotEmpty(fired);
        Assert.True(fired.Count < clips.Count, "every test clip fired the device model: the group would not differ from 'all'");
        System.Text.Json.JsonElement fires = json.RootElement.GetProperty("calibrated")[1];
        Assert.StartsWith("device fires (>= ", fires.GetProperty("group").GetString(), StringComparison.Ordinal);
        Assert.Equal(fired.Count, fires.GetProperty("clips").GetInt32());
        Assert.Equal(fired.Count(c => c.GetProperty("calibrated").GetString() == nameof(TriggerLabel.NeedsReview)), fires.GetProperty("reviews").GetInt32());
        Assert.Contains("device fires (>= ", text, StringComparison.Ordinal);
        // The "near-miss band" group (third row) is exactly the clips scored in [0.5 T, T): what the agent uploads as near misses.
        double t = json.RootElement.GetProperty("deviceThreshold").GetDouble();
        int inBand = clips.Count(c => c.GetProperty("evidence").GetProperty("deviceScore").GetDouble() is double s && s >= LabelingBenchmark.NearMissBandFraction * t && s < t);
        System.Text.Json.JsonElement band = json.RootElement.GetProperty("calibrated")[2];
        Assert.StartsWith("near-miss band (", band.GetProperty("group").GetString(), StringComparison.Ordinal);
        Assert.Equal(inBand, band.GetProperty("clips").GetInt32());
        Assert.Equal(clips.Count(c => c.GetProperty("calibrated").GetString() == nameof(TriggerLabel.NeedsReview)),
            json.RootElement.GetProperty("calibrated")[0].GetProperty("reviews").GetInt32());
        var reviews = json.RootElement.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("figures").GetProperty("reviews").GetInt32()).ToList();
        Assert.Equal(LabelingBenchmark.TargetGrid.Length, reviews.Count);
        for (int i = 1; i < reviews.Count; i++)
        {
            Assert.True(reviews[i] >= reviews[i - 1], $"targets: reviews {string.Join(", ", reviews)} fall somewhere");
        }
    }

    [Fact]
    public void Triggers_only_keeps_the_clips_the_device_model_fires_on_in_both_splits()
    {
        // The bundled model at a lowered threshold (a copy of its manifest), so that on the small corpus clips with and
        // without the wake phrase both fire and a calibration can be fitted on triggers alone.
        using var dir = new TempDirectory();
        string bundled = BundledModel();
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(bundled))!.AsObject();
        string onnx = manifest["fileName"]!.GetValue<string>();
        File.Copy(Path.Combine(Path.GetDirectoryName(bundled)!, onnx), Path.Combine(dir.Path, onnx));
        const double threshold = 0.3;
        manifest["threshold"] = threshold;
        string lowered = Path.Combine(dir.Path, "lowered.int8.manifest.json");
        File.WriteAllText(lowered, manifest.ToJsonString());
        string output = Path.Combine(dir.Path, "out");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = DatasetCommand.Run(["label-bench", "--corpus", corpus.Root, "--model", lowered, "--per-kind", "3", "--triggers-only", "--out", output], stdout, stderr);
        Assert.True(exit == 0, stderr.ToString());

        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "label-bench.json")));
        Assert.Equal(threshold, json.RootElement.GetProperty("deviceThreshold").GetDouble(), 6);
        var clips = json.RootElement.GetProperty("clips").EnumerateArray().ToList();
        Assert.NotEmpty(clips);
        Assert.All(clips, c => Assert.True(c.GetProperty("evidence").GetProperty("deviceScore").GetDouble() >= threshold, c.GetProperty("path").GetString()));
        // At most --per-kind of each kind, and the "device fires" row is then every clip.
        Assert.All(clips.GroupBy(c => c.GetProperty("kind").GetString()), g => Assert.InRange(g.Count(), 1, 3));
        Assert.Equal(clips.Count, json.RootElement.GetProperty("calibrated")[1].GetProperty("clips").GetInt32());
        LabelCalibration calibration = LabelCalibration.Load(Path.Combine(output, "label-calibration.json"));
        Assert.Contains("(clips the device model fires on)", calibration.FittedOn, StringComparison.Ordinal);
        Assert.InRange(calibration.Examples, 2, 12);

        // At the bundled threshold no clip without the wake phrase fires on this corpus: a calibration cannot be fitted,
        // and the command says so instead of fitting on one class.
        stderr = new StringWriter();
        Assert.Equal(1, DatasetCommand.Run(["label-bench", "--corpus", corpus.Root, "--model", bundled, "--per-kind", "3", "--triggers-only"], new StringWriter(), stderr));
        Assert.Matches("^edgekws-dataset: (a calibration needs clips of both kinds; got [0-9]+ with the wake phrase and 0 without|no clip of split '[a-z]+' fires the device model)", stderr.ToString());
    }

    [Fact]
    public void Refuses_a_missing_model_and_the_same_split_twice_with_clear_errors()
    {
        var stderr = new StringWriter();
        Assert.Equal(2, DatasetCommand.Run(["label-bench", "--corpus", corpus.Root], new StringWriter(), stderr));
        Assert.Contains("--model MANIFEST", stderr.ToString(), StringComparison.Ordinal);
        stderr = new StringWriter();
        Assert.Equal(1, DatasetCommand.Run(["label-bench", "--corpus", corpus.Root, "--model", BundledModel(), "--test-split", "validation"], new StringWriter(), stderr));
        Assert.Contains("must differ", stderr.ToString(), StringComparison.Ordinal);
    }
}
