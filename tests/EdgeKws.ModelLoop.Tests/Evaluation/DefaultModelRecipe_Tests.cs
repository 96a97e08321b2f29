using System.Text.Json;
using EdgeKws.Shared.Processes;
using Xunit.Abstractions;

namespace EdgeKws.ModelLoop.Tests.Evaluation;

/// <summary>
/// The bundled model's recipe (tools/train/build-default-model.sh) end to end in its --tiny configuration: far-field corpus
/// with every voice, device-MFCC dataset, trainer, INT8, threshold on validation streams, evaluation with the breakdown on
/// the held-out test streams. The full recipe takes an hour or more and is not run in CI; this keeps it from rotting.
/// </summary>
public sealed class DefaultModelRecipe_Tests(ITestOutputHelper output)
{
    [Fact]
    public async Task Tiny_recipe_builds_an_int8_model_within_budget_and_evaluates_it_by_engine_and_room_on_held_out_streams()
    {
        string work = Path.Combine(Path.GetTempPath(), "edgekws-recipe-" + Guid.NewGuid().ToString("N"));
        string defaultModels = Path.Combine(RepositoryRoot.Path, "models", "default");
        var before = Directory.GetFiles(defaultModels).ToDictionary(f => f, File.ReadAllBytes);
        try
        {
            // Liveness bound only: the tiny recipe takes ~2 min on an idle 2-core machine (Release builds included).
            var (exit, stdout, stderr) = await ExternalProcess.RunAsync("env",
                ["WORK=" + work, "bash", Path.Combine(RepositoryRoot.Path, "tools", "train", "build-default-model.sh"), "--tiny"],
                TimeSpan.FromMinutes(20), CancellationToken.None);
            output.WriteLine(stdout);
            Assert.True(exit == 0, $"recipe exited {exit}: {stderr}\n{stdout[Math.Max(0, stdout.Length - 3000)..]}");

            string outDir = Path.Combine(work, "out");
            string model = Assert.Single(Directory.GetFiles(outDir, "*.int8.onnx"));
            Assert.InRange(new FileInfo(model).Length, 1, 64 * 1024);
            using JsonDocument eval = JsonDocument.Parse(File.ReadAllBytes(Assert.Single(Directory.GetFiles(outDir, "*.evaluation.json"))));
            JsonElement breakdown = eval.RootElement.GetProperty("breakdown");
            // Every engine and room class of the test streams is reported, each with an interval around its FRR.
            foreach (string key in new[] { "engine", "room" })
            {
                JsonElement groups = breakdown.GetProperty("frrBy").EnumerateArray().Single(t => t.GetProperty("tag").GetString() == key).GetProperty("groups");
                Assert.True(groups.GetArrayLength() >= 2, $"{key}: {groups}");
                foreach (JsonElement g in groups.EnumerateArray())
                {
                    double frr = g.GetProperty("frr").GetDouble();
                    Assert.InRange(frr, g.GetProperty("frrLow95").GetDouble(), g.GetProperty("frrHigh95").GetDouble());
                }
            }

            var kinds = breakdown.GetProperty("faPerHourByKind").EnumerateArray().Select(k => k.GetProperty("kind").GetString()).ToList();
            Assert.Contains("tv", kinds);
            Assert.Contains("near-miss", kinds);
            // The recipe never writes into the bundled model's folder in --tiny mode.
            Assert.Equal(before.Keys.Order(), Directory.GetFiles(defaultModels).Order());
            Assert.All(before, kv => Assert.Equal(kv.Value, File.ReadAllBytes(kv.Key)));
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }
}
