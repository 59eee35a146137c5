"""The reference's product speed on the GNN's gate shape (2708x64 . 64x64), for bench/README.md,
"What is left of target 1": which BLAS torch calls here and how fast, in GFLOP/s of wall time and
per CPU second (process CPU: all threads), at 1 and 2 torch threads.

    /usr/bin/python3 bench/torch_blas.py
"""
import ctypes
import time

import torch


def blas_core():
    """The BLAS libraries this process has loaded (after a product), and OpenBLAS's build and core if one is."""
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "blas" in line.lower() and line.rstrip().endswith((".so", ".3", ".0"))})
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            return lib.openblas_get_config().decode() + f" ({path}, {lib.openblas_get_num_threads()} threads)"
        except (OSError, AttributeError):
            continue
    return f"not OpenBLAS ({', '.join(paths) or 'no BLAS library loaded'})"


def main():
    a = torch.randn(2708, 64)
    w = torch.randn(64, 64)
    a @ w
    blas = [line.strip() for line in torch.__config__.show().splitlines() if "CPU capability" in line]
    print(f"torch {torch.__version__} ({'; '.join(blas)}); BLAS loaded: {blas_core()}")
    flop = 2 * 2708 * 64 * 64
    reps = 2000
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for _ in range(100):
            a @ w
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(reps):
            a @ w
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        print(f"torch threads {threads}: {reps * flop / wall / 1e9:.1f} GFLOP/s wall, {reps * flop / cpu / 1e9:.1f} per CPU second")


if __name__ == "__main__":
    main()
