"""
Compressing a CNN with CP and Tucker convolutions
=================================================

Trains a three-convolution network on the bundled 8x8 digits (no download),
replaces its convolutions with decomposed CP and Tucker-2 factorized ones
(``tqsim.nn.compress``) holding about a third of their parameters, fine-tunes
briefly and prints test accuracy before and after.

    python examples/digits_compression.py [--epochs 30] [--finetune 5] [--rank 0.3] [--quick]

``--quick`` (the gallery's mode) trains 10 epochs and fine-tunes 2.
"""

from __future__ import annotations

import argparse
import pathlib

import matplotlib.pyplot as plt
import torch
try:  # the data sets come from scikit-learn, an optional extra
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
except ImportError:
    raise SystemExit("this example needs scikit-learn: pip install 'tqsim[examples]'") from None
from torch import nn

import tqsim.nn as tn


# %%
# The network, training and scoring
# ---------------------------------


def make_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 2 * 2, 10),
    )


def conv_parameters(model: nn.Module) -> int:
    return sum(
        tn.count_parameters(m) for m in model.modules() if isinstance(m, (nn.Conv2d, tn.FactorizedConv2d))
    )


def fit(model: nn.Module, x, y, epochs: int, lr: float, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()


def accuracy(model: nn.Module, x, y) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="Compress a small CNN with CP and Tucker convolutions")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--finetune", type=int, default=5, help="epochs of fine-tuning after compression")
    parser.add_argument("--rank", type=float, default=0.3, help="fraction of each convolution's parameters kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10 epochs, 2 of fine-tuning (the gallery's mode)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.finetune = 10, 2

    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=args.seed, stratify=y)

    torch.manual_seed(args.seed)
    model = make_cnn()
    fit(model, x_train, y_train, args.epochs, 1e-3, args.seed)
    results = {"dense": {"accuracy": accuracy(model, x_test, y_test), "conv_parameters": conv_parameters(model)}}
    print(f"dense CNN: {results['dense']['conv_parameters']} convolution parameters, "
          f"test accuracy {100 * results['dense']['accuracy']:.2f}%")
    for factorization in ("cp", "tucker"):
        small = tn.compress(model, args.rank, factorization, layers=(nn.Conv2d,))
        decomposed = accuracy(small, x_test, y_test)
        fit(small, x_train, y_train, args.finetune, 5e-4, args.seed)
        entry = {
            "conv_parameters": conv_parameters(small),
            "accuracy_decomposed": decomposed,
            "accuracy": accuracy(small, x_test, y_test),
        }
        entry["reduction"] = results["dense"]["conv_parameters"] / entry["conv_parameters"]
        entry["drop_points"] = 100 * (results["dense"]["accuracy"] - entry["accuracy"])
        results[factorization] = entry
        print(f"{factorization:>6}: {entry['conv_parameters']} convolution parameters "
              f"({entry['reduction']:.1f}x fewer); accuracy {100 * decomposed:.2f}% right after decomposition, "
              f"{100 * entry['accuracy']:.2f}% after {args.finetune} epochs of fine-tuning "
              f"(drop {entry['drop_points']:+.2f} points)")
    return results


def plot(results: dict):
    """Convolution parameters and test accuracy of the three networks."""
    names = [name for name in ("dense", "cp", "tucker") if name in results]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.bar(names, [results[name]["conv_parameters"] for name in names], color=["gray", "C0", "C1"])
    left.set_ylabel("convolution parameters")
    left.set_title("size")
    positions = range(len(names))
    before = [100 * results[name].get("accuracy_decomposed", results[name]["accuracy"]) for name in names]
    after = [100 * results[name]["accuracy"] for name in names]
    right.bar([p - 0.2 for p in positions], before, width=0.4, color="lightgray", label="right after decomposition")
    right.bar([p + 0.2 for p in positions], after, width=0.4, color=["gray", "C0", "C1"], label="after fine-tuning")
    for p, value in zip(positions, after):
        right.annotate(f"{value:.1f}", (p + 0.2, value), ha="center", va="bottom", fontsize="small")
    right.set_xticks(list(positions), names)
    right.set_ylim(0, 125)
    right.set_yticks(range(0, 101, 20))
    right.set_ylabel("test accuracy (%)")
    right.set_title("accuracy")
    right.legend(loc="upper center", ncol=2, fontsize="small")
    fig.tight_layout()
    return fig


# %%
# Train, compress, fine-tune
# --------------------------

if __name__ == "__main__":
    results = main()
    fig = plot(results)
    # sphinx_gallery_start_ignore
    if "__file__" in globals():  # run as a script: the figure also goes to results/examples/
        out = pathlib.Path(__file__).resolve().parent.parent / "results" / "examples"
        out.mkdir(parents=True, exist_ok=True)
        fig.savefig(out / "digits_compression.png", dpi=120)
    # sphinx_gallery_end_ignore
    plt.show()
