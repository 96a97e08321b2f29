using System.Globalization;
using System.Text.Json;
using EdgeKws.Corpus.Speakers;
using EdgeKws.Corpus.Synthesis;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Corpus.Sweep;

/// <summary>What <see cref="VoiceSweep"/> synthesises: the keyword by every chosen voice at every rate and pitch.</summary>
public sealed record VoiceSweepOptions
{
    /// <summary>Output directory: <c>voice-sweep.wav</c> and <c>voice-sweep.streams.json</c>.</summary>
    public string OutputDirectory { get; init; } = "";

    /// <summary>The phrase each talker says (alone, one utterance per talker).</summary>
    public string Keyword { get; init; } = "hey edge";

    /// <summary>Voice set (<see cref="VoiceSet"/>): which flite and festival voices and espeak-ng accents are swept.</summary>
    public string Voices { get; init; } = VoiceSet.All;

    /// <summary>espeak-ng voice+variant pairs drawn (seeded) from the set; 0 sweeps none.</summary>
    public int EspeakVoices { get; init; } = 8;

    /// <summary>Speaking rates, percent of each engine's default.</summary>
    public IReadOnlyList<int> RatePercents { get; init; } = [80, 90, 100, 110, 120];

    /// <summary>Pitches, percent of each voice's default (sox's pitch shift where the engine has no control, as in the corpus).</summary>
    public IReadOnlyList<int> PitchPercents { get; init; } = [84, 100, 119];

    /// <summary>Peak level of every utterance in dBFS.</summary>
    public double LevelDbFs { get; init; } = -6;

    /// <summary>Silence between utterances; longer than the detector's refractory period so each keyword is scored alone.</summary>
    public int GapMs { get; init; } = 2500;

    /// <summary>Seed of the espeak-ng voice draw and of the -70 dBFS noise floor.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Engine processes at once.</summary>
    public int Parallel { get; init; } = 2;

    /// <summary>Range checks; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("--out is required.");
        if (string.IsNullOrWhiteSpace(Keyword)) throw new ArgumentException("--keyword must not be empty.");
        if (Voices is not (VoiceSet.Base or VoiceSet.All)) throw new ArgumentException($"--voices must be base or all (got {Voices}).");
        if (EspeakVoices is < 0 or > 200) throw new ArgumentException($"--espeak-voices must be 0 to 200 (got {EspeakVoices}).");
        Percents("--rates", RatePercents);
        Percents("--pitches", PitchPercents);
        if (!(LevelDbFs is >= -60 and <= 0)) throw new ArgumentException($"--level must be -60 to 0 dBFS (got {LevelDbFs.ToString(CultureInfo.InvariantCulture)}).");
        if (GapMs is < 1000 or > 10_000) throw new ArgumentException($"--gap-ms must be 1000 to 10000 (got {GapMs}).");
        if (Parallel is < 1 or > 2) throw new ArgumentException($"--parallel must be 1 or 2 (got {Parallel}).");
    }

    private static void Percents(string option, IReadOnlyList<int> values)
    {
        if (values.Count == 0) throw new ArgumentException($"{option} needs at least one percent.");
        foreach (int v in values)
        {
            if (v is < 50 or > 200) throw new ArgumentException($"{option} takes percents from 50 to 200; got '{v}'.");
        }
    }
}

/// <summary>
/// Clean, close-talk keyword utterances by every voice at every rate and pitch, laid out as one positive stream with
/// each utterance tagged (engine, voice, rate, pitch), written as an <c>edgekws-streams/1</c> file for
/// <c>edgekws-model evaluate --streams</c>. It separates what a model does with a voice from what the room does to it:
/// a far-field test set mixes both, this sweep has no room, no noise (a -70 dBFS floor) and one level. Synthesis is the
/// corpus generator's own (<see cref="TtsSynthesizer"/>), so a talker here sounds exactly like that talker in a corpus.
/// </summary>
public static class VoiceSweep
{
    /// <summary>File names written into the output directory.</summary>
    public const string WavName = "voice-sweep.wav", StreamsName = "voice-sweep.streams.json";

    private const int SampleRate = TtsSynthesizer.SampleRateHz;
    private const double FloorDbFs = -70;
    private const int LeadMs = 2000;

    /// <summary>The talkers swept: every flite and festival voice of the set that is installed, and the drawn espeak-ng voices, at every rate x pitch.</summary>
    public static IReadOnlyList<Speaker> Talkers(VoiceSweepOptions o)
    {
        IReadOnlyList<string> engines = SpeakerCatalog.AvailableEngines();
        var voices = new List<(string Engine, string Voice, string Variant)>();
        if (engines.Contains(TtsEngine.Espeak) && o.EspeakVoices > 0)
        {
            // The same seeded draw the catalogue makes for a corpus, restricted to espeak-ng; one talker per voice key.
            foreach (Speaker s in SpeakerCatalog.Choose(o.Seed, o.EspeakVoices * 4, [TtsEngine.Espeak], o.Voices)
                         .DistinctBy(s => s.VoiceKey).Take(o.EspeakVoices))
            {
                voices.Add((s.Engine, s.Voice, s.Variant));
            }
        }

        if (engines.Contains(TtsEngine.Flite))
        {
            voices.AddRange((o.Voices == VoiceSet.All ? SpeakerCatalog.AllFliteVoices : SpeakerCatalog.FliteVoices).Select(v => (TtsEngine.Flite, v, "")));
        }

        if (engines.Contains(TtsEngine.Festival))
        {
            voices.AddRange(SpeakerCatalog.AvailableFestivalVoices(o.Voices).Select(v => (TtsEngine.Festival, v, "")));
        }

        return [.. from v in voices from r in o.RatePercents from p in o.PitchPercents select new Speaker(v.Engine, v.Voice, v.Variant, r, p)];
    }

    /// <summary>Synthesises the sweep and writes the WAV and the streams file; returns the number of utterances.</summary>
    public static async Task<int> RunAsync(VoiceSweepOptions o, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        o.Validate();
        IReadOnlyList<Speaker> talkers = Talkers(o);
        if (talkers.Count == 0)
        {
            throw new InvalidOperationException("no TTS engine is installed (espeak-ng, flite or festival): nothing to sweep");
        }

        Directory.CreateDirectory(o.OutputDirectory);
        string work = Path.Combine(o.OutputDirectory, ".tts-work");
        Directory.CreateDirectory(work);
        var tts = new TtsSynthesizer(work, o.Parallel);
        try
        {
            await tts.SynthesizeAsync(talkers.Select(t => (t, o.Keyword)), progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(work, recursive: true);   // engine scratch, also when an engine fails
        }

        int gap = o.GapMs * SampleRate / 1000, lead = LeadMs * SampleRate / 1000;
        float peak = (float)Math.Pow(10, o.LevelDbFs / 20);
        var utterances = talkers.Select(t => tts.Get(t, o.Keyword)).ToList();
        var audio = new float[lead + utterances.Sum(u => u.Length + gap)];
        var phrases = new List<object>(talkers.Count);
        int at = lead;
        for (int i = 0; i < talkers.Count; i++)
        {
            float[] u = utterances[i];
            float max = u.Max(MathF.Abs);
            float gain = max > 0 ? peak / max : 0;
            for (int k = 0; k < u.Length; k++)
            {
                audio[at + k] = u[k] * gain;
            }

            Speaker t = talkers[i];
            phrases.Add(new
            {
                phrase = o.Keyword,
                startMs = Ms(at),
                endMs = Ms(at + u.Length),
                tags = new Dictionary<string, string>
                {
                    ["engine"] = t.Engine,
                    ["voice"] = t.VoiceKey,
                    ["rate"] = "r" + t.RatePercent.ToString(CultureInfo.InvariantCulture),
                    ["pitch"] = "p" + t.PitchPercent.ToString(CultureInfo.InvariantCulture),
                },
            });
            at += u.Length + gap;
        }

        // A -70 dBFS floor (the corpus streams' own), so no frame is digital silence.
        var random = new Random(unchecked((int)o.Seed));
        float floor = (float)Math.Pow(10, FloorDbFs / 20) * MathF.Sqrt(3);   // uniform noise of that RMS
        for (int k = 0; k < audio.Length; k++)
        {
            audio[k] += floor * (2 * (float)random.NextDouble() - 1);
        }

        WavFile.Write(Path.Combine(o.OutputDirectory, WavName), audio, SampleRate, WavSampleFormat.Pcm16);
        var file = new
        {
            formatVersion = "edgekws-streams/1",
            description = $"voice sweep: '{o.Keyword}' by {talkers.Count} talkers (rates {string.Join(',', o.RatePercents)} %, pitches {string.Join(',', o.PitchPercents)} %), clean, close, peak {o.LevelDbFs.ToString(CultureInfo.InvariantCulture)} dBFS",
            streams = new[]
            {
                new { name = WavName, wavPath = WavName, kind = "Positive", durationMs = Ms(audio.Length), phrases },
            },
        };
        await File.WriteAllTextAsync(Path.Combine(o.OutputDirectory, StreamsName), JsonSerializer.Serialize(file, new JsonSerializerOptions { WriteIndented = true }), cancellationToken).ConfigureAwait(false);
        return talkers.Count;
    }

    private static long Ms(int samples) => (long)samples * 1000 / SampleRate;
}
