using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EdgeKws.ResamplerAotCheck;
using EdgeKws.Tools.CommandLine;

// One line about the runtime (so a reader sees which path ran), then one line per input rate:
//   <rate> input <sha256> output <sha256> samples <n>
// With --speed: the time to resample one minute of each rate to 16 kHz instead (best of 5 runs).
Option<bool> speedOption = new("--speed") { Description = "print the time to resample one minute of each rate to 16 kHz (best of 5 runs) instead of the hashes" };
var root = new Command("ResamplerAotCheck", "Prints a SHA-256 of the resampler's output for a fixed signal at several input rates (JIT, NativeAOT and no-SIMD runs must agree).")
{
    new HelpOption(), speedOption,
};
root.SetAction(parse => Print(parse.GetValue(speedOption)));
return ToolCommandLine.Invoke(root, args, Console.Out, Console.Error);

static int Print(bool speed)
{
    Console.WriteLine(
        $"runtime {(RuntimeFeature.IsDynamicCodeCompiled ? "jit" : "nativeaot")} {RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()} " +
        $"vector-float-lanes {Vector<float>.Count} vector128-accelerated {Vector128.IsHardwareAccelerated}");
    foreach (int rate in ResamplerFingerprint.InputRatesHz)
    {
        if (speed)
        {
            double ms = ResamplerFingerprint.BestMillisecondsPerMinute(rate, runs: 5);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rate} {ms:F1} ms per minute of audio ({60_000 / ms:F0}x real time)"));
            continue;
        }

        var (input, output, samples) = ResamplerFingerprint.Compute(rate);
        Console.WriteLine($"{rate} input {input} output {output} samples {samples}");
    }

    return 0;
}
