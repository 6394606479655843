"""Reference constructions written independently of tqsim (NumPy, and QuTiP where named).

QuTiP is imported inside the functions that use it, so GPU tests run where only NumPy is.
"""

from __future__ import annotations

import numpy as np


def embed(matrix: np.ndarray, qubits: list[int], n: int) -> np.ndarray:
    """Full 2**n matrix of ``matrix`` acting on ``qubits`` (big-endian), built
    from a Kronecker product with the identity and an explicit permutation of
    basis states."""
    k = len(qubits)
    rest = [q for q in range(n) if q not in qubits]
    full = np.kron(matrix, np.eye(2 ** (n - k)))
    order = list(qubits) + rest  # tensor factor j of `full` is qubit order[j]
    dim = 2**n
    perm = np.zeros(dim, dtype=int)
    for index in range(dim):
        bits = [(index >> (n - 1 - q)) & 1 for q in range(n)]
        permuted = [bits[q] for q in order]
        perm[index] = int("".join(map(str, permuted)), 2)
    # full acts on permuted indices: M[i, j] = full[perm[i], perm[j]]
    return full[np.ix_(perm, perm)]


def expm_pauli(theta: float, letters: str) -> np.ndarray:
    """exp(-i theta/2 P) for a Pauli word such as 'XX'."""
    import qutip
    import scipy.linalg

    paulis = {"X": qutip.sigmax(), "Y": qutip.sigmay(), "Z": qutip.sigmaz()}
    op = qutip.tensor([paulis[c] for c in letters]).full()
    return scipy.linalg.expm(-0.5j * theta * op)


def qutip_gate(name: str, params: tuple) -> np.ndarray:
    """The matrix of a gate from qutip-qip (or its defining formula)."""
    import qutip
    import qutip_qip.operations as qops

    p = params
    table = {
        "i": lambda: qutip.qeye(2),
        "x": qops.x_gate, "y": qops.y_gate, "z": qops.z_gate, "h": qops.snot,
        "s": qops.s_gate, "t": qops.t_gate, "sx": qops.sqrtnot,
        "sdg": lambda: qops.s_gate().dag(), "tdg": lambda: qops.t_gate().dag(),
        "sxdg": lambda: qops.sqrtnot().dag(),
        "rx": lambda: qops.rx(p[0]), "ry": lambda: qops.ry(p[0]), "rz": lambda: qops.rz(p[0]),
        "phase": lambda: qops.phasegate(p[0]),
        # OpenQASM U3 = exp(i(phi+lam)/2) * RZ(phi) RY(theta) RZ(lam); qutip's qasmu drops the phase
        "u3": lambda: np.exp(0.5j * (p[1] + p[2])) * qops.qasmu_gate([p[0], p[1], p[2]]).full(),
        "cx": qops.cnot, "cy": qops.cy_gate, "cz": qops.cz_gate, "swap": qops.swap,
        "iswap": qops.iswap, "cphase": lambda: qops.cphase(p[0]),
        "crx": lambda: qops.controlled_gate(qops.rx(p[0])),
        "cry": lambda: qops.controlled_gate(qops.ry(p[0])),
        "crz": lambda: qops.controlled_gate(qops.rz(p[0])),
        "rxx": lambda: expm_pauli(p[0], "XX"), "ryy": lambda: expm_pauli(p[0], "YY"),
        "rzz": lambda: expm_pauli(p[0], "ZZ"),
        "ccx": qops.toffoli, "cswap": qops.fredkin,
    }
    m = table[name]()
    return m.full() if hasattr(m, "full") else np.asarray(m)


def random_unitary(k: int, rng) -> np.ndarray:
    z = (rng.normal(size=(2**k, 2**k)) + 1j * rng.normal(size=(2**k, 2**k))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))


def random_state(n: int, rng) -> np.ndarray:
    v = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    return v / np.linalg.norm(v)
