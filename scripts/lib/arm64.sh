#!/usr/bin/env bash
# linux-arm64 NativeAOT builds and runs under qemu-user on an x64 Debian 12 machine.
# Sourced after scripts/lib/setup.sh. Steps checked in shared/recipes/arm64-and-fake-mic.md.

EDGEKWS_ARM64_APT_PACKAGES=(clang lld crossbuild-essential-arm64 qemu-user qemu-user-binfmt)

ensure_arm64_toolchain() {
  ensure_apt_packages "${EDGEKWS_ARM64_APT_PACKAGES[@]}"
  # arm64 shared libraries the agent loads at run time (C++ runtime for ONNX Runtime, ALSA,
  # OpenSSL for the ECDSA signature checks of model updates).
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    info "adding the arm64 Debian architecture"
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  local missing=()
  for p in libstdc++6:arm64 libasound2:arm64 libssl3:arm64; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    info "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Register qemu-aarch64 with binfmt_misc so arm64 binaries run directly.
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
  fi
  info "arm64 toolchain and qemu-aarch64 ready"
}

# ONNX Runtime's arm64 build parses /proc/cpuinfo at load and crashes on an x86 one under qemu.
# Writes an ARM (Cortex-A76-like, Pi 5) cpuinfo to $1 for run_arm64 to bind-mount.
write_fake_arm64_cpuinfo() {
  local out=$1 cores=${2:-4}
  : > "$out"
  for ((i = 0; i < cores; i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n' "$i" >> "$out"
  done
}

# run_arm64 BINARY ARGS...: runs an arm64 binary under qemu with the fake ARM cpuinfo in a private
# mount namespace (nothing outside the command sees the bind mount).
run_arm64() {
  local cpuinfo; cpuinfo="$(mktemp)"
  write_fake_arm64_cpuinfo "$cpuinfo"
  unshare -m sh -c 'mount --bind "$0" /proc/cpuinfo && exec "$@"' "$cpuinfo" "$@"
  local rc=$?
  rm -f "$cpuinfo"
  return $rc
}
