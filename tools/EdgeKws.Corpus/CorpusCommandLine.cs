using EdgeKws.Corpus.Mixing;
using System.Globalization;

namespace EdgeKws.Corpus;

/// <summary>Parses <c>edgekws-corpus generate ...</c> arguments into <see cref="CorpusOptions"/>.</summary>
public static class CorpusCommandLine
{
    /// <summary>Usage text.</summary>
    public const string Usage = """
        usage: edgekws-corpus generate --out DIR [options]

          --out DIR                 output directory (new, empty, or a previous corpus to replace)
          --seed N                  seed of every random choice (default 42)
          --small                   test preset: 8 speakers, 1 take, 2 sentences, 0.5 min negatives, 6 positives
          --speakers N              synthetic speakers (default 24)
          --keywords "a,b"          keyword phrases, comma separated; first is the wake phrase (default "hey edge,stop,play music")
          --near-misses "a,b"       confusable phrases (default "hey hedge,edge,pledge,hey,a ledge,hey reg")
          --takes N                 augmented takes per keyword per speaker (default 3)
          --sentences N             sentences per speaker, half with a keyword (default 6)
          --stream-sentences N      keyword-free sentences per test speaker for streams (default 24)
          --negatives-minutes X     negative stream length in minutes (default 10; 0 = none)
          --positives N             keywords in the positive stream (default 50; 0 = none)
          --stream-seed N           seed of the streams' content only (sentences, keyword times, SNRs, segments); the
                                    speakers stay those of --seed: the same voices on another day (default: --seed)
          --stream-takes N          takes of each keyword per speaker in the positive stream, 1-8: the same voice at a
                                    rate and pitch a few percent off (default 1)
          --train-negatives-minutes X       train-split negative stream (train voices, synthetic music, noise,
                                            hum, babble, silence) for training negatives (default 0 = none)
          --validation-negatives-minutes X  validation-split negative stream, for choosing the threshold (default 0)
          --validation-positives N          keywords in the validation-split positive stream (default 0)
          --engines a,b             espeak,flite,festival (default: all installed)
          --train-every-engine      keep at least half of each engine's voices in train (default: held-out
                                    splits take voices round-robin over engines, which can empty a small one)
          --noise a,b               none,white,pink,brown,babble (default: all)
          --snr a,b                 SNR choices in dB (default 30,20,15,10,5,0)
          --gain MIN,MAX            gain range in dB around -26 dBFS active speech (default -20,6)
          --clip-fraction X         fraction of clips driven into clipping (default 0.05)
          --clean                   also write *.clean.wav (speech after gain, no noise) for noisy clips
          --parallel N              engine processes at once, 1 or 2 (default 2)
          --voices base|all         speaker voices: base (6 espeak-ng accents x 12 variants, 4 flite, 2 festival) or all
                                    (8 accents x every human espeak-ng variant, 5 flite, 3 festival voices; sox pitch
                                    +-300 cents on voices without a pitch control; rates 80-120 %) (default base)
          --far-field               render clips and stream segments far-field: a simulated room per item (image-source
                                    and sox-reverb impulse responses, each split its own bank), microphone colouring,
                                    home noise (babble, tv, music, fan, kitchen, hum, white/pink/brown), peak level
                                    from --level
          --rooms N                 rooms per split bank (default 48)
          --dry-fraction X          far-field items left dry (default 0.15)
          --train-dry-fraction X    train split only: dry fraction (default: --dry-fraction)
          --train-max-distance M    train split only: largest talker-microphone distance of its rooms (default 5 m)
          --train-max-rt60 S        train split only: largest RT60 of its image-source rooms (default 1.0 s)
          --level MIN,MAX           peak level range in dBFS of far-field items (default -40,-3)
          --held-out-near-misses "a,b"  near misses said only in validation/test negative streams (default none)
          --stream-snr a,b          SNRs of far-field positive-stream keywords (default: --snr)
          --stream-level MIN,MAX    peak level range of far-field positive-stream keywords (default: --level)
          --wake-share X            far-field positive streams: share of keywords that are the wake phrase (default 0.7)
          --command-share X         share of those wake phrases followed by a command sentence (default 0.4)
        Options apply in order, so --small followed by --speakers 12 overrides the preset's count.
        """;

    /// <summary>Parses arguments; throws <see cref="ArgumentException"/> with a message naming the bad argument.</summary>
    public static CorpusOptions Parse(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] != "generate")
        {
            throw new ArgumentException(args.Count == 0 ? "No command given; the command is 'generate'." : $"Unknown command '{args[0]}'; the command is 'generate'.");
        }

        var o = new CorpusOptions();
        string? outDir = null;
        for (int i = 1; i < args.Count; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "--small": o = CorpusOptions.Small(o.OutputDirectory, o.Seed) with { MaxParallelSynthesis = o.MaxParallelSynthesis }; break;
                case "--clean": o = o with { WriteCleanReference = true }; break;
                case "--train-every-engine": o = o with { TrainEveryEngine = true }; break;
                case "--out": outDir = Value(); break;
                case "--seed": o = o with { Seed = Long() }; break;
                case "--speakers": o = o with { SpeakerCount = Int() }; break;
                case "--keywords": o = o with { Keywords = List() }; break;
                case "--near-misses": o = o with { NearMisses = List() }; break;
                case "--takes": o = o with { TakesPerKeyword = Int() }; break;
                case "--sentences": o = o with { SentencesPerSpeaker = Int() }; break;
                case "--stream-sentences": o = o with { StreamSentencesPerSpeaker = Int() }; break;
                case "--negatives-minutes": o = o with { NegativeStreamMinutes = Double() }; break;
                case "--positives": o = o with { PositiveStreamKeywords = Int() }; break;
                case "--stream-seed": o = o with { StreamSeed = Long() }; break;
                case "--stream-takes": o = o with { StreamKeywordTakes = Int() }; break;
                case "--train-negatives-minutes": o = o with { TrainNegativeStreamMinutes = Double() }; break;
                case "--validation-negatives-minutes": o = o with { ValidationNegativeStreamMinutes = Double() }; break;
                case "--validation-positives": o = o with { ValidationPositiveStreamKeywords = Int() }; break;
                case "--engines": o = o with { Engines = List() }; break;
                case "--noise": o = o with { NoiseKinds = List() }; break;
                case "--snr": o = o with { SnrDbChoices = [.. List().Select(s => ParseDouble(a, s))] }; break;
                case "--gain":
                    {
                        var g = List();
                        if (g.Count != 2)
                        {
                            throw new ArgumentException($"--gain takes MIN,MAX; got '{string.Join(',', g)}'.");
                        }

                        o = o with { GainDbMin = ParseDouble(a, g[0]), GainDbMax = ParseDouble(a, g[1]) };
                        break;
                    }

                case "--clip-fraction": o = o with { ClipFraction = Double() }; break;
                case "--voices": o = o with { VoiceSet = Value() }; break;
                case "--far-field": o = o with { FarField = true, NoiseKinds = o.NoiseKinds.SequenceEqual(NoiseKind.CloseTalk) ? NoiseKind.FarFieldDefault : o.NoiseKinds }; break;
                case "--rooms": o = o with { RoomsPerSplit = Int() }; break;
                case "--dry-fraction": o = o with { DryFraction = Double() }; break;
                case "--train-dry-fraction": o = o with { TrainDryFraction = Double() }; break;
                case "--train-max-distance": o = o with { TrainMaxDistanceM = Double() }; break;
                case "--train-max-rt60": o = o with { TrainMaxRt60Seconds = Double() }; break;
                case "--held-out-near-misses": o = o with { HeldOutNearMisses = List() }; break;
                case "--stream-snr": o = o with { StreamSnrDbChoices = [.. List().Select(x => ParseDouble(a, x))] }; break;
                case "--stream-level": o = o with { StreamLevelDbFs = [.. List().Select(x => ParseDouble(a, x))] }; break;
                case "--wake-share": o = o with { WakePhraseShare = Double() }; break;
                case "--command-share": o = o with { CommandAfterWakeShare = Double() }; break;
                case "--level":
                    {
                        var g = List();
                        if (g.Count != 2)
                        {
                            throw new ArgumentException($"--level takes MIN,MAX; got '{string.Join(',', g)}'.");
                        }

                        o = o with { LevelDbFsMin = ParseDouble(a, g[0]), LevelDbFsMax = ParseDouble(a, g[1]) };
                        break;
                    }

                case "--parallel": o = o with { MaxParallelSynthesis = Int() }; break;
                default: throw new ArgumentException($"Unknown option '{a}'.");
            }

            string Value() => ++i < args.Count ? args[i] : throw new ArgumentException($"{a} needs a value.");
            int Int() => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"{a} needs an integer; got '{args[i]}'.");
            long Long() => long.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw new ArgumentException($"{a} needs an integer; got '{args[i]}'.");
            double Double() => ParseDouble(a, Value());
            List<string> List() => [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }

        if (outDir is null)
        {
            throw new ArgumentException("--out DIR is required.");
        }

        o = o with { OutputDirectory = outDir };
        o.Validate();
        return o;
    }

    private static double ParseDouble(string option, string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v
            : throw new ArgumentException($"{option} needs a number; got '{s}'.");
}
