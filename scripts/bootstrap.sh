#!/usr/bin/env bash
# Installs what the product and its tests need; safe to run again. Used by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_debs=()
command -v docker-registry >/dev/null 2>&1 || need_debs+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need_debs+=(skopeo)
command -v ip >/dev/null 2>&1 || need_debs+=(iproute2)  # run_fleet --hosts and the fault suite: ip netns, veth pairs
# A second OCI client for the token-flow tests (podman login / pull against the regions).
command -v podman >/dev/null 2>&1 || need_debs+=(podman)
if [ "${WITH_BROWSER:-0}" = "1" ]; then
  command -v chromium >/dev/null 2>&1 || need_debs+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_debs+=(chromium-driver)
fi
if [ ${#need_debs[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${need_debs[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
