using EdgeKws.ModelTool;

// Thin CLI over ModelCommand.
return ModelCommand.Run(args, Console.Out, Console.Error);
