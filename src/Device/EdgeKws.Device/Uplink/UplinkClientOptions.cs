using System.Text;
using MQTTnet;

namespace EdgeKws.Device.Uplink;

/// <summary>The MQTT 5 CONNECT the uplink sends: a persistent session, the offline Last Will, credentials and TLS.</summary>
internal static class UplinkClientOptions
{
    /// <summary>
    /// Client id = device id with clean start off, so the broker keeps one session per device across reconnects
    /// (queued commands survive an outage); <see cref="MqttUplinkOptions.OperationTimeout"/> bounds CONNACK and PUBACK.
    /// </summary>
    public static MqttClientOptions Build(MqttUplinkOptions options, BrokerTlsTrust tls)
    {
        MqttClientOptionsBuilder b = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(options.DeviceId)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(options.SessionExpirySeconds)
            .WithKeepAlivePeriod(options.KeepAlive)
            .WithTimeout(options.OperationTimeout)
            .WithOfflineWill(options.DeviceId);
        if (options.Username is not null)
        {
            b.WithCredentials(options.Username, options.Password is null ? null : Encoding.UTF8.GetBytes(options.Password));
        }
        if (options.UseTls)
        {
            b.WithTlsOptions(tls.Configure);
        }
        return b.Build();
    }
}
