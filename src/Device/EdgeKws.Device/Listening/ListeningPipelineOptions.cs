using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Features;

namespace EdgeKws.Device.Listening;

/// <summary>Which clock paces heartbeats.</summary>
public enum HeartbeatClock
{
    /// <summary>Wall time from the <see cref="ListeningPipelineOptions.Clock"/>: live capture and real-time replay.</summary>
    Wall,
    /// <summary>Audio time (samples processed): as-fast-as-possible replay, where a wall-clock interval
    /// would cover many times its length of audio and break the heartbeat's listening-seconds rule.</summary>
    Stream,
}

/// <summary>Settings of a <see cref="ListeningPipeline"/>.</summary>
public sealed class ListeningPipelineOptions
{
    /// <summary>Device id (topic segment and the id in every message).</summary>
    public required string DeviceId { get; init; }

    /// <summary>The MFCC front end; its hash must equal the model's.</summary>
    public MfccConfig Mfcc { get; init; } = MfccConfig.Default;

    /// <summary>Clip audio kept before the keyword end.</summary>
    public int PreTriggerMs { get; init; } = 1500;

    /// <summary>Clip audio kept after the keyword end.</summary>
    public int PostTriggerMs { get; init; } = 500;

    /// <summary>The owner's consent to upload raw clip audio. Without it the clip's MFCC features go instead.</summary>
    public bool UploadRawAudio { get; init; }

    /// <summary>Heartbeat (and drift sketch) cadence.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>What <see cref="HeartbeatInterval"/> is measured in.</summary>
    public HeartbeatClock HeartbeatClock { get; init; } = HeartbeatClock.Wall;

    /// <summary>Samples asked of the source per read (320 = 20 ms, one ALSA period).</summary>
    public int BlockSamples { get; init; } = 320;

    /// <summary>Clock for device times, heartbeat pacing and latency timestamps.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Receives rare events (enqueue refusals, swaps); null discards them.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Called after every enqueue with its result (wire accepted ones to <c>MqttUplink.NotifyEnqueued</c>); must not block.</summary>
    public Action<EdgeKws.Device.Outbox.OutboxMessageClass, EdgeKws.Device.Outbox.EnqueueResult>? Enqueued { get; init; }

    /// <summary>Near misses: the floor of the band below the detection threshold, as a fraction of the threshold
    /// (<c>NearMiss.BandFraction</c>, default 0.5). A smoothed score that peaks in [fraction x threshold, threshold) and falls
    /// back without reaching the threshold uploads a near miss (<see cref="NearMissFinder"/>).</summary>
    public double NearMissBandFraction { get; init; } = 0.5;

    /// <summary>Near misses uploaded per hour at most (<c>NearMiss.MaxPerHour</c>, default 6; token bucket over stream time; what it
    /// drops is counted). 0 turns near misses off.</summary>
    public int NearMissMaxPerHour { get; init; } = 6;

    /// <summary>Seconds of audio per SNR estimate added to the drift sketch.</summary>
    public int SnrWindowSeconds { get; init; } = 2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting (config key names where there is one).</summary>
    public void Validate()
    {
        if (!Topics.TryValidateDeviceId(DeviceId, out string why))
        {
            throw new ArgumentException($"DeviceId: {why}", nameof(DeviceId));
        }
        ArgumentNullException.ThrowIfNull(Mfcc);
        ArgumentNullException.ThrowIfNull(Clock);
        if (PreTriggerMs < 0 || PostTriggerMs < 0)
        {
            throw new ArgumentException($"Detection.PreTriggerMs and Detection.PostTriggerMs must not be negative (got {PreTriggerMs}, {PostTriggerMs})");
        }
        long clipSamples = (long)(PreTriggerMs + PostTriggerMs) * Mfcc.SampleRateHz / 1000;
        if (clipSamples < Mfcc.WindowSamples || clipSamples > ClipAudio.MaxSamples)
        {
            throw new ArgumentException(
                $"Detection.PreTriggerMs + Detection.PostTriggerMs = {PreTriggerMs + PostTriggerMs} ms: a clip must be between one MFCC window " +
                $"({Mfcc.WindowMs} ms) and {ClipAudio.MaxSamples * 1000L / Mfcc.SampleRateHz} ms (the wire's clip limit)");
        }
        if (HeartbeatInterval < TimeSpan.FromSeconds(1) || HeartbeatInterval.TotalSeconds > Heartbeat.MaxIntervalSeconds)
        {
            throw new ArgumentException($"Mqtt.HeartbeatSeconds: {HeartbeatInterval.TotalSeconds} s must be between 1 and {Heartbeat.MaxIntervalSeconds} s");
        }
        if (BlockSamples is < 16 or > 16000)
        {
            throw new ArgumentException($"Audio.PeriodFrames: {BlockSamples} samples per read must be between 16 and 16000");
        }
        if (!(NearMissBandFraction > 0 && NearMissBandFraction < 1))
        {
            throw new ArgumentException($"NearMiss.BandFraction: {NearMissBandFraction} must be between 0 and 1 (exclusive)");
        }
        if (NearMissMaxPerHour is < 0 or > 3600)
        {
            throw new ArgumentException($"NearMiss.MaxPerHour: {NearMissMaxPerHour} must be between 0 (off) and 3600");
        }
        if (SnrWindowSeconds is < 1 or > 60)
        {
            throw new ArgumentException($"SnrWindowSeconds: {SnrWindowSeconds} must be between 1 and 60");
        }
    }
}
