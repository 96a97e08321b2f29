using EdgeKws.Detection;

namespace EdgeKws.Device.Listening;

/// <summary>What the agent is doing, as a status LED shows it.</summary>
public enum AgentStatus
{
    /// <summary>Audio flows through the detector.</summary>
    Listening = 1,
    /// <summary>A keyword was just detected (a pulse; the sink decides how long to show it).</summary>
    Detected = 2,
    /// <summary>The uplink has no broker connection (detection goes on; messages wait in the outbox).</summary>
    Offline = 3,
    /// <summary>The uplink is connected again.</summary>
    Online = 4,
    /// <summary>A model update is being verified, health-checked or swapped in.</summary>
    Updating = 5,
    /// <summary>The audio loop ended.</summary>
    Stopped = 6,
}

/// <summary>A detection as the pipeline raised it, with the timing the latency figures need.</summary>
/// <param name="Event">The detector's event (its frame index counts from the detector's start).</param>
/// <param name="KeywordEndSample">Stream position (samples since the pipeline started) one past the
/// last sample of the newest frame of the window that fired: the keyword has ended by then.</param>
/// <param name="EventTimestamp">TimeProvider timestamp when the event was raised.</param>
/// <param name="DecisionLatencyTicks">TimeProvider ticks from the source's delivery of the block that
/// held <see cref="KeywordEndSample"/> - 1 to the event, or -1 when unknown.</param>
/// <param name="ClipId">Id of the clip that will follow, also in the detection report.</param>
public readonly record struct DetectionNotice(
    DetectionEvent Event,
    long KeywordEndSample,
    long EventTimestamp,
    long DecisionLatencyTicks,
    Guid ClipId);

/// <summary>
/// Hook for whatever shows or reacts to the agent's state (status LED, button handler, tests).
/// Called on the thread that changes the state (the audio thread for detections): implementations
/// must return quickly and must not throw.
/// </summary>
public interface IAgentStatusSink
{
    /// <summary>The agent's state changed.</summary>
    void OnStatus(AgentStatus status);

    /// <summary>A keyword was detected (called right after <see cref="OnStatus"/> with <see cref="AgentStatus.Detected"/>).</summary>
    void OnDetection(in DetectionNotice notice);
}
