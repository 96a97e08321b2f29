using System.Diagnostics;
using System.Globalization;
using EdgeKws.Device.Listening;
using EdgeKws.Device.Uplink;

namespace EdgeKws.Agent;

/// <summary>Prints detections and uplink changes, and forwards everything to the GPIO sink if one is set.</summary>
internal sealed class ConsoleStatusSink(TextWriter stdout, bool quiet, IAgentStatusSink? next, LatencyRecorder? recorder) : IAgentStatusSink
{
    private UplinkState _lastUplink = UplinkState.Stopped;
    private bool? _online; // unknown until the first look, so a device that never connects shows Offline

    public void OnStatus(AgentStatus status) => next?.OnStatus(status);

    public void OnDetection(in DetectionNotice notice)
    {
        next?.OnDetection(notice);
        double latencyMs = notice.DecisionLatencyTicks < 0 ? double.NaN : notice.DecisionLatencyTicks * 1000.0 / Stopwatch.Frequency;
        recorder?.AddDetection(notice.KeywordEndSample / 16000.0, notice.Event.Score, latencyMs);
        if (quiet) return;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"detection: end_s={notice.KeywordEndSample / 16000.0:F3} score={notice.Event.Score:F3} model={notice.Event.ModelVersion} decision_latency_ms={latencyMs:F3} clip={notice.ClipId:N}");
        lock (stdout)
        {
            stdout.WriteLine(line);
            stdout.Flush();
        }
    }

    /// <summary>Polled every 250 ms: Online/Offline to the next sink when the uplink's connection changes.</summary>
    public void WatchUplink(UplinkState state)
    {
        if (state == _lastUplink && _online is not null) return;
        _lastUplink = state;
        bool online = state == UplinkState.Connected;
        if (_online != online)
        {
            _online = online;
            OnStatus(online ? AgentStatus.Online : AgentStatus.Offline);
        }
    }
}
