"""Random circuits for tests: a tqsim Circuit plus the independent oracle of each gate."""

from __future__ import annotations

import numpy as np

import tqsim as tq

from oracles import embed, qutip_gate, random_unitary

ARITY = {
    **{g: 1 for g in ["x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "phase", "u3"]},
    **{g: 2 for g in ["cx", "cy", "cz", "swap", "iswap", "cphase", "crx", "cry", "crz", "rxx", "ryy", "rzz"]},
    "ccx": 3, "cswap": 3, "unitary": 2,
}
PARAMS = {"rx": 1, "ry": 1, "rz": 1, "phase": 1, "cphase": 1, "crx": 1, "cry": 1, "crz": 1,
          "rxx": 1, "ryy": 1, "rzz": 1, "u3": 3}


def random_circuit(n: int, num_gates: int, rng, names=None, groups=None, circuit=None, oracle=None):
    """Returns (circuit, [(oracle matrix, qubits), ...]).

    With ``groups`` (lists of qubits), each gate acts inside one group drawn at
    random; gates are appended to ``circuit`` and ``oracle`` when those are given.
    """
    circuit = tq.Circuit(n) if circuit is None else circuit
    oracle = [] if oracle is None else oracle
    for _ in range(num_gates):
        group = groups[rng.integers(len(groups))] if groups else None
        size = n if group is None else len(group)
        allowed = [g for g in (names or ARITY) if ARITY[g] <= size]
        name = allowed[rng.integers(len(allowed))]
        qubits = [int(q) for q in rng.choice(size if group is None else group, size=ARITY[name], replace=False)]
        params = tuple(float(a) for a in rng.uniform(-np.pi, np.pi, size=PARAMS.get(name, 0)))
        if name == "unitary":
            u = random_unitary(2, rng)
            circuit.unitary(u, qubits)
            oracle.append((u, qubits))
            continue
        getattr(circuit, name)(*params, *qubits)
        oracle.append((qutip_gate(name, params), qubits))
    return circuit, oracle


def oracle_state(n: int, oracle, psi0: np.ndarray) -> np.ndarray:
    psi = psi0.astype(complex)
    for matrix, qubits in oracle:
        psi = embed(matrix, qubits, n) @ psi
    return psi


def oracle_unitary(n: int, oracle) -> np.ndarray:
    u = np.eye(2**n, dtype=complex)
    for matrix, qubits in oracle:
        u = embed(matrix, qubits, n) @ u
    return u
