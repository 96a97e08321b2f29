using System.Collections;
using EdgeKws.Device.Audio;
using EdgeKws.Device.Configuration;
using EdgeKws.Device.Enrollment;
using EdgeKws.Device.Outbox;
using EdgeKws.Enroll;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Contracts;

return CliOptions.Invoke(args, o => EnrollCommand.Run(o, Console.Out, Console.IsOutputRedirected), Console.Out, Console.Error);

namespace EdgeKws.Enroll
{
    /// <summary>The whole CLI once parsed: configure, record/check takes, store, report.</summary>
    internal static class EnrollCommand
    {
        public static int Run(CliOptions o, TextWriter stdout, bool outputRedirected)
        {
            var report = new Reporter(stdout, o.Json, tty: !outputRedirected);
            if (!TryConfigure(o, out AgentConfig config, out EnrollmentPolicy policy, out string configError))
            {
                report.Error(ExitCodes.Usage, configError);
                return ExitCodes.Usage;
            }

            using var cts = new CancellationTokenSource();
            // First Ctrl-C: stop cleanly (an ALSA read returns within 50 ms; the QC report of the
            // interrupted run is still queued). A read blocked on stdin cannot be interrupted, so
            // there, and on a second Ctrl-C, the runtime's default applies: exit 130 at once. Either
            // way the stored enrollment is untouched: it is only ever replaced by one atomic rename.
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (cts.IsCancellationRequested || o.Input == InputKind.Stdin)
                {
                    return;
                }

                e.Cancel = true;
                cts.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                return Enroll(o, config, policy, report, cts.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }

        private static int Enroll(CliOptions o, AgentConfig config, EnrollmentPolicy policy, Reporter report, CancellationToken ct)
        {
            var session = new EnrollmentSession(policy);
            var store = new EnrollmentStore(config.StateDirectory);

            // Open the input first: a missing microphone or a bad WAV ends the run before any prompt.
            IAudioSource? live = null;
            string sourceName;
            try
            {
                switch (o.Input)
                {
                    case InputKind.Wav:
                        foreach (string path in o.WavFiles)
                        {
                            if (!TryProbeWav(path, out string wavError))
                            {
                                report.Error(ExitCodes.BadWav, wavError);
                                return ExitCodes.BadWav;
                            }
                        }

                        sourceName = $"{o.WavFiles.Count} WAV file(s)";
                        break;
                    case InputKind.Stdin:
                        live = StdinPcmSource.OpenStandardInput();
                        sourceName = "stdin (raw S16_LE 16 kHz mono)";
                        break;
                    default:
                        live = new AlsaCaptureSource(new AlsaCaptureOptions
                        {
                            DeviceName = o.AlsaDevice ?? config.Audio.AlsaDevice,
                            PeriodFrames = config.Audio.PeriodFrames,
                            BufferPeriods = config.Audio.BufferPeriods,
                        });
                        sourceName = live.Name;
                        break;
                }
            }
            catch (Exception ex) when (o.Input == InputKind.Alsa && ex is AlsaException or DllNotFoundException)
            {
                report.Error(ExitCodes.NoAudioDevice, $"no microphone: {ex.Message}. Check that a capture device is connected (arecord -l) or pass --device NAME, --wav FILES or --stdin.");
                return ExitCodes.NoAudioDevice;
            }

            using (live)
            {
                report.Start(policy, sourceName, session.StateBytes, store.FilePath, store.Exists);
                string? endMessage = null;
                int wavIndex = 0;
                try
                {
                    var recorder = live is null ? null : new LiveTakeRecorder(live, new LiveTakeOptions
                    {
                        ListenTimeoutMs = o.ListenTimeoutMs ?? new LiveTakeOptions().ListenTimeoutMs,
                    });
                    while (!session.IsComplete && !session.IsFailed)
                    {
                        ct.ThrowIfCancellationRequested();
                        report.Prompt(session.CurrentTakeNumber, policy.TakeCount, session.Attempt, policy.MaxAttemptsPerTake, policy.Phrase, live is not null);
                        TakeResult result;
                        string? file = null;
                        if (recorder is not null)
                        {
                            TakeCapture capture = recorder.Record(session.TakeBuffer, report.Level, ct);
                            if (capture.EndOfStream && !capture.HeardSpeech)
                            {
                                endMessage = $"the audio input ended after {session.AcceptedCount} of {policy.TakeCount} takes were accepted";
                                break;
                            }

                            result = session.SubmitBufferedTake(capture.SampleCount);
                        }
                        else
                        {
                            if (wavIndex == o.WavFiles.Count)
                            {
                                endMessage = $"ran out of WAV files: {session.AcceptedCount} of {policy.TakeCount} takes accepted from {o.WavFiles.Count} file(s)";
                                break;
                            }

                            file = o.WavFiles[wavIndex++];
                            report.WavTake(file);
                            result = SubmitWav(session, file);
                        }

                        report.Take(result, file);
                    }
                }
                catch (OperationCanceledException)
                {
                    return Finish(session, store, o, config, report, EnrollmentOutcome.Interrupted, ExitCodes.Interrupted,
                        "interrupted: the previous enrollment (if any) is unchanged", null);
                }
                catch (Exception ex) when (live is null && IsBadWav(ex))
                {
                    report.Error(ExitCodes.BadWav, $"bad WAV file '{o.WavFiles[Math.Max(0, wavIndex - 1)]}': {ex.Message}");
                    return ExitCodes.BadWav;
                }

                if (!session.IsComplete)
                {
                    string why = endMessage ?? $"take {session.CurrentTakeNumber} failed {policy.MaxAttemptsPerTake} times";
                    return Finish(session, store, o, config, report, EnrollmentOutcome.FailedQc, ExitCodes.FailedQc,
                        $"enrollment failed: {why}; the previous enrollment (if any) is unchanged", null);
                }

                EnrollmentData data = session.BuildEnrollment(DateTimeOffset.UtcNow);
                try
                {
                    store.Save(data);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    report.Error(ExitCodes.StorageError, $"could not store the enrollment in {store.FilePath}: {ex.Message} (the previous enrollment is unchanged)");
                    return ExitCodes.StorageError;
                }

                return Finish(session, store, o, config, report, EnrollmentOutcome.Enrolled, ExitCodes.Enrolled,
                    $"enrolled: {data.Takes.Count} takes stored in {store.FilePath} (template: take {data.TemplateTakeIndex + 1})", data);
            }
        }

        private static TakeResult SubmitWav(EnrollmentSession session, string path)
        {
            using var source = new AudioFileSource(path);
            if (source.OutputSampleCount > session.TakeCapacitySamples)
            {
                return session.RejectOverlongRecording(source.OutputSampleCount);
            }

            Span<short> take = session.TakeBuffer;
            Span<float> block = stackalloc float[160];
            int at = 0;
            int n;
            while ((n = source.Read(block)) > 0)
            {
                int fit = Math.Min(n, take.Length - at);
                Pcm16.ToInt16(block[..fit], take.Slice(at, fit));
                at += fit;
                if (at == take.Length)
                {
                    break;
                }
            }

            return session.SubmitBufferedTake(at);
        }

        private static int Finish(EnrollmentSession session, EnrollmentStore store, CliOptions o, AgentConfig config, Reporter report,
            EnrollmentOutcome outcome, int exitCode, string message, EnrollmentData? data)
        {
            bool queued = false;
            if (!o.NoOutbox && session.AttemptCount > 0)
            {
                try
                {
                    using OutboxStore outbox = OutboxStore.Open(new OutboxOptions
                    {
                        DatabasePath = Path.Combine(config.StateDirectory, "outbox.db"),
                        QuotaBytes = config.Outbox.QuotaBytes,
                    });
                    EnrollmentQcReport qc = session.BuildQcReport(config.DeviceId, DateTimeOffset.UtcNow, outcome, data);
                    queued = EnrollmentQcPublisher.Enqueue(outbox, qc).IsAccepted;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // The enrollment itself is done (or kept); a QC report that cannot be queued is a warning.
                    Console.Error.WriteLine($"edgekws-enroll: warning: the QC report could not be queued: {ex.Message}");
                }
            }

            ProcessMemory.Read(out long rss, out long peak);
            report.Summary(new RunSummary(
                outcome switch
                {
                    EnrollmentOutcome.Enrolled => "enrolled",
                    EnrollmentOutcome.FailedQc => "failedQc",
                    _ => "interrupted",
                },
                exitCode, message, session.AcceptedCount, session.Policy.TakeCount, session.AttemptCount,
                data is null ? null : store.FilePath, data is null ? null : data.TemplateTakeIndex + 1, queued,
                session.StateBytes, rss, peak));
            return exitCode;
        }

        private static bool TryProbeWav(string path, out string error)
        {
            try
            {
                using var probe = new AudioFileSource(path);
                error = string.Empty;
                return true;
            }
            catch (Exception ex) when (IsBadWav(ex))
            {
                error = ex is FileNotFoundException or DirectoryNotFoundException
                    ? $"bad WAV file '{path}': not found"
                    : $"bad WAV file '{path}': {ex.Message}";
                return false;
            }
        }

        private static bool IsBadWav(Exception ex) =>
            ex is WavFormatException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or EndOfStreamException
            || (ex is IOException && ex is not AlsaException);

        private static bool TryConfigure(CliOptions o, out AgentConfig config, out EnrollmentPolicy policy, out string error)
        {
            policy = new EnrollmentPolicy();
            error = string.Empty;

            // Command-line overrides go in as environment overrides, so the agent's own loader
            // validates them exactly as it validates the file (precedence: flag > env > file).
            var env = new Hashtable();
            foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                env[e.Key] = e.Value;
            }

            if (o.DeviceId is not null)
            {
                env[AgentConfigLoader.EnvironmentPrefix + "DeviceId"] = o.DeviceId;
            }
            else if (o.NoOutbox && o.ConfigPath is null && !env.ContainsKey(AgentConfigLoader.EnvironmentPrefix + "DeviceId"))
            {
                env[AgentConfigLoader.EnvironmentPrefix + "DeviceId"] = "unnamed"; // not used: nothing is queued
            }

            if (o.StateDir is not null)
            {
                env[AgentConfigLoader.EnvironmentPrefix + "StateDirectory"] = o.StateDir;
            }

            if (!AgentConfigLoader.TryLoad(o.ConfigPath, env, out config, out IReadOnlyList<string> problems))
            {
                error = "bad configuration: " + string.Join("; ", problems)
                    + (o.DeviceId is null && o.ConfigPath is null ? " (pass --device-id ID or --config FILE, or --no-outbox)" : string.Empty);
                return false;
            }

            if (o.PhraseConfigPath is not null)
            {
                if (!PhraseConfig.TryLoad(o.PhraseConfigPath, out PhraseConfig phrase, out error))
                {
                    return false;
                }

                policy = phrase.ApplyTo(policy);
            }

            policy = policy with
            {
                Phrase = o.Phrase ?? policy.Phrase,
                TakeCount = o.Takes ?? policy.TakeCount,
                MaxAttemptsPerTake = o.MaxAttempts ?? policy.MaxAttemptsPerTake,
                MinSpeechMs = o.MinMs ?? policy.MinSpeechMs,
                MaxSpeechMs = o.MaxMs ?? policy.MaxSpeechMs,
                MaxDtwDistance = o.MaxDtw ?? policy.MaxDtwDistance,
            };
            if (!policy.TryValidate(out string why))
            {
                error = "bad enrollment settings: " + why;
                return false;
            }

            return true;
        }
    }

    /// <summary>Resident set size from /proc/self/status (VmRSS, VmHWM), in bytes.</summary>
    internal static class ProcessMemory
    {
        public static void Read(out long rssBytes, out long peakRssBytes)
        {
            rssBytes = 0;
            peakRssBytes = 0;
            try
            {
                foreach (string line in File.ReadLines("/proc/self/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        rssBytes = Kb(line);
                    }
                    else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        peakRssBytes = Kb(line);
                    }
                }
            }
            catch (IOException)
            {
                // Not Linux /proc: report 0.
            }
        }

        private static long Kb(string line)
        {
            string digits = new(line.Where(char.IsAsciiDigit).ToArray());
            return long.TryParse(digits, out long kb) ? kb * 1024 : 0;
        }
    }
}
