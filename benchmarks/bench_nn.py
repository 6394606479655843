"""Factorized layers against dense PyTorch layers (and TensorLy-Torch), CPU, one run.

Inference (no gradient), float32. The layers of one comparison are timed in
interleaved rounds (each round calls every layer ``calls`` times), so drifts of
the machine's speed hit them alike; medians over the rounds are reported.

- a 3x3 convolution 256 -> 256 (padding 1) on a batch of 32x32 images:
  nn.Conv2d against FactorizedConv2d, Tucker-2 at rank (86, 86) and CP at the
  rank with the same parameter count;
- FactorizedLinear's factorized forward (TT-matrix, CP, Tucker, SVD; automatic
  shapes) against nn.Linear on a small layer (16 -> 10, rank "same", at 128
  and 4096 rows) and a large one (4096 -> 4096, rank 16), and TensorLy-Torch's
  FactorizedLinear with the TT factorization, shapes and ranks of tqsim's.

Ratios above 1 mean tqsim is faster.

    python benchmarks/bench_nn.py [--quick] [--batch 8] [--rows 128]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch import nn

import tqsim.nn as tn


def interleaved_medians(functions: list, rounds: int, calls: int) -> list[float]:
    """Median seconds per call of each function over ``rounds`` interleaved rounds (after one warm-up call)."""
    for fn in functions:
        fn()
    samples = [[] for _ in functions]
    for _ in range(rounds):
        for fn, times in zip(functions, samples):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times.append((time.perf_counter() - start) / calls)
    return [statistics.median(times) for times in samples]


def conv_rows(batch: int, repeats: int) -> list[tuple[str, int, float]]:
    x = torch.randn(batch, 256, 32, 32)
    dense = nn.Conv2d(256, 256, 3, padding=1)
    tucker = tn.FactorizedConv2d(256, 256, 3, rank=(86, 86), factorization="tucker", padding=1)
    # CP rank with the Tucker-2 layer's parameter count: R (256 + 256 + 3 + 3) = that count
    cp_rank = round(tn.count_parameters(tucker.weight_tensor) / (256 + 256 + 3 + 3))
    cp = tn.FactorizedConv2d(256, 256, 3, rank=cp_rank, factorization="cp", padding=1)
    layers = (("nn.Conv2d", dense), ("Tucker-2 (86, 86)", tucker), (f"CP rank {cp_rank}", cp))
    with torch.no_grad():
        seconds = interleaved_medians([lambda layer=layer: layer(x) for _, layer in layers], repeats, 3)
    return [(name, tn.count_parameters(layer), t) for (name, layer), t in zip(layers, seconds)]


def linear_rows(in_features: int, out_features: int, rank, rows_in: int, repeats: int, calls: int):
    """nn.Linear, then tqsim's FactorizedLinear in every factorization (TT first), then TensorLy-Torch's TT."""
    x = torch.randn(rows_in, in_features)
    timed = [("nn.Linear", nn.Linear(in_features, out_features))]
    for factorization in ("tt", "cp", "tucker", "svd"):
        layer = tn.FactorizedLinear(in_features, out_features, rank=rank, factorization=factorization)
        shapes = "" if factorization == "svd" else f" {layer.in_shape}->{layer.out_shape}"
        timed.append((f"tqsim {factorization}{shapes} rank {layer.rank}", layer))
    try:
        import tltorch

        ours = timed[1][1]
        theirs = tltorch.FactorizedLinear(
            ours.in_shape, ours.out_shape, factorization="blocktt", rank=(1, *ours.rank, 1)
        )
        timed.append(("TensorLy-Torch blocktt (TT-matrix), same shapes and ranks as tqsim tt", theirs))
    except ImportError:
        pass
    with torch.no_grad():
        seconds = interleaved_medians([lambda layer=layer: layer(x) for _, layer in timed], repeats, calls)
    return [(name, tn.count_parameters(layer), t) for (name, layer), t in zip(timed, seconds)]


def print_table(title: str, rows, reference: float, ours: float | None = None) -> None:
    print(f"\n{title}")
    print(f"| layer | parameters | median ms | speed-up vs first row |\n|---|---:|---:|---:|")
    for name, params, seconds in rows:
        print(f"| {name} | {params} | {1e3 * seconds:.3f} | {reference / seconds:.2f}x |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats (smoke test)")
    parser.add_argument("--batch", type=int, default=8, help="images in the convolution batch")
    parser.add_argument("--rows", type=int, default=128, help="rows of the linear-layer input")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    repeats = 3 if args.quick else 31
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")

    rows = conv_rows(args.batch, max(3, repeats // 3))
    print_table(f"3x3 convolution 256 -> 256, input ({args.batch}, 256, 32, 32)", rows, rows[0][2])
    for name, _, seconds in rows[1:]:
        print(f"ratio nn.Conv2d / {name}: {rows[0][2] / seconds:.2f}")

    cases = [(16, 10, "same", args.rows), (16, 10, "same", 4096), (4096, 4096, 16, args.rows)]
    for in_f, out_f, rank, n_rows in cases:
        rows = linear_rows(in_f, out_f, rank, n_rows, repeats, 200 if in_f * n_rows < 100_000 else 5)
        print_table(f"linear {in_f} -> {out_f}, input ({n_rows}, {in_f})", rows, rows[0][2])
        label = f"{in_f} -> {out_f}, {n_rows} rows"
        for name, _, seconds in rows[1:5]:
            print(f"ratio nn.Linear / {name.split(' ')[0]} {name.split(' ')[1]} ({label}): {rows[0][2] / seconds:.2f}")
        if len(rows) > 5:
            print(f"ratio TensorLy-Torch / tqsim tt ({label}): {rows[5][2] / rows[1][2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
