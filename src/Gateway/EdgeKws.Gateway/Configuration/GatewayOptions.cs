namespace EdgeKws.Gateway.Configuration;

/// <summary>
/// Settings of the gateway, bound from the <c>Gateway</c> configuration section (appsettings.json, then
/// environment variables such as <c>EDGEKWS_Gateway__Broker__Port</c>, then the command line).
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Gateway";

    /// <summary>The embedded MQTT broker.</summary>
    public BrokerOptions Broker { get; set; } = new();

    /// <summary>The database.</summary>
    public StoreOptions Store { get; set; } = new();

    /// <summary>The ingest pipeline between the broker and the store.</summary>
    public IngestOptions Ingest { get; set; } = new();

    /// <summary>The HTTP API and dashboard.</summary>
    public HttpOptions Http { get; set; } = new();

    /// <summary>FA/hour, drift and alert rules.</summary>
    public MonitoringOptions Monitoring { get; set; } = new();

    /// <summary>Raw audio retention.</summary>
    public RetentionOptions Retention { get; set; } = new();

    /// <summary>Trigger-clip labeling (forced alignment) and the review queue.</summary>
    public LabelingOptions Labeling { get; set; } = new();
    /// <summary>Model registry, model jobs and staged rollouts (<c>Gateway:Models</c>, see docs/model-updates.md).</summary>
    public ModelLoopOptions Models { get; set; } = new();

    /// <summary>The largest MQTT packet the embedded broker accepts: <see cref="BrokerOptions.MaxPacketBytes"/>, or by
    /// default <see cref="IngestOptions.MaxMessageBytes"/> plus <see cref="BrokerOptions.PacketHeadroomBytes"/> for the
    /// topic, properties and packet header.</summary>
    public int EffectiveMaxPacketBytes =>
        Broker.MaxPacketBytes > 0 ? Broker.MaxPacketBytes : (int)Math.Min(BrokerOptions.MqttMaxPacketBytes, (long)Ingest.MaxMessageBytes + BrokerOptions.PacketHeadroomBytes);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Broker.Validate();
        Store.Validate();
        Ingest.Validate();
        if (Broker.MaxPacketBytes != 0 && Broker.MaxPacketBytes < (long)Ingest.MaxMessageBytes + 1024)
        {
            throw new ArgumentException($"Gateway:Broker:MaxPacketBytes {Broker.MaxPacketBytes} is below Gateway:Ingest:MaxMessageBytes ({Ingest.MaxMessageBytes}) + 1024: " +
                "valid messages would be refused at the broker; leave it 0 to derive it");
        }
        Http.Validate();
        Monitoring.Validate();
        Retention.Validate();
        Labeling.Validate();
        Models.Validate();
    }
}

/// <summary>How long raw audio clips are kept (<c>Gateway:Retention</c>). Features, labels and detections are not affected.</summary>
public sealed class RetentionOptions
{
    /// <summary>Raw audio clips received more than this many days ago are deleted; 0 keeps them forever.</summary>
    public int RawAudioDays { get; set; } = 30;

    /// <summary>How often the retention job runs.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (RawAudioDays < 0)
        {
            throw new ArgumentException($"Gateway:Retention:RawAudioDays {RawAudioDays} must be >= 0 (0 keeps raw audio forever)");
        }
        if (Interval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Gateway:Retention:Interval {Interval} must be positive");
        }
    }
}

/// <summary>The HTTP listener (Kestrel) of the API, <c>/metrics</c> and the dashboard.</summary>
public sealed class HttpOptions
{
    /// <summary>Listener address. Loopback by default; every API call needs a token (docs/gateway.md), but a listener reachable from
    /// other machines should also use HTTPS (<see cref="Tls"/>) so tokens and session cookies do not cross the network in clear.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free port (tests read it back from the server's addresses).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>HTTPS on the same listener (off: plain HTTP).</summary>
    public HttpTlsOptions Tls { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!System.Net.IPAddress.TryParse(BindAddress, out _))
        {
            throw new ArgumentException($"Gateway:Http:BindAddress '{BindAddress}' is not an IP address");
        }
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"Gateway:Http:Port {Port} is not in 0..65535 (0 picks a free port)");
        }
        Tls.Validate();
    }
}

/// <summary>HTTPS for the API and dashboard (<c>Gateway:Http:Tls</c>): Kestrel serves TLS 1.2/1.3 with a PEM certificate and key.</summary>
public sealed class HttpTlsOptions
{
    /// <summary>Serve HTTPS instead of HTTP on <see cref="HttpOptions.Port"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>PEM file with the server certificate (optionally followed by its chain).</summary>
    public string? CertificatePemPath { get; set; }

    /// <summary>PEM file with the certificate's private key (unencrypted PKCS#8, SEC 1 or PKCS#1).</summary>
    public string? KeyPemPath { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }
        foreach ((string name, string? path) in new[] { ("CertificatePemPath", CertificatePemPath), ("KeyPemPath", KeyPemPath) })
        {
            if (string.IsNullOrEmpty(path))
            {
                throw new ArgumentException($"Gateway:Http:Tls:{name} is required when HTTPS is enabled");
            }
            if (!File.Exists(path))
            {
                throw new ArgumentException($"Gateway:Http:Tls:{name} '{path}' does not exist");
            }
        }
    }
}

/// <summary>Monitoring and alert rules.</summary>
public sealed class MonitoringOptions
{
    /// <summary>How often the alert rules run.</summary>
    public TimeSpan EvaluationInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A device, or the whole fleet, silent this long raises a critical alert.</summary>
    public TimeSpan NoDataAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>FA/hour above this (per device and per model, over <see cref="FaWindow"/>) raises a critical alert. 0.5 FA/h is a page
    /// level, not the product target: the seed's target (under 1 false wake a month) is 0.0014 FA/h, a release gate that takes weeks
    /// of listening to confirm, and at that budget a single false accept in a day would page.</summary>
    public double FaPerHourBudget { get; set; } = 0.5;

    /// <summary>Window of the FA/hour rule.</summary>
    public TimeSpan FaWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Listening hours a group needs in <see cref="FaWindow"/> before its FA/hour can alert (one false accept in
    /// six minutes of listening is 10 FA/h, which says little).</summary>
    public double FaMinListeningHours { get; set; } = 1.0;

    /// <summary>Window merged for the drift rule.</summary>
    public TimeSpan DriftWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Window of the error-rate and throughput rules.</summary>
    public TimeSpan RateWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Quarantined / (stored + quarantined) above this over <see cref="RateWindow"/> is a warning.</summary>
    public double ErrorRateThreshold { get; set; } = 0.05;

    /// <summary>Fewer messages than this in <see cref="RateWindow"/> and the error-rate rule stays silent (2 bad of 10 is noise).</summary>
    public long ErrorRateMinMessages { get; set; } = 20;

    /// <summary>Throughput below this fraction of the baseline is a warning.</summary>
    public double ThroughputFraction { get; set; } = 0.8;

    /// <summary>Baseline throughput, messages per minute; 0 learns it as the mean of the <see cref="ThroughputBaselineWindow"/> before the
    /// current rate window.</summary>
    public double ThroughputBaselinePerMinute { get; set; }

    /// <summary>History the learned throughput baseline averages over.</summary>
    public TimeSpan ThroughputBaselineWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Messages the learned baseline window needs before the throughput rule runs.</summary>
    public long ThroughputBaselineMinMessages { get; set; } = 100;

    /// <summary>A clip whose device features differ from the gateway's recomputation by more than this (largest per-frame
    /// max |difference| / max |value|) raises a training-serving skew warning. Features from the same front end are bit-identical.</summary>
    public double SkewRelativeLimit { get; set; } = 1e-3;

    /// <summary>Skew results younger than this count for the skew rule.</summary>
    public TimeSpan SkewWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        foreach ((string name, TimeSpan value) in new[]
                 {
                     ("EvaluationInterval", EvaluationInterval), ("NoDataAfter", NoDataAfter), ("FaWindow", FaWindow),
                     ("DriftWindow", DriftWindow), ("RateWindow", RateWindow), ("ThroughputBaselineWindow", ThroughputBaselineWindow),
                 })
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentException($"Gateway:Monitoring:{name} {value} must be positive");
            }
        }
        if (!(FaPerHourBudget > 0) || !(FaMinListeningHours >= 0) || !double.IsFinite(FaPerHourBudget))
        {
            throw new ArgumentException($"Gateway:Monitoring:FaPerHourBudget ({FaPerHourBudget}) must be > 0 and FaMinListeningHours ({FaMinListeningHours}) >= 0");
        }
        if (!(ErrorRateThreshold is > 0 and < 1) || !(ThroughputFraction is > 0 and < 1))
        {
            throw new ArgumentException($"Gateway:Monitoring:ErrorRateThreshold ({ErrorRateThreshold}) and ThroughputFraction ({ThroughputFraction}) must be in (0, 1)");
        }
        if (!(ThroughputBaselinePerMinute >= 0) || ErrorRateMinMessages < 1 || ThroughputBaselineMinMessages < 1)
        {
            throw new ArgumentException("Gateway:Monitoring:ThroughputBaselinePerMinute must be >= 0, ErrorRateMinMessages and ThroughputBaselineMinMessages >= 1");
        }
        if (!(SkewRelativeLimit > 0) || SkewWindow <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Gateway:Monitoring:SkewRelativeLimit ({SkewRelativeLimit}) and SkewWindow ({SkewWindow}) must be positive");
        }
    }
}

/// <summary>Where device messages come from.</summary>
public enum BrokerMode
{
    /// <summary>The gateway runs its own MQTTnet broker (one instance; the default).</summary>
    Embedded = 1,

    /// <summary>The gateway subscribes to an external broker (Mosquitto, EMQX, HiveMQ) with a shared subscription, so several instances split the load.</summary>
    External = 2,
}

/// <summary>The MQTT side: the embedded MQTTnet broker devices connect to, or an external broker (<see cref="Mode"/>).</summary>
public sealed class BrokerOptions
{
    /// <summary>Embedded broker (default) or external broker with a shared subscription.</summary>
    public BrokerMode Mode { get; set; } = BrokerMode.Embedded;

    /// <summary>The external broker (used when <see cref="Mode"/> is External).</summary>
    public ExternalBrokerOptions External { get; set; } = new();

    /// <summary>Address the plain-TCP listener binds to. Loopback by default: expose it deliberately.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Plain MQTT port; 0 disables the plain listener (TLS only).</summary>
    public int Port { get; set; } = 1883;

    /// <summary>TLS listener.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>Room above <see cref="IngestOptions.MaxMessageBytes"/> in the derived packet limit: topic (up to 64 KiB by MQTT), user properties and header.</summary>
    public const int PacketHeadroomBytes = 64 * 1024;

    /// <summary>The largest remaining length MQTT can express (256 MiB - 1).</summary>
    public const int MqttMaxPacketBytes = 268_435_455;

    /// <summary>Largest MQTT packet (remaining length) a client may send; a larger one is refused when its fixed header
    /// arrives, before anything of it is buffered, and the connection is dropped. 0: <c>Gateway:Ingest:MaxMessageBytes</c>
    /// + 64 KiB. Mosquitto's equivalent is <c>max_packet_size</c>.</summary>
    public int MaxPacketBytes { get; set; }

    /// <summary>Longest a connection may stay idle before the broker drops it is the client's keep-alive x 1.5;
    /// this is the server-side communication timeout for CONNECT and packet I/O.</summary>
    public TimeSpan CommunicationTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Mode))
        {
            throw new ArgumentException($"Gateway:Broker:Mode {(int)Mode} is not Embedded or External");
        }
        if (Mode == BrokerMode.External)
        {
            External.Validate();
            return; // the embedded listener settings are not used
        }
        if (!System.Net.IPAddress.TryParse(BindAddress, out _))
        {
            throw new ArgumentException($"Gateway:Broker:BindAddress '{BindAddress}' is not an IP address");
        }
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"Gateway:Broker:Port {Port} is not in 0..65535 (0 disables the plain listener)");
        }
        if (Port == 0 && !Tls.Enabled)
        {
            throw new ArgumentException("Gateway:Broker:Port is 0 and TLS is disabled: the broker would have no listener");
        }
        if (CommunicationTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"Gateway:Broker:CommunicationTimeout {CommunicationTimeout} must be positive");
        }
        if (MaxPacketBytes is < 0 or > MqttMaxPacketBytes)
        {
            throw new ArgumentException($"Gateway:Broker:MaxPacketBytes {MaxPacketBytes} is not in 0..{MqttMaxPacketBytes} (0 derives it from Gateway:Ingest:MaxMessageBytes)");
        }
        Tls.Validate();
    }
}

/// <summary>TLS listener of the embedded broker (certificate and key as PEM files).</summary>
public sealed class TlsOptions
{
    /// <summary>Open the TLS listener.</summary>
    public bool Enabled { get; set; }

    /// <summary>TLS port (8883 by convention).</summary>
    public int Port { get; set; } = 8883;

    /// <summary>PEM file with the server certificate (and optionally its chain).</summary>
    public string? CertificatePemPath { get; set; }

    /// <summary>PEM file with the certificate's private key.</summary>
    public string? KeyPemPath { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }
        if (Port is < 1 or > 65535)
        {
            throw new ArgumentException($"Gateway:Broker:Tls:Port {Port} is not in 1..65535");
        }
        foreach ((string name, string? path) in new[] { ("CertificatePemPath", CertificatePemPath), ("KeyPemPath", KeyPemPath) })
        {
            if (string.IsNullOrEmpty(path))
            {
                throw new ArgumentException($"Gateway:Broker:Tls:{name} is required when TLS is enabled");
            }
            if (!File.Exists(path))
            {
                throw new ArgumentException($"Gateway:Broker:Tls:{name} '{path}' does not exist");
            }
        }
    }
}

/// <summary>How hard each commit is made durable (SQLite <c>PRAGMA synchronous</c> in WAL mode).</summary>
public enum StoreDurability
{
    /// <summary>fsync the WAL on every commit: an acknowledged message survives power loss. The default, because the
    /// device deletes a message from its outbox once the gateway acknowledges it.</summary>
    Full = 1,

    /// <summary>fsync only at checkpoints: survives a process crash, not a power cut. Faster on slow disks.</summary>
    Normal = 2,
}

/// <summary>Which database implements the store.</summary>
public enum StoreProvider
{
    /// <summary>A SQLite file (one gateway instance; the default).</summary>
    Sqlite = 1,

    /// <summary>PostgreSQL, shared by several gateway instances.</summary>
    Postgres = 2,
}

/// <summary>The store: SQLite (default) or PostgreSQL (<see cref="Provider"/>).</summary>
public sealed class StoreOptions
{
    /// <summary>SQLite (default) or PostgreSQL.</summary>
    public StoreProvider Provider { get; set; } = StoreProvider.Sqlite;

    /// <summary>Npgsql connection string when <see cref="Provider"/> is Postgres
    /// (e.g. <c>Host=127.0.0.1;Port=5432;Database=edgekws;Username=gateway;Password=...</c>).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Database file; relative paths are relative to the working directory.</summary>
    public string DatabasePath { get; set; } = "data/gateway.db";

    /// <summary>Commit durability.</summary>
    public StoreDurability Durability { get; set; } = StoreDurability.Full;

    /// <summary>Largest number of quarantined payload bytes kept per message (the rest is cut; the full length is recorded).</summary>
    public int QuarantineMaxPayloadBytes { get; set; } = 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Provider))
        {
            throw new ArgumentException($"Gateway:Store:Provider {(int)Provider} is not Sqlite or Postgres");
        }
        if (Provider == StoreProvider.Postgres && string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("Gateway:Store:ConnectionString is required when Gateway:Store:Provider is Postgres");
        }
        if (Provider == StoreProvider.Sqlite && string.IsNullOrWhiteSpace(DatabasePath))
        {
            throw new ArgumentException("Gateway:Store:DatabasePath is empty");
        }
        if (!Enum.IsDefined(Durability))
        {
            throw new ArgumentException($"Gateway:Store:Durability {(int)Durability} is not Full or Normal");
        }
        if (QuarantineMaxPayloadBytes < 0)
        {
            throw new ArgumentException($"Gateway:Store:QuarantineMaxPayloadBytes {QuarantineMaxPayloadBytes} must be >= 0");
        }
    }
}

/// <summary>The bounded queue and batch writer between the broker and the store.</summary>
public sealed class IngestOptions
{
    /// <summary>Messages waiting for the writer before receivers wait (backpressure; nothing is dropped).</summary>
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>Most messages committed in one transaction.</summary>
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>Largest payload accepted; a larger one is quarantined (its first
    /// <see cref="StoreOptions.QuarantineMaxPayloadBytes"/> bytes kept). The largest valid message is a 10 s audio clip (320,080 bytes).</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (QueueCapacity < 1 || MaxBatchSize < 1)
        {
            throw new ArgumentException($"Gateway:Ingest:QueueCapacity ({QueueCapacity}) and MaxBatchSize ({MaxBatchSize}) must be >= 1");
        }
        if (MaxMessageBytes < 1024)
        {
            throw new ArgumentException($"Gateway:Ingest:MaxMessageBytes {MaxMessageBytes} must be >= 1024");
        }
    }
}
