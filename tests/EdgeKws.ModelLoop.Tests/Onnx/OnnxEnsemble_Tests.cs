using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using EdgeKws.ModelLoop.Quantization;
using EdgeKws.ModelLoop.Tests.Quantization;
using Google.Protobuf;

namespace EdgeKws.ModelLoop.Tests.Onnx;

/// <summary>An ensemble of keyword models as one ONNX file (<see cref="OnnxEnsemble"/>), run by ONNX Runtime: its posteriors are the
/// members' mean, and members that do not fit together are refused by name.</summary>
public class OnnxEnsemble_Tests
{
    // Two committed float models of the same input and output and of different architectures: the bundled device model and the
    // gateway verifier (128 channels, 6 blocks).
    private static byte[] DeviceFloat => File.ReadAllBytes(Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "models", "default"), "*.float.onnx").Single());

    private static byte[] VerifierFloat => File.ReadAllBytes(Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "models", "verifier"), "*.float.onnx").Single());

    [Fact]
    public void OnnxRuntime_gives_the_ensemble_the_mean_of_its_members_posteriors()
    {
        var windows = QdqDequantizer_Tests.Windows();
        byte[] a = DeviceFloat, b = VerifierFloat;
        float[] pa = WindowScorer.Score(a, windows), pb = WindowScorer.Score(b, windows);
        float[] pe = WindowScorer.Score(OnnxEnsemble.Compose([a, b]), windows);
        Assert.Equal(pa.Length, pe.Length);
        double maxMemberDifference = 0;
        for (int i = 0; i < pe.Length; i++)
        {
            Assert.True(Math.Abs(((pa[i] + pb[i]) / 2.0) - pe[i]) <= 1e-6, $"posterior {i}: ensemble {pe[i]}, members {pa[i]} and {pb[i]}");
            maxMemberDifference = Math.Max(maxMemberDifference, Math.Abs(pa[i] - pb[i]));
        }
        Assert.True(maxMemberDifference > 0.01, "the two members agree everywhere: the test would not see a wrong mean");

        // The same member three times is that member: names do not collide however often a graph is repeated.
        float[] same = WindowScorer.Score(OnnxEnsemble.Compose([a, a, a]), windows);
        for (int i = 0; i < same.Length; i++) Assert.True(Math.Abs(pa[i] - same[i]) <= 1e-6, $"posterior {i}: {same[i]} vs {pa[i]}");
    }

    [Fact]
    public void Members_that_do_not_fit_together_are_refused_naming_the_member()
    {
        byte[] a = DeviceFloat;
        Assert.Throws<ArgumentException>(() => OnnxEnsemble.Compose([a]));
        Assert.Contains("member 1 is not an ONNX model", Assert.Throws<InvalidDataException>(() => OnnxEnsemble.Compose([a, [1, 2, 3, 4, 5]])).Message, StringComparison.Ordinal);

        ModelProto otherShape = ModelProto.Parser.ParseFrom(a);
        otherShape.Graph.Input[0].Type.TensorType.Shape.Dim[2].DimValue = 49;
        Assert.Contains("member 1's input", Assert.Throws<InvalidDataException>(() => OnnxEnsemble.Compose([a, otherShape.ToByteArray()])).Message, StringComparison.Ordinal);

        ModelProto otherOutput = ModelProto.Parser.ParseFrom(a);
        otherOutput.Graph.Output[0].Name = "logits";
        Assert.Contains("member 2's output is 'logits'", Assert.Throws<InvalidDataException>(() => OnnxEnsemble.Compose([a, a, otherOutput.ToByteArray()])).Message, StringComparison.Ordinal);

        ModelProto otherClasses = ModelProto.Parser.ParseFrom(a);
        otherClasses.Graph.Output[0].Type.TensorType.Shape.Dim[^1].DimValue = 1;
        Assert.Contains("member 1's output 'posteriors' differs from member 0's in type or shape",
            Assert.Throws<InvalidDataException>(() => OnnxEnsemble.Compose([a, otherClasses.ToByteArray()])).Message, StringComparison.Ordinal);

        ModelProto otherOpset = ModelProto.Parser.ParseFrom(a);
        otherOpset.OpsetImport.Single(o => o.Domain.Length == 0 || o.Domain == "ai.onnx").Version += 1;
        Assert.Contains("member 1 uses opset", Assert.Throws<InvalidDataException>(() => OnnxEnsemble.Compose([a, otherOpset.ToByteArray()])).Message, StringComparison.Ordinal);
    }
}
