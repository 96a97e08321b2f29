using EdgeKws.ModelTool;

// Thin CLI over ModelCommand.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(ModelCommand.Usage);
    return args.Length == 0 ? 2 : 0;
}

return ModelCommand.Run(args, Console.Out, Console.Error);
