using System.CommandLine;
using System.CommandLine.Help;
using BenchmarkDotNet.Running;
using EdgeKws.Bench;
using EdgeKws.Bench.Report;
using EdgeKws.Shared.Features;
using EdgeKws.Tools.CommandLine;

// edgekws-bench (System.CommandLine, docs/cli.md): `report ...` writes the bench report (report.md + PNG plots; see
// docs/benchmarks.md "Figures"); `--check-baseline` checks the MathNet baseline; any other arguments go to BenchmarkDotNet.
Option<bool> checkBaselineOption = new("--check-baseline")
{
    Description = "verify the MathNet baseline computes the same features as the product code (same metric as the torchaudio parity tests); exit 1 if not",
};
// Not TreatUnmatchedTokensAsErrors = false: System.CommandLine reads it on the root only, and 'report' would then take
// any unknown option silently. The root's own argument takes what BenchmarkDotNet gets instead.
Argument<string[]> benchmarkDotNetArguments = new("BENCHMARKDOTNET-ARGUMENTS")
{
    Arity = ArgumentArity.ZeroOrMore,
    Description = "BenchmarkDotNet's switcher arguments, e.g. --filter '*KeywordDetector*'",
};
var root = new Command("edgekws-bench", "The bench: 'report' writes the bench report; without a command the arguments go to BenchmarkDotNet's switcher "
    + "(every suite in this assembly; pick with --filter PATTERN, e.g. --filter '*KeywordDetector*', and any BenchmarkDotNet option).")
{
    new HelpOption(),
    checkBaselineOption,
    benchmarkDotNetArguments,
    ReportOptions.CreateCommand(),
};
root.SetAction(parse =>
{
    if (!parse.GetValue(checkBaselineOption))
    {
        BenchmarkSwitcher.FromAssembly(typeof(MfccPerFrameBenchmarks).Assembly).Run(args);
        return 0;
    }

    if (parse.GetValue(benchmarkDotNetArguments) is { Length: > 0 })
    {
        parse.InvocationConfiguration.Error.WriteLine("edgekws-bench: --check-baseline takes no other arguments.");
        return 2;
    }

    return CheckBaseline(parse.InvocationConfiguration.Output);
});

// `help` (hidden) is the report's help: scripts/bench.sh --help runs `edgekws-bench help`.
var help = new Command("help", "the report's help") { Hidden = true };
help.SetAction(parse => ToolCommandLine.Invoke(root, ["report", "--help"], parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
root.Add(help);
return ToolCommandLine.Invoke(root, args, Console.Out, Console.Error);

// The MathNet baseline computes the same features as the product code (same metric as the torchaudio parity tests).
static int CheckBaseline(TextWriter stdout)
{
    short[] audio = BenchAudio.Generate(16000 * 10);
    var extractor = new MfccExtractor(MfccConfig.Default);
    var ours = new float[MfccConfig.Default.FrameCount(audio.Length) * 13];
    int frames = extractor.Push(audio, ours);
    float[][] theirs = new MathNetBaselineMfcc(MfccConfig.Default).Compute(audio);
    double worst = 0;
    for (int t = 0; t < frames; t++)
    {
        double diff = 0, scale = 0;
        for (int k = 0; k < 13; k++)
        {
            diff = Math.Max(diff, Math.Abs(ours[t * 13 + k] - theirs[t][k]));
            scale = Math.Max(scale, Math.Abs(theirs[t][k]));
        }

        worst = Math.Max(worst, diff / Math.Max(scale, 1.0));
    }

    bool ok = frames == theirs.Length && worst <= 1e-3;
    stdout.WriteLine($"{frames} frames; worst per-frame relative difference EdgeKws vs MathNet baseline: {worst:E3} ({(ok ? "ok" : "FAIL")})");
    return ok ? 0 : 1;
}
