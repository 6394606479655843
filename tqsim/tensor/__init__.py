"""The shared tensor core: contractions and flat qubit-tensor operations.

Imports nothing else from tqsim, so quantum states and neural layers can both
stand on it.
"""

from .contract import contract, contraction_cache_info, mode_product
from .flat import (
    apply_diagonal,
    apply_matrix,
    flip_qubits,
    gram_over_axes,
    grouped_shape,
    ket_reduced,
    num_qubits_of,
    permute_qubits,
    reduce_to,
    run_grouped_shape,
    trace_out,
)

__all__ = [
    "apply_diagonal",
    "apply_matrix",
    "contract",
    "contraction_cache_info",
    "flip_qubits",
    "gram_over_axes",
    "grouped_shape",
    "ket_reduced",
    "mode_product",
    "num_qubits_of",
    "permute_qubits",
    "reduce_to",
    "run_grouped_shape",
    "trace_out",
]
