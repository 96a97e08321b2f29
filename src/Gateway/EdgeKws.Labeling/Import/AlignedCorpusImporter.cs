using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Review;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Labeling.Import;

/// <summary>Where an imported recording's speaker comes from.</summary>
public enum SpeakerSource
{
    /// <summary>The name of the directory the audio file is in (MFA's corpus layout: <c>speaker/utterance.wav</c>).</summary>
    Directory,

    /// <summary>The TextGrid word tier's speaker (MFA's "&lt;speaker&gt; - words"); other formats fall back to the directory.</summary>
    Tier,

    /// <summary>A CSV map file (<see cref="AlignedImportOptions.SpeakerMapPath"/>).</summary>
    Map,
}

/// <summary>Options of <see cref="AlignedCorpusImporter"/>.</summary>
public sealed record AlignedImportOptions
{
    /// <summary>Keyword phrases (at least one); each becomes a class.</summary>
    public required IReadOnlyList<string> Keywords { get; init; }

    /// <summary>Where speakers come from.</summary>
    public SpeakerSource SpeakerSource { get; init; } = SpeakerSource.Directory;

    /// <summary>
    /// With <see cref="SpeakerSource.Map"/>: a CSV with a header naming <c>speaker</c> and one of <c>utterance</c>, <c>file</c>
    /// or <c>recording</c> (an utterance id, an audio file name without extension, or its path under the audio directory).
    /// </summary>
    public string? SpeakerMapPath { get; init; }

    /// <summary>Alignment formats read ("textgrid", "ctm", "csv", "json"); null reads all (see <see cref="AlignedCorpusImporter.FormatOf"/>).</summary>
    public IReadOnlyList<string>? Formats { get; init; }

    /// <summary>TextGrid word tier name (exactly, or MFA's "&lt;speaker&gt; - name").</summary>
    public string WordTier { get; init; } = "words";

    /// <summary>Background windows cut from non-keyword words, at most this many per recording (see <see cref="AlignedCorpusImporter"/>).</summary>
    public int NegativesPerRecording { get; init; } = 2;

    /// <summary>Share of speakers held out for test.</summary>
    public double TestShare { get; init; } = 0.1;

    /// <summary>Share of speakers held out for validation.</summary>
    public double ValidationShare { get; init; } = 0.1;

    /// <summary>Seed of the speaker order that decides the splits.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Clip length and quality filters.</summary>
    public ExtractionOptions Extraction { get; init; } = new();
}

/// <summary>A file or utterance the import could not use, and why.</summary>
/// <param name="File">The file (alignment or audio), relative to its directory.</param>
/// <param name="Line">1-based line of the problem, 0 for the file as a whole.</param>
/// <param name="Problem">What is wrong.</param>
public sealed record ImportProblem(string File, int Line, string Problem)
{
    /// <inheritdoc/>
    public override string ToString() => Line > 0 ? $"{File}:{Line}: {Problem}" : $"{File}: {Problem}";
}

/// <summary>What an import read, cut and wrote.</summary>
public sealed record AlignedImportReport
{
    /// <summary>Alignment files found, by format ("textgrid", "ctm", "csv", "json").</summary>
    public required IReadOnlyDictionary<string, int> FilesByFormat { get; init; }

    /// <summary>Alignment files that were malformed (skipped), each with file and line.</summary>
    public required IReadOnlyList<ImportProblem> Malformed { get; init; }

    /// <summary>Utterances read from well-formed files.</summary>
    public required int Utterances { get; init; }

    /// <summary>Utterances cut (paired with audio, speaker known, audio readable and long enough).</summary>
    public required int Recordings { get; init; }

    /// <summary>Utterances skipped: no audio, ambiguous audio, no speaker, unreadable audio, alignment past the audio's end.</summary>
    public required IReadOnlyList<ImportProblem> Skipped { get; init; }

    /// <summary>Keyword occurrences per keyword in the cut recordings.</summary>
    public required IReadOnlyDictionary<string, int> Occurrences { get; init; }

    /// <summary>Keyword clips that passed every filter (dataset positives).</summary>
    public required int Accepted { get; init; }

    /// <summary>Keyword clips queued for review (borderline confidence).</summary>
    public required int Review { get; init; }

    /// <summary>Keyword clips that failed a filter, by reason kind (queued with the full reason).</summary>
    public required IReadOnlyDictionary<string, int> RejectedByReason { get; init; }

    /// <summary>Background windows written (dataset class 0).</summary>
    public required int Negatives { get; init; }

    /// <summary>Candidate background windows a filter refused (not queued: nobody needs to review a noisy negative).</summary>
    public required int NegativesFiltered { get; init; }

    /// <summary>Speakers per split.</summary>
    public required IReadOnlyDictionary<string, int> SpeakersBySplit { get; init; }

    /// <summary>The dataset written, null when no example was left.</summary>
    public DatasetExportResult? Dataset { get; init; }

    /// <summary>Keyword clips rejected in total.</summary>
    public int Rejected => RejectedByReason.Values.Sum();

    /// <summary>The report as text lines (what the CLI prints and writes to import-report.txt).</summary>
    public IEnumerable<string> Lines()
    {
        yield return $"alignment files: {FilesByFormat.Values.Sum()} ({string.Join(", ", FilesByFormat.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"))}); malformed (skipped): {Malformed.Count}";
        foreach (ImportProblem m in Malformed)
        {
            yield return "  malformed: " + m;
        }

        yield return $"utterances: {Utterances} read, {Recordings} cut, {Skipped.Count} skipped";
        foreach (ImportProblem s in Skipped)
        {
            yield return "  skipped: " + s;
        }

        yield return $"keyword occurrences: {Occurrences.Values.Sum()} ({string.Join(", ", Occurrences.Select(k => $"{k.Key} {k.Value}"))})";
        yield return $"keyword clips: {Accepted} accepted, {Review} to review, {Rejected} rejected (queued with the reason)";
        foreach ((string reason, int n) in RejectedByReason.OrderByDescending(k => k.Value).ThenBy(k => k.Key, StringComparer.Ordinal))
        {
            yield return $"  rejected {n,4}  {reason}";
        }

        yield return $"background windows: {Negatives} ({NegativesFiltered} candidates refused by the filters)";
        yield return $"speakers: {string.Join(", ", SplitNames.All.Select(s => $"{s} {SpeakersBySplit.GetValueOrDefault(s)}"))}";
        if (Dataset is { } d)
        {
            yield return $"dataset {d.DatasetId}: " + string.Join(", ", d.CountsBySplit.Select(k => $"{k.Key} {k.Value}"));
            yield return "leakage check: passed (speaker, sourceRecording, augmentedFrom)";
        }
        else
        {
            yield return "dataset: not written (no example)";
        }
    }
}

/// <summary>
/// Imports an aligned corpus (how MSWC was built: audio plus word alignments from a forced aligner such as MFA) as a
/// dataset. Reads every alignment file under a directory (TextGrid long or short, Kaldi CTM, CSV or JSON word tables),
/// pairs each utterance with the audio file of the same name (an utterance id or the alignment file's name; when several
/// audio files share it, the one in the same relative directory), and:
/// <list type="bullet">
/// <item>cuts a 1 s clip centred on every keyword occurrence (a keyword = consecutive aligned words, or one interval holding
/// the whole phrase) with <see cref="KeywordClipExtractor"/>'s filters: accepted clips become dataset positives, the rest
/// go to the review queue with the reason;</item>
/// <item>cuts background windows from non-keyword words: a word is a candidate when it lasts as long as a keyword may
/// (the filters' duration bounds) and its 1 s window holds no part of a keyword occurrence; at most
/// <see cref="AlignedImportOptions.NegativesPerRecording"/> per recording, spread over the candidates in time order; a
/// candidate the filters refuse (clipping, SNR) is dropped, not queued;</item>
/// <item>splits speakers (from the directory, the TextGrid tier or a map file) into train/validation/test and exports the
/// dataset with the device's MFCC code and the leakage check (<see cref="DatasetExporter"/>).</item>
/// </list>
/// A malformed alignment file is reported with its file and line and skipped; the import goes on.
/// </summary>
public sealed class AlignedCorpusImporter(AlignedImportOptions options)
{
    /// <summary>The split rule written into dataset.json.</summary>
    public const string SplitRule = "speaker-independent: speakers ordered by SHA-256 of (seed, speaker); test then validation take their shares (at least one each from 3 speakers), the rest train";

    private readonly AlignedImportOptions _o = options ?? throw new ArgumentNullException(nameof(options));
    private readonly KeywordClipExtractor _extractor = new(options.Extraction);

    private sealed record Utterance(string AlignmentFile, string Id, IReadOnlyList<WordSpan> Words, LabelSource Source, string? TierSpeaker);

    /// <summary>Imports; writes the dataset, <c>review.db</c>, clips and <c>import-report.txt</c> into <paramref name="outputDirectory"/>.</summary>
    /// <exception cref="ArgumentException">No keyword, a missing directory, or a speaker map that cannot be read.</exception>
    /// <exception cref="LabelFormatException">The speaker map is malformed (names the line).</exception>
    /// <exception cref="DatasetLeakageException">The splits leak (cannot happen with speaker-level splits unless one recording has two speakers).</exception>
    public AlignedImportReport Run(string alignmentsDirectory, string audioDirectory, string outputDirectory)
    {
        string[][] phrases = [.. _o.Keywords.Select(k => PocketSphinxAligner.Normalise(k).ToArray())];
        if (phrases.Length == 0 || phrases.Any(p => p.Length == 0))
        {
            throw new ArgumentException("At least one keyword with words is needed (--keyword PHRASE).");
        }

        foreach (string d in new[] { alignmentsDirectory, audioDirectory })
        {
            if (!System.IO.Directory.Exists(d))
            {
                throw new ArgumentException($"Directory '{d}' does not exist.");
            }
        }

        if (_o.SpeakerSource == SpeakerSource.Map && (_o.SpeakerMapPath is null || !File.Exists(_o.SpeakerMapPath)))
        {
            throw new ArgumentException($"The speaker map '{_o.SpeakerMapPath}' does not exist (--speaker-map FILE).");
        }

        Dictionary<string, string> map = _o.SpeakerSource == SpeakerSource.Map ? ReadSpeakerMap(_o.SpeakerMapPath!) : [];
        System.IO.Directory.CreateDirectory(outputDirectory);
        var formats = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var malformed = new List<ImportProblem>();
        var utterances = new List<Utterance>();
        foreach (string file in System.IO.Directory.EnumerateFiles(alignmentsDirectory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string? format = FormatOf(file);
            if (format is null || (_o.Formats is not null && !_o.Formats.Contains(format, StringComparer.Ordinal)))
            {
                continue;
            }

            formats[format] = formats.GetValueOrDefault(format) + 1;
            string rel = Relative(alignmentsDirectory, file);
            try
            {
                utterances.AddRange(Read(file, rel, format));
            }
            catch (LabelFormatException e)
            {
                malformed.Add(new ImportProblem(rel, e.Line, e.Problem));
            }
            catch (IOException e)
            {
                malformed.Add(new ImportProblem(rel, 0, e.Message));
            }
        }

        Dictionary<string, List<string>> audioByStem = System.IO.Directory.EnumerateFiles(audioDirectory, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
            .GroupBy(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Order(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);

        var skipped = new List<ImportProblem>();
        var occurrences = _o.Keywords.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        var rejected = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var examples = new List<(DatasetExample Example, string Speaker)>();
        int recordings = 0, accepted = 0, review = 0, negatives = 0, negativesFiltered = 0;
        var usedRecordings = new HashSet<string>(StringComparer.Ordinal);
        using var queue = new SqliteReviewQueue(Path.Combine(outputDirectory, "review.db"));
        foreach (Utterance u in utterances)
        {
            if (!TryPair(u, audioByStem, audioDirectory, out string? wav, out string? why))
            {
                skipped.Add(new ImportProblem(u.AlignmentFile, 0, why!));
                continue;
            }

            string recording = Relative(audioDirectory, wav!);
            if (!usedRecordings.Add(recording))
            {
                skipped.Add(new ImportProblem(u.AlignmentFile, 0, $"utterance '{u.Id}': audio '{recording}' is already paired with another utterance"));
                continue;
            }

            string? speaker = SpeakerOf(u, recording, map);
            if (speaker is null)
            {
                skipped.Add(new ImportProblem(u.AlignmentFile, 0, $"utterance '{u.Id}': no speaker for '{recording}' in the speaker map"));
                continue;
            }

            float[] audio;
            try
            {
                audio = KeywordExtractionPipeline.ReadMono16k(wav!);
            }
            catch (Exception e) when (e is WavFormatException or IOException or InvalidDataException)
            {
                skipped.Add(new ImportProblem(recording, 0, "audio not readable: " + e.Message));
                continue;
            }

            double audioMs = audio.Length * 1000.0 / KeywordClipExtractor.SampleRateHz;
            if (u.Words.Count > 0 && u.Words[^1].EndMs > audioMs + 50)
            {
                skipped.Add(new ImportProblem(u.AlignmentFile, 0, $"utterance '{u.Id}': the alignment ends at {u.Words[^1].EndMs:0} ms, after the audio '{recording}' ({audioMs:0} ms): wrong pair?"));
                continue;
            }

            recordings++;
            List<(WordSpan Span, string Keyword, int First, int Last)> found = FindKeywords(u.Words, phrases);
            foreach ((WordSpan span, string keyword, _, _) in found)
            {
                occurrences[keyword]++;
                ExtractedClip clip = _extractor.Extract(audio, recording, span, u.Source with { Confidence = span.Confidence ?? u.Source.Confidence });
                string folder = clip.Outcome == ClipOutcome.Accepted ? Path.Combine("accepted", keyword.Replace(' ', '_')) : "review";
                string clipFile = Path.Combine(outputDirectory, "clips", folder, SafeName(clip.ClipId) + ".wav");
                System.IO.Directory.CreateDirectory(Path.GetDirectoryName(clipFile)!);
                WavFile.Write(clipFile, clip.Samples, KeywordClipExtractor.SampleRateHz, WavSampleFormat.Pcm16);
                if (clip.Outcome == ClipOutcome.Accepted)
                {
                    accepted++;
                    examples.Add((new DatasetExample(clip.ClipId, "", keyword, speaker, recording, wav!, clip.ClipStartMs, clip.Source), speaker));
                    continue;
                }

                if (clip.Outcome == ClipOutcome.Review)
                {
                    review++;
                }
                else
                {
                    string kind = ReasonKind(clip.Reason!);
                    rejected[kind] = rejected.GetValueOrDefault(kind) + 1;
                }

                queue.Enqueue(new ReviewItem(0, clip.ClipId, ReviewSubject.KeywordClip, recording, clipFile, keyword, span.StartMs, span.EndMs,
                    (clip.Outcome == ClipOutcome.Rejected ? "rejected: " : "review: ") + clip.Reason + $" (alignment {u.AlignmentFile})", clip.Source));
            }

            foreach (WordSpan w in PickNegatives(u.Words, found))
            {
                ExtractedClip clip = _extractor.Extract(audio, recording, w, u.Source with { Confidence = w.Confidence ?? u.Source.Confidence });
                if (clip.Outcome != ClipOutcome.Accepted)
                {
                    negativesFiltered++;
                    continue;
                }

                negatives++;
                examples.Add((new DatasetExample(clip.ClipId, "", DatasetExporter.BackgroundClass, speaker, recording, wav!, clip.ClipStartMs, clip.Source), speaker));
            }
        }

        Dictionary<string, string> splitOf = AssignSplits(examples.Select(e => e.Speaker));
        DatasetExample[] final = [.. examples.Select(e => e.Example with { Split = splitOf[e.Speaker] })];
        DatasetExportResult? result = final.Length == 0 ? null : new DatasetExporter().Export(final, _o.Keywords, outputDirectory,
            [new DatasetSource("alignments", Path.GetFullPath(alignmentsDirectory)), new DatasetSource("audio", Path.GetFullPath(audioDirectory))], SplitRule);
        var report = new AlignedImportReport
        {
            FilesByFormat = formats,
            Malformed = malformed,
            Utterances = utterances.Count,
            Recordings = recordings,
            Skipped = skipped,
            Occurrences = occurrences,
            Accepted = accepted,
            Review = review,
            RejectedByReason = rejected,
            Negatives = negatives,
            NegativesFiltered = negativesFiltered,
            SpeakersBySplit = splitOf.GroupBy(k => k.Value).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            Dataset = result,
        };
        File.WriteAllLines(Path.Combine(outputDirectory, "import-report.txt"), report.Lines());
        return report;
    }

    /// <summary>The format an alignment file is read as (by extension), or null when it is not an alignment file.</summary>
    public static string? FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".textgrid" => "textgrid",
        ".ctm" => "ctm",
        ".csv" => "csv",
        ".json" => "json",
        _ => null,
    };

    private IEnumerable<Utterance> Read(string file, string rel, string format)
    {
        switch (format)
        {
            case "textgrid":
                {
                    WordAlignment a = TextGridReader.ReadWords(file, _o.WordTier, out string? speaker);
                    return [new Utterance(rel, a.Utterance, a.Words, a.Source, speaker)];
                }

            case "ctm":
                return [.. CtmReader.Read(file).Select(a => new Utterance(rel, a.Utterance, a.Words, a.Source, null))];
            case "csv":
                return [.. WordIntervalTableReader.ReadCsv(file).Select(a => new Utterance(rel, a.Utterance, a.Words, a.Source, null))];
            default:
                {
                    WordAlignment a = WordIntervalTableReader.ReadJson(file);
                    return [new Utterance(rel, a.Utterance, a.Words, a.Source, null)];
                }
        }
    }

    private static bool TryPair(Utterance u, Dictionary<string, List<string>> audioByStem, string audioDirectory, out string? wav, out string? why)
    {
        wav = null;
        why = null;
        if (!audioByStem.TryGetValue(u.Id, out List<string>? candidates))
        {
            why = $"utterance '{u.Id}': no audio file '{u.Id}.wav' under the audio directory";
            return false;
        }

        if (candidates.Count > 1)
        {
            // Same relative directory as the alignment file decides (MFA mirrors the corpus layout).
            string dir = Path.GetDirectoryName(u.AlignmentFile) ?? "";
            var same = candidates.Where(c => string.Equals(Path.GetDirectoryName(Relative(audioDirectory, c)) ?? "", dir, StringComparison.Ordinal)).ToList();
            if (same.Count != 1)
            {
                why = $"utterance '{u.Id}': {candidates.Count} audio files are named '{u.Id}.wav' and the alignment's directory does not pick one";
                return false;
            }

            candidates = same;
        }

        wav = candidates[0];
        return true;
    }

    private string? SpeakerOf(Utterance u, string recording, Dictionary<string, string> map)
    {
        string directory = Path.GetDirectoryName(recording) is { Length: > 0 } d ? Path.GetFileName(d) : "";
        return _o.SpeakerSource switch
        {
            SpeakerSource.Map => map.GetValueOrDefault(u.Id) ?? map.GetValueOrDefault(recording) ?? map.GetValueOrDefault(Path.GetFileNameWithoutExtension(recording)),
            SpeakerSource.Tier when u.TierSpeaker is not null => u.TierSpeaker,
            // A file directly in the audio directory has no speaker directory: it is its own speaker (never split across).
            _ => directory.Length > 0 ? directory : "recording:" + recording,
        };
    }

    private static Dictionary<string, string> ReadSpeakerMap(string path)
    {
        string[] lines = File.ReadAllLines(path);
        int header = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (header < 0)
        {
            throw new LabelFormatException(path, 0, "the speaker map is empty; expected a header such as 'utterance,speaker'.");
        }

        string[] names = [.. lines[header].Split(',').Select(h => h.Trim().ToLowerInvariant())];
        int speaker = Array.IndexOf(names, "speaker");
        int key = new[] { "utterance", "file", "recording" }.Select(n => Array.IndexOf(names, n)).FirstOrDefault(i => i >= 0, -1);
        if (speaker < 0 || key < 0)
        {
            throw new LabelFormatException(path, header + 1, $"the header must name 'speaker' and one of 'utterance', 'file', 'recording'; it is '{lines[header]}'.");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = header + 1; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }

            string[] f = lines[i].Split(',');
            if (f.Length != names.Length || f[speaker].Trim().Length == 0 || f[key].Trim().Length == 0)
            {
                throw new LabelFormatException(path, i + 1, $"expected {names.Length} fields with a speaker and a key; the row is '{lines[i]}'.");
            }

            string k = f[key].Trim();
            if (!map.TryAdd(k, f[speaker].Trim()) && map[k] != f[speaker].Trim())
            {
                throw new LabelFormatException(path, i + 1, $"'{k}' is mapped to two speakers ('{map[k]}' and '{f[speaker].Trim()}').");
            }
        }

        return map;
    }

    // Phrases match whole intervals: a match starts at an interval's first word and ends at an interval's last, so
    // "hey edge" matches the intervals "hey" + "edge" or one interval "hey edge", never half of "hey edgar".
    private List<(WordSpan Span, string Keyword, int First, int Last)> FindKeywords(IReadOnlyList<WordSpan> intervals, string[][] phrases)
    {
        var tokens = new List<(string Word, int Interval, bool First, bool Last)>();
        for (int i = 0; i < intervals.Count; i++)
        {
            IReadOnlyList<string> ws = PocketSphinxAligner.Normalise(intervals[i].Word);
            for (int k = 0; k < ws.Count; k++)
            {
                tokens.Add((ws[k], i, k == 0, k == ws.Count - 1));
            }
        }

        var found = new List<(WordSpan, string, int, int)>();
        for (int t = 0; t < tokens.Count; t++)
        {
            for (int p = 0; p < phrases.Length; p++)
            {
                string[] phrase = phrases[p];
                if (!tokens[t].First || t + phrase.Length > tokens.Count || !tokens[t + phrase.Length - 1].Last)
                {
                    continue;
                }

                bool match = true;
                for (int k = 0; k < phrase.Length && match; k++)
                {
                    match = tokens[t + k].Word == phrase[k];
                }

                if (match)
                {
                    int first = tokens[t].Interval, last = tokens[t + phrase.Length - 1].Interval;
                    double? confidence = intervals.Skip(first).Take(last - first + 1).Select(w => w.Confidence).Min();
                    found.Add((new WordSpan(string.Join(' ', phrase), intervals[first].StartMs, intervals[last].EndMs, confidence), _o.Keywords[p], first, last));
                }
            }
        }

        return found;
    }

    private IEnumerable<WordSpan> PickNegatives(IReadOnlyList<WordSpan> intervals, List<(WordSpan Span, string Keyword, int First, int Last)> keywords)
    {
        if (_o.NegativesPerRecording <= 0)
        {
            return [];
        }

        double half = _o.Extraction.ClipMs / 2.0;
        var candidates = intervals.Where((w, i) =>
            !keywords.Any(k => i >= k.First && i <= k.Last)
            && w.DurationMs >= _o.Extraction.MinWordMs && w.DurationMs <= _o.Extraction.MaxWordMs
            && !keywords.Any(k => k.Span.StartMs < w.MidMs + half && k.Span.EndMs > w.MidMs - half)).ToList();
        int n = Math.Min(_o.NegativesPerRecording, candidates.Count);
        // Spread over the recording: the (i + 0.5) / n quantiles of the candidates in time order.
        return Enumerable.Range(0, n).Select(i => candidates[(int)((i + 0.5) * candidates.Count / n)]);
    }

    private Dictionary<string, string> AssignSplits(IEnumerable<string> speakers)
    {
        string[] ordered = [.. speakers.Distinct(StringComparer.Ordinal).OrderBy(s => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(_o.Seed.ToString(CultureInfo.InvariantCulture) + "/" + s))), StringComparer.Ordinal)];
        int n = ordered.Length;
        int test = n >= 3 ? Math.Max(1, (int)Math.Round(n * _o.TestShare)) : n == 2 ? 1 : 0;
        int validation = n >= 3 ? Math.Max(1, (int)Math.Round(n * _o.ValidationShare)) : 0;
        var split = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            split[ordered[i]] = i < test ? SplitNames.Test : i < test + validation ? SplitNames.Validation : SplitNames.Train;
        }

        return split;
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    private static string SafeName(string id) => string.Concat(id.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '@' ? c : '_'));

    private static string ReasonKind(string reason) =>
        reason.Contains("SNR", StringComparison.Ordinal) ? "SNR" :
        reason.Contains("clipping", StringComparison.Ordinal) ? "clipping" :
        reason.Contains("confidence", StringComparison.Ordinal) ? "alignment confidence" :
        reason.Contains("word lasts", StringComparison.Ordinal) ? "word duration" : "other";
}
