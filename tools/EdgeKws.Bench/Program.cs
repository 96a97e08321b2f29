using BenchmarkDotNet.Running;
using EdgeKws.Bench;
using EdgeKws.Bench.Report;
using EdgeKws.Shared.Features;

// `report ...` writes the bench report (report.md + PNG plots; see docs/benchmarks.md "Figures").
if (args.Length > 0 && args[0] == "report")
{
    return await ReportCommand.RunAsync(args, Console.Out, Console.Error);
}
if (args.Length > 0 && args[0] is "help" or "--help" or "-h")
{
    Console.WriteLine(ReportOptions.Usage);
    Console.WriteLine("   or: edgekws-bench --filter PATTERN [BenchmarkDotNet options]   (the BenchmarkDotNet suites)");
    Console.WriteLine("   or: edgekws-bench --check-baseline");
    return 0;
}

// `--check-baseline` verifies the MathNet baseline computes the same features as the product code
// (same metric as the torchaudio parity tests); anything else goes to BenchmarkDotNet's switcher.
if (args.Length == 1 && args[0] == "--check-baseline")
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
    Console.WriteLine($"{frames} frames; worst per-frame relative difference EdgeKws vs MathNet baseline: {worst:E3} ({(ok ? "ok" : "FAIL")})");
    return ok ? 0 : 1;
}

// Every suite in this assembly; pick with --filter (e.g. --filter '*KeywordDetector*').
BenchmarkSwitcher.FromAssembly(typeof(MfccPerFrameBenchmarks).Assembly).Run(args);
return 0;
