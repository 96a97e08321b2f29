using EdgeKws.Corpus;

// Thin CLI over CorpusCommandLine and CorpusGenerator.
return CorpusCommandLine.Run(args, Console.Out, Console.Error);
