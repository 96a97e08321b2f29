using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Processes;

namespace EdgeKws.Labeling.Alignment;

/// <summary>The outcome of aligning a transcript to audio.</summary>
/// <param name="Succeeded">False when the decoder found no path through the grammar (the transcript does not fit the audio, or the audio is too noisy or short).</param>
/// <param name="Words">Aligned words with their confidence (empty when not succeeded).</param>
/// <param name="Confidence">Confidence of the whole transcript, 0..1 (0 when not succeeded).</param>
/// <param name="Source">Aligner and version, with <see cref="Confidence"/>.</param>
/// <param name="Pronunciations">How each word was pronounced (dictionary, letter-to-sound, spelled).</param>
/// <param name="Problem">Why it did not succeed, else null.</param>
/// <param name="DecoderWords">The decoder's own word times before refinement (10 ms frames), when succeeded.</param>
/// <param name="Refinement">What the boundary refinement did (<see cref="RefinedWords.Note"/>), when succeeded.</param>
public sealed record AlignmentResult(bool Succeeded, IReadOnlyList<WordSpan> Words, double Confidence, LabelSource Source, IReadOnlyList<Pronunciation> Pronunciations, string? Problem,
    IReadOnlyList<WordSpan>? DecoderWords = null, string? Refinement = null);

/// <summary>How <see cref="PocketSphinxAligner"/> runs; the defaults are the measured choice (docs/labeling.md).</summary>
public sealed record PocketSphinxAlignerOptions
{
    /// <summary>
    /// Decoder arguments of the forced pass (beams, silence handling). The defaults: beams of 1e-150 (with 1e-80 some
    /// slow or pitch-shifted voices found no path at all), silence insertion probability 0.3 instead of 0.005 (fewer
    /// words swallowed by the silence model), no spectral noise removal (it moved boundaries next to digital silence) and
    /// no voice-activity cut (a pause of half a second split the utterance, and the grammar then had no path).
    /// </summary>
    public IReadOnlyList<string> ForcedPassArguments { get; init; } = DefaultForcedPassArguments;

    /// <summary>How decoder times become reported times.</summary>
    public BoundaryRefinement Refinement { get; init; } = BoundaryRefinement.Pauses;

    /// <summary>The refiner's weights and thresholds.</summary>
    public WordBoundaryRefinerOptions Refiner { get; init; } = new();

    /// <summary>The default <see cref="ForcedPassArguments"/>.</summary>
    public static IReadOnlyList<string> DefaultForcedPassArguments { get; } =
        ["-beam", "1e-150", "-pbeam", "1e-150", "-wbeam", "1e-150", "-silprob", "0.3", "-remove_silence", "no", "-remove_noise", "no"];
}

/// <summary>Which of several alternative phrases fits a clip best (<see cref="PocketSphinxAligner.CompeteAsync"/>).</summary>
/// <param name="Decoded">False when the decoder found no path through the alternatives.</param>
/// <param name="WinnerIndex">Index of the best phrase (0 = the expected phrase), -1 when not decoded.</param>
/// <param name="Winner">The best phrase as given (or what was decoded, when not decoded).</param>
/// <param name="MarginPerFrame">How much better the winner explains the clip than the expected phrase alone, in acoustic score
/// units per 10 ms frame (0 when the expected phrase wins; null when the expected phrase has no path at all).</param>
/// <param name="Problem">Why it was not decoded, else null.</param>
public sealed record CompetitionResult(bool Decoded, int WinnerIndex, string Winner, double? MarginPerFrame, string? Problem);

/// <summary>
/// The built-in forced aligner: Debian's PocketSphinx 0.8 (<c>pocketsphinx_continuous</c>, packages
/// pocketsphinx and pocketsphinx-en-us) with a JSGF grammar that is exactly the transcript, and a
/// per-call dictionary holding only the transcript's words.
/// </summary>
/// <remarks>
/// <para>What 0.8 prints. With <c>-time yes</c> stdout gets <c>word start end posterior</c> per word, but in
/// grammar (FSG) mode the posterior is always 1.000000, so it is no confidence. <c>-backtrace yes</c>
/// prints, on stderr, the frame range and the acoustic score (<c>ascr</c>) of every word; this aligner
/// parses that table. Frames are 10 ms, so boundaries have 10 ms resolution. The default acoustic model
/// and dictionary are found without <c>-hmm</c>/<c>-dict</c>; <c>-dict</c> is passed anyway to use the
/// per-call dictionary (so custom words work and the 4 MB dictionary is not parsed per call). The forced
/// pass widens the beams (see <c>WideBeams</c>): with the defaults, quiet clean speech found no path.</para>
/// <para>Confidence (a stated proxy). A second pass decodes the same audio with an unconstrained phone
/// loop (<c>-allphone en-us-phone.lm.bin -allphone_ci yes</c>). For each word, d = (phone-loop score
/// over the word's frames - forced score of the word) / frames: how much worse, per frame, the
/// transcript explains those frames than the best free phone string. Confidence = 1 / (1 + exp((d - 20) / 5))
/// (d = 10 gives 0.88, d = 30 gives 0.12); midpoint and slope were read off the corpus (correct words
/// mostly d &lt; 15, wrong words mostly d &gt; 20). The transcript's confidence uses the frame-weighted mean d.
/// A grammar the decoder cannot complete is "not succeeded" (confidence 0).</para>
/// <para>Boundaries. The decoder's times are then refined against the audio's energy envelope
/// (<see cref="WordBoundaryRefiner"/>, <see cref="BoundaryRefinement.Pauses"/> by default): where the speaker paused
/// between words, the boundary moves to the pause's edge (to the sample), and a short word the decoder's silence model
/// swallowed gets its own interval back. Confidences are the decoder's (computed on its frames), whatever the refinement.</para>
/// <para>Audio that is not 16 kHz mono 16-bit is converted with the project's resampler into a temporary
/// file first.</para>
/// </remarks>
public sealed partial class PocketSphinxAligner
{
    /// <summary>Where Debian's pocketsphinx-en-us puts the phone language model used by the confidence pass.</summary>
    public const string DefaultPhoneLmPath = "/usr/share/pocketsphinx/model/en-us/en-us-phone.lm.bin";

    /// <summary>Midpoint of the confidence logistic: per-frame score deficit d (see remarks) that maps to 0.5.</summary>
    public const double ConfidenceMidpoint = 20.0;

    /// <summary>Slope of the confidence logistic.</summary>
    public const double ConfidenceSlope = 5.0;

    // The near-miss competition's decoder arguments (unchanged since the verifier's figures were measured with them).
    // The default beams (1e-48) prune the only path of a one-sentence grammar on quiet audio (speech
    // around -45 dBFS with digital silence between words): no hypothesis at all. A one-path grammar is
    // cheap to search, so the forced pass uses far wider beams.
    // Spectral noise removal (-remove_noise, on by default) shifted boundaries next to the corpus's
    // digital silence; off, the median start error on clean speech fell and the p90 by about 20 ms.
    private static readonly string[] WideBeams = ["-beam", "1e-80", "-pbeam", "1e-80", "-wbeam", "1e-60", "-remove_noise", "no"];

    private readonly PronunciationLexicon _lexicon;
    private readonly string _program;
    private readonly string _phoneLm;
    private readonly WordBoundaryRefiner _refiner;
    private readonly int _frameMs;

    private PocketSphinxAligner(PronunciationLexicon lexicon, string program, string phoneLm, string version, PocketSphinxAlignerOptions options)
    {
        _lexicon = lexicon;
        _program = program;
        _phoneLm = phoneLm;
        Options = options;
        _refiner = new WordBoundaryRefiner(options.Refiner);
        int frate = 100;
        int at = options.ForcedPassArguments.ToList().IndexOf("-frate");
        if (at >= 0 && at + 1 < options.ForcedPassArguments.Count)
        {
            frate = int.Parse(options.ForcedPassArguments[at + 1], CultureInfo.InvariantCulture);
        }

        _frameMs = 1000 / frate;
        ToolVersion = version + options.Refinement switch
        {
            BoundaryRefinement.Pauses => "; " + WordBoundaryRefiner.MethodVersion,
            BoundaryRefinement.Snap => "; snapped",
            _ => "",
        } + (options.ForcedPassArguments.SequenceEqual(PocketSphinxAlignerOptions.DefaultForcedPassArguments) ? "" : "; custom decoder arguments");
    }

    /// <summary>
    /// "pocketsphinx &lt;Debian package version&gt;; pause-refined 1" (the boundary method follows the decoder's version),
    /// recorded in every label this aligner makes.
    /// </summary>
    public string ToolVersion { get; }

    /// <summary>How this aligner runs.</summary>
    public PocketSphinxAlignerOptions Options { get; }

    /// <summary>The lexicon used for pronunciations.</summary>
    public PronunciationLexicon Lexicon => _lexicon;

    /// <summary>Finds pocketsphinx_continuous and its model; loads the dictionary.</summary>
    /// <exception cref="InvalidOperationException">pocketsphinx or pocketsphinx-en-us is not installed (names the package).</exception>
    public static async Task<PocketSphinxAligner> CreateAsync(PronunciationLexicon? lexicon = null, PocketSphinxAlignerOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (!ExternalProcess.TryFind("pocketsphinx_continuous", out string program))
        {
            throw new InvalidOperationException("pocketsphinx_continuous is not on PATH; install the Debian packages pocketsphinx and pocketsphinx-en-us.");
        }

        if (!File.Exists(DefaultPhoneLmPath))
        {
            throw new InvalidOperationException($"'{DefaultPhoneLmPath}' is missing; install the Debian package pocketsphinx-en-us.");
        }

        lexicon ??= File.Exists(PronunciationLexicon.DefaultDictionaryPath)
            ? PronunciationLexicon.Load()
            : throw new InvalidOperationException($"'{PronunciationLexicon.DefaultDictionaryPath}' is missing; install the Debian package pocketsphinx-en-us.");
        string version = "unknown";
        if (ExternalProcess.TryFind("dpkg-query", out string dpkg))
        {
            (int code, string stdout, _) = await ExternalProcess.RunAsync(dpkg, ["-W", "-f", "${Version}", "pocketsphinx"], TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            if (code == 0 && stdout.Trim().Length > 0)
            {
                version = stdout.Trim();
            }
        }

        return new PocketSphinxAligner(lexicon, program, DefaultPhoneLmPath, "pocketsphinx " + version, options ?? new PocketSphinxAlignerOptions());
    }

    /// <summary>Splits a transcript into the aligner's words: lower case, a-z and apostrophes; other characters separate words.</summary>
    public static IReadOnlyList<string> Normalise(string transcript) =>
        [.. WordPattern().Matches(transcript.ToLowerInvariant()).Select(m => m.Value.Trim('\''))
            .Where(w => w.Length > 0)];

    /// <summary>Aligns <paramref name="transcript"/> to the WAV file at <paramref name="wavPath"/>.</summary>
    /// <exception cref="ArgumentException">The transcript has no words.</exception>
    public async Task<AlignmentResult> AlignAsync(string wavPath, string transcript, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<string> words = Normalise(transcript);
        if (words.Count == 0)
        {
            throw new ArgumentException($"The transcript '{transcript}' has no words to align.", nameof(transcript));
        }

        string dir = Path.Combine(Path.GetTempPath(), "edgekws-align-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string audio = PrepareAudio(wavPath, dir);
            string dictPath = Path.Combine(dir, "words.dict");
            List<Pronunciation> prons = await WriteDictionaryAsync(words, dictPath, cancellationToken).ConfigureAwait(false);
            string jsgfPath = Path.Combine(dir, "transcript.jsgf");
            await File.WriteAllTextAsync(jsgfPath, "#JSGF V1.0;\ngrammar transcript;\npublic <utterance> = " + string.Join(' ', words) + ";\n", cancellationToken).ConfigureAwait(false);

            var timeout = TimeSpan.FromSeconds(120);
            Task<(int, string, string)> forced = ExternalProcess.RunAsync(_program, ["-infile", audio, "-jsgf", jsgfPath, "-dict", dictPath, "-time", "yes", "-backtrace", "yes", .. Options.ForcedPassArguments], timeout, cancellationToken);
            // The loop pass keeps every frame too (no voice-activity cut), so its frames line up with the forced pass's.
            Task<(int, string, string)> loop = ExternalProcess.RunAsync(_program, ["-infile", audio, "-allphone", _phoneLm, "-allphone_ci", "yes", "-backtrace", "yes", "-remove_silence", "no"], timeout, cancellationToken);
            (int fCode, string fOut, string fErr) = await forced.ConfigureAwait(false);
            (int lCode, string lOut, string lErr) = await loop.ConfigureAwait(false);
            if (fCode != 0)
            {
                throw new InvalidOperationException($"pocketsphinx_continuous failed on '{wavPath}' (exit {fCode}): {LastLines(fErr)}");
            }

            List<Segment> forcedSegs = ParseBacktrace(fOut + "\n" + fErr);
            var aligned = forcedSegs.Where(s => !s.IsFiller).ToList();
            var failSource = new LabelSource(LabelKinds.Aligner, ToolVersion, 0.0);
            if (aligned.Count != words.Count)
            {
                return new AlignmentResult(false, [], 0, failSource, prons,
                    aligned.Count == 0 ? "the decoder found no path through the transcript grammar" : $"the decoder returned {aligned.Count} of {words.Count} words");
            }

            List<Segment> phones = lCode == 0 ? ParseBacktrace(lOut + "\n" + lErr) : [];
            var spans = new List<WordSpan>(aligned.Count);
            var expectedMs = new List<double>(aligned.Count);
            double deficitSum = 0;
            int frameSum = 0;
            foreach (Segment s in aligned)
            {
                int frames = s.EndFrame - s.StartFrame + 1;
                double loopScore = 0;
                foreach (Segment p in phones)
                {
                    int overlap = Math.Min(s.EndFrame, p.EndFrame) - Math.Max(s.StartFrame, p.StartFrame) + 1;
                    if (overlap > 0)
                    {
                        loopScore += p.AcousticScore * (double)overlap / (p.EndFrame - p.StartFrame + 1);
                    }
                }

                // Without a phone-loop pass there is no evidence either way: 0.5.
                double d = phones.Count > 0 ? (loopScore - s.AcousticScore) / frames : ConfidenceMidpoint;
                deficitSum += d * frames;
                frameSum += frames;
                spans.Add(new WordSpan(s.Word, s.StartFrame * _frameMs, (s.EndFrame + 1) * _frameMs, Math.Round(ToConfidence(d), 4)));
                Pronunciation pron = prons.First(x => x.Word == s.Word);
                expectedMs.Add(WordBoundaryRefiner.ExpectedDurationMs(pron.Variants[Math.Clamp(s.Variant, 0, pron.Variants.Count - 1)]));
            }

            double confidence = Math.Round(ToConfidence(deficitSum / frameSum), 4);
            RefinedWords refined = Options.Refinement == BoundaryRefinement.None
                ? new RefinedWords(spans, false, 0, "decoder times")
                : _refiner.Refine(WavFile.ReadAllMono(audio, out _), spans, expectedMs, Options.Refinement);
            return new AlignmentResult(true, refined.Words, confidence, new LabelSource(LabelKinds.Aligner, ToolVersion, confidence), prons, null, spans, refined.Note);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // A temp directory left behind is harmless.
            }
        }
    }

    /// <summary>
    /// Decodes the audio against a grammar of alternative phrases (<paramref name="phrases"/>[0] is the expected one, the
    /// rest its competitors, e.g. <see cref="NearMisses.Generate"/>) and says which one fits best. Also decodes the expected
    /// phrase alone, so the result carries how much better, per frame, the winner explains the whole clip than the expected
    /// phrase does (0 when the expected phrase wins).
    /// </summary>
    /// <exception cref="ArgumentException">No phrases, or a phrase with no words.</exception>
    public async Task<CompetitionResult> CompeteAsync(string wavPath, IReadOnlyList<string> phrases, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(phrases);
        List<IReadOnlyList<string>> normalised = [.. phrases.Select(Normalise)];
        if (normalised.Count == 0 || normalised.Any(p => p.Count == 0))
        {
            throw new ArgumentException("Every competing phrase needs at least one word.", nameof(phrases));
        }

        string dir = Path.Combine(Path.GetTempPath(), "edgekws-compete-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string audio = PrepareAudio(wavPath, dir);
            string dictPath = Path.Combine(dir, "words.dict");
            await WriteDictionaryAsync([.. normalised.SelectMany(p => p)], dictPath, cancellationToken).ConfigureAwait(false);
            string altPath = Path.Combine(dir, "alternatives.jsgf");
            string wakePath = Path.Combine(dir, "expected.jsgf");
            await File.WriteAllTextAsync(altPath, "#JSGF V1.0;\ngrammar alternatives;\npublic <utterance> = "
                + string.Join(" | ", normalised.Select(p => "( " + string.Join(' ', p) + " )")) + ";\n", cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(wakePath, "#JSGF V1.0;\ngrammar expected;\npublic <utterance> = " + string.Join(' ', normalised[0]) + ";\n", cancellationToken).ConfigureAwait(false);
            var timeout = TimeSpan.FromSeconds(120);
            Task<(int, string, string)> alt = ExternalProcess.RunAsync(_program, ["-infile", audio, "-jsgf", altPath, "-dict", dictPath, "-backtrace", "yes", .. WideBeams], timeout, cancellationToken);
            Task<(int, string, string)> wake = ExternalProcess.RunAsync(_program, ["-infile", audio, "-jsgf", wakePath, "-dict", dictPath, "-backtrace", "yes", .. WideBeams], timeout, cancellationToken);
            (int aCode, string aOut, string aErr) = await alt.ConfigureAwait(false);
            (int wCode, string wOut, string wErr) = await wake.ConfigureAwait(false);
            if (aCode != 0 || wCode != 0)
            {
                throw new InvalidOperationException($"pocketsphinx_continuous failed on '{wavPath}' (exit {(aCode != 0 ? aCode : wCode)}): {LastLines(aCode != 0 ? aErr : wErr)}");
            }

            List<Segment> altSegs = ParseBacktrace(aOut + "\n" + aErr);
            List<Segment> wakeSegs = ParseBacktrace(wOut + "\n" + wErr);
            string decoded = string.Join(' ', altSegs.Where(s => !s.IsFiller).Select(s => s.Word));
            int winner = normalised.FindIndex(p => string.Join(' ', p) == decoded);
            if (winner < 0)
            {
                return new CompetitionResult(false, -1, decoded, null, decoded.Length == 0 ? "no path through the alternatives grammar" : $"decoded '{decoded}', which is none of the phrases");
            }

            // Both decodes cover the whole clip (fillers included), so their total acoustic scores compare directly.
            int frames = Math.Max(1, altSegs.Max(s => s.EndFrame) + 1);
            double? margin = wakeSegs.Any(s => !s.IsFiller)
                ? Math.Max(0, (altSegs.Sum(s => (double)s.AcousticScore) - wakeSegs.Sum(s => (double)s.AcousticScore)) / frames)
                : null;
            return new CompetitionResult(true, winner, phrases[winner], winner == 0 ? 0 : margin, null);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // A temp directory left behind is harmless.
            }
        }
    }

    private async Task<List<Pronunciation>> WriteDictionaryAsync(IReadOnlyList<string> words, string dictPath, CancellationToken cancellationToken)
    {
        var prons = new List<Pronunciation>();
        var dict = new StringBuilder();
        foreach (string w in words.Distinct(StringComparer.Ordinal))
        {
            Pronunciation p = await _lexicon.GetAsync(w, cancellationToken).ConfigureAwait(false);
            prons.Add(p);
            for (int v = 0; v < p.Variants.Count; v++)
            {
                dict.Append(v == 0 ? w : $"{w}({v + 1})").Append(' ').Append(p.Variants[v]).Append('\n');
            }
        }

        await File.WriteAllTextAsync(dictPath, dict.ToString(), cancellationToken).ConfigureAwait(false);
        return prons;
    }

    /// <summary>Maps the per-frame score deficit to 0..1 (see remarks).</summary>
    public static double ToConfidence(double deficitPerFrame) => 1.0 / (1.0 + Math.Exp((deficitPerFrame - ConfidenceMidpoint) / ConfidenceSlope));

    private static string PrepareAudio(string wavPath, string dir)
    {
        if (!File.Exists(wavPath))
        {
            throw new FileNotFoundException($"Audio file '{wavPath}' not found.", wavPath);
        }

        using (var reader = new WavReader(wavPath))
        {
            WavFormat f = reader.Format;
            if (f.SampleRateHz == 16_000 && f.Channels == 1 && f.BitsPerSample == 16 && f.Encoding == WavEncoding.Pcm)
            {
                return wavPath;
            }
        }

        string converted = Path.Combine(dir, "audio16k.wav");
        using var source = new AudioFileSource(wavPath, 16_000);
        using var writer = new WavWriter(converted, 16_000, 1, WavSampleFormat.Pcm16);
        float[] block = new float[4096];
        int n;
        while ((n = source.Read(block)) > 0)
        {
            writer.Write(block.AsSpan(0, n));
        }

        return converted;
    }

    private readonly record struct Segment(string Word, int StartFrame, int EndFrame, int AcousticScore, int Variant = 0)
    {
        public bool IsFiller => Word.StartsWith('<') || Word.StartsWith('[') || Word is "SIL" or "+NSN+" or "+SPN+";
    }

    // Parses the -backtrace table: "word start end pprob ascr lscr lback", ended by the next INFO line.
    private static List<Segment> ParseBacktrace(string output)
    {
        var segs = new List<Segment>();
        bool inTable = false;
        foreach (string line in output.Split('\n'))
        {
            if (!inTable)
            {
                inTable = line.StartsWith("word ", StringComparison.Ordinal) && line.Contains("ascr", StringComparison.Ordinal);
                continue;
            }

            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 7 || !int.TryParse(f[1], CultureInfo.InvariantCulture, out int sf) || !int.TryParse(f[2], CultureInfo.InvariantCulture, out int ef)
                || !int.TryParse(f[4], CultureInfo.InvariantCulture, out int ascr))
            {
                break;
            }

            // Alternative pronunciations come back as "that(2)".
            string word = f[0];
            int variant = 0;
            int paren = word.IndexOf('(');
            if (paren > 0 && word.EndsWith(')'))
            {
                variant = int.TryParse(word[(paren + 1)..^1], CultureInfo.InvariantCulture, out int v) ? v - 1 : 0;
                word = word[..paren];
            }

            segs.Add(new Segment(word, sf, ef, ascr, variant));
        }

        return segs;
    }

    private static string LastLines(string s)
    {
        string[] lines = s.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(" | ", lines.Skip(Math.Max(0, lines.Length - 3)));
    }

    [GeneratedRegex("[a-z']+")]
    private static partial Regex WordPattern();
}
