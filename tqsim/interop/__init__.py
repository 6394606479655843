"""Circuits and states in and out: OpenQASM 2 and 3, Qiskit, Cirq, QuTiP.

One module per outside format. Each imports its library only when called and
names the extra to install when it is missing (``pip install tqsim[qasm]``).
Nothing inside tqsim imports this package except the package face.
"""


def load_qasm(path):
    """The circuit in an OpenQASM 2 or 3 file (``tq.Circuit.from_qasm`` for a path)."""
    from .qasm import load_qasm as load

    return load(path)
