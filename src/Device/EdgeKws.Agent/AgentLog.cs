namespace EdgeKws.Agent;

/// <summary>The agent's log lines on stderr: <c>edgekws-agent: {message}</c>, one writer at a time (the audio, writer,
/// uplink, GPIO and model-update threads all log).</summary>
internal sealed class AgentLog(TextWriter stderr)
{
    public void Write(string message)
    {
        lock (stderr)
        {
            stderr.WriteLine($"edgekws-agent: {message}");
        }
    }

    /// <summary><c>configuration error: {key}: {reason}</c>: the line exit code 2 prints.</summary>
    public void ConfigurationError(string message) => Write($"configuration error: {message}");
}
