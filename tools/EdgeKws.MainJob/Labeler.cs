using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EdgeKws.MainJob;

/// <summary>
/// Stage 4: TA/FA labels from forced alignment by the gateway's own labeling worker (<c>Gateway:Labeling</c>,
/// PocketSphinx through EdgeKws.Labeling's TriggerVerifier; docs/gateway.md "Trigger labeling"): the job
/// asks it to run now (<c>POST /api/review/run</c>), waits until every detection carries a label, and
/// reads them with their provenance (<c>GET /api/review/labels</c>) and the review queue
/// (<c>GET /api/review/items</c>). Each label is then compared with the corpus ground truth (the keyword
/// times the generator wrote), which is how good the aligner is on these voices and rooms.
/// </summary>
internal sealed class Labeler(string outDir, string databasePath, Progress progress)
{
    /// <summary>The wake phrase the gateway's worker aligns.</summary>
    public const string WakePhrase = "hey edge";

    /// <summary>A detection whose keyword end lies in [start, end + this] of a known keyword is a true accept.</summary>
    public const double TruthToleranceMs = 1000;

    /// <summary>How long one labeling run may take (the same budget as waiting for the labels it writes).</summary>
    private static readonly TimeSpan LabelRunTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Labels every detection stored so far and compares those of <paramref name="recordings"/>' day with its ground truth:
    /// with <paramref name="after"/>, only detections above each device's sequence number there count (the day's own).
    /// </summary>
    public async Task<LabelFigures> RunAsync(IReadOnlyList<DeviceRecording> recordings, GatewayClient gateway, bool calibrated, CancellationToken ct,
        IReadOnlyDictionary<string, long>? after = null, IReadOnlyDictionary<string, long>? nearMissesAfter = null)
    {
        var figures = new LabelFigures();
        long detections = (await gateway.GetAsync("api/detections?window=24h&limit=10000", ct).ConfigureAwait(false)).GetArrayLength();

        // The worker also runs on its timer; this run labels every clip waiting now (it waits for a run in progress).
        // It answers when the run is done: every waiting clip aligned and scored (a minute or more on a loaded 2-core machine).
        JsonElement run = await gateway.PostJsonAsync("api/review/run", new { }, ct, LabelRunTimeout).ConfigureAwait(false);
        progress.Detail($"POST /api/review/run: {run.GetProperty("handled").GetInt32()} clips handled");

        JsonElement[] labels = [];
        var sw = Stopwatch.StartNew();
        while (true)
        {
            labels = [.. (await gateway.GetAsync("api/review/labels?limit=10000", ct).ConfigureAwait(false)).EnumerateArray()];
            if (labels.Length >= detections)
            {
                break;
            }
            if (sw.Elapsed > TimeSpan.FromMinutes(10))
            {
                JsonElement status = await gateway.GetAsync("api/review/status", ct).ConfigureAwait(false);
                throw new TimeoutException($"the labeling worker labelled {labels.Length} of {detections} detections in 10 min: {status}");
            }
            await Task.Delay(500, ct).ConfigureAwait(false);
        }
        JsonElement workerStatus = await gateway.GetAsync("api/review/status", ct).ConfigureAwait(false);
        figures.Labeler = calibrated
            ? "gateway labeling worker, calibrated: forced alignment + device score + verifier, decided at >= 0.98 precision"
            : "gateway labeling worker (PocketSphinx forced alignment, fixed rules)";

        Dictionary<(string, long), DetectionClipRow> detectionRows;
        List<NearMissLabelRow> nearMisses;
        using (var db = new GatewayDatabase(databasePath))
        {
            detectionRows = db.ReadDetections().ToDictionary(r => (r.DeviceId, r.Sequence));
            nearMisses = db.ReadNearMisses();
        }
        var truthByDevice = recordings.ToDictionary(r => r.DeviceId, r => r.Keywords, StringComparer.Ordinal);
        CountNearMisses(figures.NearMisses, nearMisses.Where(n => truthByDevice.ContainsKey(n.DeviceId) && n.Sequence > (nearMissesAfter?.GetValueOrDefault(n.DeviceId) ?? 0)),
            truthByDevice);
        Directory.CreateDirectory(Path.Combine(outDir, "labels"));
        int day = recordings[0].Day;
        using var log = new StreamWriter(Path.Combine(outDir, "labels", day <= 1 ? "labels.csv" : $"labels-day{day}.csv"));
        await log.WriteLineAsync("device,sequence,stream_offset_ms,score,label,source,confidence,truth").ConfigureAwait(false);
        foreach (JsonElement item in labels)
        {
            JsonElement l = item.GetProperty("label");
            string device = l.GetProperty("deviceId").GetString()!;
            long seq = l.GetProperty("sequence").GetInt64();
            if (after is not null && seq <= after.GetValueOrDefault(device))
            {
                continue; // an earlier day's detection (or one heard while the model was rolled out)
            }
            string label = l.GetProperty("label").GetString()!;
            JsonElement provenance = item.GetProperty("provenance");
            bool byAligner = provenance.ValueKind == JsonValueKind.Object && provenance.GetProperty("kind").GetString() == "aligner";
            if (byAligner)
            {
                figures.ClipsAligned++;
            }
            switch (label)
            {
                case "TrueAccept": figures.TrueAccepts++; break;
                case "FalseAccept": figures.FalseAccepts++; break;
                default: figures.NeedsReview++; break;
            }
            if (!detectionRows.TryGetValue((device, seq), out DetectionClipRow? row))
            {
                continue;
            }
            bool truthTa = truthByDevice.TryGetValue(device, out var keywords) && SimulatedReviewer.HoldsKeyword(keywords, row.StreamOffsetMs);
            if (truthTa)
            {
                figures.TruthTrueAccepts++;
            }
            else
            {
                figures.TruthFalseAccepts++;
            }
            if (label is "TrueAccept" or "FalseAccept")
            {
                figures.DecidedWithTruth++;
                if ((label == "TrueAccept") == truthTa)
                {
                    figures.AgreeWithTruth++;
                    if (truthTa)
                    {
                        figures.TrueAcceptsCorrect++;
                    }
                    else
                    {
                        figures.FalseAcceptsCorrect++;
                    }
                }
            }
            string confidence = byAligner && provenance.GetProperty("confidence").ValueKind == JsonValueKind.Number
                ? provenance.GetProperty("confidence").GetDouble().ToString("F3", CultureInfo.InvariantCulture) : "";
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{device},{seq},{row.StreamOffsetMs},{row.Score:F3},{label},\"{l.GetProperty("source").GetString()}\",{confidence},{(truthTa ? "TrueAccept" : "FalseAccept")}")).ConfigureAwait(false);
        }
        figures.ReviewQueue = (await gateway.GetAsync("api/review/items?limit=10000", ct).ConfigureAwait(false)).GetProperty("count").GetInt64();
        progress.Detail($"labeling worker: {workerStatus.GetProperty("counters")}");
        NearMissFigures n = figures.NearMisses;
        progress.Detail($"near misses (the band below the threshold: how a keyword the model missed reaches the gateway): {n.Uploaded} uploaded, {n.OnKeywords} on keywords " +
            $"(ground truth); labelled {n.TrueAccepts} TA ({n.TrueAcceptsOnKeywords} on keywords), {n.FalseAccepts} FA, {n.NeedsReview} to review" +
            (n.Unlabelled > 0 ? $", {n.Unlabelled} not labelled (no clip stored)" : ""));
        if (calibrated)
        {
            // What decided these labels, as the gateway's labeling registry keeps it (files and lineage; docs/labeling.md).
            foreach (JsonElement m in (await gateway.GetAsync("api/registry/labeling-models", ct).ConfigureAwait(false)).EnumerateArray())
            {
                progress.Detail($"labeling registry: {m.GetProperty("kind").GetString()} {m.GetProperty("version").GetString()} ({m.GetProperty("fileName").GetString()}, {m.GetProperty("sizeBytes").GetInt64()} B, sha256 {m.GetProperty("sha256").GetString()![..12]})");
            }
        }
        return figures;
    }

    // Near misses are labelled by the same worker run (after the trigger clips): 'Unknown' is in the review queue, a null label is
    // one the worker has not reached (its clip not stored), counted apart.
    private static void CountNearMisses(NearMissFigures f, IEnumerable<NearMissLabelRow> rows, Dictionary<string, IReadOnlyList<(double StartMs, double EndMs)>> truth)
    {
        foreach (NearMissLabelRow n in rows)
        {
            bool keyword = SimulatedReviewer.HoldsKeyword(truth[n.DeviceId], n.StreamOffsetMs);
            f.Uploaded++;
            f.OnKeywords += keyword ? 1 : 0;
            switch (n.Label)
            {
                case "TrueAccept": f.TrueAccepts++; f.TrueAcceptsOnKeywords += keyword ? 1 : 0; break;
                case "FalseAccept": f.FalseAccepts++; break;
                case "Unknown": f.NeedsReview++; break;
                default: f.Unlabelled++; break; // not reached by the worker (no clip yet, or none stored): in no queue
            }
        }
    }
}
