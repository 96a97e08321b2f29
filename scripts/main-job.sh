#!/usr/bin/env bash
# The README's main-job command: installs what is needed and runs the EdgeKws pipeline on the
# embedded defaults. Arguments are passed to the pipeline (try --help).
source "$(dirname "${BASH_SOURCE[0]}")/lib/setup.sh"
cd "$REPO_ROOT"

step "Checking prerequisites"
ensure_dotnet
ensure_apt_packages

step "Building"
restore_solution
dotnet build tools/EdgeKws.Pipeline/EdgeKws.Pipeline.csproj -c Release --no-restore --nologo -v quiet -clp:ErrorsOnly

step "Running the main job"
exec dotnet run --project tools/EdgeKws.Pipeline -c Release --no-build -- "$@"
