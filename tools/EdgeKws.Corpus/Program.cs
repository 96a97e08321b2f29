using EdgeKws.Corpus;

// Thin CLI over CorpusGenerator: parse, run, print progress and the summary.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(CorpusCommandLine.Usage);
    return args.Length == 0 ? 2 : 0;
}

CorpusOptions options;
try
{
    options = CorpusCommandLine.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"edgekws-corpus: {e.Message}");
    Console.Error.WriteLine(CorpusCommandLine.Usage);
    return 2;
}

try
{
    await CorpusGenerator.GenerateAsync(options, Console.WriteLine);
    return 0;
}
catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
{
    Console.Error.WriteLine($"edgekws-corpus: {e.Message}");
    return 1;
}
