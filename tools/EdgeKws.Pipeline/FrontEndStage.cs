using System.Diagnostics;
using System.Globalization;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Features;
using EdgeKws.Shared.Quality;

namespace EdgeKws.Pipeline;

/// <summary>
/// Stage 1 of the main job: make a recording (espeak-ng speech between pauses and background
/// noise, at espeak's native 22.05 kHz so the resampler is exercised), then stream it through the
/// same front end the device runs: WAV reader -> resampler -> MFCC and quality blocks, in fixed
/// blocks, and print features, quality figures and timings.
/// </summary>
internal sealed class FrontEndStage(MainJobOptions options, TextWriter output)
{
    private const int BlockSamples = 160; // 10 ms at 16 kHz, as the device's capture periods

    public int Run(List<string> report)
    {
        output.WriteLine("==> Front end: generating a recording");
        string wavPath = Path.Combine(options.OutputDirectory, "speech-22k.wav");
        SyntheticRecording.Write(wavPath, options.Text, options.Seconds, output);

        output.WriteLine($"==> Front end: streaming {wavPath} through resampler, MFCC and quality checks");
        var config = MfccConfig.Default;
        var extractor = new MfccExtractor(config);
        var quality = new TakeQualityAnalyzer();
        int coeffs = config.CoefficientCount;
        var block = new float[BlockSamples];
        var features = new float[extractor.FramesForNextPush(BlockSamples + extractor.WindowSamples) * coeffs];
        var firstFrames = new List<float[]>();
        long frames = 0;
        double[] coefficientSum = new double[coeffs];

        using var source = new AudioFileSource(wavPath);
        var stopwatch = Stopwatch.StartNew();
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long mfccTicks = 0;
        int read;
        while ((read = source.Read(block)) > 0)
        {
            long t0 = Stopwatch.GetTimestamp();
            int n = extractor.Push(block.AsSpan(0, read), features);
            mfccTicks += Stopwatch.GetTimestamp() - t0;
            quality.Push(block.AsSpan(0, read));
            for (int f = 0; f < n; f++)
            {
                var frame = features.AsSpan(f * coeffs, coeffs);
                for (int k = 0; k < coeffs; k++) coefficientSum[k] += frame[k];
                if (firstFrames.Count < 3 && frames + f >= 100) firstFrames.Add(frame.ToArray());
            }
            frames += n;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        stopwatch.Stop();

        double audioSeconds = source.OutputSampleCount / 16000.0;
        double mfccUsPerFrame = frames == 0 ? 0 : mfccTicks * 1e6 / Stopwatch.Frequency / frames;
        TakeQuality q = quality.GetSummary();
        string Fmt(double x) => x.ToString("0.00", CultureInfo.InvariantCulture);

        var lines = new List<string>
        {
            "# EdgeKws main job: front end",
            "",
            $"- recording: `{wavPath}` ({source.SourceFormat.SampleRateHz} Hz, {source.SourceFormat.Channels} ch) -> {Fmt(audioSeconds)} s at 16 kHz",
            $"- feature config hash: `{config.FeatureConfigHash}`",
            $"- MFCC: {frames} frames x {coeffs} coefficients; state {extractor.StateBytes} bytes (budget 16384)",
            $"- MFCC time: {Fmt(mfccUsPerFrame)} us/frame (JIT, this run; see docs/benchmarks.md for BenchmarkDotNet figures)",
            $"- whole stream (read + resample + MFCC + quality): {Fmt(stopwatch.Elapsed.TotalMilliseconds)} ms, real-time factor {Fmt(audioSeconds / stopwatch.Elapsed.TotalSeconds)}x",
            $"- managed bytes allocated while streaming: {allocated} (first-call JIT and buffers included)",
            $"- level: peak {Fmt(q.Level.PeakDbFs)} dBFS, RMS {Fmt(q.Level.RmsDbFs)} dBFS; clipping: {q.Clipping.ClippedSampleCount} samples",
            q.Snr is { } snr ? $"- SNR estimate: {Fmt(snr.SnrDb)} dB (noise floor {Fmt(snr.NoiseFloorDbFs)} dBFS)" : "- SNR estimate: none (no speech frames)",
            q.SpeechSpan is { } span ? $"- speech (VAD): {Fmt(span.StartMs / 1000)} s to {Fmt(span.EndMs / 1000)} s in {q.SpeechSegmentCount} segments" : "- speech (VAD): none found",
            "",
            "Mean of each coefficient over the recording:",
            "",
            "    " + string.Join(" ", Array.ConvertAll(coefficientSum, s => (s / Math.Max(frames, 1)).ToString("0.00", CultureInfo.InvariantCulture).PadLeft(7))),
            "",
            "Frames 100-102 (1.00 s to 1.02 s):",
            "",
        };
        foreach (var f in firstFrames)
            lines.Add("    " + string.Join(" ", Array.ConvertAll(f, v => v.ToString("0.00", CultureInfo.InvariantCulture).PadLeft(7))));

        foreach (var l in lines) output.WriteLine(l);
        report.AddRange(lines);
        return frames > 0 ? 0 : 1;
    }
}
