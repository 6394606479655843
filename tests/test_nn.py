"""tqsim.nn: factorized tensors, factorized layers, regularizers and compression.

Oracles (none written in this project): tensorly's own reconstructions
(``cp_to_tensor``, ``tucker_to_tensor``, ``tt_to_tensor``,
``tt_matrix_to_tensor``) and its ``tensor_train`` decomposition, always under
``tensorly.backend_context("pytorch")``; numpy ``einsum`` / ``kron`` written
here; ``torch.nn.functional.linear`` / ``conv2d`` and ``nn.Linear`` /
``nn.Conv2d`` on the dense reconstructed weight; ``torch.autograd.gradcheck``
(finite differences in float64); brute force; seeded Monte Carlo with
tolerances derived from the standard error.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import tensorly
import torch
import torch.nn.functional as F
from tensorly.decomposition import tensor_train
from torch import nn

import tqsim.nn as tn
from tqsim.nn.ranks import tt_full_ranks
from tqsim.tensor.cp import cp_from_dense, cp_to_dense
from tqsim.tensor.tt import tt_from_dense, ttm_matmul, ttm_to_dense
from tqsim.tensor.tucker import tucker_from_dense, tucker_to_dense

F64 = torch.float64
TOL64 = 1e-10
TOL32 = 1e-5


pytestmark = pytest.mark.usefixtures("one_thread")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rel(a, b) -> float:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return float((a - b).norm() / b.norm())


def _tl(fn, *args, **kwargs):
    """Call a tensorly function under its PyTorch backend (never a global set_backend)."""
    with tensorly.backend_context("pytorch"):
        return fn(*args, **kwargs)


def _randomize(module: nn.Module, seed: int, scale: float = 1.0) -> nn.Module:
    """Give every parameter O(1) seeded random entries (init scales are not under test here)."""
    g = _gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------
# 1. factorized tensors against tensorly's reconstructions
# --------------------------------------------------------------------------


def test_cp_tensor_matches_tensorly():
    """CPTensor.to_tensor == tensorly.cp_to_tensor((weights, factors))."""
    t = _randomize(tn.CPTensor((3, 4, 5, 2), 3, dtype=F64), 1)
    ref = _tl(tensorly.cp_to_tensor, (t.weights.detach(), [f.detach() for f in t.factors]))
    assert t.to_tensor().shape == (3, 4, 5, 2)
    assert _rel(t.to_tensor().detach(), ref) < TOL64


def test_tucker_tensor_matches_tensorly():
    """Full Tucker: to_tensor == tensorly.tucker_to_tensor((core, factors))."""
    t = _randomize(tn.TuckerTensor((4, 3, 5), (2, 3, 4), dtype=F64), 2)
    assert t.core.shape == (2, 3, 4)
    ref = _tl(tensorly.tucker_to_tensor, (t.core.detach(), [f.detach() for f in t.factors]))
    assert _rel(t.to_tensor().detach(), ref) < TOL64


def test_partial_tucker_tensor_matches_numpy_mode_products():
    """Partial Tucker on modes (0, 2): numpy einsum of the core with the two factors."""
    t = _randomize(tn.TuckerTensor((4, 3, 5, 2), (2, 3), modes=(0, 2), dtype=F64), 3)
    assert t.core.shape == (2, 3, 3, 2)
    core, (u0, u2) = _np(t.core), [_np(f) for f in t.factors]
    ref = np.einsum("abcd,ia,kc->ibkd", core, u0, u2)
    np.testing.assert_allclose(_np(t.to_tensor()), ref, rtol=TOL64, atol=TOL64)


def test_tt_tensor_matches_tensorly():
    """TTTensor.to_tensor == tensorly.tt_to_tensor(cores)."""
    t = _randomize(tn.TTTensor((3, 4, 2, 5), (2, 3, 2), dtype=F64), 4)
    assert [tuple(c.shape) for c in t.cores] == [(1, 3, 2), (2, 4, 3), (3, 2, 2), (2, 5, 1)]
    ref = _tl(tensorly.tt_to_tensor, [c.detach() for c in t.cores])
    assert _rel(t.to_tensor().detach(), ref) < TOL64


def test_tt_matrix_matches_tensorly_big_endian():
    """TTMatrix.to_tensor == tensorly.tt_matrix_to_tensor(cores) reshaped to (prod out, prod in).

    tensorly returns axes (out_1..out_d, in_1..in_d); a C-order reshape makes
    rows big-endian over the out modes and columns big-endian over the in modes.
    The entry for one (row, col) is also checked by a direct chain of core slices.
    """
    out_shape, in_shape = (2, 3, 2), (3, 2, 4)
    t = _randomize(tn.TTMatrix(out_shape, in_shape, (3, 2), dtype=F64), 5)
    cores = [c.detach() for c in t.cores]
    ref = _tl(tensorly.tt_matrix_to_tensor, cores).reshape(12, 24)
    dense = t.to_tensor().detach()
    assert dense.shape == (12, 24)
    assert _rel(dense, ref) < TOL64
    # row (o1, o2, o3) = (1, 2, 0), column (i1, i2, i3) = (2, 0, 3)
    o, i = (1, 2, 0), (2, 0, 3)
    row = (o[0] * 3 + o[1]) * 2 + o[2]
    col = (i[0] * 2 + i[1]) * 4 + i[2]
    chain = np.eye(1)
    for c, ok, ik in zip(cores, o, i):
        chain = chain @ _np(c[:, ok, ik, :])
    assert abs(float(dense[row, col]) - chain.item()) < TOL64


# --------------------------------------------------------------------------
# 2. rank resolution and tensorized shapes
# --------------------------------------------------------------------------


def _ordered_factorizations(n: int, order: int):
    if order == 1:
        yield (n,)
        return
    for f in range(1, n + 1):
        if n % f == 0:
            for rest in _ordered_factorizations(n // f, order - 1):
                yield (f, *rest)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_tensorized_shape_product_and_length(order):
    """Brute force: the product is n, the length is the order, factors are sorted descending."""
    for n in range(1, 130):
        shape = tn.tensorized_shape(n, order)
        assert len(shape) == order
        assert math.prod(shape) == n
        assert list(shape) == sorted(shape, reverse=True)


@pytest.mark.parametrize("order", [2, 3])
def test_tensorized_shape_is_as_even_as_possible(order):
    """Brute force over every ordered factorization: the largest factor is the smallest possible."""
    for n in range(1, 130):
        best = min(max(f) for f in _ordered_factorizations(n, order))
        assert max(tn.tensorized_shape(n, order)) == best, n


def test_int_and_tuple_ranks():
    """Int / tuple ranks land where written; an int TT rank is capped per bond by min(prod left, prod right)."""
    assert tn.CPTensor((3, 4, 5), 7).rank == 7
    assert tn.TuckerTensor((3, 4, 5), 2).rank == (2, 2, 2)
    assert tn.TuckerTensor((3, 4, 5), (1, 4, 3)).rank == (1, 4, 3)
    shape = (2, 3, 4, 2)
    # bonds: min(2, 24) = 2, min(6, 8) = 6, min(24, 2) = 2
    assert tn.TTTensor(shape, 5).rank == (2, 5, 2)
    assert tn.TTTensor(shape, 6).rank == (2, 6, 2)
    assert tn.TTTensor(shape, (1, 2, 3, 2, 1)).rank == (2, 3, 2)
    assert tt_full_ranks(shape) == (2, 6, 2)
    # a TT-matrix bonds over the fused (out_k * in_k) modes: min(2, 24) = 2, min(12, 4) = 4
    assert tn.TTMatrix((2, 3, 2), (1, 2, 2), 4).rank == (2, 4)  # fused modes 2, 6, 4


@pytest.mark.parametrize("f", [0.05, 0.2, 0.5, 1.0, "same"])
def test_cp_float_rank_parameter_count(f):
    """CP: R = round(f N / S) with S = sum(shape); so |R S - f N| <= S / 2, plus R weights."""
    shape = (6, 7, 8, 5)
    frac = 1.0 if f == "same" else f
    t = tn.CPTensor(shape, f)
    n_dense, s = math.prod(shape), sum(shape)
    count = _n_params(t)
    assert count == t.rank * (s + 1)
    assert abs(count - frac * n_dense) <= s / 2 + t.rank


@pytest.mark.parametrize("f", [0.05, 0.2, 0.5, 1.0, "same"])
def test_tucker_float_rank_parameter_count(f):
    """Equal mode sizes 12: the ranks fit the budget f N, are balanced (differ by at most 1),
    and no single rank can grow by one without breaking the budget (brute-force count r1 r2 r3 + 12 sum r)."""
    frac = 1.0 if f == "same" else f
    budget = frac * 12**3

    def count(ranks):
        return math.prod(ranks) + 12 * sum(ranks)

    t = tn.TuckerTensor((12, 12, 12), f)
    assert _n_params(t) == count(t.rank) <= budget
    assert max(t.rank) - min(t.rank) <= 1
    for k in range(3):
        grown = list(t.rank)
        grown[k] += 1
        assert grown[k] > 12 or count(grown) > budget


@pytest.mark.parametrize("f", [0.05, 0.2, 0.5, 1.0, "same"])
def test_tt_float_rank_parameter_count(f):
    """TT: the largest bond cap r (per-bond capped at the full rank) whose count fits f N, by brute force."""
    shape = (4, 5, 6, 3)
    frac = 1.0 if f == "same" else f
    full = tt_full_ranks(shape)

    def count(r):
        b = (1, *[min(r, x) for x in full], 1)
        return sum(b[k] * n * b[k + 1] for k, n in enumerate(shape))

    fitting = [r for r in range(1, max(full) + 1) if count(r) <= frac * math.prod(shape)]
    r_best = max(fitting) if fitting else 1
    t = tn.TTTensor(shape, f)
    assert t.rank == tuple(min(r_best, x) for x in full)
    assert _n_params(t) == count(r_best)


@pytest.mark.parametrize("factorization", ["tt", "cp", "tucker", "svd"])
def test_same_rank_is_close_to_dense_count(factorization):
    """rank='same' means the dense count: the weight holds between half and 1.5 times in*out parameters."""
    layer = tn.FactorizedLinear(64, 48, "same", factorization, bias=False)
    ratio = _n_params(layer) / (64 * 48)
    assert 0.5 <= ratio <= 1.5, ratio


@pytest.mark.parametrize("factorization", ["tt", "cp", "svd"])
@pytest.mark.parametrize("f", [0.1, 0.3])
def test_float_rank_linear_not_wildly_off(factorization, f):
    """A float rank keeps within a factor 2 of f * in * out parameters for a 64 x 48 layer."""
    layer = tn.FactorizedLinear(64, 48, f, factorization, bias=False)
    ratio = _n_params(layer) / (f * 64 * 48)
    assert 0.5 <= ratio <= 2.0, ratio


def test_linear_automatic_shapes():
    """Automatic shapes multiply to the features; a TT-matrix gets 2 modes on both sides,
    CP and Tucker up to 3 modes per side with the padding 1s dropped."""
    layer = tn.FactorizedLinear(60, 35, 0.5, "tt")
    assert layer.in_shape == (10, 6) and layer.out_shape == (7, 5)
    for factorization in ("cp", "tucker"):
        layer = tn.FactorizedLinear(60, 35, 0.5, factorization)
        assert layer.in_shape == (5, 4, 3) and layer.out_shape == (7, 5)
    layer = tn.FactorizedLinear(12, 6, 2, "cp", in_shape=(4, 1, 3))
    assert layer.in_shape == (4, 1, 3)  # a shape the user gives is kept as given
    layer = tn.FactorizedLinear(24, 10, 2, "tt", in_shape=(2, 3, 4))
    assert layer.in_shape == (2, 3, 4) and math.prod(layer.out_shape) == 10 and len(layer.out_shape) == 3


# --------------------------------------------------------------------------
# 3. initialization scale
# --------------------------------------------------------------------------


def _rms_over_seeds(make, seeds=range(6)) -> float:
    """sqrt of the mean over seeds of mean(T^2): an unbiased estimate of the entry variance."""
    sq = []
    for s in seeds:
        torch.manual_seed(s)
        sq.append(float((make().detach() ** 2).mean()))
    return math.sqrt(sum(sq) / len(sq))


@pytest.mark.parametrize(
    "make",
    [
        lambda: tn.CPTensor((10, 10, 10), 20),
        lambda: tn.TuckerTensor((12, 12, 12), 8),
        lambda: tn.TTTensor((8, 8, 8, 8), 8),
        lambda: tn.TTMatrix((8, 8), (8, 8), 16),
    ],
    ids=["cp", "tucker", "tt", "ttm"],
)
def test_reset_parameters_std(make):
    """reset_parameters(std): reconstructed entries have RMS within 10% of std (6 seeds, >= 1000 entries).

    Entries are sums of many products, so their mean is 0 and their variance
    std^2 by construction of the scales; 6 independent draws of a tensor whose
    effective number of independent terms is >= 1000 (CP 20 * ..., Tucker 512
    core entries, TT/TT-matrix products over 8^3 / 16 bond configurations)
    keep the relative error of the RMS estimate below a few percent.
    """

    def build():
        t = make()
        t.reset_parameters(0.3)
        return t.to_tensor()

    rms = _rms_over_seeds(build)
    assert abs(rms / 0.3 - 1) < 0.1, rms


@pytest.mark.parametrize("factorization", ["tt", "cp", "tucker", "svd"])
def test_linear_init_scale_matches_nn_linear(factorization):
    """FactorizedLinear weight RMS ~ 1/sqrt(3 in_features), nn.Linear's default (uniform(+-1/sqrt(in)))."""
    rank = {"tt": 16, "cp": 40, "tucker": 6, "svd": 32}[factorization]
    shapes = {} if factorization == "svd" else {"in_shape": (8, 8), "out_shape": (8, 8)}

    def build():
        return tn.FactorizedLinear(64, 64, rank, factorization, **shapes).weight

    target = 1 / math.sqrt(3 * 64)
    # nn.Linear's own weight, the reference the docstring claims to follow
    torch.manual_seed(0)
    assert abs(float(nn.Linear(64, 64).weight.detach().std()) / target - 1) < 0.05
    # Tucker's scale fluctuates with the norms of its small factors: more seeds
    # (measured over 600 seeds: per-draw relative sd of the mean square 0.47, so
    # 100 seeds give an RMS relative sd of 0.024 and the 10% band is 4 sigma)
    seeds = range(100 if factorization == "tucker" else 6)
    assert abs(_rms_over_seeds(build, seeds) / target - 1) < 0.1


@pytest.mark.parametrize("factorization,rank", [("cp", 32), ("tucker", (8, 8))])
def test_conv_init_scale_matches_nn_conv2d(factorization, rank):
    """FactorizedConv2d kernel RMS ~ 1/sqrt(3 fan_in), nn.Conv2d's default scale."""

    def build():
        return tn.FactorizedConv2d(16, 16, 3, rank, factorization).weight

    target = 1 / math.sqrt(3 * 16 * 9)
    torch.manual_seed(0)
    assert abs(float(nn.Conv2d(16, 16, 3).weight.detach().std()) / target - 1) < 0.05
    assert abs(_rms_over_seeds(build) / target - 1) < 0.1


# --------------------------------------------------------------------------
# 4. decompositions of existing tensors
# --------------------------------------------------------------------------


def _exact_cp(shape, rank, seed):
    """A well-conditioned exact CP tensor: orthonormal factor columns, weights 1..R."""
    g = _gen(seed)
    factors = [torch.randn(n, rank, generator=g, dtype=F64) for n in shape]
    factors = [torch.linalg.qr(f)[0] if f.shape[0] >= rank else f / f.norm(dim=0) for f in factors]
    weights = torch.arange(1, rank + 1, dtype=F64)
    return _tl(tensorly.cp_to_tensor, (weights, factors))


def test_cp_from_tensor_recovers_exact_low_rank():
    """CP-ALS on an exact rank-3 CP tensor (built by tensorly) recovers it to 1e-6."""
    t = _exact_cp((4, 5, 6), 3, seed=10)
    cp = tn.CPTensor.from_tensor(t, 3)
    assert cp.rank == 3 and cp.weights.dtype == F64
    assert _rel(cp.to_tensor().detach(), t) < 1e-6


def test_cp_from_tensor_random_factors_with_more_iterations():
    """A generic (random Gaussian factors) rank-3 tensor: CP-ALS with enough iterations recovers it."""
    g = _gen(0)
    factors = [torch.randn(n, 3, generator=g, dtype=F64) for n in (4, 5, 6)]
    t = torch.from_numpy(np.einsum("ir,jr,kr->ijk", *[_np(f) for f in factors]))
    cp = tn.CPTensor.from_tensor(t, 3, n_iter_max=2000)
    assert _rel(cp.to_tensor().detach(), t) < 1e-6


def _exact_tucker(shape, ranks, modes, seed):
    g = _gen(seed)
    core_shape = list(shape)
    for m, r in zip(modes, ranks):
        core_shape[m] = r
    core = torch.randn(core_shape, generator=g, dtype=F64)
    factors = [torch.randn(shape[m], r, generator=g, dtype=F64) for m, r in zip(modes, ranks)]
    out = _np(core)
    for m, u in zip(modes, factors):
        out = np.moveaxis(np.tensordot(_np(u), out, axes=(1, m)), 0, m)  # mode-m product
    return torch.from_numpy(np.ascontiguousarray(out))


def test_tucker_from_tensor_recovers_exact_low_rank():
    """HOOI on an exact multilinear-rank (2, 3, 2) tensor (numpy mode products) recovers it."""
    t = _exact_tucker((4, 5, 6), (2, 3, 2), (0, 1, 2), seed=11)
    tk = tn.TuckerTensor.from_tensor(t, (2, 3, 2))
    assert _rel(tk.to_tensor().detach(), t) < 1e-10


def test_partial_tucker_from_tensor_recovers_exact_low_rank():
    """Partial Tucker on modes (0, 2) of a tensor of ranks (2, 3) along them recovers it."""
    t = _exact_tucker((4, 5, 6, 3), (2, 3), (0, 2), seed=12)
    tk = tn.TuckerTensor.from_tensor(t, (2, 3), modes=(0, 2))
    assert tk.core.shape == (2, 5, 3, 3)
    assert _rel(tk.to_tensor().detach(), t) < 1e-10


def test_tt_from_tensor_exact_and_full_rank():
    """TT-SVD: exact on a tensor built from rank-(2, 3, 2) cores (tensorly), and exact at full rank on noise."""
    g = _gen(13)
    shape, ranks = (3, 4, 5, 3), (1, 2, 3, 2, 1)
    cores = [torch.randn(ranks[k], n, ranks[k + 1], generator=g, dtype=F64) for k, n in enumerate(shape)]
    t = _tl(tensorly.tt_to_tensor, cores)
    assert _rel(tn.TTTensor.from_tensor(t, (2, 3, 2)).to_tensor().detach(), t) < 1e-10
    noise = torch.randn(shape, generator=g, dtype=F64)
    full = tn.TTTensor.from_tensor(noise, tt_full_ranks(shape))
    assert _rel(full.to_tensor().detach(), noise) < 1e-10


def test_tt_from_tensor_rank_one_at_full_ranks():
    """A rank-1 tensor decomposed at full TT ranks: cores keep the declared shapes, the tensor is exact."""
    g = _gen(16)
    a, b, c = [torch.randn(n, generator=g, dtype=F64) for n in (3, 4, 5)]
    t = torch.from_numpy(np.einsum("i,j,k->ijk", _np(a), _np(b), _np(c)))
    tt = tn.TTTensor.from_tensor(t, tt_full_ranks((3, 4, 5)))
    assert [tuple(x.shape) for x in tt.cores] == [(1, 3, 3), (3, 4, 5), (5, 5, 1)]
    assert _rel(tt.to_tensor().detach(), t) < 1e-10


@pytest.mark.parametrize("rank", [1, 2, 3, 5])
def test_tt_from_tensor_error_equals_tensorly_tensor_train(rank):
    """Both are TT-SVD: the truncation error equals tensorly.decomposition.tensor_train's at the same rank."""
    g = _gen(14)
    shape = (3, 4, 5, 3)
    t = torch.randn(shape, generator=g, dtype=F64)
    ours = tn.TTTensor.from_tensor(t, rank).to_tensor().detach()
    theirs = _tl(tensorly.tt_to_tensor, _tl(tensor_train, t, rank))
    err_ours, err_theirs = float((ours - t).norm()), float((theirs - t).norm())
    assert abs(err_ours - err_theirs) <= TOL64 * float(t.norm())


def test_tt_matrix_from_matrix_exact_and_full_rank():
    """TTMatrix.from_matrix: exact on a TT-matrix of rank 2 (tensorly reconstruction), exact at full rank."""
    g = _gen(15)
    out_shape, in_shape = (2, 3, 2), (3, 2, 2)
    ranks = (1, 2, 2, 1)
    cores = [
        torch.randn(ranks[k], o, i, ranks[k + 1], generator=g, dtype=F64)
        for k, (o, i) in enumerate(zip(out_shape, in_shape))
    ]
    w = _tl(tensorly.tt_matrix_to_tensor, cores).reshape(12, 12)
    ttm = tn.TTMatrix.from_matrix(w, out_shape, in_shape, 2)
    assert _rel(ttm.to_tensor().detach(), w) < 1e-10
    noise = torch.randn(12, 12, generator=g, dtype=F64)
    full = tn.TTMatrix.from_matrix(noise, out_shape, in_shape, tt_full_ranks([6, 6, 4]))
    assert _rel(full.to_tensor().detach(), noise) < 1e-10


# --------------------------------------------------------------------------
# 5. FactorizedLinear
# --------------------------------------------------------------------------

LINEAR_CASES = [
    ("tt", (3, 2), (3, 2, 2), (2, 5, 1)),
    ("tt", 3, (3, 4), (2, 5)),
    ("cp", 5, None, None),
    ("tucker", 2, (3, 4), (2, 5)),
    ("svd", 4, None, None),
]


@pytest.mark.parametrize("factorization,rank,in_shape,out_shape", LINEAR_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_factorized_linear_forward_matches_f_linear(factorization, rank, in_shape, out_shape, bias):
    """Factorized and reconstructed forwards == F.linear(x, weight, bias) for x (5, in) and (2, 3, in)."""
    kwargs = {"in_shape": in_shape, "out_shape": out_shape} if in_shape else {}
    layer = _randomize(tn.FactorizedLinear(12, 10, rank, factorization, bias=bias, dtype=F64, **kwargs), 20, 0.5)
    assert layer.weight.shape == (10, 12)
    g = _gen(21)
    for shape in ((5, 12), (2, 3, 12), (12,)):
        x = torch.randn(shape, generator=g, dtype=F64)
        ref = F.linear(x, layer.weight.detach(), None if layer.bias is None else layer.bias.detach())
        y = layer(x)
        assert y.shape == (*shape[:-1], 10)
        assert _rel(y.detach(), ref) < TOL64
    recon = tn.FactorizedLinear(12, 10, rank, factorization, bias=bias, implementation="reconstructed", dtype=F64, **kwargs)
    recon.load_state_dict(layer.state_dict())
    x = torch.randn(2, 3, 12, generator=g, dtype=F64)
    assert _rel(recon(x).detach(), layer(x).detach()) < TOL64


@pytest.mark.parametrize("factorization,rank,in_shape,out_shape", LINEAR_CASES)
def test_factorized_linear_gradients_match_reconstructed(factorization, rank, in_shape, out_shape):
    """Gradients wrt every parameter and the input: factorized path == F.linear on the rebuilt weight."""
    kwargs = {"in_shape": in_shape, "out_shape": out_shape} if in_shape else {}
    layer = _randomize(tn.FactorizedLinear(12, 10, rank, factorization, dtype=F64, **kwargs), 22, 0.5)
    g = _gen(23)
    x = torch.randn(4, 12, generator=g, dtype=F64, requires_grad=True)
    target = torch.randn(4, 10, generator=g, dtype=F64)
    params = list(layer.parameters())

    def grads(y):
        loss = ((y - target) ** 2).sum()
        return torch.autograd.grad(loss, [x, *params])

    g_fact = grads(layer(x))
    g_ref = grads(F.linear(x, layer.weight, layer.bias))
    for a, b in zip(g_fact, g_ref):
        assert _rel(a, b) < 1e-9


@pytest.mark.parametrize("factorization,rank", [("tt", 2), ("cp", 2), ("tucker", 1), ("svd", 2)])
def test_factorized_linear_gradcheck(factorization, rank):
    """torch.autograd.gradcheck (finite differences, float64) on a tiny layer, input and all parameters."""
    layer = _randomize(tn.FactorizedLinear(4, 6, rank, factorization, in_shape=None, dtype=F64), 24, 0.5)
    names = [n for n, _ in layer.named_parameters()]
    values = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]
    x = torch.randn(3, 4, generator=_gen(25), dtype=F64, requires_grad=True)

    def fn(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(fn, (x, *values), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "factorization,rank",
    [("tt", None), ("svd", 6), ("tucker", None)],
)
def test_from_linear_full_rank_reproduces(factorization, rank):
    """from_linear at full rank reproduces nn.Linear's output (TT full ranks, SVD min(in,out), Tucker full)."""
    torch.manual_seed(30)
    linear = nn.Linear(12, 6).double()
    if factorization == "tt":
        probe = tn.FactorizedLinear(12, 6, 1, "tt")
        rank = tt_full_ranks([o * i for o, i in zip(probe.out_shape, probe.in_shape)])
    elif factorization == "tucker":
        probe = tn.FactorizedLinear(12, 6, 1, "tucker")
        rank = (*probe.out_shape, *probe.in_shape)
    layer = tn.FactorizedLinear.from_linear(linear, rank, factorization)
    assert isinstance(layer, tn.FactorizedLinear)
    assert all(p.dtype == F64 for p in layer.parameters())
    x = torch.randn(7, 12, generator=_gen(31), dtype=F64)
    assert _rel(layer(x).detach(), linear(x).detach()) < TOL64
    assert torch.equal(layer.bias.detach(), linear.bias.detach())


def test_from_linear_cp_on_exact_low_rank_weight():
    """CP from_linear on a weight that is exactly a rank-2 CP tensor over (*out_shape, *in_shape)."""
    out_shape, in_shape = (2, 3), (3, 4)
    t = _exact_cp((*out_shape, *in_shape), 2, seed=32)
    linear = nn.Linear(12, 6, bias=False).double()
    with torch.no_grad():
        linear.weight.copy_(t.reshape(6, 12))
    layer = tn.FactorizedLinear.from_linear(linear, 2, "cp", in_shape=in_shape, out_shape=out_shape)
    assert layer.bias is None
    x = torch.randn(5, 12, generator=_gen(33), dtype=F64)
    assert _rel(layer(x).detach(), linear(x).detach()) < 1e-6


# --------------------------------------------------------------------------
# 6. FactorizedConv2d
# --------------------------------------------------------------------------

CONV_CASES = [
    dict(kernel_size=3, stride=1, padding=1, dilation=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
    dict(kernel_size=(1, 3), stride=2, padding=0, dilation=1),
    dict(kernel_size=3, stride=1, padding="same", dilation=2),
    dict(kernel_size=(2, 3), stride=(1, 2), padding="valid", dilation=1),
]


@pytest.mark.parametrize("factorization,rank", [("cp", 5), ("tucker", (3, 2))])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_factorized_conv_matches_f_conv2d(factorization, rank, case):
    """The factorized chain == F.conv2d(x, weight, bias, stride, padding, dilation), batched and unbatched."""
    layer = _randomize(tn.FactorizedConv2d(3, 4, rank=rank, factorization=factorization, dtype=F64, **case), 40, 0.5)
    x = torch.randn(2, 3, 9, 8, generator=_gen(41), dtype=F64)
    w, b = layer.weight.detach(), layer.bias.detach()
    ref = F.conv2d(x, w, b, case["stride"], case["padding"], case["dilation"])
    y = layer(x)
    assert y.shape == ref.shape
    assert _rel(y.detach(), ref) < TOL64
    y3 = layer(x[1])
    assert y3.shape == ref[1].shape
    assert _rel(y3.detach(), ref[1]) < TOL64
    recon = tn.FactorizedConv2d(3, 4, rank=rank, factorization=factorization, implementation="reconstructed", dtype=F64, **case)
    recon.load_state_dict(layer.state_dict())
    assert _rel(recon(x).detach(), ref) < TOL64


def test_factorized_conv_no_bias_and_gradients():
    """No bias: output == F.conv2d without bias; input and parameter gradients match the dense path."""
    layer = _randomize(tn.FactorizedConv2d(2, 3, 3, rank=4, factorization="cp", padding=1, bias=False, dtype=F64), 42)
    assert layer.bias is None
    x = torch.randn(2, 2, 5, 5, generator=_gen(43), dtype=F64, requires_grad=True)
    params = list(layer.parameters())
    ga = torch.autograd.grad(layer(x).square().sum(), [x, *params])
    gb = torch.autograd.grad(F.conv2d(x, layer.weight, None, 1, 1).square().sum(), [x, *params])
    for a, b in zip(ga, gb):
        assert _rel(a, b) < 1e-9


def test_from_conv_tucker_full_rank_reproduces():
    """Tucker-2 at full ranks (out, in) reproduces nn.Conv2d, keeping stride, padding, dilation and bias."""
    torch.manual_seed(44)
    conv = nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)).double()
    layer = tn.FactorizedConv2d.from_conv(conv, (4, 3), "tucker")
    assert (layer.stride, layer.padding, layer.dilation) == ((2, 1), (1, 0), (1, 2))
    assert torch.equal(layer.bias.detach(), conv.bias.detach())
    x = torch.randn(2, 3, 7, 8, generator=_gen(45), dtype=F64)
    assert _rel(layer(x).detach(), conv(x).detach()) < TOL64


def test_from_conv_cp_on_exact_low_rank_kernel():
    """CP from_conv on a conv whose kernel is an exact rank-3 CP tensor; no bias, padding='same' kept."""
    conv = nn.Conv2d(4, 5, 3, padding="same", bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(_exact_cp((5, 4, 3, 3), 3, seed=46))
    layer = tn.FactorizedConv2d.from_conv(conv, 3, "cp")
    assert layer.bias is None and layer.padding == (1, 1)
    x = torch.randn(2, 4, 6, 6, generator=_gen(47), dtype=F64)
    assert _rel(layer(x).detach(), conv(x).detach()) < 1e-6


# --------------------------------------------------------------------------
# 7. TRL and TCL
# --------------------------------------------------------------------------


@pytest.mark.parametrize("factorization,rank", [("tucker", (2, 3, 2)), ("cp", 4), ("tt", 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_trl_matches_numpy_einsum(factorization, rank, bias):
    """TRL(x) == einsum('bij,ijo->bo', x, W) + bias with W = weight_tensor.to_tensor() (numpy)."""
    layer = _randomize(tn.TRL((3, 4), (2, 3) if factorization != "tucker" else (5,), rank, factorization, bias=bias, dtype=F64), 50)
    out_shape = layer.output_shape
    x = torch.randn(6, 3, 4, generator=_gen(51), dtype=F64)
    w = _np(layer.weight_tensor.to_tensor())
    assert w.shape == (3, 4, *out_shape)
    ref = np.einsum("bij,ij...->b...", _np(x), w)
    if bias:
        ref = ref + _np(layer.bias)
    y = layer(x)
    assert y.shape == (6, *out_shape)
    np.testing.assert_allclose(_np(y), ref, rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize("bias", [True, False])
def test_tcl_matches_kronecker(bias):
    """TCL(x) vectorized == (U_1 kron U_2 kron U_3) vec(x) (+ bias), C-order vectorization (numpy.kron)."""
    layer = _randomize(tn.TCL((3, 4, 2), (2, 5, 3), bias=bias, dtype=F64), 52)
    x = torch.randn(4, 3, 4, 2, generator=_gen(53), dtype=F64)
    k = np.kron(np.kron(_np(layer.factors[0]), _np(layer.factors[1])), _np(layer.factors[2]))
    ref = (_np(x).reshape(4, -1) @ k.T).reshape(4, 2, 5, 3)
    if bias:
        ref = ref + _np(layer.bias)
    np.testing.assert_allclose(_np(layer(x)), ref, rtol=TOL64, atol=TOL64)


def test_tcl_keeps_scale():
    """TCL init: each factor N(0, 1/I_k), so the output RMS ~ input RMS (float32, 8 seeds, 10% band)."""
    sq = []
    x = torch.randn(64, 8, 8, 8, generator=_gen(54))
    for s in range(8):
        torch.manual_seed(s)
        sq.append(float(tn.TCL((8, 8, 8), (8, 8, 8))(x).detach().square().mean()))
    assert abs(math.sqrt(sum(sq) / len(sq)) / float(x.square().mean().sqrt()) - 1) < 0.1


# --------------------------------------------------------------------------
# 8. tensor dropout
# --------------------------------------------------------------------------


DROPOUT_TENSORS = [
    lambda: tn.CPTensor((3, 4, 2), 5, dtype=F64),
    lambda: tn.TuckerTensor((3, 4, 2), (2, 3, 2), dtype=F64),
    lambda: tn.TTTensor((3, 4, 2), 3, dtype=F64),
    lambda: tn.TTMatrix((2, 3), (3, 2), 3, dtype=F64),
]


@pytest.mark.parametrize("make", DROPOUT_TENSORS, ids=["cp", "tucker", "tt", "ttm"])
def test_tensor_dropout_monte_carlo_mean(make):
    """Train mode: draws vary, and their Monte Carlo mean approaches the undropped tensor.

    With K = 2000 draws the per-entry error of the mean is z * s / sqrt(K), s the
    sample std of that entry; every |z| < 5.5 (at most 36 entries, union bound:
    a false alarm has probability < 36 * 4e-8). Entries share the same few mask
    bits, so they are correlated and no chi-square over entries is claimed. An
    expectation off by the 1/(1 - p) scaling would give |z| in the hundreds.
    """
    t = _randomize(make(), 60)
    exact = t.to_tensor().detach().clone()
    state = {k: v.clone() for k, v in t.state_dict().items()}
    tn.tensor_dropout(t, 0.3)
    assert set(t.state_dict()) == set(state)  # no new parameters or buffers
    t.train()
    torch.manual_seed(61)
    with torch.no_grad():
        draws = torch.stack([t.to_tensor() for _ in range(2000)])
    assert len({tuple(d.flatten().tolist()) for d in draws[:20]}) > 5  # draws vary
    mean, se = draws.mean(0), draws.std(0) / math.sqrt(len(draws))
    z = (mean - exact) / se
    assert float(z.abs().max()) < 5.5
    # eval: deterministic and undropped
    t.eval()
    assert torch.equal(t.to_tensor().detach(), t.to_tensor().detach())
    assert _rel(t.to_tensor().detach(), exact) < TOL64
    # removed: training mode is exact again, parameters untouched
    t.train()
    tn.remove_tensor_dropout(t)
    assert _rel(t.to_tensor().detach(), exact) < TOL64
    for k, v in t.state_dict().items():
        assert torch.equal(v, state[k])


def test_tensor_dropout_cp_keep_probability():
    """CP dropout p = 0.4: each term survives (scaled by 1/0.6) in ~60% of draws (binomial, 4 sigma)."""
    t = _randomize(tn.CPTensor((3, 4, 5), 6, dtype=F64), 62)
    tn.tensor_dropout(t, 0.4)
    torch.manual_seed(63)
    n = 1000
    kept = torch.zeros(6)
    for _ in range(n):
        w = t.components()[0].detach() / t.weights.detach()
        assert set(np.round(_np(w), 10).tolist()) <= {0.0, round(1 / 0.6, 10)}
        kept += (w != 0).double().float()
    # binomial(1000, 0.6): sd = sqrt(1000 * 0.24) ~ 15.5
    assert float((kept - 600).abs().max()) < 4 * 15.5


def test_tensor_dropout_on_layer_and_eval():
    """A FactorizedLinear with dropout: train outputs vary, eval equals the undropped F.linear output."""
    layer = tn.FactorizedLinear(12, 6, 3, "tt", dtype=F64)
    x = torch.randn(4, 12, generator=_gen(64), dtype=F64)
    ref = F.linear(x, layer.weight, layer.bias).detach()
    tn.tensor_dropout(layer, 0.5)
    torch.manual_seed(65)
    outs = [layer(x).detach() for _ in range(4)]
    assert any(not torch.allclose(outs[0], o) for o in outs[1:])
    layer.eval()
    assert _rel(layer(x).detach(), ref) < TOL64


# --------------------------------------------------------------------------
# 9. TensorLasso
# --------------------------------------------------------------------------


def test_lasso_penalty_and_gates_scale_cp():
    """Penalty == penalty * sum|gates| (brute force); CP gates multiply the weights (tensorly cp_to_tensor)."""
    t = _randomize(tn.CPTensor((3, 4, 2), 4, dtype=F64), 70)
    lasso = tn.TensorLasso(penalty=0.3, threshold=0.1)
    lasso.attach(t)
    gates = torch.tensor([0.5, -2.0, 0.0, 1.5], dtype=F64)
    with torch.no_grad():
        t.rank_gates[0].copy_(gates)
    assert abs(float(lasso.penalty(t).detach()) - 0.3 * 4.0) < TOL64
    ref = _tl(tensorly.cp_to_tensor, (t.weights.detach() * gates, [f.detach() for f in t.factors]))
    assert _rel(t.to_tensor().detach(), ref) < TOL64
    assert lasso.effective_ranks(t) == {"": (3,)}  # |0| <= 0.1 * 2


def test_lasso_gates_scale_tucker_fibres_and_tt_bonds():
    """Tucker gates scale core fibres along each mode; TT gates sit on the bonds (numpy einsum oracles)."""
    g = _gen(71)
    tk = _randomize(tn.TuckerTensor((3, 4, 2), (2, 3, 2), dtype=F64), 72)
    lasso = tn.TensorLasso(penalty=1.0)
    lasso.attach(tk)
    gates = [torch.randn(r, generator=g, dtype=F64) for r in (2, 3, 2)]
    with torch.no_grad():
        for p, v in zip(tk.rank_gates, gates):
            p.copy_(v)
    core = np.einsum("abc,a,b,c->abc", _np(tk.core), *[_np(v) for v in gates])
    ref = np.einsum("abc,ia,jb,kc->ijk", core, *[_np(f) for f in tk.factors])
    np.testing.assert_allclose(_np(tk.to_tensor()), ref, rtol=TOL64, atol=TOL64)
    assert abs(float(lasso.penalty(tk).detach()) - sum(float(v.abs().sum()) for v in gates)) < TOL64

    tt = _randomize(tn.TTTensor((3, 4, 2), (3, 2), dtype=F64), 73)
    lasso.attach(tt)
    gates = [torch.randn(r, generator=g, dtype=F64) for r in (3, 2)]
    with torch.no_grad():
        for p, v in zip(tt.rank_gates, gates):
            p.copy_(v)
    c = [_np(x) for x in tt.cores]
    ref = np.einsum("xia,a,ajb,b,bky->ijk", c[0], _np(gates[0]), c[1], _np(gates[1]), c[2])
    np.testing.assert_allclose(_np(tt.to_tensor()), ref, rtol=TOL64, atol=TOL64)


@pytest.mark.parametrize(
    "make",
    [
        lambda: tn.TRL((3, 4), (2,), 3, "cp", dtype=F64),
        lambda: tn.TRL((3, 4), (2,), (2, 3, 2), "tucker", dtype=F64),
        lambda: tn.TRL((3, 4), (2,), 2, "tt", dtype=F64),
        lambda: tn.FactorizedLinear(12, 6, 3, "tt", dtype=F64),
    ],
    ids=["trl-cp", "trl-tucker", "trl-tt", "linear-tt"],
)
def test_lasso_detach_folds_gates(make):
    """detach folds random gates into the factors: outputs unchanged, gates gone, parameter count restored."""
    model = _randomize(make(), 74)
    n0 = tn.count_parameters(model)
    lasso = tn.TensorLasso()
    lasso.attach(model)
    tensor = model.weight_tensor
    g = _gen(75)
    with torch.no_grad():
        for p in tensor.rank_gates:
            p.copy_(torch.rand(p.shape, generator=g, dtype=F64) + 0.2)
    assert tn.count_parameters(model) == n0 + sum(tensor.rank_sizes)
    x = torch.randn(5, 3, 4, generator=g, dtype=F64)
    if isinstance(model, tn.FactorizedLinear):
        x = x.reshape(5, 12)
    before_t, before_y = tensor.to_tensor().detach().clone(), model(x).detach().clone()
    lasso.detach(model)
    assert tensor.rank_gates is None
    assert tn.count_parameters(model) == n0
    assert _rel(tensor.to_tensor().detach(), before_t) < TOL64
    assert _rel(model(x).detach(), before_y) < TOL64


def _fit_cp_with_lasso(use_penalty: bool):
    """Fit a rank-8 CPTensor to a rank-2 target (+1% noise) with Adam; gates always attached."""
    torch.manual_seed(0)
    g = _gen(0)
    shape = (6, 5, 4)
    target = torch.einsum("ir,jr,kr->ijk", *[torch.randn(n, 2, generator=g) for n in shape])
    target = target / target.std() + 0.01 * torch.randn(shape, generator=g)
    cp = tn.CPTensor(shape, 8, std=1.0)
    lasso = tn.TensorLasso(penalty=0.03, threshold=0.1)
    lasso.attach(cp)
    opt = torch.optim.Adam(cp.parameters(), lr=0.02)
    for _ in range(600):
        opt.zero_grad()
        loss = (cp.to_tensor() - target).square().mean()
        if use_penalty:
            loss = loss + lasso.penalty(cp)
        loss.backward()
        opt.step()
    fit = float((cp.to_tensor().detach() - target).square().mean() / target.square().mean())
    return lasso.effective_ranks(cp)[""][0], fit


def test_lasso_shrinks_ranks():
    """The lasso reveals the rank the data needs: 8 -> <= 4 on a rank-2 target, all 8 kept without it.

    Tuned (seed 0, 600 Adam steps, lr 0.02, penalty 0.03, threshold 0.1): over
    seeds 0..9 the penalized fit kept 2-3 gates above 0.1 * max (5th largest
    ratio <= 0.08) and the unpenalized one had its smallest gate ratio >= 0.3.
    """
    rank_l1, fit_l1 = _fit_cp_with_lasso(True)
    rank_free, fit_free = _fit_cp_with_lasso(False)
    assert 2 <= rank_l1 <= 4
    assert rank_free == 8
    assert fit_l1 < 0.05 and fit_free < 0.01  # both still fit the target


# --------------------------------------------------------------------------
# 10. compress, count_parameters, count_flops
# --------------------------------------------------------------------------


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 4, (3, 1), padding=(1, 0), bias=False)
        )
        self.head = nn.Linear(4 * 3 * 3, 4, bias=False)
        self.out = nn.Linear(4, 4)

    def forward(self, x):
        return self.out(torch.relu(self.head(self.features(x).flatten(1))))


def _net(seed=80):
    torch.manual_seed(seed)
    return _Net().double()


def test_compress_full_rank_reproduces_and_keeps_original():
    """Full-rank compression (Tucker-2 (4, 4), SVD rank 4) reproduces the outputs; the original is untouched."""
    model = _net()
    x = torch.randn(3, 4, 6, 6, generator=_gen(81), dtype=F64)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    y = model(x).detach()
    small = tn.compress(model, 4, {nn.Linear: "svd", nn.Conv2d: "tucker"})
    assert small is not model
    assert isinstance(model.head, nn.Linear) and isinstance(model.features[0], nn.Conv2d)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])
    assert _rel(model(x).detach(), y) == 0
    c0, c2 = small.features[0], small.features[2]
    assert isinstance(c0, tn.FactorizedConv2d) and isinstance(c2, tn.FactorizedConv2d)
    assert (c0.stride, c0.padding, c0.bias is not None) == ((2, 2), (1, 1), True)
    assert (c2.stride, c2.padding, c2.bias is None, c2.kernel_size) == ((1, 1), (1, 0), True, (3, 1))
    assert isinstance(small.head, tn.FactorizedLinear) and small.head.bias is None
    assert isinstance(small.out, tn.FactorizedLinear) and small.out.bias is not None
    assert _rel(small(x).detach(), y) < TOL64


def test_compress_layers_selection_and_float_rank():
    """layers=(nn.Linear,) leaves convolutions; a float rank lowers count_parameters."""
    model = _net()
    only_linear = tn.compress(model, 0.3, "tt", layers=(nn.Linear,))
    assert isinstance(only_linear.features[0], nn.Conv2d)
    assert isinstance(only_linear.head, tn.FactorizedLinear) and only_linear.head.factorization == "tt"
    smaller = tn.compress(model, 0.3, "cp")
    assert tn.count_parameters(smaller) < tn.count_parameters(model)
    assert tn.count_parameters(only_linear) < tn.count_parameters(model)


def test_compress_single_layer_model():
    """A bare nn.Linear is itself replaced (full SVD rank reproduces it)."""
    torch.manual_seed(82)
    lin = nn.Linear(5, 3).double()
    out = tn.compress(lin, 3, "svd", layers=(nn.Linear,))
    assert isinstance(out, tn.FactorizedLinear)
    x = torch.randn(4, 5, generator=_gen(83), dtype=F64)
    assert _rel(out(x).detach(), lin(x).detach()) < TOL64


def test_compress_shared_layer_replaced_everywhere():
    """A layer used twice: both places get the same factorized layer (as the model shared one)."""
    torch.manual_seed(84)
    lin = nn.Linear(4, 4).double()
    model = nn.Sequential(lin, nn.ReLU(), lin)
    small = tn.compress(model, 4, "svd", layers=(nn.Linear,))
    assert isinstance(small[0], tn.FactorizedLinear) and small[2] is small[0]


def test_count_parameters_by_hand():
    """count_parameters == sum of numel by hand; shared parameters once; trainable_only skips frozen ones."""
    model = _net()
    by_hand = (4 * 4 * 9 + 4) + (4 * 4 * 3) + 36 * 4 + (4 * 4 + 4)
    assert tn.count_parameters(model) == by_hand
    model.out.bias.requires_grad_(False)
    assert tn.count_parameters(model, trainable_only=True) == by_hand - 4
    lin = nn.Linear(3, 3)
    assert tn.count_parameters(nn.Sequential(lin, lin)) == 12


def test_count_parameters_factorized_by_hand():
    """Factorized layers: core and factor sizes by hand."""
    layer = tn.FactorizedLinear(12, 6, (2, 3, 2, 3), "tucker", in_shape=(3, 4), out_shape=(2, 3))
    core = 2 * 3 * 2 * 3
    factors = 2 * 2 + 3 * 3 + 3 * 2 + 4 * 3
    assert tn.count_parameters(layer) == core + factors + 6
    ttm = tn.FactorizedLinear(12, 6, 2, "tt", in_shape=(3, 4), out_shape=(2, 3), bias=False)
    assert tn.count_parameters(ttm) == 1 * 2 * 3 * 2 + 2 * 3 * 4 * 1
    conv = tn.FactorizedConv2d(4, 5, (3, 2), 3, "cp")
    assert tn.count_parameters(conv) == 3 * (5 + 4 + 3 + 2) + 3 + 5


def _conv_out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def test_count_flops_dense_layers():
    """nn.Linear: 2 B in out; nn.Conv2d: 2 B Cout Cin kh kw Hout Wout; total is the sum."""
    model = _net()
    b = 3
    x = torch.randn(b, 4, 6, 6, dtype=F64)
    flops = tn.count_flops(model, x)
    h1 = _conv_out(6, 3, 2, 1, 1)  # 3
    c0 = 2 * b * 4 * 4 * 9 * h1 * h1
    c2 = 2 * b * 4 * 4 * 3 * _conv_out(h1, 3, 1, 1, 1) * _conv_out(h1, 1, 1, 0, 1)
    l1, l2 = 2 * b * 36 * 4, 2 * b * 4 * 4
    assert flops == {"features.0": c0, "features.2": c2, "head": l1, "out": l2, "total": c0 + c2 + l1 + l2}


def test_count_flops_factorized_layers():
    """Tucker-2: three convolutions; CP: 1x1, depthwise kh x 1, depthwise 1 x kw, 1x1; SVD: two products."""
    b, cin, cout, h, w = 2, 3, 4, 9, 8
    stride, padding, dilation, k = (2, 1), (1, 2), (1, 2), (3, 2)
    tucker = tn.FactorizedConv2d(cin, cout, k, (3, 2), "tucker", stride=stride, padding=padding, dilation=dilation)
    cp = tn.FactorizedConv2d(cin, cout, k, 5, "cp", stride=stride, padding=padding, dilation=dilation)
    svd = tn.FactorizedLinear(10, 7, 3, "svd")
    model = nn.ModuleDict({"tucker": tucker, "cp": cp, "svd": svd})

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x, v):
            return self.m["tucker"](x), self.m["cp"](x), self.m["svd"](v)

    x = torch.randn(b, cin, h, w)
    v = torch.randn(5, 10)
    flops = tn.count_flops(Wrap(), x, v)
    ho = _conv_out(h, k[0], stride[0], padding[0], dilation[0])
    wo = _conv_out(w, k[1], stride[1], padding[1], dilation[1])
    r_out, r_in = 3, 2
    f_tucker = 2 * b * r_in * cin * h * w + 2 * b * r_out * r_in * k[0] * k[1] * ho * wo + 2 * b * cout * r_out * ho * wo
    r = 5
    f_cp = (
        2 * b * r * cin * h * w  # 1x1 in -> R
        + 2 * b * r * k[0] * ho * w  # depthwise (kh x 1), stride/padding/dilation along H only
        + 2 * b * r * k[1] * ho * wo  # depthwise (1 x kw) along W
        + 2 * b * cout * r * ho * wo  # 1x1 R -> out
    )
    f_svd = 2 * 5 * 10 * 3 + 2 * 5 * 3 * 7
    assert flops["m.tucker"] == f_tucker
    assert flops["m.cp"] == f_cp
    assert flops["m.svd"] == f_svd
    assert flops["total"] == f_tucker + f_cp + f_svd


# --------------------------------------------------------------------------
# 11. the shared tensor core
# --------------------------------------------------------------------------


def test_ttm_matmul_equals_dense_product():
    """ttm_matmul(cores, x) == x @ ttm_to_dense(cores).T, and ttm_to_dense == tensorly's TT-matrix."""
    g = _gen(90)
    outs, ins, ranks = (2, 3, 2), (3, 1, 4), (1, 3, 2, 1)
    cores = [torch.randn(ranks[k], o, i, ranks[k + 1], generator=g, dtype=F64) for k, (o, i) in enumerate(zip(outs, ins))]
    dense = ttm_to_dense(cores)
    ref = _tl(tensorly.tt_matrix_to_tensor, cores).reshape(12, 12)
    assert _rel(dense, ref) < TOL64
    x = torch.randn(5, 12, generator=g, dtype=F64)
    assert _rel(ttm_matmul(cores, x), x @ ref.T) < TOL64


def test_cp_core_functions_against_tensorly():
    """cp_to_dense == tensorly.cp_to_tensor; cp_from_dense of an exact CP tensor reconstructs it (tensorly)."""
    g = _gen(91)
    weights = torch.rand(3, generator=g, dtype=F64) + 0.5
    factors = [torch.randn(n, 3, generator=g, dtype=F64) for n in (3, 4, 5)]
    ref = _tl(tensorly.cp_to_tensor, (weights, factors))
    assert _rel(cp_to_dense(weights, factors), ref) < TOL64
    t = _exact_cp((3, 4, 5), 3, seed=92)
    w, fs = cp_from_dense(t, 3)
    assert _rel(_tl(tensorly.cp_to_tensor, (w, fs)), t) < 1e-6


def test_tucker_core_functions_against_tensorly():
    """tucker_to_dense == tensorly.tucker_to_tensor; tucker_from_dense (full / partial) reconstructs exactly."""
    g = _gen(93)
    core = torch.randn(2, 3, 2, generator=g, dtype=F64)
    factors = [torch.randn(n, r, generator=g, dtype=F64) for n, r in zip((4, 5, 3), (2, 3, 2))]
    ref = _tl(tensorly.tucker_to_tensor, (core, factors))
    assert _rel(tucker_to_dense(core, factors), ref) < TOL64
    c, fs = tucker_from_dense(ref, [2, 3, 2])
    assert _rel(_tl(tensorly.tucker_to_tensor, (c, fs)), ref) < 1e-10
    t = _exact_tucker((4, 5, 3), (2, 2), (0, 2), seed=94)
    c, fs = tucker_from_dense(t, [2, 2], modes=[0, 2])
    assert c.shape == (2, 5, 2)
    np.testing.assert_allclose(_np(tucker_to_dense(c, fs, [0, 2])), _np(t), rtol=1e-9, atol=1e-9)


def test_tt_from_dense_per_bond_max_rank():
    """A per-bond max_rank list bounds each bond; the error equals tensorly's tensor_train with those ranks."""
    g = _gen(95)
    t = torch.randn(3, 4, 5, 3, generator=g, dtype=F64)
    limits = [2, 5, 1]
    cores, _ = tt_from_dense(t, limits)
    bonds = [c.shape[-1] for c in cores[:-1]]
    assert all(b <= lim for b, lim in zip(bonds, limits))
    assert bonds == [2, 5, 1]
    theirs = _tl(tensorly.tt_to_tensor, _tl(tensor_train, t, [1, *limits, 1]))
    ours = _tl(tensorly.tt_to_tensor, cores)
    assert abs(float((ours - t).norm()) - float((theirs - t).norm())) < TOL64 * float(t.norm())


def test_float32_layer_tolerance():
    """float32 factorized forward == F.linear on the rebuilt weight to ~1e-5 relative."""
    torch.manual_seed(96)
    layer = tn.FactorizedLinear(24, 16, 4, "tt")
    x = torch.randn(8, 24)
    assert _rel(layer(x).detach(), F.linear(x, layer.weight, layer.bias).detach()) < TOL32


def test_khatri_rao_matches_scipy():
    """tqsim.tensor.cp.khatri_rao == scipy.linalg.khatri_rao (column-wise Kronecker, first factor most significant)."""
    from scipy.linalg import khatri_rao as scipy_khatri_rao

    from tqsim.tensor.cp import khatri_rao

    g = _gen(91)
    factors = [torch.randn(n, 4, generator=g, dtype=F64) for n in (3, 2, 5)]
    expected = scipy_khatri_rao(scipy_khatri_rao(factors[0].numpy(), factors[1].numpy()), factors[2].numpy())
    np.testing.assert_allclose(khatri_rao(factors).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_review_regressions():
    """count_flops keeps layer "1" beside layer "10"; an empty batch works on every factorization (F.linear
    oracle); compress takes a single layer type."""
    model = nn.Sequential(*[nn.Linear(4, 4) for _ in range(11)])
    flops = tn.count_flops(model, torch.randn(2, 4))
    assert all(flops[str(k)] == 2 * 2 * 4 * 4 for k in range(11))
    assert flops["total"] == 11 * 2 * 2 * 4 * 4
    for factorization in ("tt", "cp", "tucker", "svd"):
        layer = tn.FactorizedLinear(12, 6, 2, factorization)
        empty = torch.ones(0, 12)
        assert layer(empty).shape == F.linear(empty, layer.weight, layer.bias).shape == (0, 6)
    compressed = tn.compress(nn.Sequential(nn.Linear(4, 3)), 2, "svd", layers=nn.Linear)
    assert isinstance(compressed[0], tn.FactorizedLinear)


@pytest.mark.parametrize(
    "make",
    [
        lambda: tn.CPTensor((3, 4, 2, 5), 3, dtype=F64),
        lambda: tn.TuckerTensor((3, 4, 2, 5), (2, 3, 2), modes=(0, 1, 3), dtype=F64),
        lambda: tn.TTTensor((3, 4, 2, 5), 3, dtype=F64),
    ],
    ids=["cp", "tucker", "tt"],
)
def test_factorized_tensors_contract_network_any_modes(make):
    """tqsim.nn.factorized_tensors.contract_network over non-leading, unordered modes equals a numpy
    tensordot with the rebuilt tensor; the equation is built once and reused; given components are used."""
    from tqsim.nn.factorized_tensors import contract_network

    t = _randomize(make(), 95)
    dense = t.to_tensor().detach().numpy()
    g = _gen(96)
    for contracted in ((2,), (3, 1), (0, 2, 3)):
        x = torch.randn(6, *(t.shape[k] for k in contracted), generator=g, dtype=F64)
        got = contract_network(t, x, contracted).detach().numpy()
        expected = np.tensordot(x.numpy(), dense, axes=(list(range(1, len(contracted) + 1)), list(contracted)))
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert t.equation((2,)) is t.equation((2,))  # cached, not rebuilt
    doubled = [c * 2 if k == 0 else c for k, c in enumerate(t.components())]  # scales the whole tensor by 2
    x = torch.randn(2, t.shape[1], generator=g, dtype=F64)
    torch.testing.assert_close(contract_network(t, x, (1,), doubled), 2 * contract_network(t, x, (1,)))


def test_factorized_tensors_adopt_and_entries():
    """adopt copies a decomposition's factors and the dense bias; entries lists a ParameterList in order."""
    from tqsim.nn.factorized_tensors import adopt, entries

    layer = tn.FactorizedLinear(6, 4, 2, "svd", dtype=F64)
    source = tn.TTTensor((4, 6), 2, dtype=F64)
    bias = torch.arange(4, dtype=F64)
    adopt(layer, source, bias)
    torch.testing.assert_close(layer.weight, source.to_tensor())
    torch.testing.assert_close(layer.bias.detach(), bias)
    assert [p is q for p, q in zip(entries(source.cores), list(source.cores))] == [True, True]
