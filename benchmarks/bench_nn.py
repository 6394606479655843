"""Factorized layers against dense PyTorch layers (and TensorLy-Torch), CPU, one run.

Inference (no gradient), float32, medians of repeated calls after a warm-up:

- a 3x3 convolution 256 -> 256 (padding 1) on a batch of 32x32 images:
  nn.Conv2d against FactorizedConv2d, Tucker-2 at rank (86, 86) and CP at the
  rank with the same parameter count;
- FactorizedLinear's factorized forward (TT-matrix) against nn.Linear on a small
  layer (16 -> 10) and a large one (4096 -> 4096, rank 16, automatic shapes
  64 x 64), and TensorLy-Torch's FactorizedLinear on the same factorization.

Ratios above 1 mean tqsim is faster.

    python benchmarks/bench_nn.py [--quick] [--batch 8] [--rows 128]
"""

from __future__ import annotations

import argparse
import platform

import torch
from torch import nn

import tqsim.nn as tn
from tqsim.benchtools import median_time


def conv_rows(batch: int, repeats: int) -> list[tuple[str, int, float]]:
    x = torch.randn(batch, 256, 32, 32)
    dense = nn.Conv2d(256, 256, 3, padding=1)
    tucker = tn.FactorizedConv2d(256, 256, 3, rank=(86, 86), factorization="tucker", padding=1)
    # CP rank with the Tucker-2 layer's parameter count: R (256 + 256 + 3 + 3) = that count
    cp_rank = round(tn.count_parameters(tucker.weight_tensor) / (256 + 256 + 3 + 3))
    cp = tn.FactorizedConv2d(256, 256, 3, rank=cp_rank, factorization="cp", padding=1)
    rows = []
    with torch.no_grad():
        for name, layer in (("nn.Conv2d", dense), ("Tucker-2 (86, 86)", tucker), (f"CP rank {cp_rank}", cp)):
            seconds, _ = median_time(lambda layer=layer: layer(x), repeats)
            rows.append((name, tn.count_parameters(layer), seconds))
    return rows


def linear_rows(in_features: int, out_features: int, rank, rows_in: int, repeats: int):
    x = torch.randn(rows_in, in_features)
    dense = nn.Linear(in_features, out_features)
    ours = tn.FactorizedLinear(in_features, out_features, rank=rank, factorization="tt")
    timed = [("nn.Linear", dense), (f"tqsim TT {ours.in_shape}->{ours.out_shape} rank {ours.rank}", ours)]
    try:
        import tltorch

        theirs = tltorch.FactorizedLinear(
            ours.in_shape, ours.out_shape, factorization="blocktt", rank=(1, *ours.rank, 1)
        )
        timed.append(("TensorLy-Torch blocktt (TT-matrix), same shapes and ranks", theirs))
    except ImportError:
        pass
    result = []
    with torch.no_grad():
        for name, layer in timed:
            seconds, _ = median_time(lambda layer=layer: layer(x), repeats)
            result.append((name, tn.count_parameters(layer), seconds))
    return result


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
    repeats = 3 if args.quick else 21
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")

    rows = conv_rows(args.batch, max(3, repeats // 3))
    print_table(f"3x3 convolution 256 -> 256, input ({args.batch}, 256, 32, 32)", rows, rows[0][2])
    for name, _, seconds in rows[1:]:
        print(f"ratio nn.Conv2d / {name}: {rows[0][2] / seconds:.2f}")

    for in_f, out_f, rank in ((16, 10, "same"), (4096, 4096, 16)):
        rows = linear_rows(in_f, out_f, rank, args.rows, repeats * 5 if in_f < 100 else repeats)
        print_table(f"linear {in_f} -> {out_f}, input ({args.rows}, {in_f})", rows, rows[0][2])
        print(f"ratio nn.Linear / tqsim ({in_f} -> {out_f}): {rows[0][2] / rows[1][2]:.2f}")
        if len(rows) > 2:
            print(f"ratio TensorLy-Torch / tqsim ({in_f} -> {out_f}): {rows[2][2] / rows[1][2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
