using EdgeKws.Device.Enrollment;
using EdgeKws.Device.EnrollmentStress;

// Usage: EdgeKws.Device.EnrollmentStress STATE_DIR FIRST_GENERATION
// Prints "W g" before writing generation g and "S g" once Save returned; runs until killed.
if (args.Length != 2 || !long.TryParse(args[1], out long generation))
{
    Console.Error.WriteLine("usage: EdgeKws.Device.EnrollmentStress STATE_DIR FIRST_GENERATION");
    return 2;
}

var store = new EnrollmentStore(args[0]);
var stdout = Console.Out;
for (long g = generation; ; g++)
{
    EnrollmentData data = StressEnrollments.Generation(g);
    stdout.WriteLine($"W {g}");
    stdout.Flush();
    store.Save(data);
    stdout.WriteLine($"S {g}");
    stdout.Flush();
}
