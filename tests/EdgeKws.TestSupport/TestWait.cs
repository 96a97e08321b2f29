using System.Diagnostics;
using EdgeKws.LocalServers;

namespace EdgeKws.TestSupport;

/// <summary>Polling waits and loopback ports shared by the uplink and gateway tests.</summary>
public static class TestWait
{
    /// <summary>
    /// A TCP port that was free on 127.0.0.1 a moment ago, for a server the test starts afterwards; see
    /// <see cref="LoopbackPorts.Free"/> for why it is not a port-0 bind and how parallel test processes stay apart.
    /// </summary>
    public static int FreeLoopbackPort() => LoopbackPorts.Free();

    /// <summary>Polls <paramref name="condition"/> every 20 ms; throws with <paramref name="describe"/> after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#} s waiting: {describe()}");
            }
            await Task.Delay(20);
        }
    }
}
