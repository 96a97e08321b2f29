using Prometheus;

namespace EdgeKws.Gateway.Monitoring;

/// <summary>
/// One scrape of <c>/metrics</c> through prometheus-net: a fresh registry filled at scrape time from the store and the
/// ingest counters, written in the text format 0.0.4. A registry per scrape because the values live in the store, not
/// in this process (several gateways share one database), and a long-lived registry would keep the label sets of
/// devices, cohorts and models that are gone. The library owns the format: HELP/TYPE lines, unsplit families, label
/// and HELP escaping, float syntax.
/// </summary>
internal sealed class MetricsScrape
{
    /// <summary>Content type of the text format 0.0.4.</summary>
    public static readonly string ContentType = PrometheusConstants.ExporterContentTypeValue.ToString();

    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly IMetricFactory _factory;

    public MetricsScrape() => _factory = Metrics.WithCustomRegistry(_registry);

    /// <summary>An unlabelled counter at <paramref name="value"/>.</summary>
    public void Counter(string name, string help, double value) => _factory.CreateCounter(name, help).IncTo(value);

    /// <summary>An unlabelled gauge at <paramref name="value"/>.</summary>
    public void Gauge(string name, string help, double value) => _factory.CreateGauge(name, help).Set(value);

    /// <summary>A labelled gauge; its family is written only with the samples set through <c>WithLabels</c>.</summary>
    public Gauge Gauge(string name, string help, params string[] labelNames) => _factory.CreateGauge(name, help, labelNames);

    /// <summary>The exposition as UTF-8 bytes.</summary>
    public async Task<byte[]> ToUtf8Async(CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(stream, ExpositionFormat.PrometheusText, cancellationToken).ConfigureAwait(false);
        return stream.ToArray();
    }
}
