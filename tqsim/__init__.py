"""tqsim: a tensor-based quantum-circuit simulator on PyTorch.

The public API, re-exported; see docs/api.md.
"""

from . import channels, gates, tensor
from .circuit import Circuit
from .info import entropy, partial_trace, purity
from .observables import PauliString, PauliSum
from .states import DensityMatrix, StateVector

__version__ = "0.1.0"

__all__ = [
    "Circuit",
    "DensityMatrix",
    "PauliString",
    "PauliSum",
    "StateVector",
    "channels",
    "entropy",
    "gates",
    "partial_trace",
    "purity",
    "tensor",
]
