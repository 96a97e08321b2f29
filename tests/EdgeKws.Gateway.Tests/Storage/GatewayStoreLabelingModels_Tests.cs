using System.Security.Cryptography;
using System.Text.Json;
using EdgeKws.Gateway.Labeling;
using EdgeKws.Gateway.Storage;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Gateway.Tests.Storage;

/// <summary>The labeling registry (<see cref="ILabelingModelStore"/>, schema step 11) on a SQLite file and a real PostgreSQL server, filled by
/// <see cref="LabelingModelRegistration"/> from the bundled verifier and calibration: the very files come back, their lineage names what they
/// were made from, and registering them again (the next gateway start) writes nothing.</summary>
[Collection("postgres")]
public sealed class GatewayStoreLabelingModels_Tests(PostgresFixture postgres) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public void Registers_the_bundled_verifier_and_calibration_once_with_their_files_and_lineage(string provider)
    {
        string verifierManifest = Directory.GetFiles(Path.Combine(TestSupport.RepositoryRoot.Path, "models", "verifier"), "*.float.manifest.json").Single();
        string calibrationPath = Path.Combine(TestSupport.RepositoryRoot.Path, "models", "labeling", "label-calibration.json");
        var options = postgres.StoreOptions(provider, _dir);
        DateTimeOffset first = Wire.Time0, later = Wire.Time0.AddDays(1);
        LabelingModelRecord verifier, calibration;
        using (IGatewayStore store = GatewayStores.Open(options))
        {
            Assert.Empty(store.ReadLabelingModels());
            verifier = LabelingModelRegistration.RegisterVerifier(store, verifierManifest, first);
            calibration = LabelingModelRegistration.RegisterCalibration(store, calibrationPath, first);
        }

        using IGatewayStore reopened = GatewayStores.Open(options);
        // The next start registers the same files: nothing new, the first registration time kept.
        Assert.Equal(verifier, LabelingModelRegistration.RegisterVerifier(reopened, verifierManifest, later));
        Assert.Equal(calibration, LabelingModelRegistration.RegisterCalibration(reopened, calibrationPath, later));
        IReadOnlyList<LabelingModelRecord> all = reopened.ReadLabelingModels();
        Assert.Equal(2, all.Count);
        Assert.All(all, r => Assert.Equal(first, r.RegisteredUtc));

        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(verifierManifest));
        string onnx = Path.Combine(Path.GetDirectoryName(verifierManifest)!, manifest.RootElement.GetProperty("fileName").GetString()!);
        Assert.Equal((LabelingModelKinds.Verifier, manifest.RootElement.GetProperty("modelVersion").GetString(), manifest.RootElement.GetProperty("sha256").GetString()),
            (verifier.Kind, verifier.Version, verifier.Sha256));
        Assert.True(reopened.TryGetLabelingModelContent(verifier.Sha256, out byte[]? verifierBytes));
        Assert.Equal(File.ReadAllBytes(onnx), verifierBytes);
        using (JsonDocument lineage = JsonDocument.Parse(verifier.LineageJson))
        {
            // The training manifest beside the verifier: the dataset and seed it was trained from.
            JsonElement training = lineage.RootElement.GetProperty("trainingManifest");
            Assert.StartsWith("edgekws-", training.GetProperty("datasetId").GetString(), StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.Number, training.GetProperty("seed").ValueKind);
            Assert.Equal(verifier.Sha256, lineage.RootElement.GetProperty("manifest").GetProperty("sha256").GetString());
        }

        byte[] calibrationBytes = File.ReadAllBytes(calibrationPath);
        string calibrationSha = Convert.ToHexStringLower(SHA256.HashData(calibrationBytes));
        Assert.Equal((LabelingModelKinds.Calibration, calibrationSha, calibrationSha[..LabelingModelRegistration.ProvenanceHashLength]),
            (calibration.Kind, calibration.Sha256, calibration.Version));
        Assert.True(reopened.TryGetLabelingModelContent(calibrationSha, out byte[]? storedCalibration));
        Assert.Equal(calibrationBytes, storedCalibration);
        using (JsonDocument lineage = JsonDocument.Parse(calibration.LineageJson))
        {
            // What it was fitted on names the verifier it was fitted with.
            Assert.Contains("verifier model " + verifier.Version, lineage.RootElement.GetProperty("fittedOn").GetString(), StringComparison.Ordinal);
        }
        Assert.False(reopened.TryGetLabelingModelContent(new string('0', 64), out _));
    }

    [Fact]
    public void A_verifier_whose_file_differs_from_its_manifest_is_refused_and_nothing_is_registered()
    {
        string bundled = Directory.GetFiles(Path.Combine(TestSupport.RepositoryRoot.Path, "models", "verifier"), "*.float.manifest.json").Single();
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllText(bundled));
        string fileName = manifest.RootElement.GetProperty("fileName").GetString()!;
        File.Copy(bundled, Path.Combine(_dir.Path, "v.manifest.json"));
        byte[] onnx = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(bundled)!, fileName));
        onnx[^1] ^= 1;
        File.WriteAllBytes(Path.Combine(_dir.Path, fileName), onnx);
        using IGatewayStore store = GatewayStores.Open(postgres.StoreOptions("sqlite", _dir));
        var e = Assert.Throws<InvalidDataException>(() => LabelingModelRegistration.RegisterVerifier(store, Path.Combine(_dir.Path, "v.manifest.json"), Wire.Time0));
        Assert.Contains("the manifest says", e.Message, StringComparison.Ordinal);
        Assert.Empty(store.ReadLabelingModels());
    }
}
