"""State kinds: dense kets, density matrices, matrix product states, product states, block product states.

Each kind implements the state protocol, :class:`~tqsim.states.base.QuantumState`.
"""

from .base import QuantumState
from .blocks import BlockProductState
from .density import DensityMatrix
from .mps import MPS
from .product import ProductState
from .statevector import StateVector

__all__ = ["BlockProductState", "DensityMatrix", "MPS", "ProductState", "QuantumState", "StateVector"]
