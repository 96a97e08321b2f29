using System.Text.Json;
using EdgeKws.Device.Enrollment;
using EdgeKws.Device.Outbox;
using EdgeKws.Device.Tests.Outbox;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Tests.Enrollment;

/// <summary>The real edgekws-enroll process: inputs, exit codes, what it stores and what it queues.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[Collection(GeneratedTakesCollection.Name)]
public sealed class EnrollCli_Tests(GeneratedTakes takes) : IDisposable
{
    private static readonly string[] QcReportKeys =
    [
        "schemaVersion", "deviceId", "deviceTimeUtc", "outcome", "featureConfigHash", "takesRequested", "takesAccepted",
        "attempts", "rejections", "minSnrDb", "meanSnrDb", "minSpeechMs", "maxSpeechMs", "maxSpeechRmsDbFs",
        "minSpeechRmsDbFs", "maxDtwDistance", "dtwThreshold",
    ];

    private readonly TempDirectory _state = new();

    public void Dispose() => _state.Dispose();

    [Fact]
    public void Enrolls_five_wav_takes_with_exit_0_and_stores_them_0600()
    {
        CliRun run = Enroll(["--json", "--wav", .. Goods(1, 5)]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(5, run.Of("take").Count(e => e.GetProperty("accepted").GetBoolean()));
        JsonElement summary = Assert.Single(run.Of("summary"));
        Assert.Equal("enrolled", summary.GetProperty("outcome").GetString());
        Assert.Equal(171_972, summary.GetProperty("stateBytes").GetInt32());
        Assert.True(summary.GetProperty("rssBytes").GetInt64() > 0);

        var store = new EnrollmentStore(_state.Path);
        Assert.True(store.TryLoad(out EnrollmentData? data, out string reason), reason);
        Assert.Equal(5, data!.Takes.Count);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
    }

    [Fact]
    public void Asks_again_after_bad_takes_with_reasons_and_hints_then_enrolls()
    {
        CliRun run = Enroll(["--json", "--wav", PathOf("good_1.wav"), PathOf("snr14.wav"), PathOf("good_2.wav"), PathOf("clipped.wav"),
            PathOf("other_phrase.wav"), .. Goods(3, 5)]);
        Assert.True(run.ExitCode == 0, run.ToString());
        List<JsonElement> t = run.Of("take").ToList();
        Assert.Equal(8, t.Count);
        Assert.Equal([1, 2, 2, 3, 3, 3, 4, 5], t.Select(e => e.GetProperty("take").GetInt32()));
        Assert.Equal(["lowSnr", "tooShort"], Checks(t[1]));
        Assert.Equal(["clipped"], Checks(t[3]));
        Assert.Equal(["inconsistent"], Checks(t[4]));
        Assert.Contains("dB SNR, 20 dB needed", t[1].GetProperty("failures")[0].GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Plain_output_prints_the_reason_and_hint_of_a_rejected_take()
    {
        CliRun run = Enroll(["--takes", "1", "--wav", PathOf("quiet.wav"), PathOf("good_1.wav")]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("take 1 rejected", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("    - too quiet: speech at -45.0 dBFS, -40 dBFS needed", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("      hint: move closer", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("take 1 accepted", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\e[", run.Stdout, StringComparison.Ordinal); // not a terminal: no ANSI codes
    }

    [Fact]
    public void Fails_with_exit_1_after_the_last_attempt_and_keeps_the_previous_enrollment()
    {
        Assert.Equal(0, Enroll(["--wav", .. Goods(1, 5)]).ExitCode);
        var store = new EnrollmentStore(_state.Path);
        byte[] before = File.ReadAllBytes(store.FilePath);

        CliRun run = Enroll(["--json", "--wav", PathOf("good_1.wav"), PathOf("snr10.wav"), PathOf("snr14.wav"), PathOf("silence.wav")]);
        Assert.True(run.ExitCode == 1, run.ToString());
        JsonElement summary = Assert.Single(run.Of("summary"));
        Assert.Equal("failedQc", summary.GetProperty("outcome").GetString());
        Assert.True(run.Of("take").Last().GetProperty("enrollmentFailed").GetBoolean());
        Assert.Equal(before, File.ReadAllBytes(store.FilePath));
    }

    [Fact]
    public void Fails_with_exit_1_when_the_wav_files_run_out()
    {
        CliRun run = Enroll(["--json", "--wav", .. Goods(1, 3)]);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("ran out of WAV files: 3 of 5", Assert.Single(run.Of("summary")).GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(new EnrollmentStore(_state.Path).Exists);
    }

    [Fact]
    public void Exits_4_with_the_file_named_for_a_bad_or_missing_wav()
    {
        string bad = Path.Combine(_state.Path, "bad.wav");
        File.WriteAllText(bad, "this is not a RIFF file");
        CliRun run = Enroll(["--wav", PathOf("good_1.wav"), bad]);
        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Contains("bad WAV file", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("bad.wav", run.Stderr, StringComparison.Ordinal);

        CliRun missing = Enroll(["--wav", Path.Combine(_state.Path, "nope.wav")]);
        Assert.True(missing.ExitCode == 4, missing.ToString());
        Assert.Contains("nope.wav", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Exits_3_with_a_clear_message_when_there_is_no_microphone()
    {
        CliRun run = Enroll(["--json", "--device", "no_such_capture_device"]);
        Assert.True(run.ExitCode == 3, run.ToString());
        string message = Assert.Single(run.Of("error")).GetProperty("message").GetString()!;
        Assert.StartsWith("no microphone: ALSA capture device 'no_such_capture_device' could not be opened", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--takes", "0", "takes must be 1..32")]
    [InlineData("--min-ms", "900", "speech bounds")]
    [InlineData("--bogus", null, "Unrecognized command or argument '--bogus'")]
    [InlineData("--takes", "five", "'five' for option '--takes'")]
    [InlineData("--listen-timeout-ms", "100", "--listen-timeout-ms must be 500..600000, got 100")]
    [InlineData("--max-dtw", "-1", "--max-dtw needs a positive number, got '-1'")]
    [InlineData("--stdin", null, "choose one input: --wav or --stdin")]
    public void Exits_2_naming_a_bad_option(string flag, string? value, string expected)
    {
        CliRun run = Enroll(value is null ? [flag, "--wav", PathOf("good_1.wav")] : [flag, value, "--wav", PathOf("good_1.wav")]);
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(expected, run.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Stdout);
    }

    [Fact]
    public void Help_exits_0_and_lists_every_option_and_the_exit_codes()
    {
        CliRun run = CliRunner.Run(["--help"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (string option in new[] { "--device", "--wav", "--stdin", "--listen-timeout-ms", "--takes", "--max-attempts", "--phrase", "--phrase-config",
            "--min-ms", "--max-ms", "--max-dtw", "--config", "--state-dir", "--device-id", "--no-outbox", "--json" })
        {
            Assert.Contains(option, run.Stdout, StringComparison.Ordinal);
        }

        Assert.Contains("4 bad WAV file", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Stderr);
    }

    [Fact]
    public void Exits_2_naming_the_key_of_a_bad_agent_config_or_phrase_config()
    {
        string config = Path.Combine(_state.Path, "agent.json");
        File.WriteAllText(config, """{ "DeviceId": "has space" }""");
        CliRun run = CliRunner.Run(["--config", config, "--wav", PathOf("good_1.wav")]);
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("DeviceId", run.Stderr, StringComparison.Ordinal);

        string phrase = Path.Combine(_state.Path, "phrase.json");
        File.WriteAllText(phrase, """{ "phrase": "hey edge", "maxSpeechMsTypo": 900 }""");
        CliRun bad = Enroll(["--phrase-config", phrase, "--wav", PathOf("good_1.wav")]);
        Assert.True(bad.ExitCode == 2, bad.ToString());
        Assert.Contains("maxSpeechMsTypo", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_phrase_config_file_changes_the_duration_bounds()
    {
        string phrase = Path.Combine(_state.Path, "phrase.json");
        File.WriteAllText(phrase, """{ "phrase": "edge", "minSpeechMs": 200, "maxSpeechMs": 400 }""");
        CliRun run = Enroll(["--json", "--takes", "1", "--phrase-config", phrase, "--wav", PathOf("short.wav")]);
        Assert.True(run.ExitCode == 0, run.ToString());
        JsonElement start = Assert.Single(run.Of("start"));
        Assert.Equal(400, start.GetProperty("maxSpeechMs").GetInt32());
    }

    [Fact]
    public void Queues_only_qc_figures_in_the_outbox_never_the_voice_print()
    {
        Assert.Equal(0, Enroll(["--wav", .. Goods(1, 5)], outbox: true).ExitCode);
        var store = new EnrollmentStore(_state.Path);
        Assert.True(store.TryLoad(out EnrollmentData? data, out _));

        string db = Path.Combine(_state.Path, "outbox.db");
        using (OutboxStore outbox = OutboxStore.Open(new OutboxOptions { DatabasePath = db }))
        {
            OutboxMessage m = Assert.Single(outbox.PeekBatch(100));
            Assert.Equal(OutboxMessageClass.EnrollmentQc, m.Class);
            Assert.Equal("edgekws/v1/dev-enroll-1/enrollment-qc", m.Topic);
            Assert.True(m.Payload.Length < 1024, $"QC payload is {m.Payload.Length} bytes");
            Assert.True(WireJson.TryDeserialize(m.Payload, WireJsonContext.Default.EnrollmentQcReport, out EnrollmentQcReport? qc, out string why), why);
            Assert.Equal(EnrollmentOutcome.Enrolled, qc.Outcome);
            Assert.Equal(5, qc.TakesAccepted);
            using var doc = JsonDocument.Parse(m.Payload);
            Assert.All(doc.RootElement.EnumerateObject(), p => Assert.Contains(p.Name, QcReportKeys));
            Assert.All(doc.RootElement.GetProperty("rejections").EnumerateObject(), p => Assert.Equal(JsonValueKind.Number, p.Value.ValueKind));
        }

        // No run of the stored features' bytes is anywhere in the outbox database (or its WAL).
        byte[] outboxBytes = [.. File.ReadAllBytes(db), .. File.Exists(db + "-wal") ? File.ReadAllBytes(db + "-wal") : []];
        foreach (EnrolledTake t in data!.Takes)
        {
            byte[] feature = new byte[16];
            Buffer.BlockCopy(t.Features, 40, feature, 0, 16);
            Assert.Equal(-1, outboxBytes.AsSpan().IndexOf(feature));
        }
    }

    [Fact]
    public void Records_five_takes_from_an_alsa_fake_microphone_cut_at_the_pauses()
    {
        string conf = FakeMicConfig("fakemic_enroll", PathOf("takes5.raw"));
        CliRun run = Enroll(["--json", "--device", "fakemic_enroll"], env: new Dictionary<string, string>
        {
            ["ALSA_CONFIG_PATH"] = "/usr/share/alsa/alsa.conf:" + conf,
        });
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("alsa:fakemic_enroll", Assert.Single(run.Of("start")).GetProperty("source").GetString());
        List<JsonElement> t = run.Of("take").ToList();
        Assert.Equal(5, t.Count);
        Assert.All(t, e => Assert.True(e.GetProperty("accepted").GetBoolean(), e.ToString()));
        Assert.True(new EnrollmentStore(_state.Path).Exists);
    }

    [Fact]
    public void Records_five_takes_from_stdin_and_fails_with_exit_1_when_stdin_ends_early()
    {
        byte[] raw = File.ReadAllBytes(PathOf("takes5.raw"));
        CliRun run = Enroll(["--json", "--stdin"], stdin: raw);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(5, run.Of("take").Count());

        CliRun early = Enroll(["--json", "--stdin", "--state-dir", Path.Combine(_state.Path, "other")], stdin: raw[..(raw.Length / 2)]);
        Assert.True(early.ExitCode == 1, early.ToString());
        Assert.Contains("audio input ended", Assert.Single(early.Of("summary")).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exits_130_on_ctrl_c_and_keeps_the_previous_enrollment()
    {
        Assert.Equal(0, Enroll(["--wav", .. Goods(1, 5)]).ExitCode);
        var store = new EnrollmentStore(_state.Path);
        byte[] before = File.ReadAllBytes(store.FilePath);

        var psi = new System.Diagnostics.ProcessStartInfo(CliRunner.DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "edgekws-enroll.dll"), "--stdin", "--json", "--no-outbox", "--state-dir", _state.Path })
        {
            psi.ArgumentList.Add(a);
        }

        ChildProcess.RestoreDefaultSigint(psi); // the Ctrl-C below must reach it however the test run was started
        using var child = System.Diagnostics.Process.Start(psi)!;
        var stdoutLines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                stdoutLines.Enqueue(e.Data);
            }
        };
        child.BeginOutputReadLine();
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        child.StandardInput.BaseStream.Write(File.ReadAllBytes(PathOf("good_1.wav"))[44..]); // one take, stdin left open
        child.StandardInput.BaseStream.Flush();
        // Ctrl-C once it has reported the first take and waits on stdin for the second. A fixed sleep here raced the
        // start-up (dotnet exec, JIT) on a loaded CI machine: the signal then came before the take was checked.
        await TestWait.UntilAsync(() => stdoutLines.Any(l => l.Contains("\"take\":1", StringComparison.Ordinal)) || child.HasExited,
            TimeSpan.FromSeconds(120), () => "the first take's report: " + string.Join('\n', stdoutLines));
        using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        Assert.True(child.WaitForExit(120_000), "edgekws-enroll did not stop on SIGINT");
        child.WaitForExit(); // drains the asynchronous stdout reader
        string output = string.Join('\n', stdoutLines) + "\n" + await stderr;
        Assert.True(child.ExitCode == 130, $"exit {child.ExitCode}: {output}");
        Assert.Contains("\"take\":1", output, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(store.FilePath));
    }

    private CliRun Enroll(IEnumerable<string> args, byte[]? stdin = null, IDictionary<string, string>? env = null, bool outbox = false)
    {
        List<string> all = ["--state-dir", _state.Path, .. args];
        all.AddRange(outbox ? ["--device-id", "dev-enroll-1"] : ["--no-outbox"]);
        if (all.Count(a => a == "--state-dir") > 1)
        {
            all.RemoveRange(0, 2);
        }

        return CliRunner.Run(all, stdin, env);
    }

    private string FakeMicConfig(string pcm, string infile)
    {
        string template = File.ReadAllText(RepositoryRoot.File("hardware/alsa/fakemic.conf"));
        string path = Path.Combine(_state.Path, pcm + ".conf");
        File.WriteAllText(path, template.Replace("@PCM_NAME@", pcm).Replace("@INFILE@", infile));
        return path;
    }

    private string[] Goods(int from, int to) => Enumerable.Range(from, to - from + 1).Select(i => PathOf($"good_{i}.wav")).ToArray();

    private string PathOf(string name) => takes.PathOf(name);

    private static string[] Checks(JsonElement take) =>
        take.GetProperty("failures").EnumerateArray().Select(f => f.GetProperty("check").GetString()!).ToArray();
}
