namespace EdgeKws.Detection;

/// <summary>
/// Device-side overrides of the manifest's streaming parameters (for tuning a threshold on a
/// board, or for tests). A null member keeps the manifest's value.
/// </summary>
public sealed class KeywordDetectorOptions
{
    public float? Threshold { get; init; }
    /// <summary>Posterior moving-average length in frames; a positive multiple of the stride.</summary>
    public int? SmoothingFrames { get; init; }
    public int? RefractoryMs { get; init; }
    /// <summary>int8 models: MFCC units per quantization step, instead of the manifest's.</summary>
    public float? InputQuantScale { get; init; }
    /// <summary>int8 models: zero point, instead of the manifest's.</summary>
    public int? InputQuantZeroPoint { get; init; }
    /// <summary>
    /// How the session is run each inference. <see cref="InferenceBinding.IoBinding"/> (default) binds
    /// the pre-allocated OrtValues once and allocates nothing managed per inference;
    /// <see cref="InferenceBinding.PreallocatedRun"/> passes the same pre-allocated OrtValues to
    /// <c>InferenceSession.Run</c>, which allocates a few small arrays inside ONNX Runtime's managed
    /// wrapper on every call.
    /// </summary>
    public InferenceBinding Binding { get; init; } = InferenceBinding.IoBinding;
}

/// <summary>How <see cref="KeywordDetector"/> hands its pre-allocated tensors to ONNX Runtime.</summary>
public enum InferenceBinding
{
    /// <summary>OrtIoBinding bound once; RunWithBinding per inference (0 B managed per inference).</summary>
    IoBinding,
    /// <summary>InferenceSession.Run(runOptions, names, values, names, values) per inference.</summary>
    PreallocatedRun,
}
