using EdgeKws.Detection;
using EdgeKws.Device.Outbox;
using EdgeKws.Shared.Contracts;

namespace EdgeKws.Device.Listening;

/// <summary>
/// Turns the detector's events into messages on the audio thread: a detection becomes its report, its decision latency,
/// a clip waiting for its post-trigger audio and a notice to the status sink; a near miss becomes its report and (room
/// permitting) a clip, in the outbox's NearMiss class, and nothing else: no counter, sink or LED of detections sees it.
/// </summary>
/// <remarks>Allocation: each event allocates its report and its serialization (a few per second at most by design);
/// nothing is allocated per frame. Audio thread only, except <see cref="Detections"/>.</remarks>
internal sealed class DetectionReporter(
    string deviceId, TimeProvider clock, int sampleRateHz, NearMissFinder nearMiss, DeviceUplinkTopics topics, QueuedOutboxWriter writer,
    ClipRecorder clips, DetectionTimings timings, IAgentStatusSink? sink)
{
    private long _detections;

    /// <summary>Detections raised.</summary>
    public long Detections => Interlocked.Read(ref _detections);

    /// <summary>A detection whose keyword ends before stream sample <paramref name="keywordEnd"/>.</summary>
    public void OnDetection(in DetectionEvent detection, long keywordEnd)
    {
        long now = clock.GetTimestamp();
        long latencyTicks = timings.TryGetArrivalTimestamp(keywordEnd - 1, out long arrived) ? now - arrived : -1;
        if (latencyTicks >= 0)
        {
            timings.RecordDecisionLatency(latencyTicks * 1000.0 / clock.TimestampFrequency);
        }
        Interlocked.Increment(ref _detections);
        var clipId = Guid.NewGuid();
        DateTimeOffset utc = clock.GetUtcNow();

        var report = new DetectionReport
        {
            DeviceId = deviceId,
            DeviceTimeUtc = utc,
            StreamOffsetMs = keywordEnd * 1000 / sampleRateHz,
            Score = Math.Clamp(detection.Score, 0f, 1f),
            ModelVersion = detection.ModelVersion,
            FeatureConfigHash = detection.FeatureConfigHash,
            ClipId = clipId,
        };
        writer.Post(OutboxMessageClass.Detection, topics.Detection, WireJson.Serialize(report));
        clips.Add(clipId, keywordEnd, utc, nearMiss: false);

        if (sink is not null)
        {
            sink.OnStatus(AgentStatus.Detected);
            sink.OnDetection(new DetectionNotice(detection, keywordEnd, now, latencyTicks, clipId));
        }
    }

    /// <summary>A near miss of <paramref name="detector"/> whose peak window ends before stream sample <paramref name="keywordEnd"/>:
    /// its report now, its clip (raw audio with consent, else features) when the post-trigger audio has arrived.</summary>
    public void OnNearMiss(in NearMissPeak peak, long keywordEnd, KeywordDetector detector)
    {
        Guid? clipId = clips.HasRoom ? Guid.NewGuid() : null; // a full clip list keeps the detections' clips
        DateTimeOffset utc = clock.GetUtcNow();
        var report = new NearMissReport
        {
            DeviceId = deviceId,
            DeviceTimeUtc = utc,
            StreamOffsetMs = keywordEnd * 1000 / sampleRateHz,
            Score = peak.Score,
            Threshold = nearMiss.Threshold,
            BandFloor = nearMiss.BandFloor,
            ModelVersion = detector.ModelVersion,
            FeatureConfigHash = detector.FeatureConfigHash,
            ClipId = clipId,
        };
        writer.Post(OutboxMessageClass.NearMiss, topics.NearMiss, WireJson.Serialize(report));
        if (clipId is not { } id)
        {
            clips.CountDropped();
            return;
        }
        clips.Add(id, keywordEnd, utc, nearMiss: true);
    }
}
