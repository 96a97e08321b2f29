using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeKws.Detection;

/// <summary>
/// Streaming keyword detector: MFCC frames in, one at a time; a <see cref="DetectionEvent"/> out
/// when the smoothed keyword posterior crosses the threshold.
/// </summary>
/// <remarks>
/// Allocation promise: every buffer (frame ring, model input, model output, posterior history)
/// and every ONNX Runtime object (session, OrtValues over those buffers, the IoBinding) is created
/// in <see cref="TryCreate"/>. With the default <see cref="InferenceBinding.IoBinding"/>,
/// <see cref="TryPushFrame"/> allocates no managed memory, inference frames included.
/// Not thread-safe: one audio thread pushes frames. Owns and disposes the session.
///
/// Timing: the first inference runs once <c>windowFrames</c> frames have arrived, then every
/// <c>strideFrames</c> frames. The posterior is averaged over the last smoothingFrames / strideFrames
/// inferences (missing history counts as 0, so nothing fires during warm-up). Detection is
/// edge-triggered: after a detection the smoothed posterior must fall below the threshold before
/// another can fire, and none fires within the refractory period.
/// </remarks>
public sealed class KeywordDetector : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly RunOptions _runOptions;
    private readonly OrtValue _inputValue;
    private readonly OrtValue _outputValue;
    private readonly OrtIoBinding? _ioBinding;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _inputValues;
    private readonly OrtValue[] _outputValues;

    private readonly int _coefficients;
    private readonly int _windowFrames;
    private readonly int _strideFrames;
    private readonly int _keywordIndex;
    private readonly float _threshold;
    private readonly long _refractoryFrames;
    private readonly int _frameHopMs;
    private readonly double _quantScale;
    private readonly int _quantZeroPoint;
    private readonly string _modelVersion;
    private readonly string _featureConfigHash;

    // Fixed working memory.
    private readonly float[] _ring;            // windowFrames x coefficients, oldest frame at _ringHead
    private readonly float[]? _floatInput;     // model input, chronological window
    private readonly sbyte[]? _int8Buffer;
    private readonly float[] _output;          // one posterior per label
    private readonly float[] _history;         // last N raw keyword posteriors

    private int _ringHead;
    private long _framesPushed;
    private long _inferenceCount;
    private int _historyHead;
    private bool _armed = true;
    private long _refractoryUntilFrame = long.MinValue;
    private bool _disposed;

    private KeywordDetector(KeywordModel model, InferenceSession session, SessionOptions sessionOptions,
        ResolvedParameters p, InferenceBinding binding)
    {
        var m = model.Manifest;
        var input = m.Input!;
        _session = session;
        _sessionOptions = sessionOptions;
        _coefficients = input.Coefficients;
        _windowFrames = m.WindowFrames!.Value;
        _strideFrames = m.StrideFrames!.Value;
        _keywordIndex = m.KeywordIndex!.Value;
        _frameHopMs = m.FrameHopMs!.Value;
        _threshold = p.Threshold;
        _refractoryFrames = (p.RefractoryMs + _frameHopMs - 1) / _frameHopMs;
        bool int8 = input.ParsedElementType == ModelInputElementType.Int8;
        _quantScale = p.QuantScale;
        _quantZeroPoint = p.QuantZeroPoint;
        _modelVersion = m.ModelVersion!;
        _featureConfigHash = m.FeatureConfigHash!;

        int windowValues = _windowFrames * _coefficients;
        _ring = new float[windowValues];
        _output = new float[m.Labels!.Length];
        _history = new float[p.SmoothingFrames / _strideFrames];

        long[] inputShape = [1, 1, _windowFrames, _coefficients];
        long[] outputShape = [1, _output.Length];
        _runOptions = new RunOptions();
        // CreateTensorValueFromMemory pins the managed array for the OrtValue's lifetime, so ONNX
        // Runtime reads and writes these arrays in place: no copy, no per-run allocation.
        if (int8)
        {
            _int8Buffer = new sbyte[windowValues];
            _inputValue = OrtValue.CreateTensorValueFromMemory(_int8Buffer, inputShape);
        }
        else
        {
            _floatInput = new float[windowValues];
            _inputValue = OrtValue.CreateTensorValueFromMemory(_floatInput, inputShape);
        }
        _outputValue = OrtValue.CreateTensorValueFromMemory(_output, outputShape);

        _inputNames = [input.Name!];
        _outputNames = [m.OutputName!];
        _inputValues = [_inputValue];
        _outputValues = [_outputValue];
        if (binding == InferenceBinding.IoBinding)
        {
            _ioBinding = session.CreateIoBinding();
            _ioBinding.BindInput(input.Name!, _inputValue);
            _ioBinding.BindOutput(m.OutputName!, _outputValue);
        }
    }

    /// <summary>Coefficients expected per frame.</summary>
    public int Coefficients => _coefficients;
    public int WindowFrames => _windowFrames;
    public int StrideFrames => _strideFrames;
    public float Threshold => _threshold;
    public long RefractoryFrames => _refractoryFrames;
    public int SmoothingInferences => _history.Length;
    public string ModelVersion => _modelVersion;
    public string FeatureConfigHash => _featureConfigHash;

    /// <summary>Frames pushed since creation or the last <see cref="Reset"/>.</summary>
    public long FramesPushed => _framesPushed;
    public long InferenceCount => _inferenceCount;
    /// <summary>Raw keyword posterior of the last inference.</summary>
    public float LastRawScore { get; private set; }
    /// <summary>Smoothed keyword posterior after the last inference.</summary>
    public float LastSmoothedScore { get; private set; }

    /// <summary>
    /// Bytes of managed working memory the detector holds for streaming (frame ring, model input,
    /// model output, posterior history). ONNX Runtime's native memory is not included: loading the
    /// runtime library and a session of the ~1.7 KB test model added ~35 MB RSS on linux-x64
    /// (NativeAOT), almost all of it the runtime library's own pages, not per-model state.
    /// </summary>
    public int WorkingMemoryBytes =>
        _ring.Length * sizeof(float)
        + (_floatInput?.Length * sizeof(float) ?? 0)
        + (_int8Buffer?.Length ?? 0)
        + _output.Length * sizeof(float)
        + _history.Length * sizeof(float);

    /// <summary>
    /// Builds a detector for a verified model: creates a single-threaded, sequential ONNX Runtime
    /// session and checks that the model's real input/output names, shapes and types match the
    /// manifest. <paramref name="reason"/> says what is wrong when it returns false.
    /// </summary>
    public static bool TryCreate(KeywordModel model, KeywordDetectorOptions? options,
        out KeywordDetector? detector, out string reason)
    {
        ArgumentNullException.ThrowIfNull(model);
        detector = null;
        options ??= new KeywordDetectorOptions();
        if (!TryResolve(model.Manifest, options, out var parameters, out reason)) return false;

        var sessionOptions = new SessionOptions
        {
            // The detector shares a small board with capture and MFCC: one thread, no pools.
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        InferenceSession? session = null;
        try
        {
            session = new InferenceSession(model.BytesArray, sessionOptions);
            if (!TryCheckSignature(session, model.Manifest, out reason))
            {
                session.Dispose();
                sessionOptions.Dispose();
                return false;
            }
            detector = new KeywordDetector(model, session, sessionOptions, parameters, options.Binding);
            return true;
        }
        catch (OnnxRuntimeException ex)
        {
            session?.Dispose();
            sessionOptions.Dispose();
            reason = $"ONNX Runtime cannot load model {model.Manifest.Describe()}: {ex.Message}";
            return false;
        }
    }

    /// <summary>
    /// Pushes one MFCC frame. Returns true, with the event, when this frame completes a window whose
    /// smoothed keyword posterior crosses the threshold outside the refractory period.
    /// </summary>
    public bool TryPushFrame(ReadOnlySpan<float> mfcc, out DetectionEvent detection)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (mfcc.Length != _coefficients)
        {
            throw new ArgumentException(
                $"expected {_coefficients} MFCC coefficients per frame (the model's input width), got {mfcc.Length}", nameof(mfcc));
        }

        mfcc.CopyTo(_ring.AsSpan(_ringHead * _coefficients, _coefficients));
        _ringHead = _ringHead + 1 == _windowFrames ? 0 : _ringHead + 1;
        long frameIndex = _framesPushed++;

        if (_framesPushed < _windowFrames || (_framesPushed - _windowFrames) % _strideFrames != 0)
        {
            detection = default;
            return false;
        }

        float raw = Infer();
        _history[_historyHead] = raw;
        _historyHead = _historyHead + 1 == _history.Length ? 0 : _historyHead + 1;
        float sum = 0f;
        for (int i = 0; i < _history.Length; i++) sum += _history[i];
        float smoothed = sum / _history.Length;
        LastRawScore = raw;
        LastSmoothedScore = smoothed;

        // Written as !(>=) so a NaN posterior (NaN features from a broken front end) never fires.
        if (!(smoothed >= _threshold))
        {
            _armed = true;
            detection = default;
            return false;
        }
        if (!_armed || frameIndex < _refractoryUntilFrame)
        {
            detection = default;
            return false;
        }

        _armed = false;
        _refractoryUntilFrame = frameIndex + _refractoryFrames;
        detection = new DetectionEvent(smoothed, raw, frameIndex, (frameIndex + 1) * _frameHopMs, _modelVersion, _featureConfigHash);
        return true;
    }

    /// <summary>Forgets all frames and history (e.g. after an audio gap); frame indices restart at 0.</summary>
    public void Reset()
    {
        Array.Clear(_ring);
        Array.Clear(_history);
        _ringHead = 0;
        _historyHead = 0;
        _framesPushed = 0;
        _armed = true;
        _refractoryUntilFrame = long.MinValue;
        LastRawScore = 0f;
        LastSmoothedScore = 0f;
    }

    private float Infer()
    {
        // The ring's oldest frame is at _ringHead: copy [head..end) then [0..head) so the model
        // sees the window in time order.
        int split = _ringHead * _coefficients;
        ReadOnlySpan<float> older = _ring.AsSpan(split);
        ReadOnlySpan<float> newer = _ring.AsSpan(0, split);
        if (_int8Buffer is { } q)
        {
            Quantize(older, q.AsSpan(0, older.Length));
            Quantize(newer, q.AsSpan(older.Length));
        }
        else
        {
            older.CopyTo(_floatInput);
            newer.CopyTo(_floatInput.AsSpan(older.Length));
        }

        if (_ioBinding is not null)
        {
            _session.RunWithBinding(_runOptions, _ioBinding);
        }
        else
        {
            _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
        }
        _inferenceCount++;
        return _output[_keywordIndex];
    }

    // ONNX QuantizeLinear semantics: saturate(round_half_even(x / scale) + zeroPoint). Same formula
    // (division in double) as EdgeKws.Shared.Features.MfccQuantizer on the mfcc branch; once both
    // are merged this should call MfccQuantizer.Quantize instead.
    private void Quantize(ReadOnlySpan<float> source, Span<sbyte> destination)
    {
        double scale = _quantScale;
        int zp = _quantZeroPoint;
        for (int i = 0; i < source.Length; i++)
        {
            double q = Math.Round(source[i] / scale, MidpointRounding.ToEven) + zp;
            destination[i] = q <= sbyte.MinValue ? sbyte.MinValue : q >= sbyte.MaxValue ? sbyte.MaxValue : (sbyte)q;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _ioBinding?.Dispose();
        _inputValue.Dispose();
        _outputValue.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
        _sessionOptions.Dispose();
    }

    private readonly record struct ResolvedParameters(float Threshold, int SmoothingFrames, int RefractoryMs, float QuantScale, int QuantZeroPoint);

    private static bool TryResolve(ModelManifest m, KeywordDetectorOptions o, out ResolvedParameters p, out string reason)
    {
        p = default;
        // A KeywordModel's manifest is already validated; only the overrides need checking here.
        float threshold = o.Threshold ?? m.Threshold!.Value;
        if (!(threshold > 0f && threshold <= 1f))
        {
            reason = $"threshold must be in (0, 1], got {threshold.ToString(CultureInfo.InvariantCulture)}";
            return false;
        }
        int stride = m.StrideFrames!.Value;
        int smoothing = o.SmoothingFrames ?? m.SmoothingFrames!.Value;
        if (smoothing < stride || smoothing % stride != 0)
        {
            reason = $"smoothing must be a positive multiple of the {stride}-frame stride, got {smoothing} frames";
            return false;
        }
        int refractory = o.RefractoryMs ?? m.RefractoryMs!.Value;
        if (refractory < 0)
        {
            reason = $"refractory period must not be negative, got {refractory} ms";
            return false;
        }
        float scale = o.InputQuantScale ?? m.Input!.QuantScale ?? 0f;
        int zeroPoint = o.InputQuantZeroPoint ?? m.Input!.QuantZeroPoint ?? 0;
        if (m.Input!.ParsedElementType == ModelInputElementType.Int8)
        {
            if (!(scale > 0f) || !float.IsFinite(scale))
            {
                reason = $"int8 input quantization scale must be a positive finite number, got {scale.ToString(CultureInfo.InvariantCulture)}";
                return false;
            }
            if (zeroPoint is < sbyte.MinValue or > sbyte.MaxValue)
            {
                reason = $"int8 input zero point must be in [-128, 127], got {zeroPoint}";
                return false;
            }
        }
        p = new ResolvedParameters(threshold, smoothing, refractory, scale, zeroPoint);
        reason = "";
        return true;
    }

    private static bool TryCheckSignature(InferenceSession session, ModelManifest m, out string reason)
    {
        var input = m.Input!;
        if (session.InputMetadata.Count != 1 || !session.InputMetadata.TryGetValue(input.Name!, out var inMeta))
        {
            reason = $"model {m.Describe()} inputs are [{string.Join(", ", session.InputMetadata.Keys)}], " +
                     $"the manifest expects exactly one named '{input.Name}'";
            return false;
        }
        var expectedType = input.ParsedElementType == ModelInputElementType.Int8 ? TensorElementType.Int8 : TensorElementType.Float;
        if (!inMeta.IsTensor || inMeta.ElementDataType != expectedType)
        {
            reason = $"model {m.Describe()} input '{input.Name}' is {inMeta.ElementDataType}, the manifest says {input.ElementType}";
            return false;
        }
        if (!inMeta.Dimensions.AsSpan().SequenceEqual(input.Shape))
        {
            reason = $"model {m.Describe()} input '{input.Name}' has shape [{string.Join(", ", inMeta.Dimensions)}], " +
                     $"the manifest says [{string.Join(", ", input.Shape!)}]";
            return false;
        }
        if (!session.OutputMetadata.TryGetValue(m.OutputName!, out var outMeta))
        {
            reason = $"model {m.Describe()} has no output '{m.OutputName}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)})";
            return false;
        }
        int labels = m.Labels!.Length;
        if (!outMeta.IsTensor || outMeta.ElementDataType != TensorElementType.Float
            || !outMeta.Dimensions.AsSpan().SequenceEqual([1, labels]))
        {
            reason = $"model {m.Describe()} output '{m.OutputName}' is {outMeta.ElementDataType} [{string.Join(", ", outMeta.Dimensions)}], " +
                     $"expected Float [1, {labels}] (one posterior per label)";
            return false;
        }
        reason = "";
        return true;
    }
}
