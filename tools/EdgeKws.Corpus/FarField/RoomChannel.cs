using System.Globalization;
using EdgeKws.Acoustics;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.FarField;

/// <summary>A room an item was said in: its class for reports, its id, and its impulse response (null = dry).</summary>
/// <param name="Class">Reverberation class for breakdowns: <c>dry</c>, <c>rt60&lt;0.3s</c>, <c>rt60 0.3-0.6s</c>, <c>rt60&gt;0.6s</c>.</param>
/// <param name="Id">Stable id of the impulse response, e.g. <c>ism-...</c> or <c>sox-reverb-70-50-80</c>.</param>
/// <param name="Rt60Seconds">Measured (Schroeder) RT60 of the impulse response; null for dry or too little reverberation to measure.</param>
/// <param name="ImpulseResponse">Direct path at sample 0 with amplitude 1; null for dry.</param>
public sealed record RoomDraw(string Class, string Id, double? Rt60Seconds, float[]? ImpulseResponse)
{
    /// <summary>The close-talk case: no room.</summary>
    public static RoomDraw Dry { get; } = new("dry", "dry", null, null);

    /// <summary>The reverberation class of an RT60.</summary>
    public static string ClassOf(double rt60Seconds) => rt60Seconds switch
    {
        < 0.3 => "rt60<0.3s",
        <= 0.6 => "rt60 0.3-0.6s",
        _ => "rt60>0.6s",
    };

    /// <summary>The item said in this room: the dry signal convolved with the impulse response, same length and alignment.</summary>
    public float[] Apply(float[] dry) => ImpulseResponse is null ? dry : Convolution.ConvolveSame(dry, ImpulseResponse);
}

/// <summary>
/// The acoustic channel of one split: its own bank of rooms (two thirds image-source rooms from
/// <see cref="RoomBank"/>, one third impulse responses of sox's reverb captured from an impulse, so training sees two
/// different reverberation models), and microphone colourings drawn around <see cref="MicrophoneResponse.Presets"/>.
/// Each split's bank comes from its own seed and parameter draws: no test room is ever a training room.
/// </summary>
public sealed class RoomChannel
{
    private readonly IReadOnlyList<RoomDraw> _rooms;
    private readonly double _dryFraction;

    private RoomChannel(IReadOnlyList<RoomDraw> rooms, double dryFraction)
    {
        _rooms = rooms;
        _dryFraction = dryFraction;
    }

    /// <summary>The rooms of the bank (without the dry case).</summary>
    public IReadOnlyList<RoomDraw> Rooms => _rooms;

    /// <summary>Builds the bank of <paramref name="split"/>: <paramref name="count"/> rooms from (seed, split); <paramref name="ranges"/> null = the bank's defaults.</summary>
    public static async Task<RoomChannel> CreateAsync(long seed, string split, int count, double dryFraction, string workDir, CancellationToken ct, RoomBankRanges? ranges = null)
    {
        int sox = count / 3;
        int ism = count - sox;
        var rooms = new List<RoomDraw>(count);
        ulong bankSeed = DeterministicRandom.Hash(seed, "rooms/ism/" + split);
        foreach (SimulatedRoom r in RoomBank.Generate(bankSeed, ism, ranges))
        {
            rooms.Add(new RoomDraw(RoomDraw.ClassOf(r.MeasuredRt60Seconds), $"{split}/{r.Name}", r.MeasuredRt60Seconds, r.ImpulseResponse));
        }

        Directory.CreateDirectory(workDir);
        var rng = DeterministicRandom.For(seed, "rooms/sox/" + split);
        for (int i = 0; i < sox; i++)
        {
            // sox reverb's reverberance, HF damping and room scale (percent); wet and dry mixed as the main job's rooms are.
            int reverberance = rng.Next(10, 101), damping = rng.Next(10, 91), scale = rng.Next(20, 101);
            float[] ir = await SoxReverbImpulseAsync(reverberance, damping, scale, Path.Combine(workDir, $"sox-{split}-{i}"), ct).ConfigureAwait(false);
            double? rt60 = TryRt60(ir);
            string cls = rt60 is double t ? RoomDraw.ClassOf(t) : RoomDraw.ClassOf(0);
            rooms.Add(new RoomDraw(cls, string.Create(CultureInfo.InvariantCulture, $"{split}/sox-reverb-{reverberance}-{damping}-{scale}"), rt60, ir));
        }

        return new RoomChannel(rooms, dryFraction);
    }

    /// <summary>Draws a room: dry with the dry fraction, else a room of the bank.</summary>
    public RoomDraw PickRoom(DeterministicRandom rng) =>
        rng.NextDouble() < _dryFraction || _rooms.Count == 0 ? RoomDraw.Dry : rng.Pick(_rooms);

    /// <summary>Draws a microphone: flat a quarter of the time, else a colouring jittered around a preset.</summary>
    public static MicrophoneResponse PickMicrophone(DeterministicRandom rng) =>
        rng.NextDouble() < 0.25 ? MicrophoneResponse.Flat : MicrophoneResponse.Random(rng.NextUInt64(), CorpusGenerator.SampleRateHz);

    private static double? TryRt60(float[] ir)
    {
        try
        {
            return ReverberationTime.EstimateRt60Seconds(ir, CorpusGenerator.SampleRateHz);
        }
        catch (ArgumentException)
        {
            return null; // too little reverberation to reach -25 dB above the floor: a near-dry room
        }
    }

    /// <summary>
    /// sox's reverb (a Freeverb-style network) is linear and time-invariant, so its impulse response is all of it: an
    /// impulse in, 3 s out, normalised so the dry path is 1 and cut where the tail has decayed 60 dB below its start.
    /// </summary>
    /// <param name="reverberance">sox reverb's reverberance (percent).</param>
    /// <param name="damping">Its HF damping (percent).</param>
    /// <param name="scale">Its room scale (percent).</param>
    /// <param name="stem">Path stem of the two temporary files (removed).</param>
    /// <param name="ct">Cancels sox.</param>
    public static async Task<float[]> SoxReverbImpulseAsync(int reverberance, int damping, int scale, string stem, CancellationToken ct)
    {
        string input = stem + ".impulse.wav", output = stem + ".ir.wav";
        var impulse = new float[3 * CorpusGenerator.SampleRateHz];
        impulse[0] = 0.25f;
        WavFile.Write(input, impulse, CorpusGenerator.SampleRateHz, WavSampleFormat.Float32);
        var inv = CultureInfo.InvariantCulture;
        await ProcessRunner.RunAsync("sox", ["-R", input, "-e", "floating-point", "-b", "32", output, "reverb",
            reverberance.ToString(inv), damping.ToString(inv), scale.ToString(inv)], TimeSpan.FromMinutes(1), ct).ConfigureAwait(false);
        float[] ir = WavFile.ReadAllMono(output, out _);
        File.Delete(input);
        File.Delete(output);
        float direct = ir[0] != 0 ? ir[0] : 0.25f;
        for (int i = 0; i < ir.Length; i++)
        {
            ir[i] /= direct;
        }

        // Cut where the remaining energy is 60 dB below the total (Schroeder), at least 10 ms.
        double total = 0;
        foreach (float v in ir)
        {
            total += (double)v * v;
        }

        double remaining = total;
        int end = ir.Length;
        for (int i = 0; i < ir.Length; i++)
        {
            remaining -= (double)ir[i] * ir[i];
            if (remaining < total * 1e-6)
            {
                end = Math.Max(i + 1, CorpusGenerator.SampleRateHz / 100);
                break;
            }
        }

        return ir[..Math.Min(end, ir.Length)];
    }
}
