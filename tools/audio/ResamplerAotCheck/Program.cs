using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EdgeKws.ResamplerAotCheck;

// One line about the runtime (so a reader sees which path ran), then one line per input rate:
//   <rate> input <sha256> output <sha256> samples <n>
// With --speed: the time to resample one minute of each rate to 16 kHz instead (best of 5 runs).
Console.WriteLine(
    $"runtime {(RuntimeFeature.IsDynamicCodeCompiled ? "jit" : "nativeaot")} {RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()} " +
    $"vector-float-lanes {Vector<float>.Count} vector128-accelerated {Vector128.IsHardwareAccelerated}");
bool speed = args is ["--speed"];
if (args.Length > 0 && !speed)
{
    Console.Error.WriteLine("usage: ResamplerAotCheck [--speed]");
    return 2;
}

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
