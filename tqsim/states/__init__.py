"""State kinds: dense kets and density matrices (factorized kinds join later)."""

from .density import DensityMatrix
from .statevector import StateVector

__all__ = ["DensityMatrix", "StateVector"]
