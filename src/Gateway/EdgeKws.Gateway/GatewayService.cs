using EdgeKws.Gateway.Broker;
using EdgeKws.Gateway.Configuration;
using EdgeKws.Gateway.Ingest;
using EdgeKws.Gateway.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgeKws.Gateway;

/// <summary>
/// The gateway as a hosted service: opens the store (SQLite or PostgreSQL), starts the ingest writer, then the
/// embedded broker or the external-broker subscriber (so no message is taken before ingest is ready). Stopping reverses the order: the broker closes every connection, then the
/// writer commits everything already queued, then the store closes.
/// </summary>
public sealed class GatewayService : IHostedService, IAsyncDisposable
{
    private readonly GatewayOptions _options;
    private readonly ILoggerFactory _loggers;
    private IngestPipeline? _pipeline;
    private EmbeddedBroker? _broker;
    private ExternalBrokerSubscriber? _external;

    /// <summary>Creates the service from bound options.</summary>
    public GatewayService(IOptions<GatewayOptions> options, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _options.Validate();
        _loggers = loggers ?? NullLoggerFactory.Instance;
    }

    /// <summary>The counters.</summary>
    public GatewayMetrics Metrics { get; } = new();

    /// <summary>Publishes device commands (model offers, chunks, rollbacks) through the broker in use (available after <see cref="StartAsync"/>).</summary>
    public IDeviceCommandPublisher Commands => (IDeviceCommandPublisher?)_broker ?? _external
        ?? throw new InvalidOperationException("the gateway is not started: no broker to publish commands through");

    /// <summary>The store (available after <see cref="StartAsync"/>).</summary>
    public IGatewayStore Store { get; private set; } = null!;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_broker is not null || _external is not null)
        {
            throw new InvalidOperationException("the gateway is already started");
        }
        Store = GatewayStores.Open(_options.Store);
        try
        {
            _pipeline = new IngestPipeline(Store, _options.Ingest, Metrics, _loggers.CreateLogger("EdgeKws.Gateway.Ingest"));
            _pipeline.Start();
            if (_options.Broker.Mode == BrokerMode.External)
            {
                _external = new ExternalBrokerSubscriber(_options.Broker.External, _pipeline, _loggers.CreateLogger("EdgeKws.Gateway.Broker"));
                await _external.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _broker = new EmbeddedBroker(_options.Broker, Store, _pipeline, Metrics, _loggers.CreateLogger("EdgeKws.Gateway.Broker"),
                    _options.EffectiveMaxPacketBytes);
                await _broker.StartAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync().ConfigureAwait(false);
            _broker = null;
        }
        if (_external is not null)
        {
            // Drains first: messages already taken are committed and acknowledged while the pipeline still runs.
            await _external.DisposeAsync().ConfigureAwait(false);
            _external = null;
        }
        if (_pipeline is not null)
        {
            await _pipeline.CompleteAsync().ConfigureAwait(false);
            _pipeline = null;
        }
        Store?.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);
}
