using BenchmarkDotNet.Running;

// Every suite in this assembly; pick with --filter (e.g. --filter '*KeywordDetector*').
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
