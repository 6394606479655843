"""tqsim: a tensor-based quantum-circuit simulator on PyTorch.

The public API, re-exported; see docs/api.md.
"""

from . import _threads  # noqa: F401  first: MKL takes its reproducible mode only before its first product
from . import channels, gates, tensor
from .circuit import Circuit
from .execution import Result, counts
from .interop import load_qasm
from .info import (
    bures_distance,
    concurrence,
    conditional_entropy,
    entropy,
    fidelity,
    hellinger_distance,
    linear_entropy,
    log_negativity,
    mutual_information,
    negativity,
    partial_trace,
    partial_transpose,
    purity,
    qubit_states,
    relative_entropy,
    schmidt_values,
    trace_distance,
)
from .observables import PauliString, PauliSum
from .states import MPS, BlockProductState, DensityMatrix, ProductState, StateVector
from .states.adjoint import gradient_method, set_gradient_method

__version__ = "0.1.0"

__all__ = [
    "BlockProductState",
    "Circuit",
    "DensityMatrix",
    "MPS",
    "PauliString",
    "PauliSum",
    "Result",
    "ProductState",
    "StateVector",
    "bures_distance",
    "channels",
    "concurrence",
    "conditional_entropy",
    "counts",
    "entropy",
    "fidelity",
    "gates",
    "gradient_method",
    "hellinger_distance",
    "linear_entropy",
    "load_qasm",
    "log_negativity",
    "mutual_information",
    "negativity",
    "partial_trace",
    "partial_transpose",
    "purity",
    "qubit_states",
    "relative_entropy",
    "schmidt_values",
    "set_gradient_method",
    "tensor",
    "trace_distance",
]
