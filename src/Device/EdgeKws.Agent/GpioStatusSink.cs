using EdgeKws.Device.Gpio;
using EdgeKws.Device.Listening;

namespace EdgeKws.Agent;

/// <summary>
/// Shows the agent's state on the front panel's status LED and ticks the panel (LED pattern, button)
/// on its own thread every <see cref="GpioPanel.TickPeriod"/>. The mapping: Listening sets the
/// listening condition (and ends Updating), Offline/Online the offline condition, Updating the
/// updating condition, Detected the one-shot burst, Stopped turns listening off; the LED itself
/// resolves priorities (<see cref="StatusLed"/>). Every change of what the LED shows is logged
/// (<c>led: offline</c>), which is also how the agent tests observe it.
/// </summary>
internal sealed class GpioStatusSink : IAgentStatusSink, IDisposable
{
    private readonly GpioPanel _panel;
    private readonly IAgentStatusSink? _next;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _ticker;
    private StatusIndication _shown = StatusIndication.Off;

    public GpioStatusSink(GpioPanel panel, IAgentStatusSink? next, Action<string> log)
    {
        _panel = panel;
        _next = next;
        _log = log;
        _ticker = new Thread(TickLoop) { IsBackground = true, Name = "edgekws-gpio" };
        _ticker.Start();
    }

    public GpioPanel Panel => _panel;

    public void OnStatus(AgentStatus status)
    {
        StatusLed led = _panel.Led;
        switch (status)
        {
            case AgentStatus.Listening: led.Updating = false; led.Listening = true; break;
            case AgentStatus.Offline: led.Offline = true; break;
            case AgentStatus.Online: led.Offline = false; break;
            case AgentStatus.Updating: led.Updating = true; break;
            case AgentStatus.Detected: led.SignalDetected(); break;
            case AgentStatus.Stopped: led.Listening = false; led.Updating = false; break;
        }
        _next?.OnStatus(status);
    }

    public void OnDetection(in DetectionNotice notice) => _next?.OnDetection(notice);

    private void TickLoop()
    {
        CancellationToken ct = _stop.Token;
        while (!ct.WaitHandle.WaitOne(GpioPanel.TickPeriod))
        {
            _panel.Tick();
            StatusIndication now = _panel.Led.Current;
            if (now != _shown)
            {
                _shown = now;
                _log($"led: {now.ToString().ToLowerInvariant()}");
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _ticker.Join();
        _stop.Dispose();
        _panel.Dispose();
    }
}
