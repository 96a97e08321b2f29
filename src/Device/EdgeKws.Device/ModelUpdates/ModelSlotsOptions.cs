using EdgeKws.Detection;

namespace EdgeKws.Device.ModelUpdates;

/// <summary>Where the slots live and what a model must satisfy on this device.</summary>
public sealed class ModelSlotsOptions
{
    /// <summary>The agent's state directory; slots live in <c>{StateDirectory}/models/</c>.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>Hex SHA-256 of this device's MFCC configuration; a model must carry the same.</summary>
    public required string FeatureConfigHash { get; init; }

    /// <summary>The pinned model-signing public key (PEM SubjectPublicKeyInfo). Default <c>{StateDirectory}/keys/model-signing.pub.pem</c>.</summary>
    public string? PublicKeyPath { get; init; }

    /// <summary>Folder with the agent's canary files. Default <c>{StateDirectory}/canary</c>.</summary>
    public string? CanaryDirectory { get; init; }

    /// <summary>Largest model accepted, bytes (the always-on island's budget).</summary>
    public long ModelBudgetBytes { get; init; } = KeywordModel.DefaultMaxModelBytes;

    public ModelHealthCheckOptions HealthCheck { get; init; } = new();

    /// <summary>Device-side detector overrides applied to every slot's model (null: the manifest's values).</summary>
    public KeywordDetectorOptions? DetectorOptions { get; init; }

    internal string ModelsDirectory => Path.Combine(StateDirectory, "models");
    internal string ResolvedPublicKeyPath => PublicKeyPath ?? Path.Combine(StateDirectory, "keys", "model-signing.pub.pem");
    internal string ResolvedCanaryDirectory => CanaryDirectory ?? Path.Combine(StateDirectory, "canary");
}
