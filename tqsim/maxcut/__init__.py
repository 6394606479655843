"""Variational MaxCut: problems, circuit families, losses, training."""

from .ansatz import BACKENDS, FAMILIES, MaxCutAnsatz, make_ansatz
from .objective import ENCODINGS, expected_cut, mbe_spins, readout
from .problem import MaxCutProblem
from .train import TrainResult, train

__all__ = [
    "BACKENDS", "ENCODINGS", "FAMILIES", "MaxCutAnsatz", "MaxCutProblem", "TrainResult",
    "expected_cut", "make_ansatz", "mbe_spins", "readout", "train",
]
