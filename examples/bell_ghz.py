"""Bell and GHZ states: amplitudes, samples, correlations and entanglement.

    python examples/bell_ghz.py
"""

import math

import torch

import tqsim as tq


def ghz(n: int) -> tq.Circuit:
    circuit = tq.Circuit(n).h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    return circuit


def main() -> None:
    bell = ghz(2).run(tq.StateVector.zeros(2, dtype=torch.complex128))
    print("Bell state amplitudes:", bell.amplitudes().tolist())
    samples = bell.sample(1000, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(samples, minlength=4).tolist()
    print("1000 shots of |00>, |01>, |10>, |11>:", counts)
    print("<Z0 Z1> =", round(bell.expectation("Z0 Z1").item(), 12), " <X0 X1> =", round(bell.expectation("X0 X1").item(), 12))

    n = 5
    circuit = ghz(n)
    print(f"\nGHZ circuit on {n} qubits:\n{circuit}")
    state = circuit.run(tq.StateVector.zeros(n, dtype=torch.complex128))
    for cut in ([0], [0, 1], [1, 3]):
        s = tq.entropy(state, cut, base=2).item()
        print(f"entropy of qubits {cut}: {s:.6f} bits (GHZ: exactly 1)")
    rho = tq.partial_trace(state, [0, 4])
    print("reduced state of qubits 0 and 4 (diagonal):", rho.probabilities().tolist())

    noisy = circuit.depolarizing(0.1, 2).run(tq.DensityMatrix.zeros(n, dtype=torch.complex128))
    print(f"with 10% depolarizing noise on qubit 2: purity {tq.purity(noisy, list(range(n))).item():.4f}, "
          f"<Z0 Z4> = {noisy.expectation('Z0 Z4').item():.4f}, "
          f"entropy of qubit 0 = {tq.entropy(noisy, [0]).item() / math.log(2):.4f} bits")


if __name__ == "__main__":
    main()
