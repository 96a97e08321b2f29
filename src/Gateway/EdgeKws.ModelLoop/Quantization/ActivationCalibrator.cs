using EdgeKws.ModelLoop.Datasets;
using EdgeKws.ModelLoop.Onnx;
using EdgeKws.ModelLoop.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeKws.ModelLoop.Quantization;

/// <summary>How activation ranges are chosen from the calibration windows.</summary>
public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum: nothing clips on the calibration data.</summary>
    MinMax,
    /// <summary>The lower and upper percentiles (e.g. 0.01 % and 99.99 %): rare outliers clip, the rest gets finer steps.</summary>
    Percentile,
}

/// <summary>
/// Collects the range of every float activation of a float ONNX model by running it in ONNX
/// Runtime over stored feature windows, with each intermediate tensor exposed as an extra graph
/// output. Percentile uses a second pass: a 2048-bin histogram per tensor over the MinMax range.
/// </summary>
public static class ActivationCalibrator
{
    /// <summary>Ops whose outputs are float activations when their inputs are (everything a KWS CNN uses).</summary>
    public static readonly IReadOnlySet<string> FloatActivationOps = new HashSet<string>(StringComparer.Ordinal)
    {
        "Conv", "Gemm", "MatMul", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "GlobalAveragePool",
        "AveragePool", "MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Add", "Mul",
        "BatchNormalization", "Softmax", "Concat",
    };

    private const int HistogramBins = 2048;

    /// <summary>
    /// Ranges of the graph input and of every float activation, keyed by tensor name.
    /// <paramref name="windows"/> are the calibration windows (e.g. the training split, subsampled
    /// by <paramref name="maxWindows"/> with an even stride, so the choice is deterministic).
    /// </summary>
    public static Dictionary<string, TensorRange> Calibrate(byte[] floatModel, FeatureSplit windows, CalibrationMethod method,
        double percentile = 99.99, int maxWindows = 512)
    {
        ArgumentNullException.ThrowIfNull(floatModel);
        ArgumentNullException.ThrowIfNull(windows);
        if (windows.Count == 0) throw new ArgumentException("calibration needs at least one window", nameof(windows));
        if (method == CalibrationMethod.Percentile && !(percentile > 50 && percentile <= 100))
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "percentile must be in (50, 100]");

        var model = ModelProto.Parser.ParseFrom(floatModel);
        var graph = model.Graph;
        if (graph.Input.Count != 1) throw new InvalidDataException($"calibration expects one graph input, the model has {graph.Input.Count}");
        string inputName = graph.Input[0].Name;
        var existingOutputs = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        var tensors = new List<string> { inputName };
        foreach (var node in graph.Node)
        {
            if (!FloatActivationOps.Contains(node.OpType) || (node.Domain.Length != 0 && node.Domain != "ai.onnx")) continue;
            foreach (string output in node.Output)
            {
                if (output.Length == 0) continue;
                tensors.Add(output);
                if (existingOutputs.Add(output)) graph.Output.Add(OnnxTensors.ValueInfo(output, OnnxTensors.Float, null));
            }
        }

        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model.ToByteArray(), options);
        int[] dims = [1, 1, windows.WindowFrames, windows.Coefficients];
        int step = Math.Max(1, (windows.Count + maxWindows - 1) / maxWindows);

        var min = new Dictionary<string, float>(StringComparer.Ordinal);
        var max = new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (string t in tensors)
        {
            min[t] = float.PositiveInfinity;
            max[t] = float.NegativeInfinity;
        }
        void Observe(string name, ReadOnlySpan<float> values)
        {
            float lo = min[name], hi = max[name];
            foreach (float v in values)
            {
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
            min[name] = lo;
            max[name] = hi;
        }
        ForEachWindow(session, inputName, windows, dims, step, tensors, Observe);

        var ranges = new Dictionary<string, TensorRange>(StringComparer.Ordinal);
        if (method == CalibrationMethod.MinMax || percentile >= 100)
        {
            foreach (string t in tensors) ranges[t] = new TensorRange(min[t], max[t]);
            return ranges;
        }

        var histograms = tensors.ToDictionary(t => t, _ => new long[HistogramBins], StringComparer.Ordinal);
        void Count(string name, ReadOnlySpan<float> values)
        {
            float lo = min[name], hi = max[name];
            var h = histograms[name];
            double width = (hi - lo) / (double)HistogramBins;
            foreach (float v in values)
            {
                int b = width > 0 ? (int)((v - lo) / width) : 0;
                h[Math.Clamp(b, 0, HistogramBins - 1)]++;
            }
        }
        ForEachWindow(session, inputName, windows, dims, step, tensors, Count);

        double tail = (100.0 - percentile) / 100.0;
        foreach (string t in tensors)
        {
            var h = histograms[t];
            long total = 0;
            foreach (long c in h) total += c;
            float lo = min[t], hi = max[t];
            double width = (hi - lo) / (double)HistogramBins;
            // Lower edge: first bin where the cumulative count passes tail * total; upper: symmetric.
            long cut = (long)Math.Floor(tail * total);
            long acc = 0;
            int first = 0;
            for (; first < HistogramBins - 1; first++)
            {
                acc += h[first];
                if (acc > cut) break;
            }
            acc = 0;
            int last = HistogramBins - 1;
            for (; last > 0; last--)
            {
                acc += h[last];
                if (acc > cut) break;
            }
            float pLo = (float)(lo + first * width);
            float pHi = (float)(lo + (last + 1) * width);
            ranges[t] = new TensorRange(Math.Max(lo, Math.Min(pLo, pHi)), Math.Min(hi, Math.Max(pLo, pHi)));
        }
        return ranges;
    }

    private static void ForEachWindow(InferenceSession session, string inputName, FeatureSplit windows, int[] dims, int step,
        List<string> tensors, Action<string, ReadOnlySpan<float>> observe)
    {
        var wanted = tensors.Where(t => t != inputName).ToArray();
        for (int i = 0; i < windows.Count; i += step)
        {
            var memory = windows.Features.AsMemory(i * windows.WindowValues, windows.WindowValues);
            var input = new DenseTensor<float>(memory, dims);
            observe(inputName, memory.Span);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, input)], wanted);
            foreach (var r in results)
            {
                var tensor = r.AsTensor<float>();
                if (tensor is DenseTensor<float> dense) observe(r.Name, dense.Buffer.Span);
                else observe(r.Name, tensor.ToArray());
            }
        }
    }
}
