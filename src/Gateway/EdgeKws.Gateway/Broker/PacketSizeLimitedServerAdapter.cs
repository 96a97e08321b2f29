using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

namespace EdgeKws.Gateway.Broker;

/// <summary>
/// The embedded broker's TCP (and TLS) listener, in place of MQTTnet's own, so that every connection's bytes pass through
/// a <see cref="MqttPacketSizeLimitStream"/>: a packet whose fixed header announces more than the maximum is refused
/// before MQTTnet allocates its body, and the connection is dropped.
/// </summary>
/// <remarks>
/// <para>Why a listener of our own: MQTTnet 5 (5.2) has no server-side maximum packet size (its CONNACK always says
/// "unlimited"), and its channel adapter allocates <c>new byte[remainingLength]</c> as soon as it has read a fixed header
/// (MqttChannelAdapter.ReceiveAsync). Its listener creates the stream itself, so the only place to stand between the
/// socket and that allocation is a listener that hands MQTTnet a wrapped stream. Everything above the stream (the
/// channel adapter, packet formatter, sessions) is MQTTnet's, unchanged.</para>
/// <para>It binds exactly the configured address (IPv4 or IPv6), where MQTTnet's listener also bound [::] by default.</para>
/// </remarks>
public sealed class PacketSizeLimitedServerAdapter : IMqttServerAdapter
{
    private readonly int _maxPacketBytes;
    private readonly Action<EndPoint?, long> _onTooLarge;
    private readonly List<Socket> _listeners = [];
    private CancellationTokenSource? _stop;

    /// <param name="maxPacketBytes">Largest remaining length (everything after the fixed header) accepted.</param>
    /// <param name="onTooLarge">Called with the remote end point and the announced length of every refused packet.</param>
    public PacketSizeLimitedServerAdapter(int maxPacketBytes, Action<EndPoint?, long> onTooLarge)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPacketBytes, 1024);
        ArgumentNullException.ThrowIfNull(onTooLarge);
        _maxPacketBytes = maxPacketBytes;
        _onTooLarge = onTooLarge;
    }

    /// <inheritdoc />
    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <inheritdoc />
    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (_stop is not null)
        {
            throw new InvalidOperationException("the listener is already started");
        }
        _stop = new CancellationTokenSource();
        try
        {
            if (options.DefaultEndpointOptions.IsEnabled)
            {
                Listen(options, options.DefaultEndpointOptions, null, logger);
            }
            if (options.TlsEndpointOptions.IsEnabled)
            {
                X509Certificate2 certificate = options.TlsEndpointOptions.CertificateProvider?.GetCertificate()
                    ?? throw new ArgumentException("the TLS endpoint has no certificate");
                Listen(options, options.TlsEndpointOptions, certificate, logger);
            }
        }
        catch
        {
            Stop();
            throw;
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync()
    {
        Stop();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => Stop();

    private void Stop()
    {
        _stop?.Cancel();
        foreach (Socket s in _listeners)
        {
            s.Dispose();
        }
        _listeners.Clear();
        _stop?.Dispose();
        _stop = null;
    }

    private void Listen(MqttServerOptions server, MqttServerTcpEndpointBaseOptions endpoint, X509Certificate2? certificate, IMqttNetLogger logger)
    {
        IPAddress address = endpoint.BoundInterNetworkAddress;
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, endpoint.Port));
            socket.Listen(endpoint.ConnectionBacklog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _listeners.Add(socket);
        CancellationToken stop = _stop!.Token;
        _ = Task.Run(() => AcceptAsync(socket, server, endpoint, certificate, logger, stop), stop);
    }

    private async Task AcceptAsync(Socket listener, MqttServerOptions server, MqttServerTcpEndpointBaseOptions endpoint, X509Certificate2? certificate,
        IMqttNetLogger logger, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // one failed accept (a client that reset at once) must not stop the listener
            }
            _ = Task.Run(() => ServeAsync(client, server, endpoint, certificate, logger, stop), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket client, MqttServerOptions server, MqttServerTcpEndpointBaseOptions endpoint, X509Certificate2? certificate,
        IMqttNetLogger logger, CancellationToken stop)
    {
        EndPoint? remote = null;
        Stream? stream = null;
        try
        {
            remote = client.RemoteEndPoint;
            client.NoDelay = endpoint.NoDelay;
            client.LingerState = endpoint.LingerState;
            stream = new NetworkStream(client, ownsSocket: true);
            if (certificate is not null)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(stop);
                handshake.CancelAfter(server.DefaultCommunicationTimeout);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateRequired = false,
                    EnabledSslProtocols = ((MqttServerTlsTcpEndpointOptions)endpoint).SslProtocol,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    EncryptionPolicy = EncryptionPolicy.RequireEncryption,
                }, handshake.Token).ConfigureAwait(false);
            }
            var limited = new MqttPacketSizeLimitStream(stream, _maxPacketBytes, length => _onTooLarge(remote, length));
            stream = limited;
            Func<IMqttChannelAdapter, Task>? handler = ClientHandler;
            if (handler is null)
            {
                return;
            }
            var channel = new MqttTcpChannel(limited, LocalEndPointOf(client), remote, null);
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(server.WriterBufferSize, server.WriterBufferSizeMax));
            using var adapter = new MqttChannelAdapter(channel, formatter, logger) { AllowPacketFragmentation = endpoint.AllowPacketFragmentation };
            await handler(adapter).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A failed handshake or a dropped connection ends this client only; the listener goes on.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                client.Dispose();
            }
        }

        static EndPoint? LocalEndPointOf(Socket s)
        {
            try
            {
                return s.LocalEndPoint;
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
        }
    }
}
