#!/usr/bin/env bash
# Installs everything ftmeta needs on Debian 12: system packages, then a pinned Python venv in
# build/venv (torch, and through it LibTorch). Idempotent: on a prepared machine it checks and
# returns in seconds. Usage: scripts/setup.sh   (env: FTMETA_BUILD=build, PYTHON=python3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FTMETA_BUILD:-$root/build}
venv=$build/venv

# --- Debian packages --------------------------------------------------------------------------
# libgloo-dev: the Gloo headers c10d's ProcessGroupGloo.hpp needs (the torch wheel exports Gloo's
# code but ships no headers); ftmeta/distributed uses the declarations only and links no libgloo.
debs=(build-essential cmake ninja-build pkg-config zlib1g-dev libjpeg-dev libopencv-dev libboost-dev catch2
      libgloo-dev dataset-fashion-mnist mate-backgrounds python3-venv)
# ONNX export and the LibTorch-free predictor (optional parts: nn/onnx.hpp, examples/predict_onnx).
debs+=(libonnx-dev libprotobuf-dev libopencv-dnn-dev)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- Python venv with the pinned torch ---------------------------------------------------------
python=${PYTHON:-python3}
stamp=$venv/.ftmeta-requirements
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/requirements.txt" "$stamp"; then
  echo "setup: creating $venv from requirements.txt"
  mkdir -p "$build"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/requirements.txt"
  cp "$root/requirements.txt" "$stamp"
fi
echo "setup: ready ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
