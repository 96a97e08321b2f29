namespace EdgeKws.Gateway.Storage;

/// <summary>
/// The gateway's persistence seam. SQLite (<see cref="SqliteGatewayStore"/>) is the single-instance default;
/// PostgreSQL (<see cref="PostgresGatewayStore"/>), for several gateway instances, implements the same contract.
/// It is the sum of one focused interface per concern (<c>IGatewayStore.&lt;Concern&gt;.cs</c>: <see cref="IIngestStore"/>,
/// <see cref="IMonitoringStore"/>, <see cref="IAlertStore"/>, ...); a consumer that needs one concern depends on its interface.
/// </summary>
public partial interface IGatewayStore : IDisposable
{
}
