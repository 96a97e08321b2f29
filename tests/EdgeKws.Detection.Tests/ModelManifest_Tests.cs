using System.Text;

namespace EdgeKws.Detection.Tests;

public class ModelManifest_Tests
{
    private static ModelManifest Parse(string json)
    {
        Assert.True(ModelManifest.TryParse(Encoding.UTF8.GetBytes(json), out var m, out string reason), reason);
        return m!;
    }

    [Theory]
    [InlineData(DetectionFixtures.Int8)]
    [InlineData(DetectionFixtures.Float)]
    public void Validates_the_generated_fixture_manifests(string variant)
    {
        var m = Parse(File.ReadAllText(DetectionFixtures.ManifestPath(variant)));

        Assert.True(m.TryValidate(out string reason), reason);
        Assert.Equal("edgekws-test-kws", m.ModelId);
        Assert.Equal(98, m.WindowFrames);
        Assert.Equal([1, 1, 98, 13], m.Input!.Shape!);
        Assert.Equal(variant == DetectionFixtures.Int8 ? ModelInputElementType.Int8 : ModelInputElementType.Float,
            m.Input.ParsedElementType);
        Assert.Equal("tone_burst", m.Labels![m.KeywordIndex!.Value]);
        Assert.Equal(DetectionFixtures.FeatureConfigHash, m.FeatureConfigHash);
    }

    [Fact]
    public void Refuses_an_uppercase_feature_config_hash_because_the_wire_accepts_only_lowercase()
    {
        string json = File.ReadAllText(DetectionFixtures.ManifestPath(DetectionFixtures.Int8))
            .Replace(DetectionFixtures.FeatureConfigHash, DetectionFixtures.FeatureConfigHash.ToUpperInvariant(), StringComparison.Ordinal);
        var m = Parse(json);

        Assert.False(m.TryValidate(out string reason));

        Assert.Contains("'featureConfigHash' must be 64 lowercase hex digits, got 'F' at position 4", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Round_trips_through_the_source_generated_serializer()
    {
        var m = Parse(File.ReadAllText(DetectionFixtures.ManifestPath(DetectionFixtures.Int8)));

        var again = Parse(m.ToJson());

        Assert.Equal(m.ToJson(), again.ToJson());
        Assert.Equal(m.Sha256, again.Sha256);
        Assert.Equal(m.CreatedUtc, again.CreatedUtc);
        Assert.Equal(m.Input!.QuantScale, again.Input!.QuantScale);
        Assert.Contains("\"featureConfigHash\"", m.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Names_every_missing_field_of_an_empty_manifest()
    {
        var m = Parse("{}");

        Assert.False(m.TryValidate(out string reason));

        foreach (string field in new[]
                 {
                     "schemaVersion", "modelId", "modelVersion", "createdUtc", "fileName", "sha256", "sizeBytes",
                     "input", "outputName", "labels", "keywordIndex", "windowFrames", "strideFrames", "frameHopMs",
                     "threshold", "smoothingFrames", "refractoryMs", "featureConfigHash",
                 })
        {
            Assert.Contains($"'{field}' is missing", reason, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("parentVersion", reason, StringComparison.Ordinal); // optional
    }

    [Fact]
    public void Names_missing_input_fields_including_int8_quantization()
    {
        string json = File.ReadAllText(DetectionFixtures.ManifestPath(DetectionFixtures.Int8))
            .Replace("\"quantScale\": 0.5,", "", StringComparison.Ordinal)
            .Replace("\"name\": \"mfcc_q\",", "", StringComparison.Ordinal);
        var m = Parse(json);

        Assert.False(m.TryValidate(out string reason));

        Assert.Contains("'input.name' is missing", reason, StringComparison.Ordinal);
        Assert.Contains("'input.quantScale' is missing (required for int8 input)", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Reports_each_out_of_range_value_with_its_field_and_value()
    {
        string json = File.ReadAllText(DetectionFixtures.ManifestPath(DetectionFixtures.Float))
            .Replace("\"threshold\": 0.8", "\"threshold\": 1.5", StringComparison.Ordinal)
            .Replace("\"smoothingFrames\": 30", "\"smoothingFrames\": 25", StringComparison.Ordinal)
            .Replace("\"keywordIndex\": 1", "\"keywordIndex\": 2", StringComparison.Ordinal)
            .Replace("\"windowFrames\": 98", "\"windowFrames\": 100", StringComparison.Ordinal)
            .Replace("\"elementType\": \"float\"", "\"elementType\": \"uint8\"", StringComparison.Ordinal)
            .Replace("\"fileName\": \"kws-test-float.onnx\"", "\"fileName\": \"../kws-test-float.onnx\"", StringComparison.Ordinal);
        var m = Parse(json);

        Assert.False(m.TryValidate(out string reason));

        Assert.Contains("'threshold' must be in (0, 1], got 1.5", reason, StringComparison.Ordinal);
        Assert.Contains("'smoothingFrames' must be a positive multiple of strideFrames (10), got 25", reason, StringComparison.Ordinal);
        Assert.Contains("'keywordIndex' 2 is outside 'labels' (0..1)", reason, StringComparison.Ordinal);
        Assert.Contains("'input.shape' has 98 frames but 'windowFrames' is 100", reason, StringComparison.Ordinal);
        Assert.Contains("'input.elementType' must be \"float\" or \"int8\", got \"uint8\"", reason, StringComparison.Ordinal);
        Assert.Contains("'fileName' must be a plain file name next to the manifest, got '../kws-test-float.onnx'", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_text_that_is_not_json_with_the_parser_position()
    {
        Assert.False(ModelManifest.TryParse("{\"modelId\": "u8, out var m, out string reason));

        Assert.Null(m);
        Assert.StartsWith("model manifest is not valid JSON:", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_field_of_the_wrong_json_type()
    {
        Assert.False(ModelManifest.TryParse("{\"windowFrames\": \"ninety-eight\"}"u8, out _, out string reason));

        Assert.Contains("windowFrames", reason, StringComparison.Ordinal);
    }
}
