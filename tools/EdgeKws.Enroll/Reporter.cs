using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using EdgeKws.Device.Enrollment;

namespace EdgeKws.Enroll;

/// <summary>Final figures of a run, for the summary line/object.</summary>
internal sealed record RunSummary(
    string Outcome,
    int ExitCode,
    string Message,
    int TakesAccepted,
    int TakesRequested,
    int Attempts,
    string? EnrollmentPath,
    int? TemplateTake,
    bool QcQueued,
    int StateBytes,
    long RssBytes,
    long PeakRssBytes);

/// <summary>
/// Writes progress in one of three forms: a terminal (live ANSI level meter, colours), plain lines
/// (stdout redirected), or JSON lines (--json: one object per event, for scripts). A plain ANSI
/// meter is used instead of Spectre.Console: it needs no package, so the NativeAOT binary has no
/// trimming risk and stays small.
/// </summary>
internal sealed class Reporter
{
    private const int MeterWidth = 30;
    private const double MeterFloorDbFs = -60;

    private readonly TextWriter _out;
    private readonly bool _json;
    private readonly bool _tty;
    private bool _meterShown;

    public Reporter(TextWriter output, bool json, bool tty)
    {
        _out = output;
        _json = json;
        _tty = tty && !json;
    }

    public void Start(EnrollmentPolicy p, string source, int stateBytes, string storePath, bool hasPrevious)
    {
        if (_json)
        {
            Json(w =>
            {
                w.WriteString("event", "start");
                w.WriteString("phrase", p.Phrase);
                w.WriteString("source", source);
                w.WriteNumber("takes", p.TakeCount);
                w.WriteNumber("maxAttemptsPerTake", p.MaxAttemptsPerTake);
                w.WriteNumber("minSpeechMs", p.MinSpeechMs);
                w.WriteNumber("maxSpeechMs", p.MaxSpeechMs);
                w.WriteNumber("minSnrDb", p.MinSnrDb);
                w.WriteNumber("minSpeechRmsDbFs", p.MinSpeechRmsDbFs);
                w.WriteNumber("maxDtwDistance", p.MaxDtwDistance);
                w.WriteNumber("stateBytes", stateBytes);
                w.WriteString("enrollmentPath", storePath);
                w.WriteBoolean("previousEnrollment", hasPrevious);
            });
            return;
        }

        Line($"Enrolling \"{p.Phrase}\": {p.TakeCount} takes, up to {p.MaxAttemptsPerTake} attempts each; source {source}.");
        Line(Inv($"Checks: speech {p.MinSpeechMs}-{p.MaxSpeechMs} ms, SNR > {p.MinSnrDb:F0} dB, speech level >= {p.MinSpeechRmsDbFs:F0} dBFS, no clipping, DTW to other takes <= {p.MaxDtwDistance:F1}."));
        Line($"Enrollment state: {stateBytes:N0} bytes. {(hasPrevious ? "A previous enrollment exists and is kept unless this one succeeds." : "No previous enrollment.")}");
    }

    public void Prompt(int take, int takes, int attempt, int maxAttempts, string phrase, bool live)
    {
        if (_json)
        {
            return;
        }

        string again = attempt > 1 ? $" (attempt {attempt}/{maxAttempts})" : string.Empty;
        Line(live ? $"Take {take}/{takes}{again}: say \"{phrase}\" now." : $"Take {take}/{takes}{again}:");
    }

    public void Level(LiveLevel level)
    {
        if (!_tty)
        {
            return;
        }

        double rms = Math.Max(level.RmsDbFs, MeterFloorDbFs);
        int filled = (int)Math.Round((rms - MeterFloorDbFs) / -MeterFloorDbFs * MeterWidth);
        var sb = new StringBuilder(96);
        sb.Append("\r  [");
        string colour = level.PeakDbFs > -1 ? "\e[31m" : level.RmsDbFs < -45 ? "\e[33m" : "\e[32m";
        sb.Append(colour).Append('#', filled).Append("\e[0m").Append('.', MeterWidth - filled).Append("] ");
        sb.Append(Inv($"{level.RmsDbFs,6:F1} dBFS  {(level.InSpeech ? "speech " : "       ")} {level.ElapsedMs / 1000:F1} s "));
        _out.Write(sb.ToString());
        _out.Flush();
        _meterShown = true;
    }

    public void WavTake(string path)
    {
        if (!_json)
        {
            Line($"  file {path}");
        }
    }

    public void Take(TakeResult r, string? file)
    {
        EndMeter();
        TakeFigures f = r.Figures;
        if (_json)
        {
            Json(w =>
            {
                w.WriteString("event", "take");
                w.WriteNumber("take", r.TakeNumber);
                w.WriteNumber("attempt", r.Attempt);
                w.WriteBoolean("accepted", r.Accepted);
                if (file is not null)
                {
                    w.WriteString("file", file);
                }

                Num(w, "recordingMs", f.RecordingMs);
                Num(w, "speechMs", f.SpeechMs);
                Num(w, "speechStartMs", f.SpeechStartMs);
                Num(w, "snrDb", f.SnrDb);
                Num(w, "noiseFloorDbFs", f.NoiseFloorDbFs);
                Num(w, "speechRmsDbFs", f.SpeechRmsDbFs);
                Num(w, "peakDbFs", f.PeakDbFs);
                Num(w, "clippedRatio", f.ClippedRatio, 5);
                w.WriteNumber("clippedRuns", f.ClippedRuns);
                Num(w, "dtwDistance", f.DtwDistance);
                w.WriteStartArray("failures");
                foreach (TakeFailure x in r.Failures)
                {
                    w.WriteStartObject();
                    w.WriteString("check", CheckName(x.Check));
                    w.WriteString("reason", x.Reason);
                    w.WriteString("hint", x.Hint);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteBoolean("enrollmentFailed", r.EnrollmentFailed);
            });
            return;
        }

        string figures = Inv($"speech {Fmt(f.SpeechMs, "F0")} ms, SNR {Fmt(f.SnrDb, "F1")} dB, level {Fmt(f.SpeechRmsDbFs, "F1")} dBFS, peak {f.PeakDbFs:F1} dBFS")
            + (f.DtwDistance is double d ? Inv($", DTW {d:F1}") : string.Empty);
        if (r.Accepted)
        {
            Line(Colour("32", "  ok") + $"  take {r.TakeNumber} accepted: {figures}");
            return;
        }

        Line(Colour("31", "  retry") + $" take {r.TakeNumber} rejected: {figures}");
        foreach (TakeFailure x in r.Failures)
        {
            Line($"    - {x.Reason}");
            Line($"      hint: {x.Hint}");
        }
    }

    public void Summary(RunSummary s)
    {
        EndMeter();
        if (_json)
        {
            Json(w =>
            {
                w.WriteString("event", "summary");
                w.WriteString("outcome", s.Outcome);
                w.WriteNumber("exitCode", s.ExitCode);
                w.WriteString("message", s.Message);
                w.WriteNumber("takesAccepted", s.TakesAccepted);
                w.WriteNumber("takesRequested", s.TakesRequested);
                w.WriteNumber("attempts", s.Attempts);
                if (s.EnrollmentPath is not null)
                {
                    w.WriteString("enrollmentPath", s.EnrollmentPath);
                }

                if (s.TemplateTake is int t)
                {
                    w.WriteNumber("templateTake", t);
                }

                w.WriteBoolean("qcReportQueued", s.QcQueued);
                w.WriteNumber("stateBytes", s.StateBytes);
                w.WriteNumber("rssBytes", s.RssBytes);
                w.WriteNumber("peakRssBytes", s.PeakRssBytes);
            });
            return;
        }

        Line(s.ExitCode == 0 ? Colour("32", s.Message) : Colour("31", s.Message));
        Line($"Memory: enrollment state {s.StateBytes:N0} bytes; process RSS {s.RssBytes / 1024.0 / 1024:F1} MiB (peak {s.PeakRssBytes / 1024.0 / 1024:F1} MiB).");
        if (s.QcQueued)
        {
            Line("QC report (figures and pass/fail counts only) queued for upload; the voice print stays on this device.");
        }
    }

    public void Error(int exitCode, string message)
    {
        EndMeter();
        if (_json)
        {
            Json(w =>
            {
                w.WriteString("event", "error");
                w.WriteNumber("exitCode", exitCode);
                w.WriteString("message", message);
            });
        }
        else
        {
            Console.Error.WriteLine("edgekws-enroll: " + message);
        }
    }

    public static string CheckName(EnrollmentCheck c) => c switch
    {
        EnrollmentCheck.NoSpeech => "noSpeech",
        EnrollmentCheck.TooShort => "tooShort",
        EnrollmentCheck.TooLong => "tooLong",
        EnrollmentCheck.LowSnr => "lowSnr",
        EnrollmentCheck.Clipped => "clipped",
        EnrollmentCheck.TooQuiet => "tooQuiet",
        EnrollmentCheck.Inconsistent => "inconsistent",
        _ => c.ToString(),
    };

    private void EndMeter()
    {
        if (_meterShown)
        {
            _out.Write("\r\e[2K");
            _meterShown = false;
        }
    }

    private string Colour(string code, string text) => _tty ? $"\e[{code}m{text}\e[0m" : text;

    private void Line(string text)
    {
        EndMeter();
        _out.WriteLine(text);
        _out.Flush();
    }

    private void Json(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        _out.WriteLine(Encoding.UTF8.GetString(ms.ToArray()));
        _out.Flush();
    }

    private static void Num(Utf8JsonWriter w, string name, double? v, int digits = 2)
    {
        if (v is double x && double.IsFinite(x))
        {
            w.WriteNumber(name, Math.Round(x, digits));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static string Fmt(double? v, string format) => v is double x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
