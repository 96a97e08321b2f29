using System.Globalization;

namespace EdgeKws.Acoustics;

/// <summary>
/// A microphone/channel colouring: a cascade of biquads, band limits included (a high-pass and a low-pass
/// stage, or two of each for a 4th-order Butterworth edge). Equality compares the name and the stages.
/// </summary>
public sealed record MicrophoneResponse(string Name, IReadOnlyList<BiquadSpec> Stages)
{
    // 4th-order Butterworth as two biquads: Q = 1 / (2 cos(pi/8)) and 1 / (2 cos(3 pi/8)).
    private const double Butterworth4Low = 0.541196100146197;
    private const double Butterworth4High = 1.306562964876377;
    private const double Butterworth2 = 0.7071067811865476;

    /// <summary>A colouring's name, e.g. "usb-webcam" or "laptop~jitter42".</summary>
    public string Name { get; init; } = Name ?? throw new ArgumentNullException(nameof(Name));

    /// <summary>The stages, applied in order.</summary>
    public IReadOnlyList<BiquadSpec> Stages { get; init; } = Stages ?? throw new ArgumentNullException(nameof(Stages));

    /// <summary>No colouring.</summary>
    public static MicrophoneResponse Flat { get; } = new("flat", []);

    /// <summary>
    /// Named colourings (corner frequencies and gains typical of datasheets and published measurements,
    /// rounded): flat; mems-budget (high-pass 150 Hz, +4 dB presence bump at 3 kHz, roll-off from 6.5 kHz);
    /// mems-good (90 Hz, +2 dB at 2.5 kHz, 7.2 kHz); usb-webcam (180 Hz, -3 dB low shelf at 400 Hz, +3 dB at
    /// 2 kHz, 5.5 kHz); laptop (250 Hz, +5 dB grille resonance at 4.5 kHz, 7 kHz); smart-speaker (100 Hz,
    /// +3 dB at 3.5 kHz, -2 dB high shelf at 6 kHz, 7.5 kHz); telephone (4th-order Butterworth 300-3400 Hz).
    /// All are valid at 16 kHz.
    /// </summary>
    public static IReadOnlyList<MicrophoneResponse> Presets { get; } =
    [
        Flat,
        new("mems-budget",
        [
            new(BiquadKind.HighPass, 150, Butterworth2),
            new(BiquadKind.Peaking, 3000, 1.2, 4),
            new(BiquadKind.LowPass, 6500, 0.8),
        ]),
        new("mems-good",
        [
            new(BiquadKind.HighPass, 90, Butterworth2),
            new(BiquadKind.Peaking, 2500, 0.9, 2),
            new(BiquadKind.LowPass, 7200, Butterworth2),
        ]),
        new("usb-webcam",
        [
            new(BiquadKind.HighPass, 180, Butterworth2),
            new(BiquadKind.LowShelf, 400, Butterworth2, -3),
            new(BiquadKind.Peaking, 2000, 1.0, 3),
            new(BiquadKind.LowPass, 5500, 0.9),
        ]),
        new("laptop",
        [
            new(BiquadKind.HighPass, 250, Butterworth2),
            new(BiquadKind.Peaking, 4500, 2.0, 5),
            new(BiquadKind.LowPass, 7000, Butterworth2),
        ]),
        new("smart-speaker",
        [
            new(BiquadKind.HighPass, 100, Butterworth2),
            new(BiquadKind.Peaking, 3500, 1.0, 3),
            new(BiquadKind.HighShelf, 6000, Butterworth2, -2),
            new(BiquadKind.LowPass, 7500, Butterworth2),
        ]),
        new("telephone",
        [
            new(BiquadKind.HighPass, 300, Butterworth4Low),
            new(BiquadKind.HighPass, 300, Butterworth4High),
            new(BiquadKind.LowPass, 3400, Butterworth4Low),
            new(BiquadKind.LowPass, 3400, Butterworth4High),
        ]),
    ];

    /// <summary>
    /// Filters <paramref name="samples"/> in place through every stage, starting from silence. Allocates one
    /// <see cref="Biquad"/> per stage per call; for streaming, build the <see cref="Biquad"/>s once instead.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A stage's frequency is not below the Nyquist frequency of <paramref name="sampleRateHz"/>.</exception>
    public void Apply(Span<float> samples, int sampleRateHz)
    {
        foreach (BiquadSpec stage in Stages)
        {
            new Biquad(stage, sampleRateHz).Process(samples);
        }
    }

    /// <summary>Gain of the whole cascade at <paramref name="frequencyHz"/>, dB (the sum of the stages' gains).</summary>
    public double MagnitudeDb(double frequencyHz, int sampleRateHz)
    {
        double total = 0;
        foreach (BiquadSpec stage in Stages)
        {
            total += new Biquad(stage, sampleRateHz).MagnitudeDb(frequencyHz);
        }

        return total;
    }

    /// <summary>
    /// A colouring drawn around the presets from a seed: one of the non-flat presets, each stage's frequency
    /// scaled by 2^u with u uniform in +-1/3 octave (stages of the same kind and frequency, such as the two
    /// halves of a 4th-order edge, share one factor so they stay Butterworth), peaking and shelf gains moved by
    /// up to +-2 dB and their Q scaled by up to 2^(+-1/4); high- and low-pass Q are kept. Frequencies are
    /// clamped to [20 Hz, 0.45 fs]. Name: "&lt;preset&gt;~jitter&lt;seed&gt;", e.g. "laptop~jitter42".
    /// </summary>
    public static MicrophoneResponse Random(ulong seed, int sampleRateHz = 16000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRateHz);
        var random = new SplitMix64(SplitMix64.Derive(seed, 0x6D6963));
        int presetIndex = 1 + (int)(random.NextUInt64() % (ulong)(Presets.Count - 1));
        MicrophoneResponse preset = Presets[presetIndex];

        var stages = new BiquadSpec[preset.Stages.Count];
        double factor = 1;
        for (int i = 0; i < stages.Length; i++)
        {
            BiquadSpec stage = preset.Stages[i];
            bool sharesPrevious = i > 0 && preset.Stages[i - 1].Kind == stage.Kind && preset.Stages[i - 1].FrequencyHz == stage.FrequencyHz;
            if (!sharesPrevious)
            {
                factor = Math.Pow(2.0, random.NextDouble(-1.0 / 3, 1.0 / 3));
            }

            double frequency = Math.Clamp(stage.FrequencyHz * factor, 20.0, 0.45 * sampleRateHz);
            bool hasGain = stage.Kind is BiquadKind.Peaking or BiquadKind.LowShelf or BiquadKind.HighShelf;
            stages[i] = hasGain
                ? new BiquadSpec(stage.Kind, frequency, stage.Q * Math.Pow(2.0, random.NextDouble(-0.25, 0.25)), stage.GainDb + random.NextDouble(-2, 2))
                : stage with { FrequencyHz = frequency };
        }

        return new MicrophoneResponse(string.Create(CultureInfo.InvariantCulture, $"{preset.Name}~jitter{seed}"), stages);
    }

    /// <summary>Same name and the same stages in the same order.</summary>
    public bool Equals(MicrophoneResponse? other)
    {
        if (other is null || Name != other.Name || Stages.Count != other.Stages.Count)
        {
            return false;
        }

        for (int i = 0; i < Stages.Count; i++)
        {
            if (Stages[i] != other.Stages[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Stages.Count);
}
