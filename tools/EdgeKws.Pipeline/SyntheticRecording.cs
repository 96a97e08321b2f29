using System.Diagnostics;
using EdgeKws.Shared.Audio;

namespace EdgeKws.Pipeline;

/// <summary>
/// Makes the main job's recording without any download: espeak-ng speaks the phrase (varied
/// voices), placed every few seconds over low broadband noise, written at 22.05 kHz mono.
/// </summary>
internal static class SyntheticRecording
{
    private const int RateHz = 22050;

    public static void Write(string path, string text, int seconds, TextWriter output)
    {
        var rng = new Random(42);
        var audio = new float[RateHz * seconds];
        // Background: low-level broadband noise (about -50 dBFS RMS) so the SNR estimate and the
        // VAD have a floor to find.
        for (int i = 0; i < audio.Length; i++)
            audio[i] = (float)(rng.NextDouble() * 2 - 1) * 0.0055f;

        string[] voices = ["en", "en+f3", "en-us", "en+m3", "en+f5"];
        int utterances = 0;
        for (int at = RateHz, v = 0; at < audio.Length - RateHz; v++)
        {
            float[] speech = Speak(text, voices[v % voices.Length]);
            if (at + speech.Length >= audio.Length) break;
            for (int i = 0; i < speech.Length; i++) audio[at + i] += speech[i] * 0.5f;
            at += speech.Length + RateHz * 3;
            utterances++;
        }
        WavFile.Write(path, audio, RateHz, WavSampleFormat.Pcm16);
        output.WriteLine($"    {utterances} utterances of \"{text}\" by espeak-ng over {seconds} s of noise -> {path}");
    }

    private static float[] Speak(string text, string voice)
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"edgekws-say-{Environment.ProcessId}.wav");
        var psi = new ProcessStartInfo("espeak-ng") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-v", voice, "-w", tmp, text }) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start espeak-ng"))
        {
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"espeak-ng failed ({p.ExitCode}): {err}");
        }
        try
        {
            float[] samples = WavFile.ReadAllMono(tmp, out var format);
            if (format.SampleRateHz == RateHz) return samples;
            // espeak-ng speaks at 22.05 kHz; anything else is converted with our own resampler.
            var r = new Resampler(format.SampleRateHz, RateHz);
            var outBuf = new float[r.GetMaxOutputCount(samples.Length) + r.MaxFlushCount];
            int n = r.Process(samples, outBuf);
            n += r.Flush(outBuf.AsSpan(n));
            return outBuf[..n];
        }
        finally
        {
            File.Delete(tmp);
        }
    }
}
