using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using EdgeKws.Corpus.Mixing;
using EdgeKws.Corpus.Speakers;

namespace EdgeKws.Corpus;

/// <summary>
/// Everything that decides the corpus. Same options (apart from <see cref="OutputDirectory"/>) and same
/// installed engines give byte-identical output. The options are written into the manifest.
/// </summary>
public sealed partial record CorpusOptions
{
    /// <summary>Where the corpus is written (not part of the manifest: moving a corpus does not change it).</summary>
    [JsonIgnore]
    public string OutputDirectory { get; init; } = "corpus";

    /// <summary>Seed of every random decision.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Number of synthetic speakers.</summary>
    public int SpeakerCount { get; init; } = 24;

    /// <summary>Keyword phrases; the first is the wake phrase.</summary>
    public IReadOnlyList<string> Keywords { get; init; } = ["hey edge", "stop", "play music"];

    /// <summary>Confusable near-miss phrases (negatives that sound like a keyword).</summary>
    public IReadOnlyList<string> NearMisses { get; init; } = ["hey hedge", "edge", "pledge", "hey", "a ledge", "hey reg"];

    /// <summary>Augmented takes per keyword per speaker.</summary>
    public int TakesPerKeyword { get; init; } = 3;

    /// <summary>Sentences per speaker (half with a keyword, rounded down; the rest without).</summary>
    public int SentencesPerSpeaker { get; init; } = 6;

    /// <summary>Keyword-free sentence templates per test speaker in the stream pool.</summary>
    public int StreamSentencesPerSpeaker { get; init; } = 24;

    /// <summary>Length of the negative (keyword-free) evaluation stream; 0 for none.</summary>
    public double NegativeStreamMinutes { get; init; } = 10;

    /// <summary>Keyword occurrences in the positive evaluation stream; 0 for none.</summary>
    public int PositiveStreamKeywords { get; init; } = 50;

    /// <summary>
    /// Length of the train-split negative stream (train speakers, synthetic music, noise, hum, babble,
    /// silence; for training negatives); 0 for none.
    /// </summary>
    public double TrainNegativeStreamMinutes { get; init; }

    /// <summary>Length of the validation-split negative stream (validation speakers; for choosing the threshold); 0 for none.</summary>
    public double ValidationNegativeStreamMinutes { get; init; }

    /// <summary>Keyword occurrences in the validation-split positive stream (validation speakers); 0 for none.</summary>
    public int ValidationPositiveStreamKeywords { get; init; }

    /// <summary>Engines to use; null means every installed one (the resolved list is written to the manifest).</summary>
    public IReadOnlyList<string>? Engines { get; init; }

    /// <summary>Noise kinds drawn per clip (see <see cref="NoiseKind"/>); "none" leaves it clean.</summary>
    public IReadOnlyList<string> NoiseKinds { get; init; } = [NoiseKind.None, NoiseKind.White, NoiseKind.Pink, NoiseKind.Brown, NoiseKind.Babble];

    /// <summary>SNRs (dB) drawn for noisy clips and positive-stream keywords.</summary>
    public IReadOnlyList<double> SnrDbChoices { get; init; } = [30, 20, 15, 10, 5, 0];

    /// <summary>Lowest gain (dB) relative to the reference level.</summary>
    public double GainDbMin { get; init; } = -20;

    /// <summary>Highest gain (dB) relative to the reference level.</summary>
    public double GainDbMax { get; init; } = 6;

    /// <summary>Fraction of clips driven 3 to 9 dB past full scale so they clip.</summary>
    public double ClipFraction { get; init; } = 0.05;

    /// <summary>Also write each mixed clip's clean speech (after gain) as <c>*.clean.wav</c>.</summary>
    public bool WriteCleanReference { get; init; }

    /// <summary>
    /// Keep at least half of each engine's voices in train (held-out splits then take at most half of an
    /// engine's voices, test the larger part); off by default, which holds out voices round-robin over engines.
    /// </summary>
    public bool TrainEveryEngine { get; init; }

    /// <summary>Which voices speakers are drawn from: <see cref="Speakers.VoiceSet.Base"/> (default) or <see cref="Speakers.VoiceSet.All"/>.</summary>
    public string VoiceSet { get; init; } = Speakers.VoiceSet.Base;

    /// <summary>
    /// Far-field rendering: clips and stream segments are said in a simulated room (a room impulse response of the
    /// split's own bank), picked up by a coloured microphone, mixed with home noise and set to a level drawn from
    /// <see cref="LevelDbFsMin"/>..<see cref="LevelDbFsMax"/> (peak). Off keeps every existing corpus byte for byte.
    /// </summary>
    public bool FarField { get; init; }

    /// <summary>Rooms in each split's bank (far-field only); splits never share a room.</summary>
    public int RoomsPerSplit { get; init; } = 48;

    /// <summary>Fraction of far-field items left dry (close-talk, no room).</summary>
    public double DryFraction { get; init; } = 0.15;

    /// <summary>
    /// Training-side overrides of the far-field channel (null = as the held-out splits): the train split's dry fraction,
    /// largest source-microphone distance (m) and largest RT60 (s) of its image-source rooms. They change only the train
    /// bank and train draws, so validation and test audio stay byte-identical; they let a recipe weight training toward the
    /// conditions a small model can learn while the test keeps the hard ones.
    /// </summary>
    public double? TrainDryFraction { get; init; }

    /// <inheritdoc cref="TrainDryFraction"/>
    public double? TrainMaxDistanceM { get; init; }

    /// <inheritdoc cref="TrainDryFraction"/>
    public double? TrainMaxRt60Seconds { get; init; }

    /// <summary>Lowest peak level (dBFS) of a far-field clip or keyword.</summary>
    public double LevelDbFsMin { get; init; } = -40;

    /// <summary>Highest peak level (dBFS) of a far-field clip or keyword.</summary>
    public double LevelDbFsMax { get; init; } = -3;

    /// <summary>
    /// Near-miss phrases said only in the validation and test negative streams, never in training: they measure how
    /// the model does on confusable words nobody trained it against.
    /// </summary>
    public IReadOnlyList<string> HeldOutNearMisses { get; init; } = [];

    /// <summary>SNRs (dB) of far-field positive-stream keywords (validation and test); null = <see cref="SnrDbChoices"/>.</summary>
    public IReadOnlyList<double>? StreamSnrDbChoices { get; init; }

    /// <summary>Peak level range (dBFS) of far-field positive-stream keywords; null = <see cref="LevelDbFsMin"/>..<see cref="LevelDbFsMax"/>.</summary>
    public IReadOnlyList<double>? StreamLevelDbFs { get; init; }

    /// <summary>Fraction of far-field positive-stream keywords that are the wake phrase (the rest: the other keywords).</summary>
    public double WakePhraseShare { get; init; } = 0.7;

    /// <summary>Fraction of far-field wake phrases followed by a command (a keyword-free sentence) 100-300 ms later.</summary>
    public double CommandAfterWakeShare { get; init; } = 0.4;

    /// <summary>
    /// Seed of the streams' content only (which sentences, keyword times, SNRs, noise offsets and negative segments), null =
    /// <see cref="Seed"/>. Speakers and splits still come from <see cref="Seed"/>, so two corpora with one seed and different
    /// stream seeds are the same voices saying new things: another day of the same household.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? StreamSeed { get; init; }

    /// <summary>
    /// Takes of each keyword per speaker in the close-talk positive stream (null or 1: the speaker's one synthesised take
    /// every time). Take 0 is the speaker; each further take is the same voice at a speaking rate and pitch a few percent
    /// off (drawn from the stream seed), as one person never says a word twice alike. Each keyword occurrence draws a take.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? StreamKeywordTakes { get; init; }

    /// <summary>Fraction of voices held out for test.</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>Fraction of voices held out for validation.</summary>
    public double ValidationFraction { get; init; } = 0.15;

    /// <summary>Engine processes run at once (1 or 2); the output does not depend on it.</summary>
    [JsonIgnore]
    public int MaxParallelSynthesis { get; init; } = 2;

    /// <summary>The preset tests use: a few speakers, short streams; well under a minute on 2 cores.</summary>
    public static CorpusOptions Small(string outputDirectory, long seed = 42) => new()
    {
        OutputDirectory = outputDirectory,
        Seed = seed,
        SpeakerCount = 8,
        TakesPerKeyword = 1,
        SentencesPerSpeaker = 2,
        StreamSentencesPerSpeaker = 5,
        NegativeStreamMinutes = 0.5,
        PositiveStreamKeywords = 6,
    };

    /// <summary>Checks every field; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public void Validate()
    {
        Require(SpeakerCount >= 3, $"--speakers must be at least 3 (one voice per split); got {SpeakerCount}.");
        Require(Keywords.Count > 0, "--keywords needs at least one phrase.");
        foreach (string p in Keywords.Concat(NearMisses))
        {
            Require(PhrasePattern().IsMatch(p), $"Phrase '{p}' must be lower-case words of a-z and apostrophes separated by single spaces.");
        }

        Require(Keywords.Distinct().Count() == Keywords.Count, "--keywords lists a phrase twice.");
        Require(!NearMisses.Any(n => Keywords.Contains(n)), "A near-miss phrase is also a keyword.");
        Require(TakesPerKeyword >= 1, $"--takes must be at least 1; got {TakesPerKeyword}.");
        Require(SentencesPerSpeaker >= 0, $"--sentences must not be negative; got {SentencesPerSpeaker}.");
        Require(StreamSentencesPerSpeaker >= 1, $"--stream-sentences must be at least 1; got {StreamSentencesPerSpeaker}.");
        Require(NegativeStreamMinutes is >= 0 and <= 600, $"--negatives-minutes must be 0 to 600; got {NegativeStreamMinutes}.");
        Require(PositiveStreamKeywords is >= 0 and <= 100_000, $"--positives must be 0 to 100000; got {PositiveStreamKeywords}.");
        Require(TrainNegativeStreamMinutes is >= 0 and <= 600, $"--train-negatives-minutes must be 0 to 600; got {TrainNegativeStreamMinutes}.");
        Require(ValidationNegativeStreamMinutes is >= 0 and <= 600, $"--validation-negatives-minutes must be 0 to 600; got {ValidationNegativeStreamMinutes}.");
        Require(ValidationPositiveStreamKeywords is >= 0 and <= 100_000, $"--validation-positives must be 0 to 100000; got {ValidationPositiveStreamKeywords}.");
        IReadOnlyList<string> kinds = FarField ? NoiseKind.All : NoiseKind.CloseTalk;
        Require(NoiseKinds.Count > 0 && NoiseKinds.All(k => kinds.Contains(k)), $"--noise kinds must be among {string.Join(", ", kinds)}{(FarField ? "" : " (the home kinds need --far-field)")}; got {string.Join(", ", NoiseKinds)}.");
        Require(SnrDbChoices.Count > 0 && SnrDbChoices.All(s => s is >= -10 and <= 60), "--snr values must be -10 to 60 dB.");
        Require(GainDbMin <= GainDbMax && GainDbMin >= -60 && GainDbMax <= 20, $"--gain range must be within -60..20 dB with min <= max; got {GainDbMin}..{GainDbMax}.");
        Require(ClipFraction is >= 0 and <= 1, $"--clip-fraction must be 0 to 1; got {ClipFraction}.");
        Require(MaxParallelSynthesis is 1 or 2, $"--parallel must be 1 or 2; got {MaxParallelSynthesis}.");
        Require(Engines is null || (Engines.Count > 0 && Engines.All(e => TtsEngine.All.Contains(e))), $"--engines must be among {string.Join(", ", TtsEngine.All)}.");
        Require(VoiceSet is Speakers.VoiceSet.Base or Speakers.VoiceSet.All, $"--voices must be {Speakers.VoiceSet.Base} or {Speakers.VoiceSet.All}; got {VoiceSet}.");
        Require(RoomsPerSplit is >= 1 and <= 1000, $"--rooms must be 1 to 1000; got {RoomsPerSplit}.");
        Require(TrainDryFraction is null or (>= 0 and <= 1), $"--train-dry-fraction must be 0 to 1; got {TrainDryFraction}.");
        Require(TrainMaxDistanceM is null or (>= 0.5 and <= 5), $"--train-max-distance must be 0.5 to 5 m; got {TrainMaxDistanceM}.");
        Require(TrainMaxRt60Seconds is null or (>= 0.2 and <= 1), $"--train-max-rt60 must be 0.2 to 1 s; got {TrainMaxRt60Seconds}.");
        Require(DryFraction is >= 0 and <= 1, $"--dry-fraction must be 0 to 1; got {DryFraction}.");
        Require(LevelDbFsMin <= LevelDbFsMax && LevelDbFsMin >= -60 && LevelDbFsMax <= 0, $"--level range must be within -60..0 dBFS with min <= max; got {LevelDbFsMin}..{LevelDbFsMax}.");
        Require(StreamSnrDbChoices is null || (StreamSnrDbChoices.Count > 0 && StreamSnrDbChoices.All(x => x is >= -10 and <= 60)), "--stream-snr values must be -10 to 60 dB.");
        Require(StreamLevelDbFs is null || (StreamLevelDbFs.Count == 2 && StreamLevelDbFs[0] <= StreamLevelDbFs[1] && StreamLevelDbFs[0] >= -60 && StreamLevelDbFs[1] <= 0), "--stream-level takes MIN,MAX within -60..0 dBFS.");
        Require(StreamKeywordTakes is null or (>= 1 and <= 8), $"--stream-takes must be 1 to 8; got {StreamKeywordTakes}.");
        Require(WakePhraseShare is >= 0 and <= 1 && CommandAfterWakeShare is >= 0 and <= 1, "--wake-share and --command-share must be 0 to 1.");
        foreach (string p in HeldOutNearMisses)
        {
            Require(PhrasePattern().IsMatch(p), $"Phrase '{p}' must be lower-case words of a-z and apostrophes separated by single spaces.");
            Require(!Keywords.Contains(p) && !NearMisses.Contains(p), $"Held-out near miss '{p}' is also a keyword or a training near miss.");
        }

        Require(SentenceBank.KeywordFree(Keywords).Count > 0, "Every sentence template contains a keyword: no keyword-free sentences can be built.");
    }

    private static void Require(bool ok, string message)
    {
        if (!ok)
        {
            throw new ArgumentException(message);
        }
    }

    [GeneratedRegex("^[a-z']+( [a-z']+)*$")]
    private static partial Regex PhrasePattern();
}
