namespace EdgeKws.Device.Listening;

/// <summary>Counters of a <see cref="ListeningPipeline"/> since it was created.</summary>
/// <param name="SamplesProcessed">Samples run through the MFCC front end and the detector.</param>
/// <param name="FramesProcessed">MFCC frames computed.</param>
/// <param name="Detections">Detections raised.</param>
/// <param name="ClipsAudio">Raw-audio clips enqueued (consent given).</param>
/// <param name="ClipsFeatures">Feature clips enqueued (no consent).</param>
/// <param name="ClipsDropped">Clips not sent: pending-clip slots full, or the outbox refused them.</param>
/// <param name="Heartbeats">Heartbeats enqueued.</param>
/// <param name="Sketches">Drift sketches enqueued.</param>
/// <param name="EnqueueRefused">Enqueues the outbox refused (quota full of classes this one may not evict, or too large).</param>
/// <param name="EnqueueFailed">Enqueues that threw (disk error), or messages dropped because the outbox writer
/// fell more than 256 messages behind (a stalled disk); detection went on.</param>
/// <param name="Overruns">Capture overruns reported by the source.</param>
/// <param name="SourceEnded">The source reached its end (WAV or stdin), rather than being cancelled.</param>
/// <param name="NearMisses">Near misses found (score peaks in the band below the threshold), rate-limited ones included. Never detections.</param>
/// <param name="NearMissesRateLimited">Near misses found but not sent: the per-hour rate limit had no token.</param>
/// <param name="NearMissesSent">Near-miss reports stored in the outbox.</param>
public readonly record struct ListeningPipelineStats(
    long SamplesProcessed,
    long FramesProcessed,
    long Detections,
    long ClipsAudio,
    long ClipsFeatures,
    long ClipsDropped,
    long Heartbeats,
    long Sketches,
    long EnqueueRefused,
    long EnqueueFailed,
    long Overruns,
    bool SourceEnded,
    long NearMisses = 0,
    long NearMissesRateLimited = 0,
    long NearMissesSent = 0)
{
    /// <summary>Seconds of audio processed: the FA/hour denominator.</summary>
    public double ListeningSeconds => SamplesProcessed / 16000.0;
}
