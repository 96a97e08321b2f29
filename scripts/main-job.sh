#!/usr/bin/env bash
# The README's main job: installs what is needed, builds the gateway host, the device agent, the
# corpus generator and the model tool, and runs the whole EdgeKws loop on the embedded defaults
# (generated audio per device, gateway + agent processes on 127.0.0.1, forced-alignment labels,
# FA/hour and drift, model push; by default a second day of new utterances heard by the pushed model and
# the loop's before/after figures). Arguments go to the job: --devices N --hours H --days N --out DIR
# --keep-running (try --help). See docs/main-job.md.
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
cd "$REPO_ROOT"

for a in "$@"; do
  if [[ "$a" == "--help" || "$a" == "-h" ]]; then
    dotnet build tools/EdgeKws.MainJob/EdgeKws.MainJob.csproj -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null 2>&1 || true
    exec dotnet tools/EdgeKws.MainJob/bin/Release/net10.0/edgekws-main-job.dll --help
  fi
done

step "Checking prerequisites"
ensure_dotnet
ensure_apt_packages

step "Building (main job, gateway host, device agent, corpus generator, model tool)"
restore_solution
# The main job's project references the gateway host, the agent and the model tool (without linking
# them), so this one build produces every binary the job starts.
dotnet build tools/EdgeKws.MainJob/EdgeKws.MainJob.csproj -c Release --no-restore --nologo -v quiet -clp:ErrorsOnly

step "Running the main job"
# Run the built dll directly (not `dotnet run`): Ctrl-C then reaches the job itself, which stops
# the gateway and every agent before it exits.
exec dotnet tools/EdgeKws.MainJob/bin/Release/net10.0/edgekws-main-job.dll "$@"
