#!/usr/bin/env bash
# Runs THERE: a GPU machine (NVIDIA driver with its Vulkan ICD; no Node, no network), from the repo
# root, with .gpu/ (made here by bench/gpu-pack.sh) carried beside the working tree.
#
#   OUT=/some/dir bash bench/gpu.sh
#
# Steps, each under `timeout` and within one budget (RBP_GPU_BUDGET_S, default 450 s):
#   1. unpack .gpu/payload.tar.xz (node, the bundles, dawn.node, Cora, the PyTorch reference);
#      use the system `node` only if it is Node >= 20 (and RBP_GPU_PACKED_NODE is not 1), else the packed one
#   2. Vulkan: the loader from .gpu/libvulkan1_*.deb (dpkg -x into a private prefix) when
#      libvulkan.so.1 is missing (or RBP_GPU_PRIVATE_VULKAN=1); VK_ICD_FILENAMES = the NVIDIA ICD unless set
#   3. rbp doctor; rbp gradcheck hopfield --backend webgpu (full size, n = 2592)
#   4. the bench rows on webgpu for hopfield; the same gradcheck on wasm (for comparison); the
#      bench rows on webgpu for gnn (Cora) and hypergrad: forward, BPTT, Neumann-RBP (K = 5..40)
#   5. PyTorch: version and CUDA device (the reference bench.py is CPU-only: no CUDA timings)
#   6. $OUT/summary.md from the files above
# Writes 8 files to $OUT: log.txt, doctor.txt, gradcheck-webgpu.json, gradcheck-wasm.json,
# bench-{hopfield,gnn,hypergrad}.json, summary.md. tensorflow-gpu is not tried: its npm install
# downloads libtensorflow, and that machine has no network.
#
# Tested on a machine without a GPU with RBP_GPU_ALLOW_SOFTWARE=1 and
# VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json: then the models are small
# (Hopfield input_dim = hidden_dim = 64, n = 192) and the bench runs Hopfield only, since
# SwiftShader emulates the GPU on the CPU; its times say nothing about GPUs.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "${OUT}"
exec > >(tee -a "${OUT}/log.txt") 2>&1
START=$(date +%s)
BUDGET="${RBP_GPU_BUDGET_S:-450}"
SOFT="${RBP_GPU_ALLOW_SOFTWARE:-0}"
say() { echo "[gpu.sh +$(($(date +%s) - START))s] $*" >&2; }
# step TIMEOUT_S CMD...: run CMD under timeout, at most what is left of the budget (minus 15 s for the summary).
step() {
  local want=$1
  shift
  local left=$((BUDGET - 15 - ($(date +%s) - START)))
  local t=$((want < left ? want : left))
  if [ "${t}" -lt 10 ]; then
    say "SKIPPED (budget spent): $*"
    return 124
  fi
  say "run (timeout ${t}s): $*"
  timeout -k 5 "${t}" "$@"
  local rc=$?
  say "exit ${rc}$([ ${rc} -eq 124 ] && echo ' (timed out)')"
  return ${rc}
}

say "host $(uname -srm); $(nproc) cores; $(grep -m1 MemTotal /proc/meminfo)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
GPU_NAME="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1)"

# 1. the payload
X="${RBP_GPU_DIR:-${TMPDIR:-/tmp}/rbp-gpu}"
if [ ! -f .gpu/payload.tar.xz ]; then
  say "no .gpu/payload.tar.xz: run bash bench/gpu-pack.sh on a development machine and carry .gpu"
  exit 2
fi
rm -rf "${X}" && mkdir -p "${X}"
tar -C "${X}" -xJf .gpu/payload.tar.xz || { say "could not unpack .gpu/payload.tar.xz"; exit 2; }
cat .gpu/MANIFEST 2>/dev/null | head -2
NODE="${X}/node"
if [ "${RBP_GPU_PACKED_NODE:-0}" != 1 ] && command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; then NODE="$(command -v node)"; fi
chmod +x "${X}/node"
say "node: ${NODE} ($("${NODE}" --version))"
RBP=("${NODE}" "${X}/dist/cli.js")

# 2. Vulkan
LOADER_FOUND=0
LDP="${LD_LIBRARY_PATH:-}"
for d in ${LDP//:/ } /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /usr/local/lib; do
  [ -e "${d}/libvulkan.so.1" ] && LOADER_FOUND=1
done
if [ "${LOADER_FOUND}" = 0 ] || [ "${RBP_GPU_PRIVATE_VULKAN:-0}" = 1 ]; then
  DEB="$(ls .gpu/libvulkan1_*_amd64.deb 2>/dev/null | head -n1)"
  if [ -n "${DEB}" ]; then
    mkdir -p "${X}/vulkan"
    if command -v dpkg >/dev/null; then dpkg -x "${DEB}" "${X}/vulkan"; else
      # No dpkg (not Debian/Ubuntu): a .deb is an ar archive holding data.tar.*.
      python3 - "${DEB}" "${X}/vulkan" <<'PY'
import io, sys, tarfile
d = open(sys.argv[1], 'rb').read()
i = 8
while i < len(d):
    name, size = d[i:i + 16].decode().strip(), int(d[i + 48:i + 58])
    if name.startswith('data.tar'):
        tarfile.open(fileobj=io.BytesIO(d[i + 60:i + 60 + size])).extractall(sys.argv[2])
    i += 60 + size + (size & 1)
PY
    fi
    [ -e "${X}/vulkan/usr/lib/x86_64-linux-gnu/libvulkan.so.1" ] && export LD_LIBRARY_PATH="${X}/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"
    say "Vulkan loader from ${DEB}"
  else
    say "no libvulkan.so.1 and no .gpu/libvulkan1 deb: Dawn will find no Vulkan adapter"
  fi
fi
# The NVIDIA user-space libraries the ICD names (libGLX_nvidia.so.0) in the container's usual place.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "${d}" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH}:}${d}"; done
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "${NV_ICD}" ]; then export VK_ICD_FILENAMES="${NV_ICD}"; fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-${X}}"
say "VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
[ -n "${VK_ICD_FILENAMES:-}" ] && [ -f "${VK_ICD_FILENAMES%%:*}" ] && cat "${VK_ICD_FILENAMES%%:*}" && echo

# 3. doctor and the gradient checks
step 60 "${RBP[@]}" doctor > "${OUT}/doctor.txt"
cat "${OUT}/doctor.txt"
SMALL=()
BENCH_SET=()
WORKLOADS=all
if grep -q "software adapter" "${OUT}/doctor.txt" && ! grep -q "hardware adapter" "${OUT}/doctor.txt"; then
  if [ "${SOFT}" != 1 ]; then say "only a software adapter: this is not a GPU (RBP_GPU_ALLOW_SOFTWARE=1 runs small models on it anyway)"; fi
  SMALL=(--set model.input_dim=64 --set model.hidden_dim=64)
  BENCH_SET=(--set hopfield:model.input_dim=64 --set hopfield:model.hidden_dim=64)
  WORKLOADS=hopfield
  say "software adapter: small Hopfield (n = 192), bench on hopfield only (Neumann-RBP rows, one timed run each)"
fi
step 120 "${RBP[@]}" gradcheck hopfield --backend webgpu --json "${SMALL[@]}" > "${OUT}/gradcheck-webgpu.json"
# 4. the bench rows on webgpu, one bench per workload (each row a child process, at most 60 s);
#    only the JSON comes back (the .md beside it is rendered from it).
BENCH_METHODS=BPTT,Neumann_RBP
BENCH_RUNS=3
HOPFIELD_S=120
if [ "${WORKLOADS}" = hopfield ]; then BENCH_METHODS=Neumann_RBP; BENCH_RUNS=1; HOPFIELD_S=200; fi
bench() {
  step "$2" "${NODE}" "${X}/dist/bench.js" --backend webgpu --workloads "$1" --only forward,grad --methods "${BENCH_METHODS}" \
    --runs "${BENCH_RUNS}" --timeout 60 --data "${X}/planetoid" --gpu-name "${GPU_NAME:-unknown}" "${BENCH_SET[@]}" --out "${X}/bench/$1.json"
  [ -f "${X}/bench/$1.json" ] && cp "${X}/bench/$1.json" "${OUT}/bench-$1.json"
}
bench hopfield "${HOPFIELD_S}"
step 80 "${RBP[@]}" gradcheck hopfield --backend wasm --json "${SMALL[@]}" > "${OUT}/gradcheck-wasm.json"
if [ "${WORKLOADS}" != hopfield ]; then
  bench gnn 90
  bench hypergrad 90
fi

# 5. PyTorch on CUDA: what is there (the reference, torch_ref/bench.py, has no device option)
if command -v python3 >/dev/null; then
  step 30 python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
fi
say "PyTorch CUDA timings: not run (the reference bench.py times CPU only; no CUDA variant of ours yet)"

# 6. summary
timeout 15 "${NODE}" bench/gpu-summary.mjs "${OUT}" > "${OUT}/summary.md" || say "summary failed"
cat "${OUT}/summary.md"
say "done in $(($(date +%s) - START)) s; files: $(ls "${OUT}" | tr '\n' ' ')"
