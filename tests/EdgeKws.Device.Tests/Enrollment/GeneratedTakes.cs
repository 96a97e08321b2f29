using System.Diagnostics;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Device.Tests.Enrollment;

/// <summary>All tests that use the generated takes share one generation run (about a second).</summary>
[CollectionDefinition(Name)]
public sealed class GeneratedTakesCollection : ICollectionFixture<GeneratedTakes>
{
    public const string Name = "Generated enrollment takes";
}

/// <summary>
/// Runs the committed generator (tools/EdgeKws.Enroll/testdata/make_takes.py: espeak-ng, flite,
/// sox, exact-SNR mixing) into a private temp directory, deleted afterwards. See the script for
/// the list of takes and the verdict each should get.
/// </summary>
public sealed class GeneratedTakes : IDisposable
{
    public GeneratedTakes()
    {
        Directory = Path.Combine(Path.GetTempPath(), "edgekws-takes-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(RepositoryRoot.File("tools/EdgeKws.Enroll/testdata/make_takes.py"));
        psi.ArgumentList.Add(Directory);
        using Process p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"make_takes.py failed ({p.ExitCode}): {err}");
        }
    }

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>The take as 16-bit samples (the generator writes 16 kHz mono 16-bit WAV).</summary>
    public short[] Samples(string name)
    {
        float[] x = WavFile.ReadAllMono(PathOf(name), out WavFormat format);
        Assert.Equal(16_000, format.SampleRateHz);
        var s = new short[x.Length];
        Pcm16.ToInt16(x, s);
        return s;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp dir must not fail a test.
        }
    }
}
