using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Labeling.Review;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Labeling.Import;

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

    /// <summary>Imports; writes the dataset, <c>review.db</c>, clips and <c>import-report.txt</c> into <paramref name="outputDirectory"/>.</summary>
    /// <exception cref="ArgumentException">No keyword, a missing directory, or a speaker map that cannot be read.</exception>
    /// <exception cref="LabelFormatException">The speaker map is malformed (names the line).</exception>
    /// <exception cref="DatasetLeakageException">The splits leak (cannot happen with speaker-level splits unless one recording has two speakers).</exception>
    public AlignedImportReport Run(string alignmentsDirectory, string audioDirectory, string outputDirectory)
    {
        var picker = new AlignedWordPicker(_o);

        foreach (string d in new[] { alignmentsDirectory, audioDirectory })
        {
            if (!System.IO.Directory.Exists(d))
            {
                throw new ArgumentException($"Directory '{d}' does not exist.");
            }
        }

        var speakers = new SpeakerResolver(_o.SpeakerSource, _o.SpeakerMapPath);
        System.IO.Directory.CreateDirectory(outputDirectory);
        var formats = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var malformed = new List<ImportProblem>();
        var utterances = new List<AlignedUtterance>();
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

        var pairing = new UtteranceAudioPairing(audioDirectory);

        var skipped = new List<ImportProblem>();
        var occurrences = _o.Keywords.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        var rejected = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var examples = new List<(DatasetExample Example, string Speaker)>();
        int recordings = 0, accepted = 0, review = 0, negatives = 0, negativesFiltered = 0;
        var usedRecordings = new HashSet<string>(StringComparer.Ordinal);
        using var queue = new SqliteReviewQueue(Path.Combine(outputDirectory, "review.db"));
        foreach (AlignedUtterance u in utterances)
        {
            if (!pairing.TryPair(u, out string? wav, out string? why))
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

            string? speaker = speakers.SpeakerOf(u, recording);
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
            List<KeywordOccurrence> found = picker.FindKeywords(u.Words);
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

            foreach (WordSpan w in picker.PickNegatives(u.Words, found))
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

    private IEnumerable<AlignedUtterance> Read(string file, string rel, string format)
    {
        switch (format)
        {
            case "textgrid":
                {
                    WordAlignment a = TextGridReader.ReadWords(file, _o.WordTier, out string? speaker);
                    return [new AlignedUtterance(rel, a.Utterance, a.Words, a.Source, speaker)];
                }

            case "ctm":
                return [.. CtmReader.Read(file).Select(a => new AlignedUtterance(rel, a.Utterance, a.Words, a.Source, null))];
            case "csv":
                return [.. WordIntervalTableReader.ReadCsv(file).Select(a => new AlignedUtterance(rel, a.Utterance, a.Words, a.Source, null))];
            default:
                {
                    WordAlignment a = WordIntervalTableReader.ReadJson(file);
                    return [new AlignedUtterance(rel, a.Utterance, a.Words, a.Source, null)];
                }
        }
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

    /// <summary><paramref name="path"/> relative to <paramref name="root"/>, with '/' separators (how files are named in reports and lineage).</summary>
    internal static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    private static string SafeName(string id) => string.Concat(id.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '@' ? c : '_'));

    private static string ReasonKind(string reason) =>
        reason.Contains("SNR", StringComparison.Ordinal) ? "SNR" :
        reason.Contains("clipping", StringComparison.Ordinal) ? "clipping" :
        reason.Contains("confidence", StringComparison.Ordinal) ? "alignment confidence" :
        reason.Contains("word lasts", StringComparison.Ordinal) ? "word duration" : "other";
}
