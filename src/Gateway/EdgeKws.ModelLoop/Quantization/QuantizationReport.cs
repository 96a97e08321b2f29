namespace EdgeKws.ModelLoop.Quantization;

/// <summary>What <see cref="Int8ModelBuilder"/> did and measured; written as quantization-report.json.</summary>
public sealed class QuantizationReport
{
    public required string ModelFile { get; init; }
    public required string ManifestFile { get; init; }
    public required string Sha256 { get; init; }
    public required string DatasetId { get; init; }
    public required string FeatureConfigHash { get; init; }
    public required string Method { get; init; }
    public double? Percentile { get; init; }
    public required int CalibrationWindows { get; init; }
    public required string InputElementType { get; init; }
    public required float InputScale { get; init; }
    public required int InputZeroPoint { get; init; }
    public required int QuantizedWeightTensors { get; init; }
    public required int QuantizedActivations { get; init; }
    public required int FusedRelus { get; init; }
    public required long FloatSizeBytes { get; init; }
    public required long Int8SizeBytes { get; init; }
    public required string EvaluationSplit { get; init; }
    public required int EvaluationWindows { get; init; }
    public required double FloatAccuracy { get; init; }
    public required double Int8Accuracy { get; init; }
    /// <summary>Fraction of windows where float and INT8 pick the same class.</summary>
    public required double ArgMaxAgreement { get; init; }
    public required double MaxAbsPosteriorDifference { get; init; }
    public required double MeanAbsPosteriorDifference { get; init; }
    /// <summary>Field re-calibration: the INT8 model whose weights were kept ("ID VERSION (SHA-256)"); null for a trained float model. "Float" is then its recovered float graph.</summary>
    public string? RecalibratedFrom { get; init; }
    /// <summary>Largest |weight code| in the written model (<see cref="Onnx.OnnxTensors.MaxAbsWeightCode"/>): at most 63 computes the same on x86 without
    /// VNNI as on the arm64 device; above 63 such a CPU's int8 kernels may saturate. Null in reports written before this field.</summary>
    public int? MaxAbsWeightCode { get; init; }
}
