using System.Diagnostics;

namespace EdgeKws.Detection.Tests;

public class TestModelScript_Tests
{
    private const string DebianPython = "/usr/bin/python3";

    [Fact]
    public void Regenerates_the_committed_fixtures_byte_for_byte()
    {
        string root = RepositoryRoot.Path;
        string script = Path.Combine(root, "tools", "models", "make_test_model.py");
        string committed = Path.Combine(root, "tests", "fixtures", "models");
        string outDir = Path.Combine(Path.GetTempPath(), "edgekws-model-regen", Guid.NewGuid().ToString("N"));
        Assert.True(File.Exists(DebianPython), $"{DebianPython} not found: install Debian's python3 and python3-onnx");

        var psi = new ProcessStartInfo(DebianPython)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add("--out");
        psi.ArgumentList.Add(outDir);
        using var process = Process.Start(psi)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "make_test_model.py did not finish in 60 s");

        Assert.True(process.ExitCode == 0,
            $"make_test_model.py failed ({process.ExitCode}); needs `apt-get install python3-onnx`:\n{stderr}");
        string[] files = ["kws-test-int8.onnx", "kws-test-int8.manifest.json", "kws-test-float.onnx", "kws-test-float.manifest.json"];
        foreach (string f in files)
        {
            Assert.True(File.ReadAllBytes(Path.Combine(committed, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(outDir, f))),
                $"{f} differs from a fresh run of make_test_model.py: regenerate the fixtures ({stdout.Trim()})");
        }
        Assert.Equal(files.Length, Directory.GetFiles(outDir).Length);
    }
}
