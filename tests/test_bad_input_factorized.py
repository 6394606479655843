"""Bad input to the information functions, the factorized states and the tensor core.

DESIGN.md's error policy, applied to every state kind (StateVector,
DensityMatrix, MPS, ProductState) and to ``tqsim.tensor``: bad input raises
ValueError, TypeError or IndexError with a message that names the bad value and
what is allowed; never a silent wrong result, never an error from deep inside
torch. Each case pins the exact exception class and checks the message with a
regex. Legitimate edge cases next to the refusals (keeping every qubit,
``normalize=True``, ``bits=True``) are checked against numpy oracles.
"""

import math
import re

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim import channels, gates
from tqsim.tensor.svd import truncated_svd
from tqsim.tensor.tt import tt_from_dense, tt_inner, tt_orthogonalize, ttm_from_dense

NAN = float("nan")
INF = float("inf")
N = 3
KINDS = ["statevector", "density", "mps", "product"]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().resolve_conj().cpu().numpy()


def _generator(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_state(kind: str, n: int = N, dtype=torch.complex128, seed: int = 7):
    """A seeded state of ``n`` qubits held as ``kind`` (entangled except for ProductState)."""
    if kind == "product":
        return tq.ProductState.random(n, generator=_generator(seed), dtype=dtype)
    sv = tq.StateVector.random(n, generator=_generator(seed), dtype=dtype)
    if kind == "statevector":
        return sv
    if kind == "density":
        return tq.DensityMatrix.from_state(sv)
    if kind == "mps":
        return tq.MPS.from_statevector(sv, cutoff=0)
    raise AssertionError(kind)


def zeros_state(kind: str, n: int, dtype=torch.complex128):
    return {
        "statevector": tq.StateVector.zeros,
        "density": tq.DensityMatrix.zeros,
        "mps": tq.MPS.zeros,
        "product": tq.ProductState.zeros,
    }[kind](n, dtype=dtype)


# ------------------------------------------- subsystems of the info functions
#
# Each call names the bad subsystem in a known argument; ``label`` is the name
# the message must use for it ("keep", "subsystem", "subsystem a", ...).

SINGLE = {
    "partial_trace": (lambda s, q: tq.partial_trace(s, q), "keep"),
    "entropy": (lambda s, q: tq.entropy(s, q), "subsystem"),
    "purity": (lambda s, q: tq.purity(s, q), "subsystem"),
}
PAIR = {
    "mutual_information": tq.mutual_information,
    "negativity": tq.negativity,
    "log_negativity": tq.log_negativity,
}


def _calls():
    """(id, call(state, bad_qubits), label): bad subsystem in every argument slot."""
    out = []
    for name, (fn, label) in SINGLE.items():
        out.append((name, fn, label))
    for name, fn in PAIR.items():
        # the other subsystem is a valid qubit that none of the bad lists uses
        out.append((f"{name}-a", lambda s, q, fn=fn: fn(s, q, [2]), "subsystem a"))
        out.append((f"{name}-b", lambda s, q, fn=fn: fn(s, [2], q), "subsystem b"))
    return out


CALLS = _calls()
CALL_IDS = [c[0] for c in CALLS]


SUBSYSTEM_CASES = [
    # (bad subsystem, error type, message pattern with {label} for the argument's name)
    ([0, 3], IndexError, r"{label} qubit 3 out of range for 3 qubits \(allowed 0\.\.2\)"),
    ([100], IndexError, r"{label} qubit 100 out of range for 3 qubits"),
    ([0, -1], IndexError, r"qubit -1 in {label} \[0, -1\] is negative; qubits are 0\.\.n-1"),
    ([1, 1], ValueError, r"{label} \[1, 1\] repeat a qubit"),
    ([], ValueError, r"{label} is empty; name at least one qubit"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call_id, call, label", CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("subsystem, error, pattern", SUBSYSTEM_CASES,
                         ids=["out-of-range", "far-out-of-range", "negative", "repeated", "empty"])
def test_bad_subsystem(kind, call_id, call, label, subsystem, error, pattern):
    state = make_state(kind)
    with pytest.raises(error, match=pattern.format(label=label)):
        call(state, subsystem)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call_id, call, label", CALLS, ids=CALL_IDS)
def test_subsystem_float_qubit_is_type_error(kind, call_id, call, label):
    state = make_state(kind)
    with pytest.raises(TypeError, match=rf"{label} must be ints, got 1\.0"):
        call(state, [1.0])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", list(PAIR.values()), ids=list(PAIR))
def test_pair_subsystems_overlap(kind, fn):
    state = make_state(kind)
    with pytest.raises(ValueError, match=r"subsystems a and b share qubits \[1\]; they must be disjoint"):
        fn(state, [0, 1], [1, 2])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fn", list(PAIR.values()), ids=list(PAIR))
def test_pair_subsystems_identical(kind, fn):
    state = make_state(kind)
    with pytest.raises(ValueError, match=r"share qubits \[0, 2\]"):
        fn(state, [2, 0], [0, 2])


# ----------------------------------------------- keeping every qubit is fine


def _numpy_amplitudes(kind: str, state, source) -> np.ndarray:
    """The amplitudes of ``state`` computed with numpy from its own data."""
    if kind == "product":
        amps = np.ones(1, dtype=complex)
        for v in _np(state.vectors):
            amps = np.kron(amps, v)
        return amps
    if kind == "mps-random":
        amps = np.ones((1, 1), dtype=complex)
        for core in state.cores:
            c = _np(core)
            amps = np.einsum("xa,asb->xsb", amps, c).reshape(-1, c.shape[-1])
        return amps.reshape(-1)
    return _np(source.amplitudes())  # the StateVector the state was built from


def _state_and_amplitudes(kind: str, dtype):
    if kind == "mps-random":
        state = tq.MPS.random(4, bond=3, generator=_generator(3), dtype=dtype)
        return state, _numpy_amplitudes(kind, state, None)
    sv = tq.StateVector.random(4, generator=_generator(3), dtype=dtype)
    state = {
        "statevector": sv,
        "density": tq.DensityMatrix.from_state(sv),
        "mps": tq.MPS.from_statevector(sv, cutoff=0),
        "product": tq.ProductState.random(4, generator=_generator(3), dtype=dtype),
    }[kind]
    return state, _numpy_amplitudes(kind, state, sv)


@pytest.mark.parametrize("kind", KINDS + ["mps-random"])
def test_partial_trace_keeping_every_qubit_is_the_full_density_matrix(kind, dtype, tol):
    state, psi = _state_and_amplitudes(kind, dtype)
    rho = tq.partial_trace(state, keep=range(4))
    assert isinstance(rho, tq.DensityMatrix)
    assert rho.num_qubits == 4
    np.testing.assert_allclose(_np(rho.matrix()), np.outer(psi, psi.conj()), atol=tol)


@pytest.mark.parametrize("kind", KINDS + ["mps-random"])
def test_partial_trace_keeping_every_qubit_reversed_is_the_permuted_matrix(kind, dtype, tol):
    state, psi = _state_and_amplitudes(kind, dtype)
    reversed_psi = psi.reshape([2] * 4).transpose(3, 2, 1, 0).reshape(-1)
    rho = tq.partial_trace(state, keep=[3, 2, 1, 0])
    np.testing.assert_allclose(_np(rho.matrix()), np.outer(reversed_psi, reversed_psi.conj()), atol=tol)


def _fifteen_qubits(kind: str):
    if kind == "density":
        # a 2**15 x 2**15 matrix that takes no memory: the limit must fire before any work
        data = torch.zeros(1, 1, dtype=torch.complex64).expand(1 << 15, 1 << 15)
        return tq.DensityMatrix(data, 15)
    return zeros_state(kind, 15, dtype=torch.complex64)


@pytest.mark.parametrize("kind", KINDS)
def test_partial_trace_keeping_more_than_14_qubits(kind):
    state = _fifteen_qubits(kind)
    with pytest.raises(ValueError, match=r"reduced state of 15 qubits is a 2\*\*15 x 2\*\*15 matrix; keep at most 14"):
        tq.partial_trace(state, keep=range(15))


# ------------------------------------------------------- alpha and base


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha", [0, -1, -0.5, NAN], ids=["0", "-1", "-0.5", "nan"])
def test_entropy_alpha_not_positive(kind, alpha):
    state = make_state(kind)
    with pytest.raises(ValueError, match=rf"alpha must be a number > 0 \(or inf\), got {re.escape(repr(alpha))}"):
        tq.entropy(state, [0], alpha=alpha)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("base", [1, 1.0, 0, -2, NAN], ids=["1", "1.0", "0", "-2", "nan"])
def test_entropy_base_one_or_not_positive(kind, base):
    state = make_state(kind)
    with pytest.raises(ValueError, match=rf"base must be a positive number other than 1, got {re.escape(repr(base))}"):
        tq.entropy(state, [0], base=base)


@pytest.mark.parametrize("alpha", [0, -1, NAN], ids=["0", "-1", "nan"])
def test_mps_entanglement_entropy_alpha_not_positive(alpha):
    mps = make_state("mps")
    with pytest.raises(ValueError, match=rf"alpha must be a number > 0.*got {re.escape(repr(alpha))}"):
        mps.entanglement_entropy(1, alpha=alpha)


@pytest.mark.parametrize("base", [1, 0, -2], ids=["1", "0", "-2"])
def test_mps_entanglement_entropy_base_bad(base):
    mps = make_state("mps")
    with pytest.raises(ValueError, match=rf"base must be a positive number other than 1, got {base}"):
        mps.entanglement_entropy(1, base=base)


@pytest.mark.parametrize("kind", KINDS)
def test_mutual_information_base_one(kind):
    with pytest.raises(ValueError, match=r"base must be a positive number other than 1, got 1"):
        tq.mutual_information(make_state(kind), [0], [1], base=1)


# ------------------------------------------------- MPS truncation settings

MPS_BUILDERS = {
    "zeros": lambda **kw: tq.MPS.zeros(3, **kw),
    "from_statevector": lambda **kw: tq.MPS.from_statevector(tq.StateVector.zeros(3), **kw),
    "random": lambda **kw: tq.MPS.random(3, bond=2, generator=_generator(), **kw),
}


@pytest.mark.parametrize("build", list(MPS_BUILDERS.values()), ids=list(MPS_BUILDERS))
@pytest.mark.parametrize("max_bond", [0, -3], ids=["0", "-3"])
def test_mps_max_bond_below_one(build, max_bond):
    with pytest.raises(ValueError, match=rf"max_bond must be >= 1 \(or None for no limit\), got {max_bond}"):
        build(max_bond=max_bond)


@pytest.mark.parametrize("build", list(MPS_BUILDERS.values()), ids=list(MPS_BUILDERS))
@pytest.mark.parametrize("max_bond", [2.0, 1.5, True, "4"], ids=["2.0", "1.5", "True", "str"])
def test_mps_max_bond_not_int(build, max_bond):
    with pytest.raises(TypeError, match=rf"max_bond must be an int or None, got {re.escape(repr(max_bond))}"):
        build(max_bond=max_bond)


@pytest.mark.parametrize("build", list(MPS_BUILDERS.values()), ids=list(MPS_BUILDERS))
@pytest.mark.parametrize("cutoff", [-1e-3, -1, NAN], ids=["-1e-3", "-1", "nan"])
def test_mps_cutoff_negative_or_nan(build, cutoff):
    with pytest.raises(ValueError, match=rf"cutoff must be a number >= 0, got {re.escape(repr(cutoff))}"):
        build(cutoff=cutoff)


def test_mps_random_bond_below_one():
    with pytest.raises(ValueError, match=r"bond must be >= 1, got 0"):
        tq.MPS.random(3, bond=0)


def test_mps_from_statevector_not_a_statevector():
    with pytest.raises(TypeError, match=r"from_statevector expects a StateVector, got DensityMatrix"):
        tq.MPS.from_statevector(tq.DensityMatrix.zeros(2))


# ------------------------------------------------------------ Schmidt cuts

BAD_CUTS = [0, 4, -1, 2.5]
BAD_CUT_IDS = ["0", "n", "-1", "2.5"]


@pytest.mark.parametrize("cut", BAD_CUTS, ids=BAD_CUT_IDS)
def test_mps_schmidt_values_cut_outside(cut):
    mps = make_state("mps", n=4)
    with pytest.raises(ValueError, match=rf"cut must be an int in 1\.\.3, got {re.escape(repr(cut))}"):
        mps.schmidt_values(cut)


@pytest.mark.parametrize("cut", BAD_CUTS, ids=BAD_CUT_IDS)
def test_mps_entanglement_entropy_cut_outside(cut):
    mps = make_state("mps", n=4)
    with pytest.raises(ValueError, match=rf"cut must be an int in 1\.\.3, got {re.escape(repr(cut))}"):
        mps.entanglement_entropy(cut)


@pytest.mark.parametrize("kind", ["statevector", "mps", "product"])
@pytest.mark.parametrize("cut", BAD_CUTS, ids=BAD_CUT_IDS)
def test_schmidt_values_cut_outside(kind, cut):
    state = make_state(kind, n=4)
    with pytest.raises(ValueError, match=rf"cut must be an int in 1\.\.3, got {re.escape(repr(cut))}"):
        tq.schmidt_values(state, cut)


def test_schmidt_values_on_density_matrix():
    rho = make_state("density", n=4)
    with pytest.raises(TypeError, match=r"schmidt_values needs a pure state; a DensityMatrix has none"):
        tq.schmidt_values(rho, 2)


def test_schmidt_values_not_a_state():
    with pytest.raises(TypeError, match=r"got ndarray"):
        tq.schmidt_values(np.ones(4) / 2, 1)


# ------------------------------------------------- fidelity and trace distance

DISTANCES = {"fidelity": tq.fidelity, "trace_distance": tq.trace_distance}


@pytest.mark.parametrize("fn", list(DISTANCES.values()), ids=list(DISTANCES))
@pytest.mark.parametrize("kind_a", KINDS)
@pytest.mark.parametrize("kind_b", KINDS)
def test_distance_different_qubit_counts(fn, kind_a, kind_b):
    a, b = make_state(kind_a, n=2), make_state(kind_b, n=3)
    with pytest.raises(ValueError, match=r"states have 2 and 3 qubits; they must match"):
        fn(a, b)


@pytest.mark.parametrize("fn", list(DISTANCES.values()), ids=list(DISTANCES))
@pytest.mark.parametrize("kind_a", KINDS)
@pytest.mark.parametrize("kind_b", KINDS)
def test_distance_different_dtypes(fn, kind_a, kind_b):
    a = make_state(kind_a, dtype=torch.complex64)
    b = make_state(kind_b, dtype=torch.complex128)
    with pytest.raises(ValueError, match=r"dtypes torch\.complex64 and torch\.complex128"):
        fn(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device to hold the second state")
@pytest.mark.parametrize("fn", list(DISTANCES.values()), ids=list(DISTANCES))
@pytest.mark.parametrize("kind_a", KINDS)
@pytest.mark.parametrize("kind_b", KINDS)
def test_distance_different_devices(fn, kind_a, kind_b):
    a = make_state(kind_a)
    b = make_state(kind_b).to("cuda")
    with pytest.raises(ValueError, match=r"states live on cpu and cuda:0; move one with \.to\(\)"):
        fn(a, b)


@pytest.mark.parametrize("fn", list(DISTANCES.values()), ids=list(DISTANCES))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "other, name",
    [(np.eye(8) / 8, "ndarray"), (torch.ones(8, dtype=torch.complex128) / math.sqrt(8), "Tensor"), (None, "NoneType")],
    ids=["ndarray", "tensor", "none"],
)
@pytest.mark.parametrize("first", [True, False], ids=["first", "second"])
def test_distance_non_state_argument(fn, kind, other, name, first):
    state = make_state(kind)
    args = (other, state) if first else (state, other)
    with pytest.raises(TypeError, match=rf"expected a StateVector, DensityMatrix, MPS, ProductState or BlockProductState, got {name}"):
        fn(*args)


# --------------------------------------------- operations a kind cannot hold


def test_product_state_entangling_gate_points_to_mps():
    circuit = tq.Circuit(2).h(0).cx(0, 1)
    with pytest.raises(ValueError, match=r"CX.*entangles the product state.*use tq\.MPS"):
        circuit.run(tq.ProductState.zeros(2))


def test_product_state_entangling_gate_via_apply():
    plus = tq.ProductState.zeros(2).apply(gates.h(0))
    with pytest.raises(ValueError, match=r"entangles the product state.*tq\.MPS"):
        plus.apply(gates.cx(0, 1))


def test_product_state_non_entangling_two_qubit_gate_is_fine():
    # cx after x maps |10> to |11>: still a product state, so no refusal
    state = tq.Circuit(2).x(0).cx(0, 1).run(tq.ProductState.zeros(2, dtype=torch.complex128))
    np.testing.assert_allclose(_np(state.probabilities()), [0, 0, 0, 1], atol=1e-12)


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_channel_via_circuit_points_to_density_matrix(kind):
    circuit = tq.Circuit(2).h(0).depolarizing(0.1, 1)
    state = zeros_state(kind, 2)
    name = type(state).__name__
    with pytest.raises(TypeError, match=rf"channel depolarizing needs a mixed state.*tq\.DensityMatrix\.zeros\(2\).*{name}"):
        circuit.run(state)


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_channel_via_apply_points_to_density_matrix(kind):
    state = zeros_state(kind, 1)
    with pytest.raises(TypeError, match=r"channel amplitude_damping needs a mixed state.*DensityMatrix"):
        state.apply(channels.amplitude_damping(0.2, 0))


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_batched_gate_via_circuit(kind):
    circuit = tq.Circuit(2).ry(torch.tensor([0.1, 0.2, 0.3]), 0)
    state = zeros_state(kind, 2)
    name = type(state).__name__
    with pytest.raises(ValueError, match=rf"batched \(shape \(3,\)\); a {name} holds one state"):
        circuit.run(state)


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_batched_gate_via_apply(kind):
    state = zeros_state(kind, 2)
    with pytest.raises(ValueError, match=r"batched \(shape \(3,\)\)"):
        state.apply(gates.ry(torch.tensor([0.1, 0.2, 0.3]), 1))


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_gate_qubit_out_of_range(kind):
    state = zeros_state(kind, 2)
    with pytest.raises(IndexError, match=r"qubit 2 out of range for 2 qubits"):
        state.apply(gates.x(2))


# ------------------------------------------------------------------ sampling


@pytest.mark.parametrize("kind", ["mps", "product"])
@pytest.mark.parametrize("shots", [0, -3])
def test_sample_shots_below_one(kind, shots):
    with pytest.raises(ValueError, match=rf"shots must be >= 1, got {shots}"):
        zeros_state(kind, 2).sample(shots)


@pytest.mark.parametrize("kind", ["mps", "product"])
@pytest.mark.parametrize("shots", [2.5, 10.0, "10", True], ids=["2.5", "10.0", "str", "bool"])
def test_sample_shots_not_int(kind, shots):
    with pytest.raises(TypeError, match=rf"shots must be an int, got {re.escape(repr(shots))}"):
        zeros_state(kind, 2).sample(shots)


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_sample_70_qubits_needs_bits(kind):
    state = zeros_state(kind, 70)
    with pytest.raises(ValueError, match=r"indices of 70 qubits overflow int64; pass bits=True"):
        state.sample(5)


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_sample_70_qubits_with_bits_works(kind):
    state = zeros_state(kind, 70).apply(gates.x(69))
    outcomes = state.sample(5, generator=_generator(), bits=True)
    assert outcomes.shape == (5, 70)
    expected = torch.zeros(5, 70, dtype=torch.long)
    expected[:, 69] = 1
    assert torch.equal(outcomes, expected)


# ------------------------------------------------------- probability(bits)


@pytest.mark.parametrize("kind", ["mps", "product"])
@pytest.mark.parametrize("bits", ["01", "0101", [0, 1], ""], ids=["short", "long", "short-list", "empty"])
def test_probability_wrong_length(kind, bits):
    state = zeros_state(kind, 3)
    with pytest.raises(ValueError, match=rf"bits must be 3 values of 0 or 1, got {re.escape(repr(bits))}"):
        state.probability(bits)


@pytest.mark.parametrize("kind", ["mps", "product"])
@pytest.mark.parametrize("bits", ["012", [0, 1, 2], [0, -1, 1]], ids=["str-2", "list-2", "list-neg"])
def test_probability_non_binary_digit(kind, bits):
    state = zeros_state(kind, 3)
    with pytest.raises(ValueError, match=rf"bits must be 3 values of 0 or 1, got {re.escape(repr(bits))}"):
        state.probability(bits)


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_probability_non_digit_character(kind):
    # int('x') fails with "invalid literal for int()", which says nothing about 0 or 1
    state = zeros_state(kind, 3)
    with pytest.raises(ValueError, match=r"bits must be 3 values of 0 or 1, got '01x'"):
        state.probability("01x")


@pytest.mark.parametrize("kind", ["mps", "product"])
def test_probability_fractional_bit_is_refused(kind):
    # int(0.5) == 0: without a check this silently answers 1.0, the probability of "000"
    state = zeros_state(kind, 3)
    with pytest.raises(ValueError, match=r"bits must be 3 values of 0 or 1, got \[0, 0\.5, 0\]"):
        state.probability([0, 0.5, 0])


# ------------------------------------------------------ MPS.probabilities


def test_mps_probabilities_qubit_out_of_range():
    with pytest.raises(IndexError, match=r"qubit 3 out of range for 3 qubits \(allowed 0\.\.2\)"):
        make_state("mps").probabilities([0, 3])


def test_mps_probabilities_negative_qubit():
    with pytest.raises(IndexError, match=r"qubit -1 .*is negative"):
        make_state("mps").probabilities([-1])


def test_mps_probabilities_repeated_qubit():
    with pytest.raises(ValueError, match=r"\[1, 1\] repeat a qubit"):
        make_state("mps").probabilities([1, 1])


def test_mps_probabilities_empty():
    with pytest.raises(ValueError, match=r"qubits is empty"):
        make_state("mps").probabilities([])


def test_mps_to_statevector_31_qubits():
    mps = tq.MPS.zeros(31)
    with pytest.raises(ValueError, match=r"dense state of 31 qubits does not fit; keep n <= 30"):
        mps.to_statevector()


def test_mps_probabilities_of_all_31_qubits():
    mps = tq.MPS.zeros(31)
    with pytest.raises(ValueError, match=r"31 qubits does not fit; keep n <= 30"):
        mps.probabilities()


def test_mps_probabilities_of_some_of_31_qubits_is_fine():
    mps = tq.MPS.zeros(31, dtype=torch.complex128).apply(gates.x(30))
    np.testing.assert_allclose(_np(mps.probabilities([30, 0])), [0, 0, 1, 0], atol=1e-12)


# ---------------------------------------------- ProductState constructors


def test_from_angles_two_dimensional_theta():
    with pytest.raises(ValueError, match=r"theta must be a 1-D sequence of n >= 1 angles, got shape \(2, 2\)"):
        tq.ProductState.from_angles([[0.1, 0.2], [0.3, 0.4]])


def test_from_angles_empty_theta():
    with pytest.raises(ValueError, match=r"theta must be a 1-D .*got shape \(0,\)"):
        tq.ProductState.from_angles([])


def test_from_angles_mismatched_phi():
    with pytest.raises(ValueError, match=r"phi has shape \(2,\), theta \(3,\); they must match"):
        tq.ProductState.from_angles([0.1, 0.2, 0.3], phi=[0.0, 1.0])


@pytest.mark.parametrize("which", ["theta", "phi"])
@pytest.mark.parametrize("bad", [NAN, INF], ids=["nan", "inf"])
def test_from_angles_not_finite(which, bad):
    theta, phi = [0.1, 0.2], [0.0, 0.5]
    (theta if which == "theta" else phi)[1] = bad
    with pytest.raises(ValueError, match=rf"Bloch angle values must be finite, got {bad}"):
        tq.ProductState.from_angles(theta, phi)


def test_from_vectors_shape_3x3():
    with pytest.raises(ValueError, match=r"vectors must have shape \(n, 2\), got \(3, 3\)"):
        tq.ProductState.from_vectors(np.eye(3))


def test_from_vectors_one_dimensional():
    with pytest.raises(ValueError, match=r"vectors must have shape \(n, 2\), got \(2,\)"):
        tq.ProductState.from_vectors([1.0, 0.0])


def test_from_vectors_not_normalised():
    with pytest.raises(ValueError, match=r"vector of qubit 1 has norm 1\.41421, not 1 \(pass normalize=True\)"):
        tq.ProductState.from_vectors([[1.0, 0.0], [1.0, 1.0]])


def test_from_vectors_not_normalised_accepted_with_normalize():
    state = tq.ProductState.from_vectors([[3.0, 4.0], [1.0, 1.0]], normalize=True)
    assert state.num_qubits == 2
    expected = np.array([[0.6, 0.8], [1 / math.sqrt(2), 1 / math.sqrt(2)]])
    np.testing.assert_allclose(_np(state.vectors), expected, atol=1e-12)
    assert abs(state.norm().item() - 1) < 1e-12


def test_from_vectors_zero_row_with_normalize():
    # the message must say which row is zero, as the non-normalised message does
    with pytest.raises(ValueError, match=r"qubit 1 is zero"):
        tq.ProductState.from_vectors([[1.0, 0.0], [0.0, 0.0]], normalize=True)


def test_from_vectors_nan():
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        tq.ProductState.from_vectors([[NAN, 0.0], [1.0, 0.0]])


# ------------------------------------------------------------- tensor core


@pytest.mark.parametrize("max_rank", [0, -1, 1.5, True], ids=["0", "-1", "1.5", "True"])
def test_truncated_svd_max_rank_bad(max_rank):
    with pytest.raises(ValueError, match=rf"max_rank must be a positive int or None, got {re.escape(repr(max_rank))}"):
        truncated_svd(torch.eye(3, dtype=torch.float64), max_rank=max_rank)


@pytest.mark.parametrize("cutoff", [-1, -1e-9, NAN], ids=["-1", "-1e-9", "nan"])
def test_truncated_svd_cutoff_bad(cutoff):
    with pytest.raises(ValueError, match=rf"cutoff must be >= 0, got {re.escape(repr(cutoff))}"):
        truncated_svd(torch.eye(3, dtype=torch.float64), cutoff=cutoff)


def test_tt_from_dense_shape_does_not_match_size():
    with pytest.raises(ValueError, match=r"shape \[2, 3, 5\] does not match a tensor of 24 entries"):
        tt_from_dense(torch.zeros(24, dtype=torch.float64), shape=[2, 3, 5])


def test_tt_from_dense_negative_mode_sizes_with_matching_product():
    # (-2) * (-4) == 8 passes a product-only check; torch then fails with a RuntimeError
    with pytest.raises(ValueError, match=r"\[-2, -4\]"):
        tt_from_dense(torch.zeros(8, dtype=torch.float64), shape=[-2, -4])


def _train(modes, rank=2):
    g = _generator(5)
    ranks = [1] + [rank] * (len(modes) - 1) + [1]
    return [torch.randn(ranks[k], m, ranks[k + 1], generator=g, dtype=torch.float64) for k, m in enumerate(modes)]


def test_tt_inner_different_mode_sizes():
    with pytest.raises(ValueError, match=r"different mode sizes.*\[2, 2\].*\[3, 2\]"):
        tt_inner(_train([2, 2]), _train([3, 2]))


def test_tt_inner_different_lengths():
    with pytest.raises(ValueError, match=r"different mode sizes.*\[2, 2\].*\[2, 2, 2\]"):
        tt_inner(_train([2, 2]), _train([2, 2, 2]))


def test_ttm_from_dense_matrix_shape_mismatch():
    with pytest.raises(ValueError, match=r"matrix of shape \(4, 4\) does not match \[2, 2\] x \[2, 3\]"):
        ttm_from_dense(torch.zeros(4, 4, dtype=torch.float64), [2, 2], [2, 3])


def test_ttm_from_dense_shape_lengths_mismatch():
    with pytest.raises(ValueError, match=r"out_shape \[2, 2\] and in_shape \[4\] must have the same length"):
        ttm_from_dense(torch.zeros(4, 4, dtype=torch.float64), [2, 2], [4])


@pytest.mark.parametrize("center", [3, -1, 10])
def test_tt_orthogonalize_center_out_of_range(center):
    with pytest.raises(IndexError, match=rf"center {center} out of range for 3 cores"):
        tt_orthogonalize(_train([2, 2, 2]), center)


def test_mps_canonical_center_out_of_range():
    with pytest.raises(IndexError, match=r"center 3 out of range for 3 sites"):
        make_state("mps").canonical(3)


# ------------------------------------------------- MPS constructor (public)


def test_mps_constructor_cores_that_do_not_chain():
    cores = [torch.zeros(1, 2, 2, dtype=torch.complex128), torch.zeros(3, 2, 1, dtype=torch.complex128)]
    with pytest.raises(ValueError, match=r"cores 0 and 1 do not chain: ranks 2 and 3"):
        tq.MPS(cores)


def test_mps_constructor_center_out_of_range():
    cores = [c for c in tq.MPS.zeros(2, dtype=torch.complex128).cores]
    with pytest.raises(IndexError, match=r"center 5 out of range for 2"):
        tq.MPS(cores, center=5)
