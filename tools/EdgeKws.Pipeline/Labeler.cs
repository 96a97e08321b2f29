using System.Globalization;
using EdgeKws.Labeling.Alignment;
using EdgeKws.Labeling.Extraction;
using EdgeKws.Shared.Audio;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Pipeline;

/// <summary>
/// Stage 4: a TA/FA label for every detection whose trigger clip came up as consented audio, by forcing
/// the wake phrase onto the clip with PocketSphinx (EdgeKws.Labeling's <see cref="TriggerVerifier"/>):
/// a confident fit is a true accept, a confident miss a false accept, anything between goes to review
/// (label Unknown, which the gateway counts in its review queue). Labels go to the gateway through
/// POST /api/labels, source <c>auto:pocketsphinx</c>. Each label is also checked against the corpus
/// ground truth (the keyword times the generator wrote), which is how good the aligner is here.
/// </summary>
internal sealed class Labeler(string outDir, string databasePath, Progress progress)
{
    public const string WakePhrase = "hey edge";

    /// <summary>A detection whose keyword end lies in [start, end + this] of a known keyword is a true accept.</summary>
    public const double TruthToleranceMs = 1000;

    public async Task<LabelFigures> RunAsync(IReadOnlyList<DeviceRecording> recordings, GatewayClient gateway, CancellationToken ct)
    {
        var figures = new LabelFigures { Labeler = "main job: EdgeKws.Labeling TriggerVerifier (PocketSphinx) -> POST /api/labels" };
        List<DetectionClipRow> rows;
        using (var db = new GatewayDatabase(databasePath))
        {
            rows = db.ReadDetectionClips();
        }
        var truthByDevice = recordings.ToDictionary(r => r.DeviceId, r => r.Keywords, StringComparer.Ordinal);
        string clipDir = Path.Combine(outDir, "labels", "clips");
        Directory.CreateDirectory(clipDir);

        PocketSphinxAligner aligner = await PocketSphinxAligner.CreateAsync(cancellationToken: ct).ConfigureAwait(false);
        var verifier = new TriggerVerifier(aligner, WakePhrase);
        var verdicts = new (DetectionClipRow Row, TriggerVerdict Verdict)?[rows.Count];
        // Two aligner processes at once: the machine has two cores.
        await Parallel.ForEachAsync(Enumerable.Range(0, rows.Count), new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = ct }, async (i, token) =>
        {
            DetectionClipRow row = rows[i];
            if (row.AudioFrame is null)
            {
                return;
            }
            if (!ClipAudio.TryReadHeader(row.AudioFrame, out ClipHeader header, out string why))
            {
                throw new InvalidOperationException($"stored clip {row.ClipId} of {row.DeviceId} does not parse: {why}");
            }
            var samples = new short[header.FrameCount];
            ClipAudio.ReadSamples(row.AudioFrame, header, samples);
            var audio = new float[samples.Length];
            for (int k = 0; k < samples.Length; k++)
            {
                audio[k] = samples[k] / 32768f;
            }
            string wav = Path.Combine(clipDir, string.Create(CultureInfo.InvariantCulture, $"{row.DeviceId}-{row.Sequence}.wav"));
            WavFile.Write(wav, audio, header.SampleRateHz, WavSampleFormat.Pcm16);
            verdicts[i] = (row, await verifier.VerifyAsync(wav, token).ConfigureAwait(false));
        }).ConfigureAwait(false);

        var labels = new List<object>();
        using var log = new StreamWriter(Path.Combine(outDir, "labels", "labels.csv"));
        await log.WriteLineAsync("device,sequence,stream_offset_ms,score,label,confidence,truth,reason").ConfigureAwait(false);
        foreach ((DetectionClipRow row, TriggerVerdict v) in verdicts.Where(x => x is not null).Select(x => x!.Value))
        {
            figures.ClipsAligned++;
            string label = v.Label switch
            {
                TriggerLabel.TrueAccept => "TrueAccept",
                TriggerLabel.FalseAccept => "FalseAccept",
                _ => "Unknown",
            };
            switch (v.Label)
            {
                case TriggerLabel.TrueAccept: figures.TrueAccepts++; break;
                case TriggerLabel.FalseAccept: figures.FalseAccepts++; break;
                default: figures.NeedsReview++; break;
            }
            bool truthTa = truthByDevice.TryGetValue(row.DeviceId, out var keywords)
                && keywords.Any(k => row.StreamOffsetMs >= k.StartMs && row.StreamOffsetMs <= k.EndMs + TruthToleranceMs);
            if (truthTa)
            {
                figures.TruthTrueAccepts++;
            }
            else
            {
                figures.TruthFalseAccepts++;
            }
            if (v.Label != TriggerLabel.NeedsReview)
            {
                figures.DecidedWithTruth++;
                if ((v.Label == TriggerLabel.TrueAccept) == truthTa)
                {
                    figures.AgreeWithTruth++;
                }
            }
            labels.Add(new { deviceId = row.DeviceId, sequence = row.Sequence, label, source = "auto:" + v.Source.Tool });
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{row.DeviceId},{row.Sequence},{row.StreamOffsetMs},{row.Score:F3},{label},{v.Confidence:F3},{(truthTa ? "TrueAccept" : "FalseAccept")},\"{v.Reason.Replace('"', '\'')}\"")).ConfigureAwait(false);
        }
        if (labels.Count > 0)
        {
            var response = await gateway.PostJsonAsync("api/labels", labels, ct).ConfigureAwait(false);
            long stored = response.GetProperty("stored").GetInt64();
            int rejected = response.GetProperty("rejected").GetArrayLength();
            progress.Detail($"POST /api/labels: {stored} stored, {rejected} rejected");
            if (rejected > 0)
            {
                throw new InvalidOperationException($"the gateway rejected {rejected} labels: {response.GetProperty("rejected")}");
            }
        }
        figures.ReviewQueue = (await gateway.GetAsync("api/review-queue", ct).ConfigureAwait(false)).GetProperty("count").GetInt64();
        int withoutClip = rows.Count(r => r.AudioFrame is null);
        if (withoutClip > 0)
        {
            progress.Detail($"{withoutClip} detections have no audio clip at the gateway (not labelled)");
        }
        return figures;
    }
}
