using EdgeKws.ModelLoop.Datasets;
using EdgeKws.Shared.Features;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeKws.ModelLoop.Quantization;

/// <summary>
/// Runs a keyword model (float or int8 input) over every window of a split in ONNX Runtime and
/// returns the posteriors, row-major [windows x classes]. Int8 inputs are quantized exactly as the
/// device does it (<see cref="MfccQuantizer.Quantize(ReadOnlySpan{float}, Span{sbyte}, double, int)"/>).
/// </summary>
public static class WindowScorer
{
    public static float[] Score(byte[] model, FeatureSplit split, ActivationQuantization? int8Input = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(split);
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model, options);
        string inputName = session.InputMetadata.Keys.Single();
        string outputName = session.OutputMetadata.Keys.Single();
        bool int8 = session.InputMetadata[inputName].ElementDataType == TensorElementType.Int8;
        if (int8 && int8Input is null) throw new ArgumentException("the model takes int8 input: pass its scale and zero point", nameof(int8Input));
        int classes = (int)session.OutputMetadata[outputName].Dimensions[^1];
        int[] dims = [1, 1, split.WindowFrames, split.Coefficients];
        var posteriors = new float[split.Count * classes];
        var q = new sbyte[split.WindowValues];
        for (int i = 0; i < split.Count; i++)
        {
            var window = split.Window(i);
            NamedOnnxValue value;
            if (int8)
            {
                MfccQuantizer.Quantize(window.Span, q, int8Input!.Value.Scale, int8Input.Value.ZeroPoint);
                value = NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<sbyte>((sbyte[])q.Clone(), dims));
            }
            else
            {
                value = NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(MemoryFromReadOnly(window), dims));
            }
            using var results = session.Run([value]);
            var output = results[0].AsTensor<float>().ToArray();
            output.AsSpan().CopyTo(posteriors.AsSpan(i * classes, classes));
        }
        return posteriors;
    }

    /// <summary>Fraction of windows whose arg-max class is the label.</summary>
    public static double Accuracy(ReadOnlySpan<float> posteriors, ReadOnlySpan<long> labels)
    {
        if (labels.Length == 0) return double.NaN;
        int classes = posteriors.Length / labels.Length;
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (ArgMax(posteriors.Slice(i * classes, classes)) == labels[i]) correct++;
        }
        return correct / (double)labels.Length;
    }

    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++)
        {
            if (row[c] > row[best]) best = c;
        }
        return best;
    }

    private static Memory<float> MemoryFromReadOnly(ReadOnlyMemory<float> m) =>
        System.Runtime.InteropServices.MemoryMarshal.AsMemory(m);
}
