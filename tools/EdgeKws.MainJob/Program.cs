using System.Runtime.InteropServices;
using EdgeKws.MainJob;

// The README's main job: the whole EdgeKws loop on the embedded defaults (see docs/main-job.md).
return MainJobOptions.Run(args, Console.Out, Console.Error, options => RunAsync(options).GetAwaiter().GetResult());

static async Task<int> RunAsync(MainJobOptions options)
{
    RepoLayout repo;
    try
    {
        repo = RepoLayout.Find();
    }
    catch (InvalidOperationException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }

    // Ctrl-C and SIGTERM cancel the run; the job then stops every child it started before exiting.
    using var cts = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cts.Cancel();
    };
    using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
    {
        c.Cancel = true;
        cts.Cancel();
    });

    var job = new MainJob(options, repo, Console.Out);
    try
    {
        return await job.RunAsync(cts.Token);
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }
}
