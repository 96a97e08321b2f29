using System.Text.Json;
using EdgeKws.Detection;
using EdgeKws.ModelLoop.Evaluation;
using EdgeKws.ModelLoop.Tests.Fixtures;
using EdgeKws.Shared.Features;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>The committed default model (models/default, built by tools/train/build-default-model.sh).</summary>
public class DefaultModel_Tests
{
    private static string Directory => Path.Combine(RepositoryRoot.Path, "models", "default");
    private static string ManifestPath => System.IO.Directory.GetFiles(Directory, "*.int8.manifest.json").Single();

    [Fact]
    public void Committed_default_model_loads_on_the_device_front_end_and_fits_64_KB()
    {
        Assert.True(KeywordModel.TryLoad(ManifestPath, MfccConfig.Default.FeatureConfigHash, out var model, out string reason), reason);
        Assert.InRange(new FileInfo(model!.ModelPath).Length, 1, 64 * 1024);
        Assert.Equal("hey edge", model.Manifest.Labels![model.Manifest.KeywordIndex!.Value]);
        Assert.Equal(ModelInputElementType.Int8, model.Manifest.Input!.ParsedElementType);
        Assert.True(KeywordDetector.TryCreate(model, null, out var detector, out reason), reason);
        detector!.Dispose();
    }

    [Fact]
    public void Committed_evaluation_report_belongs_to_the_committed_model()
    {
        var manifest = JsonDocument.Parse(File.ReadAllText(ManifestPath)).RootElement;
        string reportPath = System.IO.Directory.GetFiles(Directory, "*.evaluation.json").Single();
        var report = JsonSerializer.Deserialize(File.ReadAllText(reportPath), EvaluationJsonContext.Default.EvaluationReport)!;
        Assert.Equal(manifest.GetProperty("sha256").GetString(), report.ModelSha256);
        Assert.Equal(manifest.GetProperty("threshold").GetSingle(), report.Threshold);
        Assert.True(report.ReplayCheck.IdenticalFrames);
        Assert.True(report.NegativeHours >= 1, $"only {report.NegativeHours} h of negatives evaluated");
        Assert.True(report.Keywords >= 100, $"only {report.Keywords} keywords evaluated");
    }
}
