using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EdgeKws.Tools.CommandLine;

namespace EdgeKws.Corpus.Sweep;

/// <summary><c>edgekws-corpus voice-sweep --out DIR [options]</c>: <see cref="VoiceSweep"/> from the command line.</summary>
internal static class VoiceSweepCommand
{
    public static Command Create()
    {
        var defaults = new VoiceSweepOptions();
        var output = new Option<string>("--out") { HelpName = "DIR", Description = "output directory (voice-sweep.wav, voice-sweep.streams.json)" };
        var keyword = new Option<string>("--keyword") { HelpName = "TEXT", Description = "phrase each talker says", DefaultValueFactory = _ => defaults.Keyword };
        var voices = new Option<string>("--voices") { HelpName = "base|all", Description = "voice set (docs/corpus.md)", DefaultValueFactory = _ => defaults.Voices };
        var espeak = new Option<int>("--espeak-voices") { HelpName = "N", Description = "espeak-ng voice+variant pairs drawn from the set", DefaultValueFactory = _ => defaults.EspeakVoices };
        var rates = PercentList("--rates", "speaking rates, percent of the engine default", defaults.RatePercents);
        var pitches = PercentList("--pitches", "pitches, percent of the voice default (sox pitch shift where the engine has none)", defaults.PitchPercents);
        var level = new Option<double>("--level") { HelpName = "DBFS", Description = "peak level of every utterance", DefaultValueFactory = _ => defaults.LevelDbFs };
        var seed = new Option<long>("--seed") { HelpName = "N", Description = "seed of the espeak-ng voice draw and the noise floor", DefaultValueFactory = _ => defaults.Seed };
        var parallel = new Option<int>("--parallel") { HelpName = "N", Description = "engine processes at once", DefaultValueFactory = _ => defaults.Parallel };

        var command = new Command("voice-sweep", "The keyword by every voice at every rate and pitch, clean and close, as an edgekws-streams/1 file "
            + "for `edgekws-model evaluate --streams` (FRR by voice, rate and pitch without a room): docs/corpus.md.")
        {
            output, keyword, voices, espeak, rates, pitches, level, seed, parallel,
        };
        // The options as given over the defaults (a validator sees no implicit values for options not given).
        VoiceSweepOptions Options(CommandResult r)
        {
            T Given<T>(Option<T> option, T otherwise) => r.GetResult(option) is { Implicit: false } given ? given.GetValueOrDefault<T>()! : otherwise;
            return new()
            {
                OutputDirectory = Given(output, defaults.OutputDirectory),
                Keyword = Given(keyword, defaults.Keyword),
                Voices = Given(voices, defaults.Voices),
                EspeakVoices = Given(espeak, defaults.EspeakVoices),
                RatePercents = Given<int[]>(rates, [.. defaults.RatePercents]),
                PitchPercents = Given<int[]>(pitches, [.. defaults.PitchPercents]),
                LevelDbFs = Given(level, defaults.LevelDbFs),
                Seed = Given(seed, defaults.Seed),
                Parallel = Given(parallel, defaults.Parallel),
            };
        }
        command.Requires(output);
        // The ranges: VoiceSweepOptions.Validate (which RunAsync runs too), as `generate` runs CorpusOptions.Validate.
        command.Validators.Add(result =>
        {
            if (result.GetResult(output) is null)
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
        command.SetAction(parse =>
        {
            VoiceSweepOptions o = Options(parse.CommandResult);
            TextWriter stdout = parse.InvocationConfiguration.Output;
            try
            {
                int n = VoiceSweep.RunAsync(o).GetAwaiter().GetResult();
                stdout.WriteLine($"wrote {n} utterances: {Path.Combine(o.OutputDirectory, VoiceSweep.StreamsName)}");
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"edgekws-corpus: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static Option<int[]> PercentList(string name, string description, IReadOnlyList<int> defaults) =>
        new Option<int[]>(name)
        {
            HelpName = "a,b",
            Description = description,
            Arity = ArgumentArity.ExactlyOne,
            DefaultValueFactory = _ => [.. defaults],
            CustomParser = result =>
            {
                string value = result.Tokens[0].Value;
                string[] items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var numbers = new int[items.Length];
                for (int i = 0; i < items.Length; i++)
                {
                    if (!int.TryParse(items[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out numbers[i]))
                    {
                        result.AddError($"{name} needs whole percents; got '{items[i]}'.");
                        return [];
                    }
                }

                return numbers;   // ranges: VoiceSweepOptions.Validate
            },
        };
}
