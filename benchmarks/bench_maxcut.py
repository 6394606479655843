"""MaxCut training speed: every family, TensorLy-Quantum's MBE circuit, large MPS runs.

1. ms per training step (forward + backward + Adam step + read-out + entropy
   tracking) of each family at 20 qubits on the default graph, measured by
   running `train()` as `tqsim maxcut` does (on a GPU the step is replayed as
   a CUDA graph), with the peak memory of a short run, on the CPU and (when
   present) the GPU.
2. TensorLy-Quantum 0.1.0's multi-basis-encoding example circuit (20 qubits:
   RY on every qubit, CZ on (0,1), (2,3), ..., RY again; 40 graph nodes read
   from <Z> and <X>; loss sum w tanh(s_i) tanh(s_j)) against the same circuit
   and loss in tqsim, on the same device, in one run, with three state kinds:
   dense, MPS and BlockProductState (which keeps the ten independent pairs as
   one stack of 2-qubit kets). On a GPU the dense and block steps are
   replayed as CUDA graphs through GraphedStep, as train() does. The
   contenders are timed in alternating rounds.
3. The MPS backend at n = 40 and 60 (one- and two-directional, max_bond 32).

Medians over timed steps after warm-up steps. Peak memory is the resident
memory a step adds on the CPU (polled; meaningful only with
``MALLOC_MMAP_THRESHOLD_=131072``, which hands freed blocks back at once but
slows dense steps, so take times from a run without it) and
``torch.cuda.max_memory_allocated`` on a GPU.

    python benchmarks/bench_maxcut.py [--quick] [--device cpu|cuda|all] [--sections 1,2,3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import tqsim as tq
from tqsim.bench.qutip import peak_extra_memory
from tqsim.maxcut import FAMILIES, MaxCutProblem, make_ansatz, mbe_spins
from tqsim.maxcut.graphed import GraphedStep
from tqsim.maxcut.train import train


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved_medians(steps: dict, device: str, warmup: int, repeats: int, rounds: int = 5) -> dict:
    """Median ms per call of each step, timed in alternating rounds so drifts of a shared machine hit all alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    sync(device)
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                sync(device)
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def family_run(family: str, problem, device: str, steps: int):
    """Train as `tqsim maxcut` does (CUDA graph on a GPU); ms per step after 5 warm-up steps."""
    model = make_ansatz(family, problem, seed=0)
    result = train(model, steps=steps + 5, device=device, progress=False, optimum=None)
    times = [row["seconds"] for row in result.history[5:]]
    return model, 1e3 * statistics.median(times), result.cuda_graph


def families(devices, quick):
    n = 12 if quick else 20
    problem = MaxCutProblem.random_regular(n, 3, seed=0)
    steps = 5 if quick else 20
    print(f"\n1. one training step per family, {n} qubits, complex64 (ms; peak memory of a run of {steps} steps)")
    print("| family | backend | parameters | " + " | ".join(f"{d} ms/step | {d} peak MiB" for d in devices) + " |")
    print("|---|---|---|" + "---|---|" * len(devices))
    for family in FAMILIES:
        cells = []
        for device in devices:
            model, ms, graphed = family_run(family, problem, device, steps)
            memory = peak_extra_memory(lambda: train(make_ansatz(family, problem, seed=0), steps=3, device=device,
                                                     progress=False, optimum=None), device)
            cells += [f"{ms:.2f}" + (" (graph)" if graphed else ""), f"{memory / 2**20:.1f}"]
        print(f"| {family} | {model.backend} | {sum(p.numel() for p in model.parameters())} | " + " | ".join(cells) + " |")


class MBECircuit(torch.nn.Module):
    """TensorLy-Quantum's MBE example circuit in tqsim: RY, CZ on even pairs, RY."""

    def __init__(self, n: int, backend: str, generator: torch.Generator):
        super().__init__()
        self.n, self.backend = n, backend
        self.theta = torch.nn.Parameter(torch.rand(2, n, generator=generator))

    def forward(self):
        c = tq.Circuit(self.n)
        first, second = (angles.unbind() for angles in self.theta.unbind())
        for q in range(self.n):
            c.ry(first[q], q)
        for q in range(0, self.n - 1, 2):
            c.cz(q, q + 1)
        for q in range(self.n):
            c.ry(second[q], q)
        device = self.theta.device
        start = {"mps": lambda: tq.MPS.zeros(self.n, max_bond=32, device=device),
                 "blocks": lambda: tq.BlockProductState.zeros(self.n, device=device),
                 "dense": lambda: tq.StateVector.zeros(self.n, device=device)}[self.backend]()
        return c.run(start)


def mbe_terms(n: int, device: str):
    """The example's random graph on 2n nodes: 2n edges, weights uniform in [0, 1)."""
    g = torch.Generator().manual_seed(0)
    terms = 2 * n
    v1, v2 = torch.randint(2 * n, (terms,), generator=g), torch.randint(2 * n, (terms,), generator=g)
    v2[v2 == v1] += 1
    v2[v2 >= 2 * n] = 0
    return v1.to(device), v2.to(device), torch.rand(terms, generator=g).to(device)


def tensorly_quantum_step(n: int, device: str):
    import tensorly as tl
    import tlquantum as tlq

    tl.set_backend("pytorch")
    ncontraq = ncontral = 2
    state = tlq.qubits_contract(tlq.spins_to_tt_state([0] * n, device=device), ncontraq)
    unitaries = [tlq.UnaryGatesUnitary(n, ncontraq, device=device),
                 tlq.BinaryGatesUnitary(n, ncontraq, tlq.cz(device=device), 0),
                 tlq.UnaryGatesUnitary(n, ncontraq, device=device)]
    circuit = tlq.TTCircuit(unitaries, ncontraq, ncontral)
    opz = torch.tensor([[1.0, 0], [0, -1]], device=device)
    opx = torch.tensor([[0.0, 1], [1, 0]], device=device)
    opt = torch.optim.Adam(circuit.parameters(), lr=0.1)
    v1, v2, w = mbe_terms(n, device)

    def step():
        z, x = circuit.forward_single_qubit(state, opz, opx)
        s = torch.tanh(torch.cat((z, x)))
        loss = (w * s[v1] * s[v2]).sum()
        loss.backward()
        opt.step()
        opt.zero_grad()

    return step


def tqsim_mbe_step(n: int, device: str, backend: str):
    """The same loss and optimizer; on a GPU a dense or block step is replayed as a CUDA graph, as train() does."""
    model = MBECircuit(n, backend, torch.Generator().manual_seed(0)).to(device)
    graphed = device.startswith("cuda") and backend != "mps"
    opt = torch.optim.Adam(model.parameters(), lr=0.1, capturable=graphed)
    v1, v2, w = mbe_terms(n, device)

    def compute():
        s = torch.tanh(mbe_spins(model(), 2 * n))
        return ((w * s[v1] * s[v2]).sum(),)

    if graphed:
        return GraphedStep(compute, opt)

    def step():
        compute()[0].backward()
        opt.step()
        opt.zero_grad()

    return step


def tensorly_quantum(devices, quick):
    n = 20
    try:
        import tlquantum  # noqa: F401
    except ImportError:
        print("\n2. TensorLy-Quantum is not installed (pip install tensorly-quantum packaging): skipped")
        return
    print(f"\n2. TensorLy-Quantum 0.1.0's MBE circuit, {n} qubits, {2 * n} nodes (ms per step, float32 / complex64)")
    print("| device | TensorLy-Quantum | tqsim dense | tqsim MPS | tqsim blocks | TLQ / best tqsim |")
    print("|---|---|---|---|---|---|")
    backends = ("dense", "mps", "blocks")
    for device in devices:
        steps = {"tlq": tensorly_quantum_step(n, device)}
        steps.update({backend: tqsim_mbe_step(n, device, backend) for backend in backends})
        ms = interleaved_medians(steps, device, 3, 1 if quick else 10, 2 if quick else 5)
        best = min(ms[b] for b in backends)
        print(f"| {device} | {ms['tlq']:.2f} | " + " | ".join(f"{ms[b]:.2f}" for b in backends)
              + f" | {ms['tlq'] / best:.1f}x |")


def large_mps(devices, quick):
    sizes = (24,) if quick else (40, 60)
    print("\n3. MPS backend, max_bond 32, complex64 (ms per step)")
    print("| n | family | " + " | ".join(devices) + " |")
    print("|---|---|" + "---|" * len(devices))
    for n in sizes:
        problem = MaxCutProblem.random_regular(n, 3, seed=0)
        for family in ("one-directional", "two-directional"):
            cells = []
            for device in devices:
                model = make_ansatz(family, problem, seed=0, backend="mps", max_bond=32)
                result = train(model, steps=4 if quick else 6, device=device, progress=False, optimum=None)
                cells.append(f"{result.ms_per_step:.1f}")
            print(f"| {n} | {family} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="all", help="cpu, cuda or all (default: every device present)")
    parser.add_argument("--sections", default="1,2,3", help="which of the sections 1,2,3 to run")
    args = parser.parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    sections = set(args.sections.split(","))
    if "1" in sections:
        families(devices, args.quick)
    if "2" in sections:
        tensorly_quantum(devices, args.quick)
    if "3" in sections:
        large_mps(devices, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
