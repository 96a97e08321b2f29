using EdgeKws.Corpus.Speakers;
using EdgeKws.Corpus.Synthesis;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Labeling.Tests.Verification;

/// <summary>One generated trigger-like clip and what it really is.</summary>
/// <param name="Path">16 kHz mono 16-bit WAV.</param>
/// <param name="Class">"wake", "near-miss", "unrelated" or "noise".</param>
/// <param name="Text">What was spoken (empty for noise).</param>
/// <param name="SpeakerId">The synthetic speaker (empty for noise).</param>
public sealed record TriggerClip(string Path, string Class, string Text, string SpeakerId);

/// <summary>
/// Generates device-trigger-like clips with the corpus tool's synthesizer (espeak-ng voices): the phrase with 400 ms of quiet
/// before and after, as a device clip holds pre-roll and post-roll around the keyword, with faint white noise (about
/// -60 dBFS, a quiet room) so the decoder sees no digital silence. Deterministic: espeak-ng is, and the noise is seeded.
/// Also used by the gateway tests (linked source file).
/// </summary>
public static class TriggerClips
{
    /// <summary>The wake phrase of the measurements.</summary>
    public const string Wake = "hey edge";

    /// <summary>Near misses: one phone added, changed, or a longer word.</summary>
    public static IReadOnlyList<string> NearMissPhrases { get; } = ["hey hedge", "hey ed", "hay edgar"];

    /// <summary>Unrelated speech.</summary>
    public static IReadOnlyList<string> UnrelatedPhrases { get; } = ["play music", "what time is it"];

    /// <summary>espeak-ng speakers (voice + variant, default rate and pitch).</summary>
    public static IReadOnlyList<Speaker> Speakers(int count)
    {
        (string Voice, string Variant)[] voices =
        [
            ("en-us", "m3"), ("en-us", "f2"), ("en-gb", "m1"), ("en-us", "m7"), ("en-us", "f4"), ("en-gb-x-rp", "m2"),
            ("en-us", "m5"), ("en-gb", "f3"), ("en-us-nyc", "m4"), ("en-029", "f1"), ("en-gb-scotland", "m2"), ("en-us", "m1"),
        ];
        return [.. voices.Take(count).Select(v => new Speaker(TtsEngine.Espeak, v.Voice, v.Variant, 100, 100))];
    }

    /// <summary>Synthesises every (speaker, phrase) of the four classes into <paramref name="dir"/>, plus <paramref name="noiseClips"/> noise-only clips.</summary>
    public static async Task<IReadOnlyList<TriggerClip>> GenerateAsync(string dir, IReadOnlyList<Speaker> speakers, IReadOnlyList<(string Class, string Text)> phrases, int noiseClips)
    {
        Directory.CreateDirectory(dir);
        var tts = new TtsSynthesizer(System.IO.Path.Combine(dir, "tts"), maxParallelProcesses: 2);
        await tts.SynthesizeAsync(speakers.SelectMany(s => phrases.Select(p => (s, p.Text))));
        var clips = new List<TriggerClip>();
        var rng = new Random(20261123);
        foreach (Speaker s in speakers)
        {
            foreach ((string cls, string text) in phrases)
            {
                float[] speech = tts.Get(s, text);
                string path = System.IO.Path.Combine(dir, $"{cls}-{text.Replace(' ', '_')}-{s.Id}.wav");
                WavFile.Write(path, Pad(speech, rng), TtsSynthesizer.SampleRateHz, WavSampleFormat.Pcm16);
                clips.Add(new TriggerClip(path, cls, text, s.Id));
            }
        }

        for (int i = 0; i < noiseClips; i++)
        {
            // White noise at -26 dBFS and brown noise (integrated white) alternate: a fan or a hum, no speech.
            var n = new float[24_000];
            double brown = 0;
            for (int k = 0; k < n.Length; k++)
            {
                double w = (rng.NextDouble() * 2) - 1;
                brown = Math.Clamp((brown * 0.98) + (w * 0.1), -1, 1);
                n[k] = (float)(i % 2 == 0 ? w * 0.05 : brown * 0.3);
            }

            string path = System.IO.Path.Combine(dir, $"noise-{i}.wav");
            WavFile.Write(path, n, TtsSynthesizer.SampleRateHz, WavSampleFormat.Pcm16);
            clips.Add(new TriggerClip(path, "noise", string.Empty, string.Empty));
        }

        return clips;
    }

    /// <summary>The standard classes: wake, the near misses and unrelated phrases.</summary>
    public static IReadOnlyList<(string Class, string Text)> StandardPhrases() =>
        [("wake", Wake), .. NearMissPhrases.Select(p => ("near-miss", p)), .. UnrelatedPhrases.Select(p => ("unrelated", p))];

    private static float[] Pad(float[] speech, Random rng)
    {
        const int pad = 6_400; // 400 ms at 16 kHz
        var clip = new float[speech.Length + (2 * pad)];
        for (int i = 0; i < clip.Length; i++)
        {
            clip[i] = (float)(((rng.NextDouble() * 2) - 1) * 0.001);
        }

        for (int i = 0; i < speech.Length; i++)
        {
            clip[pad + i] += speech[i];
        }

        return clip;
    }
}
