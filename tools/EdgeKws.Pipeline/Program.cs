using EdgeKws.Pipeline;

// The README's main job. Today it runs the shared audio front end over generated speech; it grows
// into the whole loop (gateway, agents, labels, FA/hour, model push) as those parts land.
var options = MainJobOptions.Parse(args, out string? error);
if (options is null)
{
    Console.Error.WriteLine(error);
    Console.Error.WriteLine(MainJobOptions.Usage);
    return 2;
}
if (options.ShowHelp)
{
    Console.WriteLine(MainJobOptions.Usage);
    return 0;
}

Directory.CreateDirectory(options.OutputDirectory);
var report = new List<string>();
var frontEnd = new FrontEndStage(options, Console.Out);
int rc = frontEnd.Run(report);

string reportPath = Path.Combine(options.OutputDirectory, "main-job.md");
File.WriteAllLines(reportPath, report);
Console.WriteLine();
Console.WriteLine($"Report: {reportPath}");
return rc;
