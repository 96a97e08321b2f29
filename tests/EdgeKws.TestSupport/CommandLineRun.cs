namespace EdgeKws.TestSupport;

/// <summary>Runs a tool's in-process command line (<c>Run(args, stdout, stderr)</c>, docs/cli.md) and captures what it wrote.</summary>
public static class CommandLineRun
{
    public static (int Code, string Stdout, string Stderr) Capture(Func<string[], TextWriter, TextWriter, int> run, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(run);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
