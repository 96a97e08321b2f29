#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every test project.
# Ends with one line "N passed, N failed, N skipped".
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
cd "$REPO_ROOT"

step "Checking prerequisites"
ensure_dotnet
ensure_apt_packages

step "Restoring and building (Release)"
restore_solution
dotnet build EdgeKws.sln -c Release --no-restore --nologo -v quiet -clp:ErrorsOnly

# House style (.editorconfig): whitespace, import order and the rules set to `warning` there. A change it would make is a
# failure: run `dotnet format EdgeKws.sln --severity warn` and commit the result.
step "Checking formatting (dotnet format --verify-no-changes)"
dotnet format EdgeKws.sln --verify-no-changes --severity warn --no-restore -v quiet

step "Running tests"
results="$REPO_ROOT/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
set +e
dotnet test EdgeKws.sln -c Release --no-build --nologo \
  --results-directory "$results" --logger "console;verbosity=minimal" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12 ...")
# into the one closing line CI reads.
passed=0 failed=0 skipped=0 assemblies=0
while IFS= read -r line; do
  f=$(sed -n 's/.*Failed: *\([0-9]*\),.*/\1/p' <<<"$line")
  p=$(sed -n 's/.*Passed: *\([0-9]*\),.*/\1/p' <<<"$line")
  s=$(sed -n 's/.*Skipped: *\([0-9]*\),.*/\1/p' <<<"$line")
  passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0})) skipped=$((skipped + ${s:-0})) assemblies=$((assemblies + 1))
done < <(grep -E '^(Passed|Failed)! +- Failed:' "$results/console.log")
# The device agent as it ships to boards: linux-arm64 NativeAOT, run under qemu-user over a WAV
# against Mosquitto (figures printed there are EMULATED). It is part of the contract, so it always
# runs; its result joins the summary as one test.
step "linux-arm64 agent end to end under qemu"
if bash "$REPO_ROOT/scripts/agent-arm64-e2e.sh" --out "$REPO_ROOT/artifacts/arm64-e2e" > "$results/arm64-e2e.log" 2>&1; then
  passed=$((passed + 1)); info "arm64 end to end: passed (log: artifacts/test-results/arm64-e2e.log)"
  grep -E "EMULATED|detections|summary" "$results/arm64-e2e.log" | head -20 | sed 's/^/    /'
else
  failed=$((failed + 1)); tail -40 "$results/arm64-e2e.log"; info "arm64 end to end: FAILED (log: artifacts/test-results/arm64-e2e.log)"
fi

# CI shows the end of the output: repeat each failed test's name and the head of its message here, where
# it is seen (the full text stays in artifacts/test-results/console.log).
if [[ $failed -ne 0 ]]; then
  echo; info "failed tests (head of each message):"
  awk '/^  Failed /{print; n=8; next} n>0 && !/^  Stack Trace:/{print substr($0, 1, 400); n--; next} /^  Stack Trace:/{n=0}' \
    "$results/console.log" | head -60
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
if [[ $status -ne 0 || $failed -ne 0 ]]; then exit 1; fi
if [[ $passed -eq 0 ]]; then echo "no test ran" >&2; exit 1; fi
