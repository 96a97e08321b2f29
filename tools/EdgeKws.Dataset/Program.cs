using EdgeKws.Dataset;

// Thin CLI over DatasetCommand.
return DatasetCommand.Run(args, Console.Out, Console.Error);
