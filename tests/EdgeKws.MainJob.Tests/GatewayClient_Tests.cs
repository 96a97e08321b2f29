using System.Net;
using System.Net.Sockets;

namespace EdgeKws.MainJob.Tests;

/// <summary>
/// The main job's gateway client against a real loopback listener that accepts and never answers: a missed deadline is a
/// <see cref="TimeoutException"/> naming the request (the job reports it and stops its children), the caller's own
/// cancellation stays a cancellation (Ctrl-C).
/// </summary>
public sealed class GatewayClient_Tests : IDisposable
{
    private readonly TcpListener _silent = new(IPAddress.Loopback, 0);
    private readonly List<TcpClient> _accepted = [];
    private readonly CancellationTokenSource _stop = new();

    public GatewayClient_Tests()
    {
        _silent.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    TcpClient c = await _silent.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
                    lock (_accepted) _accepted.Add(c);   // held open, never answered
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (SocketException)
            {
            }
        });
    }

    private GatewayClient Client() => new(new Uri($"http://127.0.0.1:{((IPEndPoint)_silent.LocalEndpoint).Port}/"), "token");

    [Fact]
    public async Task A_request_past_its_deadline_is_a_timeout_naming_the_request()
    {
        using GatewayClient client = Client();
        var ex = await Assert.ThrowsAsync<TimeoutException>(() =>
            client.PostJsonAsync("api/review/run", new { }, CancellationToken.None, TimeSpan.FromMilliseconds(300)));
        Assert.Equal("POST api/review/run: no answer from the gateway within 0.3 s", ex.Message);
    }

    [Fact]
    public async Task The_callers_cancellation_stays_a_cancellation()
    {
        using GatewayClient client = Client();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Exception ex = await Record.ExceptionAsync(() => client.PostJsonAsync("api/review/run", new { }, cts.Token, TimeSpan.FromMinutes(10)));
        Assert.IsAssignableFrom<OperationCanceledException>(ex);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _silent.Stop();
        lock (_accepted)
        {
            foreach (TcpClient c in _accepted) c.Dispose();
        }
        _stop.Dispose();
    }
}
