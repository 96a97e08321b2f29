#!/usr/bin/env bash
# The bench report: installs what is needed (Debian packages, the arm64 cross toolchain and qemu unless
# --quick/--no-arm64), builds tools/EdgeKws.Bench and runs `edgekws-bench report`. Arguments go to the
# report (try --help); without --out it writes artifacts/bench/report.md and its PNG plots.
#
#   scripts/bench.sh                 # full report (a few minutes on 2 cores: NativeAOT x64 + arm64 publish, qemu run)
#   scripts/bench.sh --quick         # smoke run in well under a minute (what the CI test runs)
#   scripts/bench.sh --compare main HEAD
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/arm64.sh"
cd "$REPO_ROOT"

args=("$@")
want_arm64=1 has_out=0
for a in "$@"; do
  case "$a" in
    --quick|--no-arm64|--compare) want_arm64=0 ;;
    --agent-arm64) want_arm64=0 ;;  # a given binary still needs qemu; checked below
    --out) has_out=1 ;;
    -h|--help|help) exec dotnet run --project tools/EdgeKws.Bench -c Release -- help ;;
  esac
done
for a in "$@"; do [[ "$a" == --agent-arm64 ]] && want_arm64=1; done
((has_out)) || args+=(--out "$REPO_ROOT/artifacts/bench")

step "Checking prerequisites"
ensure_dotnet
ensure_apt_packages
((want_arm64)) && ensure_arm64_toolchain

step "Building the bench (and the agent and ingest bench it runs)"
restore_solution
for p in tools/EdgeKws.Bench src/Device/EdgeKws.Agent tools/EdgeKws.IngestBench; do
  dotnet build "$p" -c Release --no-restore --nologo -v quiet -clp:ErrorsOnly
done

step "Running edgekws-bench report ${args[*]}"
exec dotnet tools/EdgeKws.Bench/bin/Release/net10.0/EdgeKws.Bench.dll report "${args[@]}"
