#!/usr/bin/env bash
# Shared setup for the README's two commands: checks the .NET SDK, installs the Debian packages the
# project needs (only the missing ones), and restores NuGet packages. Sourced, not run.
set -euo pipefail

# Plain shell variables, not exported: EDGEKWS_* in the environment is the agent's and the
# enrollment tool's configuration override namespace, and they refuse unknown keys.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die()  { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Debian packages by purpose. Keep this list the single place that says what the project needs.
EDGEKWS_APT_PACKAGES=(
  # audio fixtures and parity: speech synthesis, mixing, the torchaudio reference front end
  espeak-ng sox libsox-fmt-all python3-numpy python3-scipy python3-torch python3-torchaudio
  # corpus generator voices (festival's voices are only recommended by it, so they are named)
  flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  # forced alignment (the built-in aligner of the labeling library)
  pocketsphinx pocketsphinx-en-us
  # test model generation (onnx graphs built in Python; ONNX Runtime runs only in C#)
  python3-onnx
  # ALSA capture (libasound.so.2) and the file-plugin fake microphone
  libasound2 alsa-utils
  # the external MQTT broker for interop tests (the default broker is embedded MQTTnet)
  mosquitto
  # the dashboard test drives Debian's headless Chromium over the DevTools protocol
  chromium
  # the shared store of several gateway instances (tests start their own server on loopback)
  postgresql
)

# Debian's own interpreter: the python3 first on PATH may be another one without Debian's modules.
DEBIAN_PYTHON=/usr/bin/python3

ensure_dotnet() {
  command -v dotnet >/dev/null 2>&1 || die "the .NET 10 SDK is required (dotnet not on PATH); see README 'Prerequisites'"
  local v; v="$(dotnet --version)"
  [[ "${v%%.*}" -ge 10 ]] || die ".NET SDK 10 or newer is required, found $v"
  info "dotnet $v"
}

ensure_apt_packages() {
  local missing=()
  for p in "${EDGEKWS_APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then info "Debian packages: all present"; return; fi
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages (${missing[*]}); run as root or install them"
  info "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

restore_solution() {
  info "restoring NuGet packages"
  dotnet restore "$REPO_ROOT/EdgeKws.sln" --verbosity quiet
}
