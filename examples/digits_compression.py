"""Compress a small CNN on sklearn's digits with CP and Tucker convolutions.

Trains a three-convolution network on the bundled 8x8 digits (no download),
replaces its convolutions with decomposed CP and Tucker-2 factorized ones
(``tqsim.nn.compress``) holding about a third of their parameters, fine-tunes
briefly and prints test accuracy before and after.

    python examples/digits_compression.py [--epochs 30] [--finetune 5] [--rank 0.3]
"""

from __future__ import annotations

import argparse

import torch
try:  # the data sets come from scikit-learn, an optional extra
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
except ImportError:
    raise SystemExit("this example needs scikit-learn: pip install 'tqsim[examples]'") from None
from torch import nn

import tqsim.nn as tn


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--finetune", type=int, default=5, help="epochs of fine-tuning after compression")
    parser.add_argument("--rank", type=float, default=0.3, help="fraction of each convolution's parameters kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    main()
