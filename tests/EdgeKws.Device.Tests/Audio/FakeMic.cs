using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace EdgeKws.Device.Tests.Audio;

/// <summary>
/// All tests that open ALSA PCMs share this collection: the fixture points ALSA at a fake
/// microphone once, before any test opens a PCM, and the collection runs serially so no test
/// calls getenv inside ALSA while another thread could be in setenv.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FakeMicCollection : ICollectionFixture<FakeMicFixture>
{
    public const string Name = "ALSA fake microphone";
}

/// <summary>
/// Writes a generated raw S16LE file and an ALSA config (from <c>hardware/alsa/fakemic.conf</c>)
/// defining <see cref="PatternPcm"/> over it, then sets ALSA_CONFIG_PATH for this process to
/// Debian's alsa.conf, that file and <c>hardware/alsa/asound.conf.example</c>.
/// </summary>
/// <remarks>
/// Why setenv in-process rather than a child process: alsa-lib reads ALSA_CONFIG_PATH with
/// getenv() whenever it (re)loads its configuration, i.e. from the first snd_pcm_open on. .NET's
/// Environment.SetEnvironmentVariable only changes the runtime's own copy on Linux, not the C
/// environ that getenv() reads (checked: the PCM is then unknown), so libc's setenv is called
/// through P/Invoke. In-process capture keeps the tests fast and lets them inspect the real PCM
/// (state, recovery). setenv is not thread-safe against concurrent getenv, hence once, here, in
/// a serial collection.
/// </remarks>
public sealed class FakeMicFixture : IDisposable
{
    /// <summary>The fake microphone's PCM name, as it would be passed to arecord -D.</summary>
    public const string PatternPcm = "fakemic_pattern";

    /// <summary>1.5 s plus 10 samples: not a whole number of any period the tests use.</summary>
    public const int PatternSamples = 24_010;

    public FakeMicFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "edgekws-fakemic-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);

        Pattern = TestSignals.UniquePattern(PatternSamples);
        var rawPath = Path.Combine(Directory, "pattern.raw");
        File.WriteAllBytes(rawPath, TestSignals.ToS16Le(Pattern));

        var template = File.ReadAllText(RepositoryRoot.File("hardware/alsa/fakemic.conf"));
        var configPath = Path.Combine(Directory, "fakemic.conf");
        File.WriteAllText(configPath, template.Replace("@PCM_NAME@", PatternPcm).Replace("@INFILE@", rawPath));

        // The shipped example config is loaded too, so tests can check that it parses.
        NativeEnvironment.Set("ALSA_CONFIG_PATH",
            $"/usr/share/alsa/alsa.conf:{configPath}:{RepositoryRoot.File("hardware/alsa/asound.conf.example")}");
    }

    public string Directory { get; }

    /// <summary>The samples in the fake microphone's infile, in order.</summary>
    public short[] Pattern { get; }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp dir is harmless; never fail the run over it.
        }
    }
}

/// <summary>libc's environment, the one native libraries see through getenv().</summary>
internal static class NativeEnvironment
{
    public static void Set(string name, string value)
    {
        if (setenv(name, value, 1) != 0)
        {
            throw new InvalidOperationException($"setenv({name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    // DllImport, not LibraryImport: the test project does not enable unsafe code, and this
    // runs under the JIT only.
    [DllImport("libc.so.6", CharSet = CharSet.Ansi, SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);
}

/// <summary>Generated test audio, so no binary fixture is committed.</summary>
internal static class TestSignals
{
    /// <summary>
    /// Sample i is (i * 7919) mod 65536 as a signed 16-bit value: 7919 is odd, so every sample
    /// in any 65536-long stretch differs and a dropped, repeated, inserted or reordered sample
    /// shows up as a mismatch. Sample 0 is 0, so it starts at 1 to tell it from silence.
    /// </summary>
    public static short[] UniquePattern(int count)
    {
        var samples = new short[count];
        for (var i = 0; i < count; i++)
        {
            samples[i] = unchecked((short)((i + 1) * 7919));
        }

        return samples;
    }

    public static byte[] ToS16Le(ReadOnlySpan<short> samples)
    {
        var bytes = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(2 * i), samples[i]);
        }

        return bytes;
    }
}
