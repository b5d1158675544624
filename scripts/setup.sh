#!/usr/bin/env bash
# Set up fiji_bridge on Debian/Ubuntu (root or sudo): system packages, .venv, Python packages,
# and the Fiji Bridge commands. Safe to run again: it only does what is still missing.
#   bash scripts/setup.sh                      ImageJ 1.x from Debian (libij-java, Jython, Groovy)
#   FIJI_DIR=/opt/Fiji.app bash scripts/setup.sh   use an existing Fiji instead
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/setup.sh   CPU-only torch from its own index
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=(python3-venv xvfb xauth xdotool)
if [ -z "${FIJI_DIR:-}" ]; then
    apt_packages+=(libij-java jython groovy default-jdk)
fi
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
# torch first, pinned, so pip takes a local CPU wheel where one is configured instead of resolving
# a CUDA build; TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu) picks another index
TORCH_SOURCE=()
[ -n "${TORCH_INDEX_URL:-}" ] && TORCH_SOURCE=(--index-url "$TORCH_INDEX_URL")
"$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
    || { echo "== installing torch 2.13.0"; "${PIP[@]}" "${TORCH_SOURCE[@]}" "torch==2.13.0"; }
echo "== installing fiji_bridge (editable) with test dependencies"
"${PIP[@]}" -e ".[test]"

echo "== installing the Fiji Bridge commands"
if [ -n "${FIJI_DIR:-}" ]; then
    "$VENV/bin/fiji-bridge" install --fiji "$FIJI_DIR"
else
    "$VENV/bin/fiji-bridge" install
fi
echo "== done. Check the setup with: .venv/bin/fiji-bridge doctor"
