"""Factorized neural-network layers on the shared tensor core (nothing quantum).

The factorizations that hold qubit states (tensor train = MPS, rank-one CP =
product state, TT-matrix = MPO) parametrize layer weights here; decompositions
and contractions come from :mod:`tqsim.tensor`.
"""

from .compression import compress, count_flops, count_parameters
from .conv import FactorizedConv2d
from .factorized_tensors import CPTensor, FactorizedTensor, TTMatrix, TTTensor, TuckerTensor
from .linear import FactorizedLinear
from .ranks import tensorized_shape
from .regression import TCL, TRL
from .regularizers import TensorLasso, remove_tensor_dropout, tensor_dropout

__all__ = [
    "CPTensor",
    "FactorizedConv2d",
    "FactorizedLinear",
    "FactorizedTensor",
    "TCL",
    "TRL",
    "TTMatrix",
    "TTTensor",
    "TensorLasso",
    "TuckerTensor",
    "compress",
    "count_flops",
    "count_parameters",
    "remove_tensor_dropout",
    "tensor_dropout",
    "tensorized_shape",
]
