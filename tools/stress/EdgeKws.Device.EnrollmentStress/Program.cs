using System.CommandLine;
using System.CommandLine.Help;
using EdgeKws.Device.Enrollment;
using EdgeKws.Device.EnrollmentStress;
using EdgeKws.Tools.CommandLine;

// Usage: EdgeKws.Device.EnrollmentStress STATE_DIR FIRST_GENERATION (EnrollmentStoreKill_Tests passes both, in this order)
// Prints "W g" before writing generation g and "S g" once Save returned; runs until killed.
Argument<string> stateDirArgument = new("STATE_DIR") { Description = "the enrollment store's state directory" };
Argument<long> firstGenerationArgument = new("FIRST_GENERATION") { Description = "generation of the first enrollment written; each next one is +1" };
var root = new Command("EdgeKws.Device.EnrollmentStress", "Kill-test child: rewrites the enrollment in a loop until killed, printing 'W g' before and 'S g' after each Save.")
{
    new HelpOption(), stateDirArgument, firstGenerationArgument,
};
root.SetAction(parse => WriteUntilKilled(parse.GetRequiredValue(stateDirArgument), parse.GetValue(firstGenerationArgument)));
return ToolCommandLine.Invoke(root, args, Console.Out, Console.Error);

static int WriteUntilKilled(string stateDir, long firstGeneration)
{
    var store = new EnrollmentStore(stateDir);
    var stdout = Console.Out;
    for (long g = firstGeneration; ; g++)
    {
        EnrollmentData data = StressEnrollments.Generation(g);
        stdout.WriteLine($"W {g}");
        stdout.Flush();
        store.Save(data);
        stdout.WriteLine($"S {g}");
        stdout.Flush();
    }
}
