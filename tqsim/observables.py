"""Pauli strings and sums, and their expectation values on any state kind.

The classes live in :mod:`tqsim.paulis`, below the state kinds (which parse
observables given as text), and are re-exported here. An expectation value
is the state's own ``pauli_expectation`` (the state protocol,
:class:`tqsim.states.base.QuantumState`): a dense ket or density matrix maps
each basis state to one basis state with a phase,
``P|i> = i**n_Y * (-1)**popcount(i & z) |i XOR x>`` (``x`` marks the X and Y
qubits, ``z`` the Z and Y qubits), so ``<P>`` is one flip of the state and a
marginal over the Z qubits, never a ``2**n x 2**n`` matrix; factorized kinds
contract the 2 x 2 factors locally.
"""

from __future__ import annotations

from .paulis import PauliString, PauliSum, as_observable

__all__ = ["PauliString", "PauliSum", "as_observable"]
