using System.Text.Json.Serialization;

namespace EdgeKws.Device.Configuration;

/// <summary>
/// The agent's whole configuration: one JSON file (source-generated serializer, AOT-clean) plus
/// environment overrides (<see cref="AgentConfigLoader"/>). Property names are the keys users see
/// in error messages, in the JSON file and in environment variables (EDGEKWS_Section__Key).
/// </summary>
public sealed class AgentConfig
{
    /// <summary>Device id: also the MQTT client id and the topic segment. [A-Za-z0-9_-], 1-64 chars.</summary>
    public string DeviceId { get; set; } = "";

    /// <summary>Where the agent keeps its state (outbox, model slots, enrollment).</summary>
    public string StateDirectory { get; set; } = "/var/lib/edgekws";

    public AudioConfig Audio { get; set; } = new();
    public DetectionConfig Detection { get; set; } = new();
    public OutboxConfig Outbox { get; set; } = new();
    public MqttConfig Mqtt { get; set; } = new();
    public PrivacyConfig Privacy { get; set; } = new();
    public GpioConfig Gpio { get; set; } = new();
    public ModelsConfig Models { get; set; } = new();
    public NearMissConfig NearMiss { get; set; } = new();
}

/// <summary>Near misses: score peaks just below the detection threshold, uploaded (rate-limited) so the gateway sees keywords the
/// device missed. Raw audio only with <see cref="PrivacyConfig.UploadRawAudio"/>, else the clip's features.</summary>
public sealed class NearMissConfig
{
    /// <summary>The band's floor as a fraction of the detection threshold, in (0, 1): a peak in [fraction x threshold, threshold) is a near miss.</summary>
    public double BandFraction { get; set; } = 0.5;

    /// <summary>Near misses uploaded per hour at most (token bucket; what it drops is counted in heartbeats). 0 turns near misses off.</summary>
    public int MaxPerHour { get; set; } = 6;
}

/// <summary>Signed model updates over MQTT (A/B slots under <c>{StateDirectory}/models</c>).</summary>
public sealed class ModelsConfig
{
    /// <summary>
    /// The pinned model-signing public key (PEM SubjectPublicKeyInfo). Null: <c>{StateDirectory}/keys/model-signing.pub.pem</c>
    /// if that file exists; with no key at all, model updates are off and the agent runs the <c>--model</c> file.
    /// Set explicitly, the file must exist.
    /// </summary>
    public string? PublicKeyPath { get; set; }
}

/// <summary>Where audio comes from.</summary>
public sealed class AudioConfig
{
    /// <summary>alsa | wav | stdin.</summary>
    public string Source { get; set; } = "alsa";

    /// <summary>ALSA PCM name, e.g. "default", "plughw:CARD=Device,DEV=0", "dsnoop_mic".</summary>
    public string AlsaDevice { get; set; } = "default";

    /// <summary>ALSA period in frames (20 ms at 16 kHz by default).</summary>
    public int PeriodFrames { get; set; } = 320;

    /// <summary>ALSA buffer length in periods.</summary>
    public int BufferPeriods { get; set; } = 8;

    /// <summary>The WAV file replayed when Source is "wav".</summary>
    public string? WavPath { get; set; }

    /// <summary>Replay WAV audio at real-time pace (true) or as fast as possible (false).</summary>
    public bool RealTime { get; set; } = true;
}

/// <summary>Detector settings that are the device's own (the model's manifest carries the rest).</summary>
public sealed class DetectionConfig
{
    /// <summary>Largest model file accepted into a slot, in bytes (the always-on budget).</summary>
    public int ModelBudgetBytes { get; set; } = 64 * 1024;

    /// <summary>Audio kept before the keyword end for the detection's clip, in ms.</summary>
    public int PreTriggerMs { get; set; } = 1500;

    /// <summary>Audio kept after the keyword end for the detection's clip, in ms.</summary>
    public int PostTriggerMs { get; set; } = 500;
}

/// <summary>Store-and-forward limits.</summary>
public sealed class OutboxConfig
{
    /// <summary>Bytes the outbox may occupy on disk (database, write-ahead log and reserve file together); about half
    /// of it holds messages before the eviction policy applies (see docs/outbox.md). At least 262144.</summary>
    public long QuotaBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Messages older than this are expired instead of sent, in hours.</summary>
    public int TtlHours { get; set; } = 7 * 24;
}

/// <summary>The uplink broker.</summary>
public sealed class MqttConfig
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 1883;
    public string? Username { get; set; }
    public string? Password { get; set; }

    /// <summary>PEM file of the CA that signed the broker's certificate; enables TLS when set.</summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>PEM client certificate and key for mutual TLS.</summary>
    public string? ClientCertificatePath { get; set; }
    public string? ClientKeyPath { get; set; }

    /// <summary>Seconds between heartbeats.</summary>
    public int HeartbeatSeconds { get; set; } = 60;

    /// <summary>Upper bound of the reconnect backoff (1, 2, 4 ... s), in seconds.</summary>
    public int MaxBackoffSeconds { get; set; } = 60;
}

/// <summary>What may leave the device.</summary>
public sealed class PrivacyConfig
{
    /// <summary>
    /// The owner's consent to upload raw trigger audio. Off by default: without it only the clip's
    /// features and quality figures are uploaded.
    /// </summary>
    public bool UploadRawAudio { get; set; }
}

/// <summary>Status LED and button pins (BCM numbering, defaults as in hardware/raspberry-pi/profile.md); -1 disables one.</summary>
public sealed class GpioConfig
{
    /// <summary>
    /// "auto" (default): the board's GPIO chip when the machine has one; on a board without a visible chip the agent
    /// refuses to start (the mute button is a privacy control); elsewhere (a PC, CI) simulated. "gpiochip": the chip,
    /// or refuse to start. "simulated": an in-memory chip (tests, devices without a panel). The start line says which runs.
    /// </summary>
    public string Driver { get; set; } = "auto";
    public int StatusLedPin { get; set; } = 17;
    public int ButtonPin { get; set; } = 23;
}

[JsonSourceGenerationOptions(
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    WriteIndented = true)]
[JsonSerializable(typeof(AgentConfig))]
internal sealed partial class AgentConfigJsonContext : JsonSerializerContext;
