namespace EdgeKws.Detection.Tests;

public class KeywordModel_Tests
{
    [Theory]
    [InlineData(DetectionFixtures.Int8)]
    [InlineData(DetectionFixtures.Float)]
    public void Loads_a_model_whose_hashes_and_size_match(string variant)
    {
        Assert.True(KeywordModel.TryLoad(DetectionFixtures.ManifestPath(variant), DetectionFixtures.FeatureConfigHash,
            out var model, out string reason), reason);

        Assert.Equal(model!.Manifest.SizeBytes, model.Bytes.Length);
        Assert.True(model.Bytes.Length < 4096, "the test model should stay a few KB");
        Assert.EndsWith($"kws-test-{variant}.onnx", model.ModelPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_model_whose_bytes_were_tampered_with()
    {
        string manifest = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8);
        string modelPath = Path.Combine(Path.GetDirectoryName(manifest)!, "kws-test-int8.onnx");
        byte[] bytes = File.ReadAllBytes(modelPath);
        bytes[bytes.Length / 2] ^= 0x01; // one bit, same size
        File.WriteAllBytes(modelPath, bytes);

        Assert.False(KeywordModel.TryLoad(manifest, DetectionFixtures.FeatureConfigHash, out var model, out string reason));

        Assert.Null(model);
        Assert.Contains("has SHA-256", reason, StringComparison.Ordinal);
        Assert.Contains("corrupt or was tampered with", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_model_trained_on_a_different_feature_config()
    {
        string otherHash = new('a', 64);

        Assert.False(KeywordModel.TryLoad(DetectionFixtures.ManifestPath(DetectionFixtures.Int8), otherHash,
            out var model, out string reason));

        Assert.Null(model);
        Assert.Contains($"trained on feature config {DetectionFixtures.FeatureConfigHash}", reason, StringComparison.Ordinal);
        Assert.Contains($"front end is {otherHash}", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_model_file_over_the_budget_before_reading_it()
    {
        // The manifest still declares the true size, so only the budget rejects it.
        Assert.False(KeywordModel.TryLoad(DetectionFixtures.ManifestPath(DetectionFixtures.Int8), DetectionFixtures.FeatureConfigHash,
            maxModelBytes: 1000, out var model, out string reason));

        Assert.Null(model);
        Assert.Contains("over the 1000-byte model budget", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_an_oversize_file_under_the_default_64_KB_budget()
    {
        string manifest = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8);
        string modelPath = Path.Combine(Path.GetDirectoryName(manifest)!, "kws-test-int8.onnx");
        File.WriteAllBytes(modelPath, new byte[KeywordModel.DefaultMaxModelBytes + 1]);

        Assert.False(KeywordModel.TryLoad(manifest, DetectionFixtures.FeatureConfigHash, out _, out string reason));

        Assert.Contains($"is {KeywordModel.DefaultMaxModelBytes + 1} bytes, over the 65536-byte model budget", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_manifest_that_declares_more_than_the_budget()
    {
        string manifest = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8, m => m["sizeBytes"] = 70_000);

        Assert.False(KeywordModel.TryLoad(manifest, DetectionFixtures.FeatureConfigHash, out _, out string reason));

        Assert.Contains("declares 70000 bytes, over the 65536-byte model budget", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_model_whose_size_differs_from_the_manifest()
    {
        string manifest = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8, m => m["sizeBytes"] = 1000);

        Assert.False(KeywordModel.TryLoad(manifest, DetectionFixtures.FeatureConfigHash, out _, out string reason));

        Assert.Contains("bytes but the manifest says 1000", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_manifest_with_missing_fields_and_names_them()
    {
        string manifest = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8, m =>
        {
            m.Remove("sha256");
            m.Remove("featureConfigHash");
        });

        Assert.False(KeywordModel.TryLoad(manifest, DetectionFixtures.FeatureConfigHash, out _, out string reason));

        Assert.Contains("'sha256' is missing", reason, StringComparison.Ordinal);
        Assert.Contains("'featureConfigHash' is missing", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_missing_model_file_naming_the_path()
    {
        string manifest = DetectionFixtures.CopyToTemp(DetectionFixtures.Int8, m => m["fileName"] = "absent.onnx");

        Assert.False(KeywordModel.TryLoad(manifest, DetectionFixtures.FeatureConfigHash, out _, out string reason));

        Assert.Contains("model file named by the manifest not found:", reason, StringComparison.Ordinal);
        Assert.Contains("absent.onnx", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_device_hash_that_is_not_a_sha256()
    {
        Assert.False(KeywordModel.TryLoad(DetectionFixtures.ManifestPath(DetectionFixtures.Int8), "mfcc-v1", out _, out string reason));

        Assert.Contains("the device's feature config hash must be the SHA-256 as 64 lowercase hex digits, got 7 characters 'mfcc-v1'", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_an_uppercase_device_hash_because_the_wire_accepts_only_lowercase()
    {
        Assert.False(KeywordModel.TryLoad(DetectionFixtures.ManifestPath(DetectionFixtures.Int8), DetectionFixtures.FeatureConfigHash.ToUpperInvariant(), out _, out string reason));

        Assert.Contains("must be 64 lowercase hex digits", reason, StringComparison.Ordinal);
    }
}
