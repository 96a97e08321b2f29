using System.Globalization;
using System.Text.Json;

namespace EdgeKws.MainJob;

/// <summary>
/// <c>--simulated-review</c>: a person working through the gateway's review queue after the labeling worker, played by the
/// corpus ground truth (what a reviewer hears on the clip). Off by default: the default run's labels are the gateway's alone.
/// It answers a product question the default run cannot: how much better the loop gets when the clips the labeler is unsure
/// of (every near miss, on far-field audio) are decided by a person. Decisions go through the reviewer endpoints
/// (<c>POST /api/review/items/{device}/{seq}/decision</c>, <c>POST /api/review/near-misses/{device}/{seq}/decision</c>), so
/// they carry a reviewer's provenance like any human decision.
/// </summary>
internal sealed class SimulatedReviewer(string databasePath, Progress progress)
{
    /// <summary>Decides every queued detection and near miss of <paramref name="recordings"/>' devices; returns what it did.</summary>
    public async Task<ReviewFigures> ReviewAsync(IReadOnlyList<DeviceRecording> recordings, GatewayClient gateway, CancellationToken ct)
    {
        var truth = recordings.ToDictionary(r => r.DeviceId, r => r.Keywords, StringComparer.Ordinal);
        Dictionary<(string, long), DetectionClipRow> detections;
        List<DetectionClipRow> nearMisses;
        using (var db = new GatewayDatabase(databasePath))
        {
            detections = db.ReadDetections().ToDictionary(r => (r.DeviceId, r.Sequence));
            nearMisses = db.ReadNearMissesToReview();
        }

        var figures = new ReviewFigures();
        JsonElement queue = await gateway.GetAsync("api/review/items?limit=10000", ct).ConfigureAwait(false);
        foreach (JsonElement item in queue.GetProperty("items").EnumerateArray())
        {
            string device = item.GetProperty("deviceId").GetString()!;
            long seq = item.GetProperty("sequence").GetInt64();
            if (!truth.TryGetValue(device, out var keywords) || !detections.TryGetValue((device, seq), out DetectionClipRow? row))
            {
                continue; // not one of this day's devices, or no offset to judge it by
            }
            bool keyword = HoldsKeyword(keywords, row.StreamOffsetMs);
            await gateway.PostJsonAsync(FormattableString.Invariant($"api/review/items/{Uri.EscapeDataString(device)}/{seq}/decision"),
                new { label = keyword ? "TrueAccept" : "FalseAccept" }, ct).ConfigureAwait(false);
            figures.Detections++;
            figures.DetectionKeywords += keyword ? 1 : 0;
        }
        foreach (DetectionClipRow n in nearMisses)
        {
            if (!truth.TryGetValue(n.DeviceId, out var keywords))
            {
                continue;
            }
            bool keyword = HoldsKeyword(keywords, n.StreamOffsetMs);
            await gateway.PostJsonAsync(FormattableString.Invariant($"api/review/near-misses/{Uri.EscapeDataString(n.DeviceId)}/{n.Sequence}/decision"),
                new { label = keyword ? "TrueAccept" : "FalseAccept" }, ct).ConfigureAwait(false);
            figures.NearMisses++;
            figures.NearMissKeywords += keyword ? 1 : 0;
        }
        progress.Detail(string.Create(CultureInfo.InvariantCulture,
            $"simulated reviewer: {figures.Detections} detections ({figures.DetectionKeywords} keywords), {figures.NearMisses} near misses ({figures.NearMissKeywords} missed keywords)"));
        return figures;
    }

    /// <summary>
    /// The main job's ground-truth rule (<see cref="Labeler.TruthToleranceMs"/>): an event whose time lies in a keyword or up to
    /// the tolerance after its end was that keyword. A near miss's offset is where its score peaked, as a detection's is.
    /// </summary>
    public static bool HoldsKeyword(IReadOnlyList<(double StartMs, double EndMs)> keywords, long streamOffsetMs) =>
        keywords.Any(k => streamOffsetMs >= k.StartMs && streamOffsetMs <= k.EndMs + Labeler.TruthToleranceMs);
}

/// <summary>What <see cref="SimulatedReviewer"/> decided in one day's review.</summary>
internal sealed class ReviewFigures
{
    public int Detections { get; set; }
    public int DetectionKeywords { get; set; }
    public int NearMisses { get; set; }
    public int NearMissKeywords { get; set; }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"simulated reviewer (corpus ground truth) decided {Detections} queued detections ({DetectionKeywords} keywords) and {NearMisses} near misses ({NearMissKeywords} keywords the device missed)");
}
