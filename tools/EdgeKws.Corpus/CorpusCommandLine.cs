using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using EdgeKws.Corpus.Mixing;
using EdgeKws.Tools.CommandLine;

namespace EdgeKws.Corpus;

/// <summary>
/// <c>edgekws-corpus generate --out DIR [options]</c> (System.CommandLine) into <see cref="CorpusOptions"/>. Options apply
/// in the order given, so <c>--small</c> followed by <c>--speakers 12</c> overrides the preset's count. The ranges are
/// <see cref="CorpusOptions.Validate"/>'s, run as the command's validator: a bad value is a usage error (exit 2).
/// </summary>
public static class CorpusCommandLine
{
    /// <summary>Parses and runs <c>generate</c>: progress and summary on <paramref name="stdout"/>; exit 0 ok, 1 failed, 2 usage.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) =>
        ToolCommandLine.Invoke(Create(), args, stdout, stderr);

    /// <summary>Parses arguments (<c>generate ...</c>) without running; throws <see cref="ArgumentException"/> with the usage errors, each naming its option.</summary>
    public static CorpusOptions Parse(IReadOnlyList<string> args)
    {
        var generate = new GenerateCommand();
        ParseResult parse = new Command("edgekws-corpus") { generate.Command }.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, parse.Errors.Select(e => e.Message)));
        }

        return generate.Options(parse.CommandResult);
    }

    /// <summary>The root command with its <c>generate</c> subcommand; <see cref="Run"/> parses and invokes it.</summary>
    public static Command Create()
    {
        var generate = new GenerateCommand();
        generate.Command.SetAction(parse =>
        {
            TextWriter stdout = parse.InvocationConfiguration.Output;
            try
            {
                CorpusGenerator.GenerateAsync(generate.Options(parse.CommandResult), stdout.WriteLine).GetAwaiter().GetResult();
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"edgekws-corpus: {e.Message}");
                return 1;
            }
        });
        return new Command("edgekws-corpus", "Deterministic synthetic keyword corpus (espeak-ng, flite, festival, sox): docs/corpus.md.")
        {
            new HelpOption(),
            generate.Command,
            Sweep.VoiceSweepCommand.Create(),
        };
    }

    /// <summary>The <c>generate</c> command and how each of its options changes <see cref="CorpusOptions"/>.</summary>
    private sealed class GenerateCommand
    {
        private readonly Dictionary<Option, Func<CorpusOptions, OptionResult, CorpusOptions>> _apply = [];
        private readonly Option<string> _out = new("--out") { HelpName = "DIR", Description = "output directory (new, empty, or a previous corpus to replace)" };

        public GenerateCommand()
        {
            Command = new Command("generate", "Writes a corpus: keyword clips, near misses and sentences of synthetic speakers in speaker-disjoint splits, evaluation streams, manifest.json. Options apply in order, so --small followed by --speakers 12 overrides the preset's count.")
            {
                _out,
            };
            Command.Requires(_out);

            Flag("--small", "test preset: 8 speakers, 1 take, 2 sentences, 0.5 min negatives, 6 positives",
                o => CorpusOptions.Small(o.OutputDirectory, o.Seed) with { MaxParallelSynthesis = o.MaxParallelSynthesis });
            Add<long>("--seed", "N", "seed of every random choice (default 42)", (o, v) => o with { Seed = v });
            Add<int>("--speakers", "N", "synthetic speakers (default 24)", (o, v) => o with { SpeakerCount = v });
            Add<string>("--keywords", "\"a,b\"", "keyword phrases, comma separated; first is the wake phrase (default \"hey edge,stop,play music\")", (o, v) => o with { Keywords = List(v) });
            Add<string>("--near-misses", "\"a,b\"", "confusable phrases (default \"hey hedge,edge,pledge,hey,a ledge,hey reg\")", (o, v) => o with { NearMisses = List(v) });
            Add<int>("--takes", "N", "augmented takes per keyword per speaker (default 3)", (o, v) => o with { TakesPerKeyword = v });
            Add<int>("--sentences", "N", "sentences per speaker, half with a keyword (default 6)", (o, v) => o with { SentencesPerSpeaker = v });
            Add<int>("--stream-sentences", "N", "keyword-free sentences per test speaker for streams (default 24)", (o, v) => o with { StreamSentencesPerSpeaker = v });
            AddNumber("--negatives-minutes", "X", "negative stream length in minutes (default 10; 0 = none)", (o, v) => o with { NegativeStreamMinutes = v });
            Add<int>("--positives", "N", "keywords in the positive stream (default 50; 0 = none)", (o, v) => o with { PositiveStreamKeywords = v });
            Add<long>("--stream-seed", "N", "seed of the streams' content only (sentences, keyword times, SNRs, segments); the speakers stay those of --seed: the same voices on another day (default: --seed)",
                (o, v) => o with { StreamSeed = v });
            Add<int>("--stream-takes", "N", "takes of each keyword per speaker in the positive stream, 1-8: the same voice at a rate and pitch a few percent off (default 1)",
                (o, v) => o with { StreamKeywordTakes = v });
            AddNumber("--train-negatives-minutes", "X", "train-split negative stream (train voices, synthetic music, noise, hum, babble, silence) for training negatives (default 0 = none)",
                (o, v) => o with { TrainNegativeStreamMinutes = v });
            AddNumber("--validation-negatives-minutes", "X", "validation-split negative stream, for choosing the threshold (default 0)", (o, v) => o with { ValidationNegativeStreamMinutes = v });
            Add<int>("--validation-positives", "N", "keywords in the validation-split positive stream (default 0)", (o, v) => o with { ValidationPositiveStreamKeywords = v });
            Add<string>("--engines", "a,b", "espeak,flite,festival (default: all installed)", (o, v) => o with { Engines = List(v) });
            Flag("--train-every-engine", "keep at least half of each engine's voices in train (default: held-out splits take voices round-robin over engines, which can empty a small one)",
                o => o with { TrainEveryEngine = true });
            Add<string>("--noise", "a,b", "none,white,pink,brown,babble (default: all; with --far-field also tv, music, fan, kitchen, hum)", (o, v) => o with { NoiseKinds = List(v) });
            AddNumbers("--snr", "a,b", "SNR choices in dB (default 30,20,15,10,5,0)", null, (o, v) => o with { SnrDbChoices = v });
            AddNumbers("--gain", "MIN,MAX", "gain range in dB around -26 dBFS active speech (default -20,6)", 2, (o, v) => o with { GainDbMin = v[0], GainDbMax = v[1] });
            AddNumber("--clip-fraction", "X", "fraction of clips driven into clipping (default 0.05)", (o, v) => o with { ClipFraction = v });
            Flag("--clean", "also write *.clean.wav (speech after gain, no noise) for noisy clips", o => o with { WriteCleanReference = true });
            Add<int>("--parallel", "N", "engine processes at once, 1 or 2 (default 2)", (o, v) => o with { MaxParallelSynthesis = v });
            Add<string>("--voices", "base|all", "speaker voices: base (6 espeak-ng accents x 12 variants, 4 flite, 2 festival) or all (8 accents x every human espeak-ng variant, 5 flite, 3 festival voices; "
                + "sox pitch +-300 cents on voices without a pitch control; rates 80-120 %) (default base)", (o, v) => o with { VoiceSet = v });
            Flag("--far-field", "render clips and stream segments far-field: a simulated room per item (image-source and sox-reverb impulse responses, each split its own bank), "
                + "microphone colouring, home noise (babble, tv, music, fan, kitchen, hum, white/pink/brown), peak level from --level",
                o => o with { FarField = true, NoiseKinds = o.NoiseKinds.SequenceEqual(NoiseKind.CloseTalk) ? NoiseKind.FarFieldDefault : o.NoiseKinds });
            Add<int>("--rooms", "N", "rooms per split bank (default 48)", (o, v) => o with { RoomsPerSplit = v });
            AddNumber("--dry-fraction", "X", "far-field items left dry (default 0.15)", (o, v) => o with { DryFraction = v });
            AddNumber("--train-dry-fraction", "X", "train split only: dry fraction (default: --dry-fraction)", (o, v) => o with { TrainDryFraction = v });
            AddNumber("--train-max-distance", "M", "train split only: largest talker-microphone distance of its rooms (default 5 m)", (o, v) => o with { TrainMaxDistanceM = v });
            AddNumber("--train-max-rt60", "S", "train split only: largest RT60 of its image-source rooms (default 1.0 s)", (o, v) => o with { TrainMaxRt60Seconds = v });
            AddNumbers("--level", "MIN,MAX", "peak level range in dBFS of far-field items (default -40,-3)", 2, (o, v) => o with { LevelDbFsMin = v[0], LevelDbFsMax = v[1] });
            Add<string>("--held-out-near-misses", "\"a,b\"", "near misses said only in validation/test negative streams (default none)", (o, v) => o with { HeldOutNearMisses = List(v) });
            AddNumbers("--stream-snr", "a,b", "SNRs of far-field positive-stream keywords (default: --snr)", null, (o, v) => o with { StreamSnrDbChoices = v });
            AddNumbers("--stream-level", "MIN,MAX", "peak level range of far-field positive-stream keywords (default: --level)", null, (o, v) => o with { StreamLevelDbFs = v });
            AddNumber("--wake-share", "X", "far-field positive streams: share of keywords that are the wake phrase (default 0.7)", (o, v) => o with { WakePhraseShare = v });
            AddNumber("--command-share", "X", "share of those wake phrases followed by a command sentence (default 0.4)", (o, v) => o with { CommandAfterWakeShare = v });

            // The ranges: CorpusOptions.Validate (which the generator runs too) on the options as given.
            Command.Validators.Add(result =>
            {
                if (result.GetResult(_out) is null)
                {
                    return; // Requires reports it
                }

                try
                {
                    Options(result).Validate();
                }
                catch (InvalidOperationException)
                {
                    // A value that does not parse: System.CommandLine reports it, naming the option.
                }
                catch (ArgumentException e)
                {
                    result.AddError(e.Message);
                }
            });
        }

        public Command Command { get; }

        /// <summary>The options as given, applied in order over the defaults.</summary>
        public CorpusOptions Options(CommandResult result)
        {
            var o = new CorpusOptions();
            // Children are in the order given; flags not given appear after them as implicit (default) results.
            foreach (OptionResult option in result.Children.OfType<OptionResult>())
            {
                if (!option.Implicit && _apply.TryGetValue(option.Option, out var apply))
                {
                    o = apply(o, option);
                }
            }

            return o with { OutputDirectory = result.GetValue(_out)! };
        }

        private static List<string> List(string value) => [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

        private void Flag(string name, string description, Func<CorpusOptions, CorpusOptions> apply)
        {
            var option = new Option<bool>(name) { Description = description };
            Command.Add(option);
            _apply[option] = (o, _) => apply(o);
        }

        private void Add<T>(string name, string helpName, string description, Func<CorpusOptions, T, CorpusOptions> apply)
        {
            var option = new Option<T>(name) { HelpName = helpName, Description = description };
            Command.Add(option);
            _apply[option] = (o, r) => apply(o, r.GetValueOrDefault<T>()!);
        }

        private void AddNumber(string name, string helpName, string description, Func<CorpusOptions, double, CorpusOptions> apply)
        {
            var option = new Option<double>(name) { HelpName = helpName, Description = description }.MustBe(double.IsFinite, "a finite number");
            Command.Add(option);
            _apply[option] = (o, r) => apply(o, r.GetValueOrDefault<double>());
        }

        /// <summary>A comma-separated list of numbers (exactly <paramref name="count"/> of them when given).</summary>
        private void AddNumbers(string name, string helpName, string description, int? count, Func<CorpusOptions, double[], CorpusOptions> apply)
        {
            var option = new Option<double[]>(name)
            {
                HelpName = helpName,
                Description = description,
                Arity = ArgumentArity.ExactlyOne,
                CustomParser = result =>
                {
                    string value = result.Tokens[0].Value;
                    List<string> items = List(value);
                    if (count is { } n && items.Count != n)
                    {
                        result.AddError($"{name} takes {helpName}; got '{value}'.");
                        return [];
                    }

                    var numbers = new double[items.Count];
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (!double.TryParse(items[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out numbers[i]) || !double.IsFinite(numbers[i]))
                        {
                            result.AddError($"{name} needs numbers; got '{items[i]}'.");
                            return [];
                        }
                    }

                    return numbers;
                },
            };
            Command.Add(option);
            _apply[option] = (o, r) => apply(o, r.GetValueOrDefault<double[]>()!);
        }
    }
}
