using System.Diagnostics;
using System.Globalization;

namespace EdgeKws.MainJob;

/// <summary>Progress lines: one per stage with its timing, indented detail lines in between.</summary>
internal sealed class Progress(TextWriter output, int stageCount)
{
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly Lock _gate = new();

    public TimeSpan Elapsed => _wall.Elapsed;

    public List<StageTiming> Stages { get; } = [];

    public void Detail(string text)
    {
        lock (_gate)
        {
            output.WriteLine("      " + text);
            output.Flush();
        }
    }

    /// <summary>Runs one stage and prints "[ elapsed] n/N name: outcome (took x s)".</summary>
    public async Task<T> StageAsync<T>(int number, string name, Func<Task<(T Result, string Outcome)>> run)
    {
        lock (_gate)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_wall.Elapsed.TotalSeconds,6:F1} s] {number}/{stageCount} {name} ..."));
            output.Flush();
        }
        var sw = Stopwatch.StartNew();
        try
        {
            (T result, string outcome) = await run().ConfigureAwait(false);
            Finish(number, name, outcome, sw.Elapsed, "ok");
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Finish(number, name, "FAILED: " + ex.Message, sw.Elapsed, "failed");
            throw;
        }
    }

    public void Skipped(int number, string name, string why)
    {
        Finish(number, name, "SKIPPED: " + why, TimeSpan.Zero, "skipped");
    }

    private void Finish(int number, string name, string outcome, TimeSpan took, string status)
    {
        lock (_gate)
        {
            Stages.Add(new StageTiming(number, name, status, Math.Round(took.TotalSeconds, 2), outcome));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{_wall.Elapsed.TotalSeconds,6:F1} s] {number}/{stageCount} {name}: {outcome} (took {took.TotalSeconds:F1} s)"));
            output.Flush();
        }
    }
}

/// <summary>One stage's outcome in the summary.</summary>
internal sealed record StageTiming(int Number, string Name, string Status, double Seconds, string Outcome);
