"""Bad input is refused with ValueError, TypeError or IndexError naming the bad value.

DESIGN.md's error policy: every public function raises one of those three for
bad input, with a message that names the bad value and what is allowed; never
a silent wrong result, never a bare assert. Each test below pins one case and
checks the message with a regex, so a refusal with an unhelpful message fails.
"""

import math
import re

import numpy as np
import pytest
import torch

import tqsim as tq
from tqsim import channels, cli, gates

NAN = float("nan")
INF = float("inf")


def _perturbed_identity(eps: float, dtype: torch.dtype) -> torch.Tensor:
    """I with the (0, 0) entry off by ``eps``: max |U U^dagger - I| is about 2 eps."""
    u = torch.eye(2, dtype=dtype)
    u[0, 0] = 1 + eps
    return u


# ------------------------------------------------------- qubit out of range


def test_gate_qubit_out_of_range_on_circuit():
    with pytest.raises(IndexError, match=r"qubit 3 out of range for 3 qubits.*0\.\.2"):
        tq.Circuit(3).h(3)


def test_two_qubit_gate_qubit_out_of_range_on_circuit():
    with pytest.raises(IndexError, match=r"qubit 5 out of range for 2 qubits.*0\.\.1"):
        tq.Circuit(2).cx(0, 5)


def test_append_prebuilt_gate_out_of_range():
    with pytest.raises(IndexError, match=r"qubit 4 out of range for 2 qubits"):
        tq.Circuit(2).append(gates.rx(0.1, 4))


def test_state_apply_qubit_out_of_range():
    psi = tq.StateVector.zeros(2)
    with pytest.raises(IndexError, match=r"qubit 2 out of range for 2 qubits.*0\.\.1"):
        psi.apply(gates.x(2))


def test_density_apply_qubit_out_of_range():
    rho = tq.DensityMatrix.zeros(2)
    with pytest.raises(IndexError, match=r"qubit 7 out of range for 2 qubits"):
        rho.apply(gates.h(7))


def test_partial_trace_keep_out_of_range():
    psi = tq.StateVector.zeros(3)
    with pytest.raises(IndexError, match=r"keep qubit 3 out of range for 3 qubits.*0\.\.2"):
        tq.partial_trace(psi, keep=[0, 3])


def test_partial_trace_keep_out_of_range_density():
    rho = tq.DensityMatrix.zeros(2)
    with pytest.raises(IndexError, match=r"keep qubit 2 out of range for 2 qubits"):
        tq.partial_trace(rho, keep=[2])


def test_entropy_subsystem_out_of_range():
    psi = tq.StateVector.zeros(3)
    with pytest.raises(IndexError, match=r"subsystem qubit 4 out of range for 3 qubits"):
        tq.entropy(psi, subsystem=[4])


def test_purity_subsystem_out_of_range():
    with pytest.raises(IndexError, match=r"qubit 2 out of range for 2 qubits"):
        tq.purity(tq.StateVector.zeros(2), [2])


# ------------------------------------------------------------ negative qubit


def test_negative_qubit_in_gate():
    with pytest.raises(IndexError, match=r"qubit -1 .*negative"):
        tq.Circuit(2).h(-1)


def test_negative_qubit_in_two_qubit_gate():
    with pytest.raises(IndexError, match=r"qubit -2 .*negative"):
        gates.cx(0, -2)


def test_negative_qubit_in_partial_trace():
    with pytest.raises(IndexError, match=r"qubit -1 .*negative"):
        tq.partial_trace(tq.StateVector.zeros(2), keep=[-1])


def test_negative_qubit_in_entropy():
    with pytest.raises(IndexError, match=r"qubit -1 .*negative"):
        tq.entropy(tq.StateVector.zeros(2), subsystem=[-1])


def test_float_qubit_is_type_error():
    with pytest.raises(TypeError, match=r"must be ints, got 1\.0"):
        tq.Circuit(2).x(1.0)


# ----------------------------------------------------------- repeated qubits


def test_cx_repeated_qubit():
    with pytest.raises(ValueError, match=r"\[1, 1\].*repeat"):
        gates.cx(1, 1)


def test_circuit_cx_repeated_qubit():
    with pytest.raises(ValueError, match=r"\[1, 1\].*repeat"):
        tq.Circuit(3).cx(1, 1)


def test_unitary_repeated_qubit():
    with pytest.raises(ValueError, match=r"\[0, 0\].*repeat"):
        tq.Circuit(2).unitary(torch.eye(4, dtype=torch.complex128), [0, 0])


def test_controlled_controls_and_targets_overlap():
    with pytest.raises(ValueError, match=r"\[1\].*both control and target"):
        gates.controlled(gates.x(0).matrix(torch.complex128), controls=[0, 1], targets=[1])


def test_controlled_repeated_control():
    with pytest.raises(ValueError, match=r"controls \[0, 0\].*repeat"):
        gates.controlled(gates.x(0).matrix(torch.complex128), controls=[0, 0], targets=[1])


def test_partial_trace_repeated_keep():
    with pytest.raises(ValueError, match=r"keep \[0, 0\].*repeat"):
        tq.partial_trace(tq.StateVector.zeros(2), keep=[0, 0])


# ------------------------------------------------------------- matrix shapes


def test_unitary_3x3_shape():
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*got \(3, 3\)"):
        gates.unitary(torch.eye(3, dtype=torch.complex128), [0])


def test_unitary_2x2_on_two_qubits():
    with pytest.raises(ValueError, match=r"2 qubit\(s\) must have shape \(4, 4\).*got \(2, 2\)"):
        tq.Circuit(2).unitary(torch.eye(2, dtype=torch.complex128), [0, 1])


def test_controlled_wrong_shape():
    with pytest.raises(ValueError, match=r"1 qubit\(s\) must have shape \(2, 2\).*got \(4, 4\)"):
        gates.controlled(torch.eye(4, dtype=torch.complex128), controls=[0], targets=[1])


def test_unitary_not_a_matrix():
    with pytest.raises(TypeError, match=r"must be a matrix.*got object"):
        gates.unitary(object(), [0])


# ------------------------------------------------------- non-unitary matrices


def test_non_unitary_complex128_off_by_1e6_is_refused():
    u = _perturbed_identity(1e-6, torch.complex128)
    with pytest.raises(ValueError, match=r"not unitary.*= 2e-06 exceeds 1\.5e-08.*complex128"):
        gates.unitary(u, [0])


def test_non_unitary_complex64_off_by_1e6_is_accepted():
    u = _perturbed_identity(1e-6, torch.complex64)
    gate = gates.unitary(u, [0])
    assert gate.qubits == (0,)
    # and it runs: |0> stays |0> up to the 1e-6 error
    psi = tq.StateVector.zeros(1, dtype=torch.complex64).apply(gate)
    assert abs(psi.amplitudes()[0].item() - 1) < 1e-5


def test_non_unitary_complex64_off_by_1e2_is_refused():
    u = _perturbed_identity(1e-2, torch.complex64)
    with pytest.raises(ValueError, match=r"not unitary.*= 0\.02\d* exceeds 3\.5e-04.*complex64"):
        gates.unitary(u, [0])


def test_non_unitary_controlled_matrix():
    m = torch.tensor([[1, 1], [0, 1]], dtype=torch.complex128)
    with pytest.raises(ValueError, match=r"controlled matrix is not unitary.*= 1 exceeds"):
        tq.Circuit(2).controlled(m, [0], [1])


def test_unitary_with_nan_entry():
    u = torch.eye(2, dtype=torch.complex128)
    u[1, 1] = complex(NAN, 0)
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        gates.unitary(u, [0])


# ------------------------------------------------------------- NaN / inf angles


@pytest.mark.parametrize("bad", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
def test_float_angle_not_finite(bad):
    with pytest.raises(ValueError, match=rf"rx angle must be finite, got {re.escape(str(bad))}"):
        tq.Circuit(1).rx(bad, 0)


def test_float_angle_nan_in_u3():
    with pytest.raises(ValueError, match=r"u3 phi must be finite, got nan"):
        gates.u3(0.1, NAN, 0.2, 0)


def test_tensor_angle_nan_refused_when_run():
    c = tq.Circuit(2).h(0).ry(torch.tensor(NAN), 1)  # building is allowed
    with pytest.raises(ValueError, match=r"angle values must be finite, got nan"):
        c.run()


def test_tensor_angle_inf_refused_when_run_on_density():
    c = tq.Circuit(1).rz(torch.tensor(INF, requires_grad=True), 0)
    with pytest.raises(ValueError, match=r"angle values must be finite, got inf"):
        c.run(tq.DensityMatrix.zeros(1))


def test_batched_tensor_angle_with_one_nan_refused_when_run():
    theta = torch.tensor([0.1, NAN, 0.3])
    c = tq.Circuit(1).rx(theta, 0)
    with pytest.raises(ValueError, match=r"angle values must be finite, got nan"):
        c.run()


def test_tensor_angle_nan_refused_by_gate_matrix():
    gate = gates.rx(torch.tensor(NAN), 0)
    with pytest.raises(ValueError, match=r"rx angle values must be finite, got nan"):
        gate.matrix()


def test_tensor_angle_inf_refused_by_to_matrix():
    c = tq.Circuit(2).rzz(torch.tensor(-INF), 0, 1)
    with pytest.raises(ValueError, match=r"finite, got -inf"):
        c.to_matrix()


def test_angle_tensor_two_dimensional():
    with pytest.raises(ValueError, match=r"scalar or a 1-D batch, got shape \(2, 2\)"):
        gates.ry(torch.zeros(2, 2), 0)


# ----------------------------------------------------- state of another size


def test_run_on_state_with_fewer_qubits():
    with pytest.raises(ValueError, match=r"state has 2 qubits but the circuit acts on 3"):
        tq.Circuit(3).run(tq.StateVector.zeros(2))


def test_run_on_density_with_more_qubits():
    with pytest.raises(ValueError, match=r"state has 3 qubits but the circuit acts on 2"):
        tq.Circuit(2).h(0).run(tq.DensityMatrix.zeros(3))


def test_run_on_not_a_state():
    with pytest.raises(TypeError, match=r"got ndarray"):
        tq.Circuit(1).run(np.array([1, 0]))


# ---------------------------------------------------------------- channels


def test_kraus_not_trace_preserving():
    ops = [math.sqrt(0.5) * np.eye(2)]
    with pytest.raises(ValueError, match=r"not trace preserving.*= 0\.5 exceeds"):
        channels.kraus(ops, [0])


def test_kraus_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(K, 2, 2\), got \(1, 4, 4\)"):
        channels.kraus([np.eye(4)], [0])


@pytest.mark.parametrize("p", [-0.1, 1.5, NAN], ids=["negative", "above-one", "nan"])
def test_depolarizing_probability_outside_unit_interval(p):
    with pytest.raises(ValueError, match=rf"must lie in \[0, 1\], got {re.escape(str(p))}"):
        channels.depolarizing(p, 0)


def test_amplitude_damping_tensor_probability_above_one():
    with pytest.raises(ValueError, match=r"gamma must lie in \[0, 1\], got 1\.25"):
        tq.Circuit(1).amplitude_damping(torch.tensor(1.25, requires_grad=True), 0)


def test_phase_damping_probability_negative_on_density():
    with pytest.raises(ValueError, match=r"lambda must lie in \[0, 1\], got -0\.5"):
        tq.DensityMatrix.zeros(1).phase_damping(-0.5, 0)


def test_channel_on_statevector_via_circuit():
    c = tq.Circuit(2).h(0).depolarizing(0.1, 1)
    with pytest.raises(TypeError, match=r"depolarizing.*DensityMatrix\.zeros\(2\).*StateVector"):
        c.run(tq.StateVector.zeros(2))


def test_channel_on_statevector_via_apply():
    with pytest.raises(TypeError, match=r"amplitude_damping.*DensityMatrix"):
        tq.StateVector.zeros(1).apply(channels.amplitude_damping(0.2, 0))


# ----------------------------------------------------------- Pauli strings


def test_unknown_pauli_letter_in_text():
    with pytest.raises(ValueError, match=r"unknown Pauli letter 'W' in 'W0'.*I, X, Y, Z"):
        tq.PauliSum.from_string("W0")


def test_unknown_pauli_letter_in_mapping():
    with pytest.raises(ValueError, match=r"unknown Pauli letter 'W' on qubit 0.*I, X, Y, Z"):
        tq.PauliString({0: "W"})


@pytest.mark.parametrize("letter", ["XY", "IX", "ZZ", ""], ids=["XY", "IX", "ZZ", "empty"])
def test_multi_letter_or_empty_pauli_in_mapping(letter):
    # a letter must be exactly one of I, X, Y, Z; a substring test lets "XY" through
    with pytest.raises(ValueError, match=rf"unknown Pauli letter {re.escape(repr(letter))}"):
        tq.PauliString({0: letter})


@pytest.mark.parametrize(
    "text, bad",
    [
        ("Z", r"'Z'"),               # letter without qubit
        ("Z0 +", r"'Z0 \+'"),       # dangling operator
        ("Z0 X1 0.5", r"'0\.5'"),   # number after the Paulis
        ("Z-1", r"'Z-1'"),          # negative qubit
        ("Z0 $ X1", r"'\$ X1'"),    # junk character
        ("", r"''"),                # empty
    ],
    ids=["no-qubit", "dangling-plus", "late-number", "negative", "junk", "empty"],
)
def test_malformed_pauli_string(text, bad):
    with pytest.raises(ValueError, match=bad):
        tq.PauliSum.from_string(text)


def test_two_terms_in_pauli_string_constructor():
    with pytest.raises(ValueError, match=r"'Z0 \+ X1' has 2 terms"):
        tq.PauliString("Z0 + X1")


def test_repeated_qubit_inside_pauli_term():
    with pytest.raises(ValueError, match=r"qubit 1 appears twice in one term of 'Z0 X1 Y1'"):
        tq.PauliSum.from_string("Z0 X1 Y1")


def test_repeated_qubit_inside_second_pauli_term():
    with pytest.raises(ValueError, match=r"qubit 0 appears twice.*'X1 \+ Z0 Z0'"):
        tq.PauliSum.from_string("X1 + Z0 Z0")


def test_pauli_qubit_beyond_state_at_expectation():
    psi = tq.StateVector.zeros(2)
    with pytest.raises(IndexError, match=r"names qubit 5, out of range for 2 qubits.*0\.\.1"):
        psi.expectation("Z0 + X5")


def test_pauli_qubit_beyond_density_at_expectation():
    rho = tq.DensityMatrix.zeros(2)
    with pytest.raises(IndexError, match=r"names qubit 2, out of range for 2 qubits"):
        rho.expectation(tq.PauliString({2: "Z"}))


def test_identity_factor_beyond_state_is_still_out_of_range():
    psi = tq.StateVector.zeros(2)
    with pytest.raises(IndexError, match=r"names qubit 7, out of range for 2 qubits"):
        psi.expectation("Z0 I7")
    with pytest.raises(IndexError, match=r"names qubit 5, out of range"):
        psi.expectation(tq.PauliString({5: "I"}))


def test_density_matrix_with_negative_eigenvalue():
    with pytest.raises(ValueError, match=r"not positive semidefinite: eigenvalue -0\.5"):
        tq.DensityMatrix.from_array(np.diag([1.5, -0.5]))


def test_negative_pauli_qubit_in_mapping():
    with pytest.raises(IndexError, match=r"qubit -3 .*negative"):
        tq.PauliString({-3: "Z"})


def test_complex_pauli_coefficient():
    with pytest.raises(TypeError, match=r"real number.*got 1j"):
        tq.PauliString({0: "Z"}, coefficient=1j)


# ------------------------------------------------------------------ sampling


@pytest.mark.parametrize("shots", [0, -3])
def test_sample_shots_below_one(shots):
    with pytest.raises(ValueError, match=rf"shots must be >= 1, got {shots}"):
        tq.StateVector.zeros(2).sample(shots)


@pytest.mark.parametrize("shots", [2.5, 10.0, "10", True], ids=["2.5", "10.0", "str", "bool"])
def test_sample_shots_not_int(shots):
    with pytest.raises(TypeError, match=rf"shots must be an int, got {re.escape(repr(shots))}"):
        tq.StateVector.zeros(2).sample(shots)


def test_sample_shots_not_int_density():
    with pytest.raises(TypeError, match=r"shots must be an int, got 1\.5"):
        tq.DensityMatrix.zeros(1).sample(1.5)


# -------------------------------------------------------------------- device


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful on a machine without CUDA")
def test_cuda_requested_without_cuda_statevector():
    with pytest.raises(ValueError, match=r"'cuda' requested but CUDA is not available.*device='cpu'"):
        tq.StateVector.zeros(2, device="cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful on a machine without CUDA")
def test_cuda_requested_without_cuda_density():
    with pytest.raises(ValueError, match=r"'cuda:0' requested but CUDA is not available"):
        tq.DensityMatrix.zeros(1, device="cuda:0")


def test_unknown_device_string():
    with pytest.raises(ValueError, match=r"unknown device 'gpu7'"):
        tq.StateVector.zeros(1, device="gpu7")


def test_cuda_index_beyond_device_count():
    index = torch.cuda.device_count() + 3
    with pytest.raises(ValueError, match=rf"'cuda:{index}'"):
        tq.StateVector.zeros(1, device=f"cuda:{index}")


# ------------------------------------------------------------------- dtypes


def test_float32_dtype_statevector():
    with pytest.raises(TypeError, match=r"complex64 or torch\.complex128, got torch\.float32"):
        tq.StateVector.zeros(2, dtype=torch.float32)


def test_float64_dtype_density():
    with pytest.raises(TypeError, match=r"got torch\.float64"):
        tq.DensityMatrix.zeros(2, dtype=torch.float64)


def test_float32_dtype_from_array():
    with pytest.raises(TypeError, match=r"got torch\.float32"):
        tq.StateVector.from_array([1.0, 0.0], dtype=torch.float32)


def test_float32_dtype_gate_matrix():
    with pytest.raises(TypeError, match=r"got torch\.float32"):
        gates.h(0).matrix(dtype=torch.float32)


def test_float32_dtype_state_to():
    with pytest.raises(TypeError, match=r"got torch\.float32"):
        tq.StateVector.zeros(1).to(dtype=torch.float32)


# ------------------------------------------------------------- from_array


def test_statevector_from_array_length_not_power_of_two():
    with pytest.raises(ValueError, match=r"2\*\*n, got shape \(3,\)"):
        tq.StateVector.from_array([1.0, 0.0, 0.0])


def test_statevector_from_array_batch_length_not_power_of_two():
    with pytest.raises(ValueError, match=r"2\*\*n, got shape \(2, 6\)"):
        tq.StateVector.from_array(torch.ones(2, 6, dtype=torch.complex128) / math.sqrt(6))


def test_statevector_from_array_single_amplitude():
    with pytest.raises(ValueError, match=r"at least one qubit"):
        tq.StateVector.from_array([1.0])


def test_statevector_from_array_not_normalized():
    with pytest.raises(ValueError, match=r"norm 2, not 1.*normalize=True"):
        tq.StateVector.from_array([2.0, 0.0])


def test_norm_message_names_the_worst_batch_entry_with_enough_digits():
    # entry 0 is fine, entry 1 is off; 1 + 3e-8 must not print as "1"
    batch = torch.tensor([[1.0, 0.0], [1.5, 0.0]], dtype=torch.complex128)
    with pytest.raises(ValueError, match=r"norm 1\.5, not 1"):
        tq.StateVector.from_array(batch)
    with pytest.raises(ValueError, match=r"norm 1\.00000003\d*, not 1"):
        tq.StateVector.from_array(torch.tensor([1 + 3e-8, 0.0], dtype=torch.complex128))
    with pytest.raises(ValueError, match=r"trace 1\.5, not 1"):
        tq.DensityMatrix.from_array(torch.stack([torch.eye(2) / 2, torch.eye(2) * 0.75]).to(torch.complex128))


def test_statevector_from_array_not_normalized_complex64():
    # 1e-2 off is far above complex64's sqrt(eps) = 3.5e-4
    with pytest.raises(ValueError, match=r"norm 1\.01, not 1"):
        tq.StateVector.from_array(torch.tensor([1.01, 0.0], dtype=torch.complex64))


def test_statevector_from_array_normalize_true_accepts():
    psi = tq.StateVector.from_array([3.0, 4.0], normalize=True)
    assert psi.num_qubits == 1
    np.testing.assert_allclose(psi.amplitudes().numpy(), [0.6, 0.8], atol=1e-12)
    assert abs(psi.norm().item() - 1) < 1e-12


def test_statevector_from_array_normalize_zero_vector():
    with pytest.raises(ValueError, match=r"zero vector"):
        tq.StateVector.from_array([0.0, 0.0], normalize=True)


def test_statevector_from_array_nan():
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        tq.StateVector.from_array([NAN, 1.0])


def test_density_from_array_not_hermitian():
    rho = [[0.5, 0.5], [0.0, 0.5]]
    with pytest.raises(ValueError, match=r"not Hermitian: max \|rho - rho\^dagger\| = 0\.5"):
        tq.DensityMatrix.from_array(rho)


def test_density_from_array_trace_not_one():
    with pytest.raises(ValueError, match=r"trace 2, not 1"):
        tq.DensityMatrix.from_array(np.eye(2))


def test_density_from_array_not_square():
    with pytest.raises(ValueError, match=r"got \(2, 4\)"):
        tq.DensityMatrix.from_array(np.zeros((2, 4)))


def test_density_from_array_size_not_power_of_two():
    with pytest.raises(ValueError, match=r"2\*\*n, got shape \(3, 3\)"):
        tq.DensityMatrix.from_array(np.eye(3) / 3)


# ------------------------------------------------------------------ circuits


def test_to_matrix_more_than_12_qubits():
    with pytest.raises(ValueError, match=r"n = 13 exceeds 12"):
        tq.Circuit(13).h(0).to_matrix()


def test_to_matrix_with_channel():
    with pytest.raises(TypeError, match=r"channel depolarizing has no unitary"):
        tq.Circuit(1).depolarizing(0.1, 0).to_matrix()


def test_inverse_with_channel():
    c = tq.Circuit(2).h(0).amplitude_damping(0.3, 1).cx(0, 1)
    with pytest.raises(TypeError, match=r"channel amplitude_damping has no inverse"):
        c.inverse()


def test_circuit_zero_qubits():
    with pytest.raises(ValueError, match=r"must be >= 1, got 0"):
        tq.Circuit(0)


def test_circuit_negative_qubits():
    with pytest.raises(ValueError, match=r"must be >= 1, got -2"):
        tq.Circuit(-2)


@pytest.mark.parametrize("n", [2.0, 2.5, "3", True], ids=["2.0", "2.5", "str", "bool"])
def test_circuit_non_int_qubits(n):
    with pytest.raises(TypeError, match=rf"number of qubits must be an int, got {re.escape(repr(n))}"):
        tq.Circuit(n)


def test_statevector_zeros_zero_qubits():
    with pytest.raises(ValueError, match=r"must be >= 1, got 0"):
        tq.StateVector.zeros(0)


def test_append_not_an_operation():
    with pytest.raises(TypeError, match=r"got str"):
        tq.Circuit(1).append("h")


def test_compose_different_sizes():
    with pytest.raises(ValueError, match=r"circuits of 2 and 3 qubits"):
        tq.Circuit(2).compose(tq.Circuit(3))


# ------------------------------------------------------------------- entropy


@pytest.mark.parametrize("alpha", [0, -1, -0.5, NAN], ids=["0", "-1", "-0.5", "nan"])
def test_entropy_alpha_not_positive(alpha):
    psi = tq.Circuit(2).h(0).cx(0, 1).run()
    with pytest.raises(ValueError, match=rf"alpha must be a number > 0.*got {re.escape(repr(alpha))}"):
        tq.entropy(psi, [0], alpha=alpha)


def test_entropy_base_one():
    with pytest.raises(ValueError, match=r"base must be a positive number other than 1, got 1"):
        tq.entropy(tq.StateVector.zeros(2), [0], base=1)


def test_entropy_empty_subsystem():
    with pytest.raises(ValueError, match=r"subsystem is empty"):
        tq.entropy(tq.StateVector.zeros(2), [])


def test_entropy_not_a_state():
    with pytest.raises(TypeError, match=r"ndarray"):
        tq.entropy(np.eye(2), [0])


def test_partial_trace_not_a_state():
    with pytest.raises(TypeError, match=r"ndarray"):
        tq.partial_trace(np.eye(2), [0])


# ----------------------------------------------------------------------- CLI


def test_cli_demo_too_many_qubits(capsys):
    code = cli.main(["demo", "--qubits", "40"])
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "40" in lines[0] and "2..12" in lines[0]
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_cli_demo_too_few_qubits(capsys):
    code = cli.main(["demo", "--qubits", "1"])
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "got 1" in lines[0]
    assert "Traceback" not in captured.err


def test_cli_demo_nan_angle(capsys):
    code = cli.main(["demo", "--angle", "nan"])
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "nan" in lines[0]
    assert "Traceback" not in captured.err


def test_check_tolerances_follow_the_dtype():
    from tqsim import _checks

    assert _checks.tolerance(torch.complex128) == pytest.approx(2.0**-26, rel=1e-12)  # sqrt(eps64)
    assert _checks.tolerance(torch.complex64) == pytest.approx(2.0**-11.5, rel=1e-6)  # sqrt(eps32)
    assert _checks.bits("0101", 4) == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="4 values of 0 or 1"):
        _checks.bits([0, 1, 2, 0], 4)
