using EdgeKws.Dataset;

// Thin CLI over DatasetCommand.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(DatasetCommand.Usage);
    return args.Length == 0 ? 2 : 0;
}

return DatasetCommand.Run(args, Console.Out, Console.Error);
