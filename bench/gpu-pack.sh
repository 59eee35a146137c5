#!/usr/bin/env bash
# Runs HERE (a development machine): fills the ignored folder .gpu/ with everything bench/gpu.sh
# needs on a GPU machine that has no Node, no npm packages and no network:
#   .gpu/payload.tar.xz   node (this machine's, $(command -v node)), dist/{cli,bench}.js with the
#                         tfjs wasm files and mnist-digits.bin, node_modules/webgpu with only
#                         dist/linux-x64/dawn.node and its JS, the Planetoid Cora files and the
#                         PyTorch reference (../shared/anchors/torch_ref, CPU-only; see gpu.sh)
#   .gpu/libvulkan1_*.deb the Vulkan loader (Debian amd64), unpacked there with dpkg -x if missing
#   .gpu/MANIFEST         what is inside, with sizes and the commit
#
#   bash bench/gpu-pack.sh        then carry .gpu (one path) with the working tree
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
SHARED="${RBP_SHARED_DIR:-${ROOT}/../shared}"

npm run build --silent
STAGE="$(mktemp -d -t rbp-gpu-pack-XXXXXX)"
trap 'rm -rf "${STAGE}"' EXIT
mkdir -p "${STAGE}/dist" "${STAGE}/node_modules/webgpu/dist/linux-x64" "${STAGE}/planetoid" "${STAGE}/torch_ref"

cp "$(command -v node)" "${STAGE}/node"
cp dist/cli.js dist/bench.js dist/*.wasm dist/mnist-digits.bin "${STAGE}/dist/"
W=node_modules/webgpu
[ -f "${W}/dist/linux-x64/dawn.node" ] || { echo "gpu-pack: ${W}/dist/linux-x64/dawn.node missing (npm ci installs the optional dependency webgpu)" >&2; exit 1; }
cp "${W}/package.json" "${W}/index.js" "${W}/LICENSE.md" "${STAGE}/${W}/"
cp "${W}/dist/linux-x64/dawn.node" "${STAGE}/${W}/dist/linux-x64/"
if ls "${SHARED}"/data/planetoid/ind.cora.* >/dev/null 2>&1; then cp "${SHARED}"/data/planetoid/ind.cora.* "${STAGE}/planetoid/"; else echo "gpu-pack: no Cora files in ${SHARED}/data/planetoid: the gnn rows will fail there" >&2; fi
if [ -d "${SHARED}/anchors/torch_ref" ]; then cp -r "${SHARED}/anchors/torch_ref/." "${STAGE}/torch_ref/"; fi

rm -rf .gpu
mkdir -p .gpu
echo "gpu-pack: compressing (xz; about a minute)"
tar -C "${STAGE}" -cf - . | xz -6 -T0 > .gpu/payload.tar.xz
( cd .gpu && apt-get download libvulkan1:amd64 >/dev/null ) || echo "gpu-pack: apt-get download libvulkan1 failed: gpu.sh will need the loader installed there" >&2
{
  echo "packed $(date -u +%FT%TZ) from commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
  echo "node $(node --version); webgpu $(node -p "require('./${W}/package.json').version")"
  (cd "${STAGE}" && find . -type f -printf '%s\t%p\n' | sort -k2)
} > .gpu/MANIFEST
ls -l .gpu
TOTAL=$(du -sb .gpu | cut -f1)
echo "gpu-pack: .gpu is $((TOTAL / 1048576)) MiB ($TOTAL bytes; the device carries at most 64 MiB)"
[ "${TOTAL}" -lt $((60 * 1048576)) ] || { echo "gpu-pack: .gpu is over 60 MiB" >&2; exit 1; }
