using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EdgeKws.Shared.Features;

/// <summary>
/// Every parameter that decides the MFCC features, Kaldi-compatible by construction: each field maps
/// one-to-one onto an option of Kaldi's <c>compute-mfcc-feats</c> (and
/// <c>torchaudio.compliance.kaldi.mfcc</c>), with dither fixed at 0 and <c>snip_edges</c> true so the
/// output is a pure function of the samples. Device, gateway, datasets and models carry
/// <see cref="FeatureConfigHash"/>, the SHA-256 of <see cref="ToCanonicalString"/>, so features made
/// with different settings can never be mixed silently.
/// </summary>
/// <remarks>
/// <para>Defaults and why:</para>
/// <list type="bullet">
/// <item>25 ms Povey window, 10 ms hop, 512-point FFT, pre-emphasis 0.97, DC removal, lifter 22:
/// Kaldi's defaults, so Kaldi-trained recipes and torchaudio reproduce the features exactly.</item>
/// <item>40 mel bins over 20-7600 Hz: the KWS front ends this field benchmarks against (Hello Edge,
/// Speech Commands) use 40 bins, and Kaldi's 16 kHz "hires" recipes use 40 bins with the top edge
/// 400 Hz under Nyquist to stay clear of the anti-aliasing roll-off of cheap MEMS microphones and
/// codecs. With a 31.25 Hz FFT bin width every one of the 40 triangles still covers at least one
/// FFT bin (checked by <see cref="Validate"/>), unlike 64+ bins at 512 points.</item>
/// <item>Log floor = float32 epsilon: Kaldi's fixed floor on mel energies.</item>
/// <item>UseEnergy false: C0 comes from the mel energies (torchaudio's default); true replaces C0
/// with the raw-frame log energy, floored at EnergyFloor, exactly as Kaldi.</item>
/// <item>ReferenceLevel 32768: samples are floats in [-1, 1) across the project; Kaldi works on
/// int16-scale values, so the extractor multiplies by this before anything else.</item>
/// <item>Int8Scale 1.2, Int8ZeroPoint 0: see <see cref="MfccQuantizer"/>. Over the parity fixtures
/// (speech, tones, chirp, white noise at -14 dBFS, digital silence) the default configuration's
/// coefficients span -145.1 to +145.3 (C0 of silence is -100.8), so a symmetric step of 1.2 covers
/// [-153.6, 152.4] with headroom. A model calibrated on its own training features should set its
/// own values with <see cref="MfccQuantizer.ComputeParameters(ReadOnlySpan{float})"/>.</item>
/// </list>
/// <para>Immutable; <c>with</c> expressions make variants. Not validated on construction: call
/// <see cref="Validate"/> (the extractor does).</para>
/// </remarks>
public sealed record MfccConfig
{
    /// <summary>Version tag that starts the canonical form; bump it when the meaning of a field changes.</summary>
    public const string FormatVersion = "edgekws-mfcc/1";

    /// <summary>Kaldi's floor on mel energies: <c>std::numeric_limits&lt;float&gt;::epsilon()</c>.</summary>
    public const double KaldiLogFloor = 1.1920928955078125e-07;

    /// <summary>The project's configuration: Kaldi defaults with 40 mel bins over 20-7600 Hz.</summary>
    public static MfccConfig Default { get; } = new();

    /// <summary>Sample rate of the audio in Hz (the project captures 16 kHz).</summary>
    public int SampleRateHz { get; init; } = 16000;

    /// <summary>Analysis window length in milliseconds; must be a whole number of samples.</summary>
    public double WindowMs { get; init; } = 25.0;

    /// <summary>Hop between frame starts in milliseconds; must be a whole number of samples.</summary>
    public double HopMs { get; init; } = 10.0;

    /// <summary>FFT length in samples: a power of two no shorter than the window (Kaldi: the next power of two).</summary>
    public int FftSize { get; init; } = 512;

    /// <summary>Analysis window function.</summary>
    public MfccWindow Window { get; init; } = MfccWindow.Povey;

    /// <summary>Pre-emphasis coefficient in [0, 1] (0 disables it); applied within each frame as Kaldi does.</summary>
    public double PreemphasisCoefficient { get; init; } = 0.97;

    /// <summary>Subtract each frame's mean before anything else (Kaldi <c>remove_dc_offset</c>).</summary>
    public bool RemoveDcOffset { get; init; } = true;

    /// <summary>Number of triangular mel filters.</summary>
    public int MelBinCount { get; init; } = 40;

    /// <summary>Lower edge of the mel filterbank in Hz.</summary>
    public double MelLowHz { get; init; } = 20.0;

    /// <summary>Upper edge of the mel filterbank in Hz (at most Nyquist; Kaldi's negative offsets are not used).</summary>
    public double MelHighHz { get; init; } = 7600.0;

    /// <summary>Number of cepstral coefficients, C0 included.</summary>
    public int CoefficientCount { get; init; } = 13;

    /// <summary>Cepstral lifter L: coefficient i is scaled by 1 + L/2 sin(pi i / L); 0 disables it.</summary>
    public double CepstralLifter { get; init; } = 22.0;

    /// <summary>Floor applied to mel energies before the logarithm (Kaldi fixes it at float32 epsilon).</summary>
    public double LogFloor { get; init; } = KaldiLogFloor;

    /// <summary>Replace C0 with the log energy of the raw frame (after DC removal, before pre-emphasis), as Kaldi's <c>use_energy</c>.</summary>
    public bool UseEnergy { get; init; }

    /// <summary>Floor on the frame energy used when <see cref="UseEnergy"/> is set (Kaldi <c>energy_floor</c>; 0 disables it).</summary>
    public double EnergyFloor { get; init; } = 1.0;

    /// <summary>Multiplier from normalized samples ([-1, 1)) to the int16 scale Kaldi's maths assume.</summary>
    public double ReferenceLevel { get; init; } = 32768.0;

    /// <summary>INT8 view: real value of one quantization step (see <see cref="MfccQuantizer"/>).</summary>
    public double Int8Scale { get; init; } = 1.2;

    /// <summary>INT8 view: the sbyte that represents 0.0.</summary>
    public int Int8ZeroPoint { get; init; }

    /// <summary>Window length in samples.</summary>
    public int WindowSamples => (int)Math.Round(SampleRateHz * WindowMs / 1000.0);

    /// <summary>Hop length in samples.</summary>
    public int HopSamples => (int)Math.Round(SampleRateHz * HopMs / 1000.0);

    /// <summary>
    /// Frames Kaldi's snip_edges semantics produce from <paramref name="sampleCount"/> samples:
    /// only frames that fit completely, starting every hop from sample 0.
    /// </summary>
    public int FrameCount(long sampleCount)
    {
        if (sampleCount < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount, "sample count must not be negative.");
        }

        return sampleCount < WindowSamples ? 0 : checked((int)(1 + (sampleCount - WindowSamples) / HopSamples));
    }

    /// <summary>Lowercase hex SHA-256 of the UTF-8 canonical form: the identity of these features.</summary>
    public string FeatureConfigHash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ToCanonicalString())));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        if (!TryValidate(out string? field, out string? error))
        {
            throw new ArgumentException(error, field);
        }
    }

    /// <summary>Checks every field; on failure names the field and says what is wrong.</summary>
    public bool TryValidate(out string? field, out string? error)
    {
        (field, error) = Check();
        return error is null;
    }

    private (string? Field, string? Error) Check()
    {
        static (string, string) Bad(string field, string message) => (field, $"MfccConfig.{field} {message}");

        if (SampleRateHz < 1000 || SampleRateHz > 192000)
        {
            return Bad(nameof(SampleRateHz), $"must be between 1000 and 192000 Hz; got {SampleRateHz}.");
        }

        if (!IsWholeSamples(WindowMs, out int window) || window < 2)
        {
            return Bad(nameof(WindowMs), $"must be positive and a whole number of samples (at least 2) at {SampleRateHz} Hz; got {Num(WindowMs)} ms.");
        }

        if (!IsWholeSamples(HopMs, out int hop) || hop < 1)
        {
            return Bad(nameof(HopMs), $"must be positive and a whole number of samples at {SampleRateHz} Hz; got {Num(HopMs)} ms.");
        }

        if (FftSize < 4 || FftSize > 4096 || (FftSize & (FftSize - 1)) != 0 || FftSize < window)
        {
            return Bad(nameof(FftSize), $"must be a power of two between 4 and 4096 and at least the window length ({window} samples); got {FftSize}.");
        }

        if (!Enum.IsDefined(Window))
        {
            return Bad(nameof(Window), $"is not a known window function; got {(int)Window}.");
        }

        if (!(PreemphasisCoefficient >= 0 && PreemphasisCoefficient <= 1))
        {
            return Bad(nameof(PreemphasisCoefficient), $"must be within [0, 1]; got {Num(PreemphasisCoefficient)}.");
        }

        double nyquist = SampleRateHz / 2.0;
        if (!(MelLowHz >= 0 && MelLowHz < nyquist))
        {
            return Bad(nameof(MelLowHz), $"must be within [0, {Num(nyquist)}) Hz; got {Num(MelLowHz)}.");
        }

        if (!(MelHighHz > MelLowHz && MelHighHz <= nyquist))
        {
            return Bad(nameof(MelHighHz), $"must be above MelLowHz ({Num(MelLowHz)} Hz) and at most Nyquist ({Num(nyquist)} Hz); got {Num(MelHighHz)}.");
        }

        if (MelBinCount < 4 || MelBinCount > FftSize / 2)
        {
            return Bad(nameof(MelBinCount), $"must be between 4 and FftSize/2 ({FftSize / 2}); got {MelBinCount}.");
        }

        int empty = MfccTables.FirstEmptyMelBin(this);
        if (empty >= 0)
        {
            return Bad(nameof(MelBinCount), $"gives mel bin {empty} no FFT bin at FftSize {FftSize} between {Num(MelLowHz)} and {Num(MelHighHz)} Hz; use fewer bins, a wider range or a larger FFT.");
        }

        if (CoefficientCount < 1 || CoefficientCount > MelBinCount)
        {
            return Bad(nameof(CoefficientCount), $"must be between 1 and MelBinCount ({MelBinCount}); got {CoefficientCount}.");
        }

        if (!(CepstralLifter >= 0 && double.IsFinite(CepstralLifter)))
        {
            return Bad(nameof(CepstralLifter), $"must be finite and >= 0; got {Num(CepstralLifter)}.");
        }

        if (!(LogFloor > 0 && double.IsFinite(LogFloor)))
        {
            return Bad(nameof(LogFloor), $"must be finite and > 0; got {Num(LogFloor)}.");
        }

        if (!(EnergyFloor >= 0 && double.IsFinite(EnergyFloor)))
        {
            return Bad(nameof(EnergyFloor), $"must be finite and >= 0; got {Num(EnergyFloor)}.");
        }

        if (!(ReferenceLevel > 0 && ReferenceLevel <= 1e9))
        {
            return Bad(nameof(ReferenceLevel), $"must be within (0, 1e9]; got {Num(ReferenceLevel)}.");
        }

        if (!(Int8Scale > 0 && double.IsFinite(Int8Scale) && (float)Int8Scale > 0))
        {
            return Bad(nameof(Int8Scale), $"must be finite and > 0 (also as float32); got {Num(Int8Scale)}.");
        }

        if (Int8ZeroPoint < sbyte.MinValue || Int8ZeroPoint > sbyte.MaxValue)
        {
            return Bad(nameof(Int8ZeroPoint), $"must be within [-128, 127]; got {Int8ZeroPoint}.");
        }

        return (null, null);
    }

    private bool IsWholeSamples(double ms, out int samples)
    {
        samples = 0;
        if (!(ms > 0 && ms <= 10_000))
        {
            return false;
        }

        double exact = SampleRateHz * ms / 1000.0;
        samples = (int)Math.Round(exact);
        return Math.Abs(exact - samples) < 1e-6;
    }

    /// <summary>
    /// The one canonical serialization: compact JSON, keys in this fixed order, no whitespace,
    /// integers and integral values (below 1e15) written as integers, other numbers as the shortest
    /// round-trip decimal with a lowercase exponent, booleans as true/false, the window as its
    /// lowercase name. It starts with <c>"format":"edgekws-mfcc/1"</c> and also states the fixed
    /// Kaldi options (<c>dither</c> 0, <c>snip_edges</c> true) so the hash says everything.
    /// </summary>
    public string ToCanonicalString()
    {
        var sb = new StringBuilder(512);
        sb.Append("{\"format\":\"").Append(FormatVersion).Append('"');
        Key(sb, "sample_rate_hz").Append(SampleRateHz.ToString(CultureInfo.InvariantCulture));
        Key(sb, "window_ms").Append(Num(WindowMs));
        Key(sb, "hop_ms").Append(Num(HopMs));
        Key(sb, "fft_size").Append(FftSize.ToString(CultureInfo.InvariantCulture));
        Key(sb, "window").Append('"').Append(WindowName(Window)).Append('"');
        Key(sb, "preemphasis").Append(Num(PreemphasisCoefficient));
        Key(sb, "remove_dc_offset").Append(RemoveDcOffset ? "true" : "false");
        Key(sb, "mel_bins").Append(MelBinCount.ToString(CultureInfo.InvariantCulture));
        Key(sb, "mel_low_hz").Append(Num(MelLowHz));
        Key(sb, "mel_high_hz").Append(Num(MelHighHz));
        Key(sb, "coefficients").Append(CoefficientCount.ToString(CultureInfo.InvariantCulture));
        Key(sb, "cepstral_lifter").Append(Num(CepstralLifter));
        Key(sb, "log_floor").Append(Num(LogFloor));
        Key(sb, "use_energy").Append(UseEnergy ? "true" : "false");
        Key(sb, "energy_floor").Append(Num(EnergyFloor));
        Key(sb, "reference_level").Append(Num(ReferenceLevel));
        Key(sb, "dither").Append('0');
        Key(sb, "snip_edges").Append("true");
        Key(sb, "int8_scale").Append(Num(Int8Scale));
        Key(sb, "int8_zero_point").Append(Int8ZeroPoint.ToString(CultureInfo.InvariantCulture));
        return sb.Append('}').ToString();
    }

    private static readonly string[] Keys =
    [
        "format", "sample_rate_hz", "window_ms", "hop_ms", "fft_size", "window", "preemphasis",
        "remove_dc_offset", "mel_bins", "mel_low_hz", "mel_high_hz", "coefficients", "cepstral_lifter",
        "log_floor", "use_energy", "energy_floor", "reference_level", "dither", "snip_edges",
        "int8_scale", "int8_zero_point",
    ];

    /// <summary>
    /// Reads a configuration written by <see cref="ToCanonicalString"/> (whitespace and key order
    /// are tolerated; every key is required, none may be unknown) and validates it.
    /// </summary>
    /// <exception cref="FormatException">The text is not a valid configuration; the message names the key.</exception>
    public static MfccConfig Parse(string canonical)
    {
        if (!TryParse(canonical, out MfccConfig? config, out string? error))
        {
            throw new FormatException(error);
        }

        return config;
    }

    /// <summary>As <see cref="Parse"/>, returning false with a specific error instead of throwing.</summary>
    public static bool TryParse(string? canonical, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MfccConfig? config, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        config = null;
        if (string.IsNullOrWhiteSpace(canonical))
        {
            error = "MFCC config text is empty.";
            return false;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(canonical);
        }
        catch (JsonException ex)
        {
            error = $"MFCC config is not valid JSON: {ex.Message}";
            return false;
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "MFCC config must be a JSON object.";
                return false;
            }

            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (Array.IndexOf(Keys, p.Name) < 0)
                {
                    error = $"MFCC config has an unknown key \"{p.Name}\".";
                    return false;
                }
            }

            var r = new Reader(root);
            string format = r.String("format");
            if (r.Error is null && format != FormatVersion)
            {
                error = $"MFCC config key \"format\" is \"{format}\"; this code reads \"{FormatVersion}\" only.";
                return false;
            }

            var parsed = new MfccConfig
            {
                SampleRateHz = r.Int("sample_rate_hz"),
                WindowMs = r.Double("window_ms"),
                HopMs = r.Double("hop_ms"),
                FftSize = r.Int("fft_size"),
                Window = r.Window("window"),
                PreemphasisCoefficient = r.Double("preemphasis"),
                RemoveDcOffset = r.Bool("remove_dc_offset"),
                MelBinCount = r.Int("mel_bins"),
                MelLowHz = r.Double("mel_low_hz"),
                MelHighHz = r.Double("mel_high_hz"),
                CoefficientCount = r.Int("coefficients"),
                CepstralLifter = r.Double("cepstral_lifter"),
                LogFloor = r.Double("log_floor"),
                UseEnergy = r.Bool("use_energy"),
                EnergyFloor = r.Double("energy_floor"),
                ReferenceLevel = r.Double("reference_level"),
                Int8Scale = r.Double("int8_scale"),
                Int8ZeroPoint = r.Int("int8_zero_point"),
            };
            if (r.Error is null && r.Double("dither") != 0)
            {
                r.Fail("dither", "must be 0: dither would make features non-reproducible");
            }

            if (r.Error is null && !r.Bool("snip_edges"))
            {
                r.Fail("snip_edges", "must be true: the streaming extractor emits only whole frames");
            }

            if (r.Error is not null)
            {
                error = r.Error;
                return false;
            }

            if (!parsed.TryValidate(out _, out string? invalid))
            {
                error = invalid!;
                return false;
            }

            config = parsed;
            error = null;
            return true;
        }
    }

    private static StringBuilder Key(StringBuilder sb, string key) => sb.Append(",\"").Append(key).Append("\":");

    /// <summary>Canonical number text (see <see cref="ToCanonicalString"/>).</summary>
    internal static string Num(double value)
    {
        if (value == Math.Floor(value) && Math.Abs(value) < 1e15)
        {
            return ((long)value).ToString(CultureInfo.InvariantCulture);
        }

        return value.ToString("R", CultureInfo.InvariantCulture).Replace('E', 'e');
    }

    internal static string WindowName(MfccWindow window) => window switch
    {
        MfccWindow.Povey => "povey",
        MfccWindow.Hamming => "hamming",
        MfccWindow.Hann => "hann",
        MfccWindow.Rectangular => "rectangular",
        _ => throw new ArgumentOutOfRangeException(nameof(window), window, "unknown window function"),
    };

    /// <summary>Reads typed keys, remembering the first problem so the caller reports exactly one.</summary>
    private sealed class Reader(JsonElement root)
    {
        public string? Error { get; private set; }

        public void Fail(string key, string message) => Error ??= $"MFCC config key \"{key}\" {message}.";

        private bool TryGet(string key, JsonValueKind kind, out JsonElement value)
        {
            if (!root.TryGetProperty(key, out value))
            {
                Fail(key, "is missing");
                return false;
            }

            bool ok = kind == JsonValueKind.True ? value.ValueKind is JsonValueKind.True or JsonValueKind.False : value.ValueKind == kind;
            if (!ok)
            {
                Fail(key, $"must be a {(kind == JsonValueKind.True ? "boolean" : kind.ToString().ToLowerInvariant())}, got {value.ValueKind.ToString().ToLowerInvariant()}");
                return false;
            }

            return true;
        }

        public string String(string key) => TryGet(key, JsonValueKind.String, out JsonElement v) ? v.GetString()! : "";

        public bool Bool(string key) => TryGet(key, JsonValueKind.True, out JsonElement v) && v.GetBoolean();

        public double Double(string key)
        {
            if (!TryGet(key, JsonValueKind.Number, out JsonElement v))
            {
                return 0;
            }

            if (!v.TryGetDouble(out double d) || !double.IsFinite(d))
            {
                Fail(key, "must be a finite number");
                return 0;
            }

            return d;
        }

        public int Int(string key)
        {
            if (!TryGet(key, JsonValueKind.Number, out JsonElement v))
            {
                return 0;
            }

            if (!v.TryGetInt32(out int i))
            {
                Fail(key, $"must be an integer, got {v.GetRawText()}");
                return 0;
            }

            return i;
        }

        public MfccWindow Window(string key)
        {
            string name = String(key);
            switch (name)
            {
                case "povey": return MfccWindow.Povey;
                case "hamming": return MfccWindow.Hamming;
                case "hann": return MfccWindow.Hann;
                case "rectangular": return MfccWindow.Rectangular;
                default:
                    if (Error is null)
                    {
                        Fail(key, $"must be one of povey, hamming, hann, rectangular; got \"{name}\"");
                    }

                    return MfccWindow.Povey;
            }
        }
    }
}
