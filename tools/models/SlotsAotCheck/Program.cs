using System.CommandLine;
using System.CommandLine.Help;
using System.Diagnostics;
using System.Security.Cryptography;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Shared.Signing;
using EdgeKws.Tools.CommandLine;

// Runs the model-slot install path as a NativeAOT binary and prints its timings.
// Usage: SlotsAotCheck FIXTURES_DIR, the folder with the committed test models (tests/fixtures/models). The canaries are
// the same generated sequences as ModelUpdateTestKit (noise + a 50-frame high-c1 burst; noise).
Argument<string> fixturesArgument = new("FIXTURES_DIR") { Description = "the folder with kws-test-*.onnx and their manifests (tests/fixtures/models)" };
string? parsedFixtures = null;
var root = new Command("SlotsAotCheck", "Runs the model-slot install path (ECDSA, fsync, ONNX Runtime, health check) and prints its timings.")
{
    new HelpOption(), fixturesArgument,
};
root.SetAction(parse =>
{
    parsedFixtures = parse.GetRequiredValue(fixturesArgument);
    return 0;
});
int usage = ToolCommandLine.Invoke(root, args, Console.Out, Console.Error);
if (parsedFixtures is not { } fixtures)
{
    return usage; // help (0) or a usage error (2)
}

const string Hash = "5426fdf65bbc48a954e570abb3f6a80a2a28c91e336adc177bf05ef474e14f02";
string state = Path.Combine(Path.GetTempPath(), "slots-aot-" + Guid.NewGuid().ToString("N"));
using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
Directory.CreateDirectory(Path.Combine(state, "keys"));
File.WriteAllText(Path.Combine(state, "keys", "model-signing.pub.pem"), key.ExportSubjectPublicKeyInfoPem());
if (!ManifestSigner.TryCreate(key.ExportPkcs8PrivateKeyPem(), out var signer, out string keyProblem))
{
    Console.Error.WriteLine(keyProblem);
    return 1;
}

float[] Stream(int frames, int seed, int burstAt)
{
    var rng = new Random(seed);
    var f = new float[frames * 13];
    for (int i = 0; i < f.Length; i++)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        f[i] = (float)(1.5 * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
    if (burstAt >= 0) for (int t = burstAt; t < burstAt + 50; t++) f[t * 13 + 1] += 20f;
    return f;
}
ModelCanary.Write(Path.Combine(state, "canary", ModelCanary.PositiveFileName), Stream(260, 11, 110), 13, Hash);
ModelCanary.Write(Path.Combine(state, "canary", ModelCanary.NegativeFileName), Stream(300, 12, -1), 13, Hash);

ModelUpdate Update(string variant)
{
    byte[] model = File.ReadAllBytes(Path.Combine(fixtures, $"kws-test-{variant}.onnx"));
    byte[] manifest = File.ReadAllBytes(Path.Combine(fixtures, $"kws-test-{variant}.manifest.json"));
    return ModelUpdate.FromBytes(manifest, signer!.Sign(manifest), model);
}
var options = new ModelSlotsOptions { StateDirectory = state, FeatureConfigHash = Hash };
if (!ModelSlots.TryOpen(options, out var slots, out string reason)) { Console.WriteLine(reason); return 1; }
foreach (string v in new[] { "int8", "float", "int8", "float" })
{
    long t0 = Stopwatch.GetTimestamp();
    var o = slots!.TryInstall(Update(v));
    var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    var r = slots.LastHealthReport!.Value;
    Console.WriteLine($"{v}: {(o.Succeeded ? "activated" : o.Reason)} slot {slots.ActiveSlot} install {ms:0.0} ms; health p95 {r.P95LatencyMs:0.000} ms max {r.MaxLatencyMs:0.000} ms over {r.LatencySamples}");
}
var rb = slots!.Rollback();
Console.WriteLine($"rollback: {rb.Reason}");
slots.Dispose();
long b0 = Stopwatch.GetTimestamp();
if (!ModelSlots.TryOpen(options, out var again, out reason)) { Console.WriteLine(reason); return 1; }
Console.WriteLine($"reboot {Stopwatch.GetElapsedTime(b0).TotalMilliseconds:0.0} ms: {again!.BootReport}");
again.Dispose();
Directory.Delete(state, true);
return 0;
