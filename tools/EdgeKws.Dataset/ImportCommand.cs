using System.Globalization;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Import;

namespace EdgeKws.Dataset;

/// <summary><c>edgekws-dataset import --alignments DIR --audio DIR --keyword PHRASE... --out DIR</c>: parse and run.</summary>
public static class ImportCommand
{
    /// <summary>Usage text of the import command.</summary>
    public const string Usage = """
        usage: edgekws-dataset import --alignments DIR --audio DIR --keyword PHRASE [--keyword PHRASE]... --out DIR
                                      [--speaker-from dir|tier|map] [--speaker-map FILE] [--tier NAME] [--format F]...
                                      [--negatives-per-recording N] [--test-share X] [--validation-share X] [--seed N]

          Reads every alignment file under --alignments: MFA TextGrid (long or short text format, UTF-8/UTF-16,
          LF or CRLF), Kaldi CTM (*.ctm, many utterances per file), CSV (*.csv: word,start_ms,end_ms or start,end
          in seconds) and JSON word tables (*.json). Each utterance is paired with the WAV file of the same name
          under --audio (an utterance id, else the alignment file's name). For every keyword occurrence a 1 s clip
          centred on it is cut and filtered (duration, clipping, SNR, confidence where the file has one): accepted
          clips are dataset positives, the others go to OUT/review.db with the reason. Non-keyword words give
          background windows (at most --negatives-per-recording, default 2, whose window holds no keyword).
          A malformed file is reported with file and line and skipped. Writes the dataset (edgekws-dataset/1,
          device MFCCs, lineage per clip, speaker-disjoint splits, leakage check), OUT/clips/ and
          OUT/import-report.txt; exits 0 when a dataset was written, 1 when nothing could be used.

          --speaker-from dir   the audio file's directory name is the speaker (MFA corpus layout; default)
          --speaker-from tier  the TextGrid tier's speaker ("<speaker> - words"); other files: the directory
          --speaker-from map   --speaker-map FILE: CSV with 'speaker' and 'utterance' (or 'file', 'recording')
          --tier NAME          TextGrid word tier (default words)
          --format F           read only these formats (textgrid, ctm, csv, json; repeat; default all), e.g.
                               --format textgrid on a corpus whose audio has TextGrid, CTM and JSON sidecars
          --test-share X, --validation-share X   shares of speakers held out (default 0.1 each, at least one
                               speaker each from 3 speakers); --seed N orders speakers (default 1)
        """;

    /// <summary>Runs the command; returns the process exit code (0 ok, 1 failed, 2 usage).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count > 1 && args[1] is "-h" or "--help")
        {
            stdout.WriteLine(Usage);
            return 0;
        }

        string? alignments = null, audio = null, output = null;
        var keywords = new List<string>();
        var options = new AlignedImportOptions { Keywords = [] };
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            string? value = i + 1 < args.Count ? args[++i] : null;
            switch (a)
            {
                case "--alignments" when value is not null: alignments = value; break;
                case "--audio" when value is not null: audio = value; break;
                case "--out" when value is not null: output = value; break;
                case "--keyword" when value is not null: keywords.Add(value); break;
                case "--speaker-from" when Enum.TryParse(value == "dir" ? "Directory" : value, ignoreCase: true, out SpeakerSource s) && Enum.IsDefined(s):
                    options = options with { SpeakerSource = s };
                    break;
                case "--speaker-map" when value is not null: options = options with { SpeakerMapPath = value }; break;
                case "--tier" when value is not null: options = options with { WordTier = value }; break;
                case "--format" when value is "textgrid" or "ctm" or "csv" or "json": options = options with { Formats = [.. options.Formats ?? [], value] }; break;
                case "--negatives-per-recording" when int.TryParse(value, out int n) && n >= 0: options = options with { NegativesPerRecording = n }; break;
                case "--test-share" when TryShare(value, out double x): options = options with { TestShare = x }; break;
                case "--validation-share" when TryShare(value, out double x): options = options with { ValidationShare = x }; break;
                case "--seed" when long.TryParse(value, out long seed): options = options with { Seed = seed }; break;
                default:
                    stderr.WriteLine($"edgekws-dataset: import: unknown option or bad value '{a} {value}'.");
                    stderr.WriteLine(Usage);
                    return 2;
            }
        }

        if (alignments is null || audio is null || output is null || keywords.Count == 0)
        {
            stderr.WriteLine("edgekws-dataset: import needs --alignments DIR --audio DIR --keyword PHRASE --out DIR.");
            stderr.WriteLine(Usage);
            return 2;
        }

        if (options.SpeakerMapPath is not null && options.SpeakerSource != SpeakerSource.Map)
        {
            options = options with { SpeakerSource = SpeakerSource.Map };
        }

        try
        {
            AlignedImportReport report = new AlignedCorpusImporter(options with { Keywords = keywords }).Run(alignments, audio, output);
            foreach (string line in report.Lines())
            {
                stdout.WriteLine(line);
            }

            stdout.WriteLine($"wrote {output} (dataset, review.db, clips/, import-report.txt)");
            return report.Dataset is null ? 1 : 0;
        }
        catch (DatasetLeakageException e)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
        catch (Exception e) when (e is ArgumentException or LabelFormatException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine("edgekws-dataset: " + e.Message);
            return 1;
        }
    }

    private static bool TryShare(string? value, out double share) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out share) && share is >= 0 and < 0.5;
}
