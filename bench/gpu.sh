#!/usr/bin/env bash
# GPU benchmark: on a machine with an NVIDIA GPU, CUDA 11.2 + cuDNN 8.1 (what libtensorflow 2.9.1,
# used by @tensorflow/tfjs-node-gpu 4.x, links against) and internet access for npm.
#
#   bash bench/gpu.sh [extra bench options, e.g. --workloads hopfield --runs 5 --quick]
#
# Installs @tensorflow/tfjs-node-gpu into a temporary prefix (its install script downloads
# libtensorflow), builds dist/bench.js, runs it with --backend tensorflow-gpu, and writes
# bench/results-gpu.json / .md with the GPU's name (nvidia-smi) recorded in them.
# It cannot run on the development machines of this project (no GPU, no internet beyond npm's
# registry mirror, and tfjs-node's install script needs to download libtensorflow).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu.sh: nvidia-smi not found: this needs a machine with an NVIDIA GPU and driver" >&2
  exit 2
fi
GPU_NAME="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n1)"
CUDA_VERSION="$(nvidia-smi | sed -n 's/.*CUDA Version: \([0-9.]*\).*/\1/p' | head -n1)"
echo "GPU: ${GPU_NAME} (driver CUDA ${CUDA_VERSION:-?})"
case "${CUDA_VERSION:-}" in
  11.*) ;;
  *) echo "gpu.sh: note: libtensorflow 2.9.1 needs the CUDA 11.2 runtime (libcudart.so.11.0) and cuDNN 8.1;" \
          "a CUDA 12-only install fails to load with 'libcudart.so.11.0 not found'" >&2 ;;
esac

PREFIX="${RBP_GPU_PREFIX:-$(mktemp -d -t rbp-tfjs-gpu-XXXXXX)}"
TFJS_VERSION="$(node -p "require('./node_modules/@tensorflow/tfjs-core/package.json').version")"
if [ ! -d "${PREFIX}/node_modules/@tensorflow/tfjs-node-gpu" ]; then
  echo "installing @tensorflow/tfjs-node-gpu@${TFJS_VERSION} into ${PREFIX}"
  npm install --prefix "${PREFIX}" --no-save --no-audit --no-fund "@tensorflow/tfjs-node-gpu@${TFJS_VERSION}"
fi

npm run build --silent
node dist/bench.js --backend tensorflow-gpu --native-path "${PREFIX}" \
  --gpu-name "${GPU_NAME}" --out bench/results-gpu.json "$@"
echo "tfjs-node-gpu stays in ${PREFIX} (RBP_GPU_PREFIX=${PREFIX} reuses it; delete it when done)"
