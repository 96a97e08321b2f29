using System.Diagnostics;
using System.Globalization;
using EdgeKws.Device.Enrollment;
using EdgeKws.Device.EnrollmentStress;
using EdgeKws.Device.Tests.Outbox;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.Enrollment;

/// <summary>
/// A child process (tools/stress/EdgeKws.Device.EnrollmentStress) rewrites the enrollment in a loop and is
/// SIGKILLed at random points inside its writes, 40 times (at least 20 must land between "W" and "S"). After every kill the stored file must load and be exactly
/// the last generation the child finished or the one it was writing: never partial, never lost.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class EnrollmentStoreKill_Tests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 40;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Keeps_the_old_or_the_new_complete_enrollment_when_killed_while_writing()
    {
        var store = new EnrollmentStore(_dir.Path);
        store.Save(StressEnrollments.Generation(0));
        long known = 0; // the generation that must be on disk if the child finished nothing
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        int killedMidWrite = 0, tempLeft = 0;

        for (int run = 0; run < Kills; run++)
        {
            long first = ((run + 1) * 1_000_000L) + 1;
            using Process child = StartChild(_dir.Path, first);
            var lines = new List<string>();
            var gate = new Lock();
            child.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (gate)
                    {
                        lines.Add(e.Data);
                    }
                }
            };
            child.ErrorDataReceived += (_, _) => { };
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();

            int wait = random.Next(1, 40);
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromSeconds(120)) // liveness: a child start can take many seconds under CI load
            {
                lock (gate)
                {
                    // Aim inside a write: the child has announced "W g" and not yet "S g".
                    if (lines.Count >= wait && lines[^1][0] == 'W')
                    {
                        break;
                    }
                }

                Thread.SpinWait(10);
            }

            Thread.SpinWait(random.Next(0, 50_000));
            Assert.False(child.HasExited, $"run {run}: the child exited by itself ({(child.HasExited ? child.ExitCode : 0)})");
            child.Kill();
            child.WaitForExit();
            Assert.Equal(128 + 9, child.ExitCode);

            long lastSaved = known, lastWriting = -1;
            lock (gate)
            {
                foreach (string line in lines)
                {
                    long g = long.Parse(line[2..], CultureInfo.InvariantCulture);
                    if (line[0] == 'S')
                    {
                        lastSaved = g;
                    }
                    else
                    {
                        lastWriting = g;
                    }
                }
            }

            bool midWrite = lastWriting > lastSaved && lastWriting >= first;
            killedMidWrite += midWrite ? 1 : 0;
            tempLeft += File.Exists(store.TempPath) ? 1 : 0;

            Assert.True(store.TryLoad(out EnrollmentData? data, out string reason), $"run {run}: {reason}");
            long found = StressEnrollments.GenerationOf(data!);
            Assert.True(found == lastSaved || (midWrite && found == lastWriting),
                $"run {run}: found generation {found}; last saved {lastSaved}, being written {lastWriting}");
            Assert.True(StressEnrollments.Generation(found).ContentEquals(data!), $"run {run}: generation {found} content differs");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
            known = found;
        }

        output.WriteLine($"{Kills} kills: {killedMidWrite} inside Save (between 'W' and 'S'), {tempLeft} left a temp file behind");
        Assert.True(killedMidWrite >= 20, $"only {killedMidWrite} of {Kills} kills landed inside a write");
    }

    private static Process StartChild(string stateDir, long firstGeneration)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "EdgeKws.Device.EnrollmentStress.dll");
        Assert.True(File.Exists(dll), $"stress child not built next to the tests: {dll}");
        var psi = new ProcessStartInfo(CliRunner.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add(stateDir);
        psi.ArgumentList.Add(firstGeneration.ToString(CultureInfo.InvariantCulture));
        return Process.Start(psi)!;
    }
}
