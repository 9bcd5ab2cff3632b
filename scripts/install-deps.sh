#!/usr/bin/env bash
# Installs the Debian 12 packages alertbus needs, only those missing. Usage:
#   scripts/install-deps.sh            build + run dependencies
#   scripts/install-deps.sh --test     also what the tests need
#   scripts/install-deps.sh --fuzz     also clang + libFuzzer (scripts/fuzz.sh)
# Uses apt-get with --no-install-recommends (without it apt pulls 150+ packages). Needs root (or sudo).
set -euo pipefail

packages=(
  ca-certificates cmake make g++ pkg-config
  libzmq3-dev cppzmq-dev capnproto libcapnp-dev libsqlite3-dev
  libtomlplusplus-dev libpugixml-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libboost-dev
  catch2
)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(sqlite3 procps kannel kannel-extras libnet-smpp-perl) ;;  # Kannel: SMS outlet tests
    --fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "install-deps.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Packages with daemons (kannel) must not start them: the tests start their own, on ports they choose.
# policy-rc.d exit 101 tells invoke-rc.d "not allowed"; only ours is removed afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null
  $SUDO chmod 755 $policy
  own_policy=1
fi
status=0
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
if ((own_policy)); then $SUDO rm -f $policy; fi
exit $status
