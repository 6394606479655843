"""State kinds: dense kets, density matrices, matrix product states, product states."""

from .density import DensityMatrix
from .mps import MPS
from .product import ProductState
from .statevector import StateVector

__all__ = ["DensityMatrix", "MPS", "ProductState", "StateVector"]
