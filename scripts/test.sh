#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every test project.
# Ends with one line "N passed, N failed, N skipped".
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
cd "$EDGEKWS_ROOT"

step "Checking prerequisites"
ensure_dotnet
ensure_apt_packages

step "Restoring and building (Release)"
restore_solution
dotnet build EdgeKws.sln -c Release --no-restore --nologo -v quiet -clp:ErrorsOnly

step "Running tests"
results="$EDGEKWS_ROOT/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
set +e
dotnet test EdgeKws.sln -c Release --no-build --nologo \
  --logger "trx" --results-directory "$results" --logger "console;verbosity=normal" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

# Sum the per-project summaries from the TRX files into the one closing line CI reads.
passed=0 failed=0 skipped=0
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); passed=$((passed + ${p:-0}))
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters"); failed=$((failed + ${f:-0}))
  s=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters"); skipped=$((skipped + ${s:-0}))
done
echo
echo "$passed passed, $failed failed, $skipped skipped"
if [[ $status -ne 0 || $failed -ne 0 ]]; then exit 1; fi
if [[ $passed -eq 0 ]]; then echo "no test ran" >&2; exit 1; fi
