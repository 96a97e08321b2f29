using EdgeKws.Detection.Tests;
using EdgeKws.Device.ModelUpdates;
using EdgeKws.Shared.Contracts;
using EdgeKws.Shared.Signing;
using Xunit.Abstractions;

namespace EdgeKws.Device.Tests.ModelUpdates;

public class ModelSlots_Tests(ITestOutputHelper output)
{
    private const string Int8 = DetectionFixtures.Int8;
    private const string Float = DetectionFixtures.Float;
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A device running the int8 model from slot A (installed through the normal path).</summary>
    private static ModelSlots RunningInt8(ModelUpdateTestKit kit, ModelSlotsOptions? options = null)
    {
        var slots = kit.Open(options);
        var outcome = slots.TryInstall(kit.Update(Int8));
        Assert.True(outcome.Succeeded, outcome.Reason);
        Assert.Equal(ModelSlot.A, slots.ActiveSlot);
        return slots;
    }

    [Fact]
    public void Fresh_device_has_no_model_and_says_so()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = kit.Open();
        Assert.Null(slots.ActiveSlot);
        Assert.Contains("no model installed", slots.BootReport, StringComparison.Ordinal);
        Assert.False(slots.TryPushFrame(new float[DetectionFixtures.Coefficients], out _));
        Assert.False(slots.TryCreateStatus("dev-1", null, Now, out _));
    }

    [Fact]
    public void Installs_a_good_update_into_the_idle_slot_and_runs_it()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Int8));

        var update = kit.Update(Float);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = slots.TryInstall(update);
        var installTime = System.Diagnostics.Stopwatch.GetElapsedTime(start);

        Assert.True(outcome.Succeeded, outcome.Reason);
        Assert.Equal(ModelSlot.B, slots.ActiveSlot);
        Assert.Equal(ModelSlot.A, slots.PreviousSlot);
        Assert.Equal("active=B\nprevious=A\n", File.ReadAllText(kit.PointerPath));
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Float));
        string slotB = slots.SlotDirectory(ModelSlot.B);
        Assert.Equal(["kws-test-float.onnx", "manifest.json", "manifest.sig"],
            Directory.GetFiles(slotB).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var report = slots.LastHealthReport!.Value;
        Assert.True(report.PositiveDetections >= 1);
        Assert.Equal(0, report.NegativeDetections);
        Assert.True(report.LatencySamples >= 20);
        Assert.True(report.P95LatencyMs < 50);
        output.WriteLine(System.FormattableString.Invariant(
            $"install {installTime.TotalMilliseconds:0.0} ms (verify, write+fsync, load, health check, switch); health check: {report.LatencySamples} inferences, p95 {report.P95LatencyMs:0.000} ms, max {report.MaxLatencyMs:0.000} ms; positive canary detections {report.PositiveDetections}"));

        Assert.True(slots.TryCreateStatus("dev-1", outcome, Now, out var status));
        Assert.True(status!.TryValidate(out string why), why);
        Assert.Equal(ModelUpdateResult.Activated, status.UpdateResult);
        Assert.Equal(ModelSlot.B, status.ActiveSlot);
        Assert.Equal(ModelUpdateTestKit.Version(Float), status.TargetModelVersion);
    }

    public static TheoryData<string> RefusedUpdates =>
    [
        "tampered-model-bytes", "tampered-manifest", "unsigned", "other-key", "der-signature", "wrong-feature-config",
        "oversize-declared", "model-larger-than-manifest", "deaf-model", "false-alarm-model",
    ];

    [Theory]
    [MemberData(nameof(RefusedUpdates))]
    public void Refuses_a_bad_update_with_a_specific_reason_and_keeps_the_old_model_running(string kind)
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        byte[] pointerBefore = File.ReadAllBytes(kit.PointerPath);

        (ModelUpdate update, ModelUpdateFailure expected, ModelUpdateResult wire, string says) = kind switch
        {
            "tampered-model-bytes" => TamperedModel(kit),
            "tampered-manifest" => TamperedManifest(kit),
            "unsigned" => Unsigned(kit),
            "other-key" => OtherKey(kit),
            "der-signature" => DerSignature(kit),
            "wrong-feature-config" => (kit.Update(Float, j => j["featureConfigHash"] = new string('a', 64)),
                ModelUpdateFailure.FeatureConfigMismatch, ModelUpdateResult.RejectedHealthCheck, "trained on feature config aaaa"),
            "oversize-declared" => (kit.Update(Float, j => j["sizeBytes"] = 200_000),
                ModelUpdateFailure.OverBudget, ModelUpdateResult.RejectedHealthCheck, "200000 bytes, over the 65536-byte model budget"),
            "model-larger-than-manifest" => LargerThanManifest(kit),
            "deaf-model" => (kit.Update(Int8, j => j["modelVersion"] = "0.2.0-deaf", ModelUpdateTestKit.DeafInt8Model()),
                ModelUpdateFailure.CanaryMissed, ModelUpdateResult.RejectedHealthCheck, "did not fire on the positive canary"),
            "false-alarm-model" => (kit.Update(Float, j => j["keywordIndex"] = 0),
                ModelUpdateFailure.CanaryFalseAlarm, ModelUpdateResult.RejectedHealthCheck, "on the negative canary"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        var outcome = slots.TryInstall(update);

        Assert.False(outcome.Succeeded);
        Assert.Equal(expected, outcome.Failure);
        Assert.StartsWith(ModelUpdateOutcome.Code(expected) + ": ", outcome.Reason, StringComparison.Ordinal);
        Assert.Contains(says, outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(wire, outcome.Result);
        // The old model keeps running from the same slot, the pointer is byte-for-byte unchanged,
        // and the idle slot holds nothing that could be booted later.
        Assert.Equal(ModelSlot.A, slots.ActiveSlot);
        Assert.Equal(pointerBefore, File.ReadAllBytes(kit.PointerPath));
        Assert.Empty(Directory.GetFiles(slots.SlotDirectory(ModelSlot.B)));
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Int8));

        Assert.True(slots.TryCreateStatus("dev-1", outcome, Now, out var status));
        Assert.True(status!.TryValidate(out string why), why);
        Assert.Equal(wire, status.UpdateResult);
        Assert.Equal(ModelSlot.A, status.ActiveSlot);
        Assert.StartsWith(ModelUpdateOutcome.Code(expected), status.Reason, StringComparison.Ordinal);
    }

    private static (ModelUpdate, ModelUpdateFailure, ModelUpdateResult, string) TamperedModel(ModelUpdateTestKit kit)
    {
        var (manifest, sig, model) = kit.Signed(Float);
        model[model.Length / 2] ^= 0x01;
        return (ModelUpdate.FromBytes(manifest, sig, model), ModelUpdateFailure.ModelDigestMismatch,
            ModelUpdateResult.RejectedSignature, "the model bytes were altered or corrupted");
    }

    private static (ModelUpdate, ModelUpdateFailure, ModelUpdateResult, string) TamperedManifest(ModelUpdateTestKit kit)
    {
        var (manifest, sig, model) = kit.Signed(Float);
        string text = System.Text.Encoding.UTF8.GetString(manifest).Replace("\"threshold\":0.8", "\"threshold\":0.5", StringComparison.Ordinal);
        byte[] altered = System.Text.Encoding.UTF8.GetBytes(text);
        Assert.NotEqual(manifest, altered);
        return (ModelUpdate.FromBytes(altered, sig, model), ModelUpdateFailure.SignatureInvalid,
            ModelUpdateResult.RejectedSignature, "signature does not verify against the pinned key");
    }

    private static (ModelUpdate, ModelUpdateFailure, ModelUpdateResult, string) Unsigned(ModelUpdateTestKit kit)
    {
        var (manifest, _, model) = kit.Signed(Float);
        return (ModelUpdate.FromBytes(manifest, [], model), ModelUpdateFailure.SignatureInvalid,
            ModelUpdateResult.RejectedSignature, "the manifest is unsigned");
    }

    private static (ModelUpdate, ModelUpdateFailure, ModelUpdateResult, string) OtherKey(ModelUpdateTestKit kit)
    {
        var (manifest, _, model) = kit.Signed(Float);
        using var other = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        Assert.True(ManifestSigner.TryCreate(other.ExportPkcs8PrivateKeyPem(), out var otherSigner, out string r), r);
        using (otherSigner)
        {
            return (ModelUpdate.FromBytes(manifest, otherSigner!.Sign(manifest), model), ModelUpdateFailure.SignatureInvalid,
                ModelUpdateResult.RejectedSignature, "signature does not verify against the pinned key");
        }
    }

    private static (ModelUpdate, ModelUpdateFailure, ModelUpdateResult, string) DerSignature(ModelUpdateTestKit kit)
    {
        // A valid signature by the right key, but DER-encoded: the format is P1363 only.
        var (manifest, sig, model) = kit.Signed(Float);
        byte[] der = ToDer(sig);
        return (ModelUpdate.FromBytes(manifest, der, model), ModelUpdateFailure.SignatureInvalid,
            ModelUpdateResult.RejectedSignature, "expected 64 (ECDSA P-256, IEEE P1363 r||s)");
    }

    private static (ModelUpdate, ModelUpdateFailure, ModelUpdateResult, string) LargerThanManifest(ModelUpdateTestKit kit)
    {
        var (manifest, sig, model) = kit.Signed(Float);
        byte[] longer = [.. model, 0, 0, 0, 0];
        return (ModelUpdate.FromBytes(manifest, sig, longer), ModelUpdateFailure.ModelDigestMismatch,
            ModelUpdateResult.RejectedSignature, $"model is {longer.Length} bytes but the signed manifest says {model.Length}");
    }

    private static byte[] ToDer(byte[] p1363)
    {
        static byte[] Integer(ReadOnlySpan<byte> v)
        {
            int i = 0;
            while (i < v.Length - 1 && v[i] == 0) i++;
            v = v[i..];
            byte[] body = v[0] >= 0x80 ? [0, .. v] : v.ToArray();
            return [0x02, (byte)body.Length, .. body];
        }
        byte[] r = Integer(p1363.AsSpan(0, 32)), s = Integer(p1363.AsSpan(32, 32));
        return [0x30, (byte)(r.Length + s.Length), .. r, .. s];
    }

    [Fact]
    public void Refuses_a_model_over_a_smaller_budget_before_writing_it()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        slots.Dispose();
        using var small = kit.Open(kit.Options(budgetBytes: 1_000));
        // The running int8 model (1695 bytes) no longer fits either: the boot refuses it, by name.
        Assert.Null(small.ActiveSlot);
        Assert.Contains("over the 1000-byte model budget", small.BootReport, StringComparison.Ordinal);

        var outcome = small.TryInstall(kit.Update(Float));
        Assert.Equal(ModelUpdateFailure.OverBudget, outcome.Failure);
        Assert.Contains("1742 bytes, over the 1000-byte model budget", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_a_model_slower_than_the_latency_bound()
    {
        using var kit = new ModelUpdateTestKit();
        // A bound no real inference meets: proves the latency is measured and compared.
        using var slots = RunningInt8(kit);
        slots.Dispose();
        using var strict = kit.Open(kit.Options(health: new ModelHealthCheckOptions { MaxP95LatencyMs = 0.0001, LatencyInferences = 20 }));
        Assert.Equal(ModelSlot.A, strict.ActiveSlot);

        var outcome = strict.TryInstall(kit.Update(Float));

        Assert.Equal(ModelUpdateFailure.TooSlow, outcome.Failure);
        Assert.Contains("p95 inference latency", outcome.Reason, StringComparison.Ordinal);
        Assert.Contains("over 20 inferences", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(20, strict.LastHealthReport!.Value.LatencySamples);
        ModelUpdateTestKit.AssertRunsAndFires(strict, ModelUpdateTestKit.Version(Int8));
    }

    [Fact]
    public void Refuses_to_vet_a_model_when_the_agent_canary_is_missing()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        File.Delete(Path.Combine(kit.StateDirectory, "canary", ModelCanary.NegativeFileName));

        var outcome = slots.TryInstall(kit.Update(Float));

        Assert.Equal(ModelUpdateFailure.CanaryUnavailable, outcome.Failure);
        Assert.Contains("negative.ekwf not found", outcome.Reason, StringComparison.Ordinal);
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Int8));
    }

    [Fact]
    public void Rollback_returns_to_the_previous_slot_and_can_be_undone()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        Assert.Equal(ModelUpdateFailure.NoPreviousModel, slots.Rollback().Failure);
        Assert.True(slots.TryInstall(kit.Update(Float)).Succeeded);

        var back = slots.Rollback();

        Assert.True(back.Succeeded, back.Reason);
        Assert.Equal(ModelUpdateResult.RolledBack, back.Result);
        Assert.Equal(ModelSlot.A, slots.ActiveSlot);
        Assert.Equal("active=A\nprevious=B\n", File.ReadAllText(kit.PointerPath));
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Int8));
        Assert.True(slots.TryCreateStatus("dev-1", back, Now, out var status));
        Assert.True(status!.TryValidate(out string why), why);
        Assert.Equal(ModelUpdateResult.RolledBack, status.UpdateResult);

        Assert.True(slots.Rollback().Succeeded);
        Assert.Equal(ModelSlot.B, slots.ActiveSlot);
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Float));
    }

    [Fact]
    public void Rollback_refuses_when_the_previous_slot_no_longer_verifies()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        Assert.True(slots.TryInstall(kit.Update(Float)).Succeeded);
        string oldModel = Path.Combine(slots.SlotDirectory(ModelSlot.A), "kws-test-int8.onnx");
        byte[] bytes = File.ReadAllBytes(oldModel);
        bytes[100] ^= 0xFF;
        File.WriteAllBytes(oldModel, bytes);

        var outcome = slots.Rollback();

        Assert.Equal(ModelUpdateFailure.NoPreviousModel, outcome.Failure);
        Assert.Contains("previous slot A no longer verifies", outcome.Reason, StringComparison.Ordinal);
        Assert.Contains("SHA-256", outcome.Reason, StringComparison.Ordinal);
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Float));
    }

    [Fact]
    public void A_failed_install_into_the_previous_slot_ends_rollback_to_it()
    {
        using var kit = new ModelUpdateTestKit();
        using var slots = RunningInt8(kit);
        Assert.True(slots.TryInstall(kit.Update(Float)).Succeeded);
        Assert.Equal(ModelSlot.A, slots.PreviousSlot);

        var failed = slots.TryInstall(kit.Update(Int8, j => j["modelVersion"] = "0.2.0-deaf", ModelUpdateTestKit.DeafInt8Model()));

        Assert.Equal(ModelUpdateFailure.CanaryMissed, failed.Failure);
        Assert.Null(slots.PreviousSlot);
        Assert.Equal("active=B\nprevious=-\n", File.ReadAllText(kit.PointerPath));
        Assert.Equal(ModelUpdateFailure.NoPreviousModel, slots.Rollback().Failure);
        ModelUpdateTestKit.AssertRunsAndFires(slots, ModelUpdateTestKit.Version(Float));
    }

    [Fact]
    public void Restart_keeps_the_active_slot_and_reverifies_it()
    {
        using var kit = new ModelUpdateTestKit();
        using (var slots = RunningInt8(kit))
        {
            Assert.True(slots.TryInstall(kit.Update(Float)).Succeeded);
        }

        using var again = kit.Open();

        Assert.Equal(ModelSlot.B, again.ActiveSlot);
        Assert.Equal(ModelSlot.A, again.PreviousSlot);
        Assert.False(again.BootFellBack);
        Assert.Equal($"slot B active: model {ModelUpdateTestKit.Version(Float)} verified", again.BootReport);
        ModelUpdateTestKit.AssertRunsAndFires(again, ModelUpdateTestKit.Version(Float));
        Assert.True(again.Rollback().Succeeded);
        ModelUpdateTestKit.AssertRunsAndFires(again, ModelUpdateTestKit.Version(Int8));
    }

    [Fact]
    public void Boot_falls_back_to_the_previous_slot_when_the_active_one_is_corrupt()
    {
        using var kit = new ModelUpdateTestKit();
        string activeModel;
        using (var slots = RunningInt8(kit))
        {
            Assert.True(slots.TryInstall(kit.Update(Float)).Succeeded);
            activeModel = Path.Combine(slots.SlotDirectory(ModelSlot.B), "kws-test-float.onnx");
        }
        File.WriteAllBytes(activeModel, File.ReadAllBytes(activeModel)[..500]); // torn write

        using var again = kit.Open();

        Assert.Equal(ModelSlot.A, again.ActiveSlot);
        Assert.True(again.BootFellBack);
        Assert.Contains("active slot B failed verification", again.BootReport, StringComparison.Ordinal);
        Assert.Contains("is 500 bytes but the manifest says 1742", again.BootReport, StringComparison.Ordinal);
        Assert.Contains("fell back to slot A", again.BootReport, StringComparison.Ordinal);
        Assert.Equal("active=A\nprevious=-\n", File.ReadAllText(kit.PointerPath));
        ModelUpdateTestKit.AssertRunsAndFires(again, ModelUpdateTestKit.Version(Int8));
    }

    [Fact]
    public void Boot_runs_nothing_when_the_active_slot_fails_and_there_is_no_previous_one()
    {
        using var kit = new ModelUpdateTestKit();
        using (RunningInt8(kit))
        {
        }
        File.WriteAllBytes(Path.Combine(kit.ModelsDirectory, "A", ModelSlots.SignatureFileName), new byte[64]);

        using var again = kit.Open();

        Assert.Null(again.ActiveSlot);
        Assert.Contains("active slot A failed verification", again.BootReport, StringComparison.Ordinal);
        Assert.Contains("signature does not verify", again.BootReport, StringComparison.Ordinal);
        Assert.Contains("no previous slot is recorded", again.BootReport, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_crash_between_writing_the_idle_slot_and_switching_boots_the_old_model(bool idleSlotComplete)
    {
        using var kit = new ModelUpdateTestKit();
        using (RunningInt8(kit))
        {
        }
        // What a crash leaves behind: the pointer still names A; B holds the new model, either
        // half written (torn model file) or complete but never switched to.
        var (manifest, sig, model) = kit.Signed(Float);
        string b = Path.Combine(kit.ModelsDirectory, "B");
        File.WriteAllBytes(Path.Combine(b, "kws-test-float.onnx"), idleSlotComplete ? model : model[..(model.Length / 2)]);
        File.WriteAllBytes(Path.Combine(b, ModelSlots.ManifestFileName), manifest);
        if (idleSlotComplete) File.WriteAllBytes(Path.Combine(b, ModelSlots.SignatureFileName), sig);

        using var again = kit.Open();

        Assert.Equal(ModelSlot.A, again.ActiveSlot);
        Assert.False(again.BootFellBack);
        Assert.Null(again.PreviousSlot);
        ModelUpdateTestKit.AssertRunsAndFires(again, ModelUpdateTestKit.Version(Int8));
        // The next install overwrites the leftovers and works.
        var outcome = again.TryInstall(kit.Update(Float));
        Assert.True(outcome.Succeeded, outcome.Reason);
        ModelUpdateTestKit.AssertRunsAndFires(again, ModelUpdateTestKit.Version(Float));
    }

    [Fact]
    public void Boot_with_an_unreadable_pointer_runs_the_newest_valid_slot_and_says_so()
    {
        using var kit = new ModelUpdateTestKit();
        using (var slots = RunningInt8(kit))
        {
            Assert.True(slots.TryInstall(kit.Update(Float, j => j["createdUtc"] = "2026-11-24T00:00:00+00:00")).Succeeded);
        }
        File.WriteAllText(kit.PointerPath, "garbage");

        using var again = kit.Open();

        Assert.Equal(ModelSlot.B, again.ActiveSlot);
        Assert.True(again.BootFellBack);
        Assert.Contains("active pointer unreadable", again.BootReport, StringComparison.Ordinal);
        Assert.Equal("active=B\nprevious=-\n", File.ReadAllText(kit.PointerPath));
    }

    [Fact]
    public void Open_refuses_a_missing_or_wrong_pinned_key_by_name()
    {
        using var kit = new ModelUpdateTestKit();
        string keyPath = Path.Combine(kit.StateDirectory, "keys", "model-signing.pub.pem");
        File.Delete(keyPath);
        Assert.False(ModelSlots.TryOpen(kit.Options(), out _, out string reason));
        Assert.Contains("cannot read the pinned model-signing public key", reason, StringComparison.Ordinal);

        using var p384 = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP384);
        File.WriteAllText(keyPath, p384.ExportSubjectPublicKeyInfoPem());
        Assert.False(ModelSlots.TryOpen(kit.Options(), out _, out reason));
        Assert.Contains("expected NIST P-256", reason, StringComparison.Ordinal);
    }
}
