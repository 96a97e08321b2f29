using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EdgeKws.Corpus.Speakers;
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
        var voices = new Option<string>("--voices") { HelpName = "base|all", Description = "voice set (docs/corpus.md)", DefaultValueFactory = _ => defaults.Voices }
            .MustBe(v => v is VoiceSet.Base or VoiceSet.All, "base or all");
        var espeak = new Option<int>("--espeak-voices") { HelpName = "N", Description = "espeak-ng voice+variant pairs drawn from the set", DefaultValueFactory = _ => defaults.EspeakVoices }
            .MustBe(n => n is >= 0 and <= 200, "0 to 200");
        var rates = PercentList("--rates", "speaking rates, percent of the engine default", defaults.RatePercents);
        var pitches = PercentList("--pitches", "pitches, percent of the voice default (sox pitch shift where the engine has none)", defaults.PitchPercents);
        var level = new Option<double>("--level") { HelpName = "DBFS", Description = "peak level of every utterance", DefaultValueFactory = _ => defaults.LevelDbFs }
            .MustBe(v => v is >= -60 and <= 0, "-60 to 0 dBFS");
        var seed = new Option<long>("--seed") { HelpName = "N", Description = "seed of the espeak-ng voice draw and the noise floor", DefaultValueFactory = _ => defaults.Seed };
        var parallel = new Option<int>("--parallel") { HelpName = "N", Description = "engine processes at once", DefaultValueFactory = _ => defaults.Parallel }
            .MustBe(n => n is 1 or 2, "1 or 2");

        var command = new Command("voice-sweep", "The keyword by every voice at every rate and pitch, clean and close, as an edgekws-streams/1 file "
            + "for `edgekws-model evaluate --streams` (FRR by voice, rate and pitch without a room): docs/corpus.md.")
        {
            output, keyword, voices, espeak, rates, pitches, level, seed, parallel,
        };
        command.Requires(output);
        command.SetAction(parse =>
        {
            var o = new VoiceSweepOptions
            {
                OutputDirectory = parse.GetValue(output)!,
                Keyword = parse.GetValue(keyword)!,
                Voices = parse.GetValue(voices)!,
                EspeakVoices = parse.GetValue(espeak),
                RatePercents = parse.GetValue(rates)!,
                PitchPercents = parse.GetValue(pitches)!,
                LevelDbFs = parse.GetValue(level),
                Seed = parse.GetValue(seed),
                Parallel = parse.GetValue(parallel),
            };
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
                    if (!int.TryParse(items[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out numbers[i]) || numbers[i] is < 50 or > 200)
                    {
                        result.AddError($"{name} takes percents from 50 to 200; got '{items[i]}'.");
                        return [];
                    }
                }

                if (numbers.Length == 0)
                {
                    result.AddError($"{name} needs at least one percent.");
                }

                return numbers;
            },
        };
}
