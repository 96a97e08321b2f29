using System.CommandLine;
using System.CommandLine.Parsing;
using EdgeKws.Labeling;
using EdgeKws.Labeling.Dataset;
using EdgeKws.Labeling.Import;
using EdgeKws.Tools.CommandLine;

namespace EdgeKws.Dataset;

/// <summary><c>edgekws-dataset import --alignments DIR --audio DIR --keyword PHRASE... --out DIR</c>: the subcommand and its action.</summary>
public static class ImportCommand
{
    /// <summary>The <c>import</c> subcommand of <see cref="DatasetCommand.Create"/>.</summary>
    public static Command Create()
    {
        var defaults = new AlignedImportOptions { Keywords = [] };
        Option<string> alignmentsOption = new("--alignments") { HelpName = "DIR", Description = "alignment files, read recursively" };
        Option<string> audioOption = new("--audio") { HelpName = "DIR", Description = "WAV files: each utterance's audio has its name (an utterance id, else the alignment file's name)" };
        Option<string> outOption = new("--out") { HelpName = "DIR", Description = "dataset directory; also OUT/review.db, OUT/clips/ and OUT/import-report.txt" };
        Option<string[]> keywordOption = new("--keyword") { HelpName = "PHRASE", Arity = ArgumentArity.OneOrMore, Description = "a keyword class (repeat for several)" };
        Option<SpeakerSource> speakerFromOption = new("--speaker-from")
        {
            HelpName = "dir|tier|map",
            DefaultValueFactory = _ => defaults.SpeakerSource,
            CustomParser = ParseSpeakerSource,
            Description = "dir: the audio file's directory name is the speaker (MFA corpus layout); tier: the TextGrid tier's speaker (\"<speaker> - words\"), other files the directory; "
                + "map: --speaker-map FILE",
        };
        Option<string> speakerMapOption = new("--speaker-map") { HelpName = "FILE", Description = "CSV with 'speaker' and 'utterance' (or 'file', 'recording'); implies --speaker-from map" };
        Option<string> tierOption = new("--tier") { HelpName = "NAME", DefaultValueFactory = _ => defaults.WordTier, Description = "TextGrid word tier" };
        Option<string[]> formatOption = new("--format")
        {
            HelpName = "F",
            Arity = ArgumentArity.OneOrMore,
            Description = "read only these formats (repeat; default all), e.g. --format textgrid on a corpus whose audio has TextGrid, CTM and JSON sidecars",
        };
        formatOption.Validators.Add(result =>
        {
            foreach (string format in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (format is not ("textgrid" or "ctm" or "csv" or "json"))
                {
                    result.AddError($"--format must be textgrid, ctm, csv or json (got '{format}').");
                }
            }
        });
        Option<int> negativesOption = new Option<int>("--negatives-per-recording")
        {
            HelpName = "N",
            DefaultValueFactory = _ => defaults.NegativesPerRecording,
            Description = "background windows (holding no keyword) per recording at most",
        }.MustBe(n => n >= 0, ">= 0");
        Option<double> testShareOption = ShareOption("--test-share", defaults.TestShare);
        Option<double> validationShareOption = ShareOption("--validation-share", defaults.ValidationShare);
        Option<long> seedOption = new("--seed") { HelpName = "N", DefaultValueFactory = _ => defaults.Seed, Description = "orders speakers before the split" };
        var command = new Command("import", """
            Reads every alignment file under --alignments: MFA TextGrid (long or short text format, UTF-8/UTF-16, LF or CRLF), Kaldi CTM (*.ctm, many utterances per file), CSV (*.csv: word,start_ms,end_ms or start,end in seconds) and JSON word tables (*.json). Each utterance is paired with the WAV file of the same name under --audio. For every keyword occurrence a 1 s clip centred on it is cut and filtered (duration, clipping, SNR, confidence where the file has one): accepted clips are dataset positives, the others go to OUT/review.db with the reason. Non-keyword words give background windows. A malformed file is reported with file and line and skipped. Writes the dataset (edgekws-dataset/1, device MFCCs, lineage per clip, speaker-disjoint splits, leakage check), OUT/clips/ and OUT/import-report.txt; exits 0 when a dataset was written, 1 when nothing could be used.
            """)
        {
            alignmentsOption, audioOption, outOption, keywordOption, speakerFromOption, speakerMapOption, tierOption, formatOption, negativesOption,
            testShareOption, validationShareOption, seedOption,
        };
        command.Requires(alignmentsOption, audioOption, keywordOption, outOption);
        command.SetAction(parse =>
        {
            string[] formats = parse.GetValue(formatOption) ?? [];
            var options = defaults with
            {
                Keywords = parse.GetRequiredValue(keywordOption),
                SpeakerSource = parse.GetValue(speakerFromOption),
                SpeakerMapPath = parse.GetValue(speakerMapOption),
                WordTier = parse.GetRequiredValue(tierOption),
                Formats = formats.Length > 0 ? formats : null,
                NegativesPerRecording = parse.GetValue(negativesOption),
                TestShare = parse.GetValue(testShareOption),
                ValidationShare = parse.GetValue(validationShareOption),
                Seed = parse.GetValue(seedOption),
            };
            return Run(parse.GetRequiredValue(alignmentsOption), parse.GetRequiredValue(audioOption), parse.GetRequiredValue(outOption), options,
                parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    private static Option<double> ShareOption(string name, double defaultShare) =>
        new Option<double>(name)
        {
            HelpName = "X",
            DefaultValueFactory = _ => defaultShare,
            Description = "share of speakers held out (at least one speaker each from 3 speakers)",
        }.MustBe(x => x is >= 0 and < 0.5, "in [0, 0.5)");

    private static SpeakerSource ParseSpeakerSource(ArgumentResult result)
    {
        string value = result.Tokens[0].Value;
        if (Enum.TryParse(value == "dir" ? "Directory" : value, ignoreCase: true, out SpeakerSource s) && Enum.IsDefined(s))
        {
            return s;
        }

        result.AddError($"--speaker-from must be dir, tier or map (got '{value}').");
        return default;
    }

    private static int Run(string alignments, string audio, string output, AlignedImportOptions options, TextWriter stdout, TextWriter stderr)
    {
        if (options.SpeakerMapPath is not null && options.SpeakerSource != SpeakerSource.Map)
        {
            options = options with { SpeakerSource = SpeakerSource.Map };
        }

        try
        {
            AlignedImportReport report = new AlignedCorpusImporter(options).Run(alignments, audio, output);
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
}
