"""The reference's product speed on the GNN's gate shape (2708x64 . 64x64), for bench/README.md,
"What is left of target 1": which BLAS torch calls here and how fast, in GFLOP/s of wall time and
per CPU second (process CPU: all threads), at 1 and 2 torch threads.

    /usr/bin/python3 bench/torch_blas.py
"""
import ctypes
import ctypes.util
import time

import torch


def blas_core():
    for name in ("openblas", "blas"):
        path = ctypes.util.find_library(name)
        if not path:
            continue
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            return lib.openblas_get_config().decode() + f" ({path}, {lib.openblas_get_num_threads()} threads)"
        except (OSError, AttributeError):
            continue
    return "not OpenBLAS"


def main():
    print(f"torch {torch.__version__}; BLAS: {blas_core()}")
    a = torch.randn(2708, 64)
    w = torch.randn(64, 64)
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
