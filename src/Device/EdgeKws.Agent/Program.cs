using System.Collections;
using System.Runtime.InteropServices;
using EdgeKws.Agent;

return AgentArguments.Invoke(args, Run, Console.Out, Console.Error);

static int Run(AgentArguments arguments)
{
    using var stop = new CancellationTokenSource();
    // SIGTERM (systemd stop) and SIGINT (Ctrl-C) stop the agent gracefully: the audio loop ends, clips and
    // a final heartbeat are enqueued, the outbox drains for a moment and is closed cleanly.
    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Graceful);
    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Graceful);
    if (arguments.Duration is { } duration)
    {
        stop.CancelAfter(duration);
    }

    IDictionary environment = Environment.GetEnvironmentVariables();
    return AgentHost.Run(arguments, environment, stop.Token, Console.Out, Console.Error);

    void Graceful(PosixSignalContext context)
    {
        context.Cancel = true; // keep the process alive; the loop ends on the token
        stop.Cancel();
    }
}
