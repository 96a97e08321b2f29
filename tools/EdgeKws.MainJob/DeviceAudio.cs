using System.Globalization;
using EdgeKws.Corpus;
using EdgeKws.Corpus.Manifest;
using EdgeKws.Shared.Processes;

namespace EdgeKws.MainJob;

/// <summary>Where a simulated device listens: its TTS engine, noise level and room.</summary>
/// <param name="Name">Room name for the summary.</param>
/// <param name="Engine">TTS engine of the device's speaker (espeak or flite).</param>
/// <param name="SnrDb">Keyword SNR choices over the room's noise.</param>
/// <param name="Reverberance">sox reverb reverberance in percent; 0 leaves the room dry.</param>
internal sealed record RoomProfile(string Name, string Engine, double[] SnrDb, int Reverberance)
{
    /// <summary>
    /// Device 1 is the quiet reference room (its sketches become the model's drift baseline); the
    /// others get more noise and reverberation, so the fleet drifts away from it.
    /// </summary>
    public static readonly RoomProfile[] All =
    [
        new("quiet study (dry)", "espeak", [30, 20], 0),
        new("living room (reverb 40 %)", "flite", [20, 15, 10], 40),
        new("kitchen (reverb 70 %, noisy)", "espeak", [10, 5, 0], 70),
        new("office (reverb 20 %)", "flite", [20, 10], 20),
    ];
}

/// <summary>One device's generated recording and its ground truth.</summary>
/// <param name="DeviceId">Device id.</param>
/// <param name="WavPath">16 kHz mono WAV the agent replays.</param>
/// <param name="DurationSeconds">Length of the WAV.</param>
/// <param name="Speaker">Corpus speaker id (engine, voice, rate, pitch).</param>
/// <param name="Room">Room profile.</param>
/// <param name="Keywords">Known "hey edge" intervals in the WAV (ms).</param>
/// <param name="NegativeSegments">Counts of negative segment kinds (speech, near-miss, noise, music ...).</param>
/// <param name="Day">Day of the run (1 = the first day) whose utterances the WAV holds.</param>
internal sealed record DeviceRecording(string DeviceId, string WavPath, double DurationSeconds, string Speaker, RoomProfile Room,
    IReadOnlyList<(double StartMs, double EndMs)> Keywords, IReadOnlyDictionary<string, int> NegativeSegments, int Day = 1);

/// <summary>
/// Stage 1: audio for every device from the corpus generator (tools/EdgeKws.Corpus, no download:
/// espeak-ng / flite voices, sox noise and music). Each device gets its own seed (so its own test
/// speaker), engine, SNRs and room: a positive stream ("hey edge" at known times over a pink floor)
/// followed by a negative stream (other speech, near misses, silence, noise, babble, plucked-chord
/// music), joined and given the room's reverberation by sox.
/// Days: the device seed fixes the speakers (so the voice), the engine, SNR choices and room; each later day only changes
/// the corpus's stream seed, so the same person in the same room says new things at new times, and every keyword is one of
/// <see cref="KeywordTakes"/> takes of that voice (rate and pitch a few percent apart), never one waveform replayed.
/// </summary>
internal static class DeviceAudio
{
    /// <summary>Average length of one positive-stream item (keyword plus its 2-6 s gap), for sizing.</summary>
    private const double SecondsPerPositive = 5.0;

    /// <summary>Share of each device's audio that is the positive stream.</summary>
    private const double PositiveShare = 0.35;

    /// <summary>Takes of "hey edge" per speaker and day (the corpus's <c>StreamKeywordTakes</c>).</summary>
    public const int KeywordTakes = 3;

    /// <summary>The corpus seed of a device: its speakers, hence its voice.</summary>
    public static long DeviceSeed(long seed, int index) => seed + (index * 1009);

    /// <summary>The stream seed of a day: null on day 1 (the device seed's own streams), a new one on every later day.</summary>
    public static long? StreamSeed(long seed, int index, int day) => day <= 1 ? null : DeviceSeed(seed, index) + (day * 100_003L);

    public static async Task<DeviceRecording> GenerateAsync(string deviceId, int index, double hours, long seed, string directory, CancellationToken ct, int day = 1)
    {
        RoomProfile room = RoomProfile.All[index % RoomProfile.All.Length];
        double totalSeconds = hours * 3600;
        int positives = Math.Max(2, (int)Math.Round(totalSeconds * PositiveShare / SecondsPerPositive));
        double negativeMinutes = Math.Max(0.1, totalSeconds * (1 - PositiveShare) / 60);
        string corpusDir = Path.Combine(directory, "corpus");
        var options = new CorpusOptions
        {
            OutputDirectory = corpusDir,
            Seed = DeviceSeed(seed, index),
            StreamSeed = StreamSeed(seed, index, day),
            StreamKeywordTakes = KeywordTakes,
            SpeakerCount = 3,
            Keywords = ["hey edge"],
            TakesPerKeyword = 1,
            SentencesPerSpeaker = 1,
            StreamSentencesPerSpeaker = Math.Clamp((int)Math.Ceiling(negativeMinutes * 4), 4, 60),
            NegativeStreamMinutes = negativeMinutes,
            PositiveStreamKeywords = positives,
            Engines = [room.Engine],
            SnrDbChoices = room.SnrDb,
            ClipFraction = 0,
            MaxParallelSynthesis = 2,
        };
        CorpusManifest manifest = await CorpusGenerator.GenerateAsync(options, log: null, ct).ConfigureAwait(false);
        CorpusFile positive = manifest.Files.Single(f => f.Kind == FileKind.PositiveStream);
        CorpusFile negative = manifest.Files.Single(f => f.Kind == FileKind.NegativeStream);

        string wav = Path.Combine(directory, day <= 1 ? deviceId + ".wav" : $"{deviceId}-day{day}.wav");
        // -R: repeatable dither (the same seed gives the same WAV); -G: guard against clipping in the reverb.
        var soxArgs = new List<string> { "-R", "-G", Path.Combine(corpusDir, positive.Path), Path.Combine(corpusDir, negative.Path), wav };
        if (room.Reverberance > 0)
        {
            // reverberance, HF damping, room scale: a mono in, mono out room (wet and dry mixed).
            soxArgs.AddRange(["reverb", room.Reverberance.ToString(CultureInfo.InvariantCulture), "50", "60"]);
        }
        (int code, _, string err) = await ExternalProcess.RunAsync("sox", soxArgs, TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
        if (code != 0)
        {
            throw new InvalidOperationException($"sox {string.Join(' ', soxArgs)} failed ({code}): {err.Trim()}");
        }
        var segments = (negative.Segments ?? []).GroupBy(s => s.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return new DeviceRecording(deviceId, wav, (positive.DurationMs + negative.DurationMs) / 1000.0,
            positive.KeywordEvents.FirstOrDefault()?.Speaker ?? manifest.Speakers.First(s => s.Split == "test").Id, room,
            [.. positive.KeywordEvents.Select(k => (k.StartMs, k.EndMs))], segments, day);
    }
}
