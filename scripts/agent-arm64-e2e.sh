#!/usr/bin/env bash
# End-to-end run of the linux-arm64 NativeAOT agent under qemu-user, against a real Mosquitto on
# 127.0.0.1: publish -> generate a WAV with 1 kHz "keyword" bursts at known times -> replay it
# through the arm64 agent (real MFCC front end, the tone1k INT8 ONNX model, SQLite outbox, MQTT 5
# uplink) -> check the detections, and that every message reached the broker.
#
#   scripts/agent-arm64-e2e.sh [--skip-publish] [--out DIR]
#
# Every timing and memory figure printed here is EMULATED (qemu-user on an x64 host), never a
# board figure. Exit status 0 only when all checks pass.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/arm64.sh"

OUT="${TMPDIR:-/tmp}/edgekws-agent-arm64-e2e"
PUBLISH=1
while (($#)); do
  case "$1" in
    --skip-publish) PUBLISH=0 ;;
    --out) OUT="$2"; shift ;;
    *) die "unknown argument $1 (usage: $0 [--skip-publish] [--out DIR])" ;;
  esac
  shift
done
BIN="$OUT/publish"
WORK="$OUT/run"
rm -rf "$WORK"; mkdir -p "$WORK" "$BIN"

step "arm64 toolchain, qemu and broker"
ensure_dotnet
ensure_arm64_toolchain
ensure_apt_packages
command -v sox >/dev/null || die "sox is required to generate the test WAV"

if ((PUBLISH)); then
  step "publish linux-arm64 NativeAOT"
  dotnet publish "$REPO_ROOT/src/Device/EdgeKws.Agent" -c Release -r linux-arm64 -p:PublishAot=true -o "$BIN" \
    2>&1 | tee "$WORK/publish.log" | grep -E 'warning|error|->' | grep -v NU1603 || true
  if grep -E '(warning|error) (IL|AOT|CS)[0-9]+' "$WORK/publish.log" | grep -v NU1603; then die "trim/AOT warnings or errors in the arm64 publish"; fi
fi
[[ -x "$BIN/edgekws-agent" ]] || die "no agent binary in $BIN (run without --skip-publish)"
for lib in libonnxruntime.so libe_sqlite3.so; do [[ -f "$BIN/$lib" ]] || die "$lib missing next to the binary"; done
if ls "$BIN"/*.dll >/dev/null 2>&1; then die "stray Windows DLLs in the publish folder: $(ls "$BIN"/*.dll)"; fi
file "$BIN/edgekws-agent" | grep -q 'ARM aarch64' || die "$BIN/edgekws-agent is not an arm64 binary"

step "test audio: 30 s of noise with 1 kHz bursts (0.5 s) starting at 2 5 8.5 12 15.5 19 22.5 26 s"
STARTS=(2 5 8.5 12 15.5 19 22.5 26)
sox -n -r 16000 -c 1 -b 16 "$WORK/noise.wav" synth 30 whitenoise vol 0.01
sox -n -r 16000 -c 1 -b 16 "$WORK/tone.wav" synth 0.5 sine 1000 vol 0.3
mix=()
for s in "${STARTS[@]}"; do mix+=("|sox $WORK/tone.wav -p pad $s"); done
sox -m "$WORK/noise.wav" "${mix[@]}" -b 16 "$WORK/bursts.wav"

step "mosquitto on 127.0.0.1"
# A free port below the ephemeral range (as TestWait.FreeLoopbackPort): a released port-0 port can be taken as the
# source port of a parallel test's outgoing connection before mosquitto binds it.
PORT=$("$DEBIAN_PYTHON" -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    p = random.randrange(10000, max(low, 10001))
    try:
        s = socket.socket(); s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError:
        pass
')
cat > "$WORK/mosquitto.conf" <<CONF
user root
persistence false
log_dest file $WORK/mosquitto.log
log_type all
allow_anonymous true
listener $PORT 127.0.0.1
CONF
mosquitto -c "$WORK/mosquitto.conf" & BROKER_PID=$!
trap 'kill "$BROKER_PID" 2>/dev/null || true' EXIT
# Liveness bound only (60 s): a broker start on a loaded CI machine can take seconds; a broker that never listens fails here, by name.
for _ in $(seq 600); do grep -q "Opening ipv4 listen socket on port $PORT" "$WORK/mosquitto.log" 2>/dev/null && break; sleep 0.1; done
grep -q "Opening ipv4 listen socket on port $PORT" "$WORK/mosquitto.log" || die "mosquitto is not listening on 127.0.0.1:$PORT: $(cat "$WORK/mosquitto.log")"

cat > "$WORK/agent.json" <<JSON
{
  "DeviceId": "pi-arm64-e2e",
  "StateDirectory": "$WORK/state",
  "Audio": { "Source": "wav", "WavPath": "$WORK/bursts.wav", "RealTime": false },
  "Detection": { "PreTriggerMs": 1000, "PostTriggerMs": 500 },
  "Mqtt": { "Host": "127.0.0.1", "Port": $PORT, "HeartbeatSeconds": 10 }
}
JSON

step "run the arm64 agent under qemu (EMULATED)"
set +e
/usr/bin/time -v -o "$WORK/time.txt" bash -c "$(declare -f run_arm64 write_fake_arm64_cpuinfo); run_arm64 '$BIN/edgekws-agent' --config '$WORK/agent.json' --fast --drain-seconds 180 --model '$REPO_ROOT/tests/fixtures/models/kws-tone1k-int8.manifest.json'" \
  > "$WORK/agent.out" 2> "$WORK/agent.err"
rc=$?
set -e
cat "$WORK/agent.err" "$WORK/agent.out"
((rc == 0)) || die "the arm64 agent exited with $rc"

step "checks"
summary=$(grep '^summary:' "$WORK/agent.out") || die "no summary line"
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$summary"; }
detections=$(grep -c '^detection:' "$WORK/agent.out" || true)
fail=0
[[ "$detections" == "${#STARTS[@]}" ]] || { echo "FAIL: $detections detections, expected ${#STARTS[@]}"; fail=1; }
i=0
while read -r end; do
  expect=$("$DEBIAN_PYTHON" -c "print(${STARTS[$i]} + 0.5)")
  ok=$("$DEBIAN_PYTHON" -c "print(1 if 0 <= $end - $expect <= 0.2 else 0)")
  ((ok)) || { echo "FAIL: detection $i decided at $end s, burst ended at $expect s"; fail=1; }
  i=$((i + 1))
done < <(sed -nE 's/^detection: end_s=([0-9.]+).*/\1/p' "$WORK/agent.out")
[[ "$(field outbox_depth)" == 0 ]] || { echo "FAIL: outbox not drained ($(field outbox_depth) left)"; fail=1; }
published=$(grep -c "Received PUBLISH from pi-arm64-e2e .*'edgekws/v1/pi-arm64-e2e/detection'" "$WORK/mosquitto.log" || true)
[[ "$published" -ge "${#STARTS[@]}" ]] || { echo "FAIL: broker saw $published detection publishes"; fail=1; }
clips=$(grep -c "Received PUBLISH from pi-arm64-e2e .*clip-features" "$WORK/mosquitto.log" || true)
heartbeats=$(grep -c "Received PUBLISH from pi-arm64-e2e .*heartbeat" "$WORK/mosquitto.log" || true)
((fail == 0)) || die "arm64 end-to-end checks failed (files in $WORK)"

rss_kb=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$WORK/time.txt")
size=$(stat -c %s "$BIN/edgekws-agent")
step "figures (EMULATED: qemu-user on $(uname -m), $(nproc) cores; not board figures)"
printf '    binary: edgekws-agent %.1f MB (linux-arm64 NativeAOT, stripped); libonnxruntime.so %.1f MB; libe_sqlite3.so %.1f MB\n' \
  "$(bc -l <<<"$size/1048576")" "$(bc -l <<<"$(stat -c %s "$BIN/libonnxruntime.so")/1048576")" "$(bc -l <<<"$(stat -c %s "$BIN/libe_sqlite3.so")/1048576")"
echo "    EMULATED max RSS (qemu process, includes the emulator): $((rss_kb / 1024)) MB; agent-reported rss_mb=$(field rss_mb)"
echo "    EMULATED speed: $(field audio_s) s of audio in $(field elapsed_s) s = $(field speed)"
echo "    EMULATED per-window inference: p50 $(field inference_ms_p50) ms, p99 $(field inference_ms_p99) ms over $(field inferences) windows"
echo "    EMULATED decision latency (block delivered -> event): p50 $(field decision_latency_ms_p50) ms, p99 $(field decision_latency_ms_p99) ms"
echo "    detections $detections/${#STARTS[@]} at the expected times; broker received $published detections, $clips feature clips, $heartbeats heartbeats; outbox drained"
echo "PASS arm64 agent end to end (EMULATED)"
