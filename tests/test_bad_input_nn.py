"""Bad input to tqsim.nn: each refusal is a ValueError / TypeError whose message names the bad value.

DESIGN.md's error policy for the factorized layers: never a silent wrong
result, never an error from deep inside torch or tensorly. Every case pins the
exception class and matches a distinctive part of the message (the bad value
and, where there is one, what is allowed).
"""

import math
import re

import pytest
import torch
from torch import nn

import tqsim.nn as tn

NAN = float("nan")
F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _with_nan(shape, index=0):
    """A seeded float64 tensor with one NaN at flat position ``index``."""
    t = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    t.view(-1)[index] = NAN
    return t


# -- ranks -----------------------------------------------------------------


@pytest.mark.parametrize("rank", [0, -3])
def test_cp_rank_not_positive(rank):
    with pytest.raises(ValueError, match=rf"CP rank must be a positive int, got {rank}"):
        tn.CPTensor((3, 4), rank)


def test_cp_rank_above_full_rank():
    # full CP rank bound prod / max = 12 / 4 = 3
    with pytest.raises(ValueError, match=r"CP rank 4 exceeds the full rank 3"):
        tn.CPTensor((3, 4), 4)


def test_tucker_rank_not_positive():
    with pytest.raises(ValueError, match=re.escape("(1, 0, 2)") + r".*got 0"):
        tn.TuckerTensor((3, 4, 5), (1, 0, 2))


def test_tucker_rank_above_mode_size():
    with pytest.raises(ValueError, match=r"Tucker rank 5 of mode 1 exceeds that mode's size 4"):
        tn.TuckerTensor((3, 4, 5), (2, 5, 2))


def test_tucker_rank_wrong_length():
    with pytest.raises(ValueError, match=re.escape("Tucker rank (2, 2) needs 3 entries")):
        tn.TuckerTensor((3, 4, 5), (2, 2))


def test_tt_rank_not_positive():
    with pytest.raises(ValueError, match=r"TT rank must be a positive int, got 0"):
        tn.TTTensor((3, 4, 5), 0)
    with pytest.raises(ValueError, match=re.escape("(2, -1)") + r".*got -1"):
        tn.TTTensor((3, 4, 5), (2, -1))


def test_tt_rank_above_full_rank_per_bond():
    # full ranks: min(3, 20) = 3, min(12, 5) = 5
    with pytest.raises(ValueError, match=r"TT rank 6 at bond 2 exceeds the full rank 5"):
        tn.TTTensor((3, 4, 5), (2, 6))
    with pytest.raises(ValueError, match=r"TT rank 4 at bond 1 exceeds the full rank 3"):
        tn.TTTensor((3, 4, 5), (4, 2))
    with pytest.raises(ValueError, match=r"TT rank 6 exceeds the full rank 5"):
        tn.TTTensor((3, 4, 5), 6)


def test_tt_matrix_rank_above_full_rank():
    with pytest.raises(ValueError, match=r"TT rank 7 exceeds the full rank 6"):
        tn.TTMatrix((2, 3), (3, 2), 7)


def test_svd_rank_above_min_features():
    with pytest.raises(ValueError, match=r"TT rank 4 exceeds the full rank 3"):
        tn.FactorizedLinear(5, 3, 4, "svd")


@pytest.mark.parametrize("rank", [-0.5, 0.0, float("inf"), 2.0])
def test_float_rank_not_a_fraction(rank):
    with pytest.raises(ValueError, match=rf"in \(0, 1\]; got {rank}"):
        tn.CPTensor((3, 4), rank)


def test_rank_unknown_string():
    with pytest.raises(ValueError, match=r"rank 'full' not understood"):
        tn.TTTensor((3, 4), "full")


def test_rank_wrong_type():
    with pytest.raises(TypeError, match=r"CP rank must be a positive int, got True"):
        tn.CPTensor((3, 4), True)
    with pytest.raises(TypeError, match=r"Tucker rank must be .*got None"):
        tn.TuckerTensor((3, 4), None)


def test_layer_rank_errors_propagate():
    """Layers refuse the same ranks as their tensors (CP conv, Tucker-2 conv per mode)."""
    with pytest.raises(ValueError, match=r"CP rank must be a positive int, got 0"):
        tn.FactorizedConv2d(3, 4, 3, rank=0, factorization="cp")
    with pytest.raises(ValueError, match=r"Tucker rank 5 of mode 1 exceeds that mode's size 3"):
        tn.FactorizedConv2d(3, 4, 3, rank=(2, 5), factorization="tucker")
    with pytest.raises(ValueError, match=r"TT rank must be a positive int, got 0"):
        tn.TRL((3, 4), (2,), 0, "tt")


# -- shapes ----------------------------------------------------------------


def test_in_shape_product_mismatch():
    with pytest.raises(ValueError, match=re.escape("in_shape (3, 5) has 15 entries, but in_features is 12")):
        tn.FactorizedLinear(12, 6, 2, "tt", in_shape=(3, 5), out_shape=(2, 3))


def test_out_shape_product_mismatch():
    with pytest.raises(ValueError, match=re.escape("out_shape (2, 4) has 8 entries, but out_features is 6")):
        tn.FactorizedLinear(12, 6, 2, "cp", in_shape=(3, 4), out_shape=(2, 4))


def test_shape_with_zero_or_negative_mode():
    with pytest.raises(ValueError, match=re.escape("(3, 0)") + r".*got 0"):
        tn.CPTensor((3, 0), 1)
    with pytest.raises(ValueError, match=r"at least one mode"):
        tn.TTTensor((), 1)


@pytest.mark.parametrize("features", [0, -4])
def test_features_not_positive(features):
    with pytest.raises(ValueError, match=rf"in_features must be a positive int, got {features}"):
        tn.FactorizedLinear(features, 6)
    with pytest.raises(ValueError, match=rf"out_channels must be a positive int, got {features}"):
        tn.FactorizedConv2d(3, features, 3)


def test_tcl_different_lengths():
    with pytest.raises(ValueError, match=re.escape("input_shape (3, 4) and output_shape (2, 2, 2) need the same length")):
        tn.TCL((3, 4), (2, 2, 2))


def test_tt_matrix_different_lengths():
    with pytest.raises(ValueError, match=re.escape("out_shape (2, 3) and in_shape (2, 2, 2) must have the same number of modes")):
        tn.TTMatrix((2, 3), (2, 2, 2), 2)
    with pytest.raises(ValueError, match=r"same number of modes"):
        tn.FactorizedLinear(8, 6, 2, "tt", in_shape=(2, 2, 2), out_shape=(2, 3))


def test_tucker_modes_invalid():
    with pytest.raises(ValueError, match=re.escape("Tucker modes (0, 0)")):
        tn.TuckerTensor((3, 4), 1, modes=(0, 0))
    with pytest.raises(ValueError, match=re.escape("Tucker modes (0, 3)")):
        tn.TuckerTensor((3, 4), 1, modes=(0, 3))


# -- unknown factorizations / implementations --------------------------------


def test_unknown_factorization_linear():
    with pytest.raises(ValueError, match=r"unknown factorization 'qr'; allowed: tt, cp, tucker, svd"):
        tn.FactorizedLinear(12, 6, 2, "qr")


def test_unknown_factorization_conv():
    with pytest.raises(ValueError, match=r"unknown factorization 'tt'; allowed: cp, tucker"):
        tn.FactorizedConv2d(3, 4, 3, 2, "tt")


def test_unknown_factorization_trl():
    with pytest.raises(ValueError, match=r"unknown factorization 'svd'"):
        tn.TRL((3, 4), (2,), 2, "svd")


def test_unknown_factorization_compress():
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(ValueError, match=r"factorization 'qr' does not apply to Linear"):
        tn.compress(model, 2, "qr", layers=(nn.Linear,))
    with pytest.raises(ValueError, match=r"factorization 'svd' does not apply to Conv2d"):
        tn.compress(nn.Sequential(nn.Conv2d(2, 2, 3)), 1, {nn.Conv2d: "svd"}, layers=(nn.Conv2d,))
    with pytest.raises(ValueError, match=r"factorization dict has no entry for Conv2d"):
        tn.compress(nn.Sequential(nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(2, 3)), 2, {nn.Linear: "tt"})


def test_unknown_implementation():
    with pytest.raises(ValueError, match=r"unknown implementation 'dense'"):
        tn.FactorizedLinear(12, 6, 2, "tt", implementation="dense")


def test_compress_bad_model_and_layers():
    with pytest.raises(TypeError, match=r"compress needs an nn.Module, got dict"):
        tn.compress({}, 2)
    with pytest.raises(ValueError, match=r"has no Conv2d layer to compress"):
        tn.compress(nn.Sequential(nn.Linear(3, 3)), 1, "cp", layers=(nn.Conv2d,))
    with pytest.raises(ValueError, match=r"subset of \(nn.Linear, nn.Conv2d\)"):
        tn.compress(nn.Sequential(nn.Linear(3, 3)), 1, "cp", layers=(nn.Conv1d,))


# -- dropout / lasso ---------------------------------------------------------


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", True])
def test_dropout_probability_out_of_range(p):
    layer = tn.FactorizedLinear(12, 6, 2, "tt")
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\), got " + re.escape(repr(p))):
        tn.tensor_dropout(layer, p)
    assert layer.weight_tensor.dropout_p == 0.0  # left unchanged


def test_dropout_on_model_without_factorized_tensor():
    with pytest.raises(ValueError, match=r"Sequential holds no factorized tensor"):
        tn.tensor_dropout(nn.Sequential(nn.Linear(3, 3)), 0.5)


def test_lasso_penalty_before_attach():
    layer = tn.FactorizedLinear(12, 6, 2, "tt")
    lasso = tn.TensorLasso()
    with pytest.raises(ValueError, match=r"call TensorLasso.attach\(model\) first"):
        lasso.penalty(layer)
    with pytest.raises(ValueError, match=r"attach"):
        lasso.effective_ranks(layer)
    with pytest.raises(ValueError, match=r"Linear holds no factorized tensor"):
        lasso.attach(nn.Linear(3, 3))


@pytest.mark.parametrize("penalty", [0, -1.0, "big"])
def test_lasso_bad_penalty(penalty):
    with pytest.raises(ValueError, match=r"lasso penalty must be a finite number > 0, got " + re.escape(repr(penalty))):
        tn.TensorLasso(penalty=penalty)


@pytest.mark.parametrize("threshold", [0, 1.0, 2])
def test_lasso_bad_threshold(threshold):
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\), got " + re.escape(repr(threshold))):
        tn.TensorLasso(threshold=threshold)


# -- convolutions ------------------------------------------------------------


def test_from_conv_grouped():
    conv = nn.Conv2d(4, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"groups=2"):
        tn.FactorizedConv2d.from_conv(conv, 2, "cp")


def test_from_conv_padding_mode_reflect():
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"padding_mode 'reflect' is not supported"):
        tn.FactorizedConv2d.from_conv(conv, 2, "tucker")


def test_from_conv_not_a_conv():
    with pytest.raises(TypeError, match=r"from_conv needs an nn.Conv2d, got Linear"):
        tn.FactorizedConv2d.from_conv(nn.Linear(3, 3), 2)
    with pytest.raises(TypeError, match=r"from_linear needs an nn.Linear, got Conv2d"):
        tn.FactorizedLinear.from_linear(nn.Conv2d(2, 2, 3), 2)


def test_padding_same_with_stride():
    with pytest.raises(ValueError, match=re.escape("padding='same' needs stride 1, got stride (2, 2)")):
        tn.FactorizedConv2d(3, 4, 3, 2, "cp", stride=2, padding="same")


@pytest.mark.parametrize("kernel,dilation", [(2, 1), ((3, 4), 1), (2, 3)])
def test_padding_same_uneven(kernel, dilation):
    with pytest.raises(ValueError, match=r"needs uneven padding"):
        tn.FactorizedConv2d(3, 4, kernel, 1, "cp", padding="same", dilation=dilation)


def test_padding_same_uneven_from_conv():
    conv = nn.Conv2d(2, 3, 2, padding="same")
    with pytest.raises(ValueError, match=re.escape("kernel (2, 2)") + r".*uneven padding"):
        tn.FactorizedConv2d.from_conv(conv, 1, "cp")


def test_padding_unknown_string():
    with pytest.raises(ValueError, match=r"padding 'full' not understood"):
        tn.FactorizedConv2d(3, 4, 3, 2, "cp", padding="full")


@pytest.mark.parametrize("what,kwargs", [
    ("padding", {"padding": -1}),
    ("stride", {"stride": 0}),
    ("dilation", {"dilation": (1, 0)}),
    ("kernel_size", {"kernel_size": 0}),
])
def test_conv_bad_geometry(what, kwargs):
    args = {"kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=rf"{what} must be an int >= \d or a pair of them, got " + re.escape(repr(kwargs[what]))):
        tn.FactorizedConv2d(3, 4, rank=1, factorization="cp", **args)


# -- NaN in decompositions ---------------------------------------------------


def test_cp_from_tensor_nan():
    with pytest.raises(ValueError, match=r"CP decomposition: the tensor holds 1 NaN"):
        tn.CPTensor.from_tensor(_with_nan((3, 4, 5)), 2)


def test_tucker_from_tensor_nan():
    with pytest.raises(ValueError, match=r"Tucker decomposition: the tensor holds 1 NaN"):
        tn.TuckerTensor.from_tensor(_with_nan((3, 4, 5)), (2, 2, 2))
    with pytest.raises(ValueError, match=r"NaN"):
        tn.TuckerTensor.from_tensor(_with_nan((3, 4, 5)), (2, 2), modes=(0, 2))


def test_tt_from_tensor_nan():
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        tn.TTTensor.from_tensor(_with_nan((3, 4, 5)), 2)
    inf = _with_nan((3, 4, 5))
    inf.view(-1)[0] = float("inf")
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        tn.TTTensor.from_tensor(inf, 2)


def test_tt_matrix_from_matrix_nan():
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        tn.TTMatrix.from_matrix(_with_nan((6, 6), 15), (2, 3), (3, 2), 2)


@pytest.mark.parametrize("factorization", ["tt", "cp", "tucker", "svd"])
def test_from_linear_nan_weight(factorization):
    linear = nn.Linear(12, 6).double()
    with torch.no_grad():
        linear.weight[1, 2] = NAN
    with pytest.raises(ValueError, match=r"NaN"):
        tn.FactorizedLinear.from_linear(linear, 1, factorization)


def test_from_conv_nan_weight():
    conv = nn.Conv2d(2, 3, 3).double()
    with torch.no_grad():
        conv.weight[0, 0, 0, 0] = NAN
    for factorization, rank in (("cp", 2), ("tucker", (2, 2))):
        with pytest.raises(ValueError, match=r"NaN"):
            tn.FactorizedConv2d.from_conv(conv, rank, factorization)


def test_decompose_complex_tensor():
    with pytest.raises(TypeError, match=r"real floating-point tensor, got dtype torch.complex128"):
        tn.CPTensor.from_tensor(torch.ones(3, 4, dtype=torch.complex128), 1)
    with pytest.raises(TypeError, match=r"torch.complex128"):
        tn.TuckerTensor.from_tensor(torch.ones(3, 4, dtype=torch.complex128), (1, 1))


@pytest.mark.parametrize(
    "decompose",
    [
        lambda t: tn.CPTensor.from_tensor(t, 1),
        lambda t: tn.TuckerTensor.from_tensor(t, (1, 1)),
        lambda t: tn.TTTensor.from_tensor(t, 1),
        lambda t: tn.TTMatrix.from_matrix(t, (3,), (4,), ()),
    ],
    ids=["cp", "tucker", "tt", "ttm"],
)
def test_decompose_integer_tensor(decompose):
    with pytest.raises(TypeError, match=r"torch.int64"):
        decompose(torch.ones(3, 4, dtype=torch.long))


# -- forward with wrong input ------------------------------------------------


@pytest.mark.parametrize("factorization", ["tt", "cp", "tucker", "svd"])
@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
def test_linear_wrong_feature_size(factorization, implementation):
    layer = tn.FactorizedLinear(12, 6, 1, factorization, implementation=implementation)
    with pytest.raises(ValueError, match=re.escape("input of shape (4, 10); this layer takes (..., 12)")):
        layer(torch.randn(4, 10))
    with pytest.raises(ValueError, match=re.escape("input of shape (); this layer takes (..., 12)")):
        layer(torch.tensor(1.0))


@pytest.mark.parametrize("factorization", ["cp", "tucker"])
def test_conv_wrong_input(factorization):
    layer = tn.FactorizedConv2d(3, 4, 3, 1, factorization)
    with pytest.raises(ValueError, match=re.escape("input of shape (2, 5, 6, 6); expected (batch, 3, H, W)")):
        layer(torch.randn(2, 5, 6, 6))
    with pytest.raises(ValueError, match=re.escape("input of shape (3, 6)")):
        layer(torch.randn(3, 6))
    with pytest.raises(ValueError, match=re.escape("input of shape (1, 2, 3, 6, 6)")):
        layer(torch.randn(1, 2, 3, 6, 6))


def test_trl_wrong_input_shape():
    layer = tn.TRL((3, 4), (2,), 1, "cp")
    with pytest.raises(ValueError, match=re.escape("TRL expects input (batch, 3, 4), got (2, 4, 3)")):
        layer(torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match=re.escape("TRL expects input (batch, 3, 4), got (3, 4)")):
        layer(torch.randn(3, 4))


def test_tcl_wrong_input_shape():
    layer = tn.TCL((3, 4), (2, 2))
    with pytest.raises(ValueError, match=re.escape("TCL expects input (batch, 3, 4), got (5, 12)")):
        layer(torch.randn(5, 12))


def test_review_findings_refused_clearly():
    """Layer dtypes, Tucker modes, a second lasso attach and non-modules get messages, not torch errors."""
    with pytest.raises(TypeError, match=r"dtype torch.int64 is not"):
        tn.FactorizedLinear(12, 6, 2, "tt", dtype=torch.int64)
    with pytest.raises(TypeError, match=r"dtype torch.complex64 is not"):
        tn.CPTensor((3, 4), 2, dtype=torch.complex64)
    with pytest.raises(ValueError, match=r"Tucker modes \('0', '1'\) must be distinct modes"):
        tn.TuckerTensor((3, 4, 5), 2, modes="01")
    layer = tn.FactorizedLinear(12, 6, 2, "cp")
    lasso = tn.TensorLasso()
    lasso.attach(layer)
    with pytest.raises(ValueError, match=r"lasso gates are already attached to weight_tensor"):
        lasso.attach(layer)
    with pytest.raises(ValueError, match=r"lasso penalty must be a finite number > 0, got inf"):
        tn.TensorLasso(float("inf"))
    with pytest.raises(TypeError, match=r"count_parameters needs an nn.Module, got int"):
        tn.count_parameters(3)


def test_tensor_core_decomposition_inputs_refused():
    """The tensor-core functions behind the layers name the bad value too."""
    from tqsim.tensor.cp import cp_from_dense, cp_to_dense, khatri_rao
    from tqsim.tensor.tt import ttm_from_dense, ttm_matmul
    from tqsim.tensor.tucker import tucker_from_dense, tucker_to_dense

    with pytest.raises(ValueError, match=r"CP rank must be an int in 1\.\.3 .*got 50"):
        cp_from_dense(torch.randn(3, 3), 50)
    with pytest.raises(ValueError, match=r"CP weights must be a vector"):
        cp_to_dense(torch.ones(2, 2), [torch.ones(3, 2)])
    with pytest.raises(ValueError, match=r"khatri_rao needs matrices with one column count"):
        khatri_rao([torch.ones(3, 2), torch.ones(4, 3)])
    with pytest.raises(ValueError, match=r"Tucker rank 5 of mode 0 must be an int in 1\.\.3"):
        tucker_from_dense(torch.randn(3, 4), [5, 2])
    with pytest.raises(ValueError, match=r"modes \[5\] must be distinct ints in 0\.\.1"):
        tucker_to_dense(torch.ones(2, 2), [torch.ones(3, 2)], [5])
    cores, _ = ttm_from_dense(torch.randn(6, 4), [3, 2], [2, 2])
    with pytest.raises(ValueError, match=r"bias of shape \(5,\) does not match the TT-matrix's 6 rows"):
        ttm_matmul(cores, torch.randn(2, 4), torch.ones(5))
    with pytest.raises(ValueError, match=r"a tensor train needs at least one core"):
        ttm_matmul([], torch.randn(2, 4))
