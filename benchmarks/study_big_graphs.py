"""MaxCut on graphs of hundreds of nodes: MPS training at several bond dimensions, against classical baselines.

For each size in --nodes (a random 3-regular graph, graph seed 0) this trains
the one- and two-directional families on an MPS at every --depth and
--max-bond, and with --mbe-nodes the multi-basis encoding (two vertices per
qubit) on a graph of that many vertices. Every run is an ordinary ``train()``
from seed 0. The table gives the largest bond the trained state reached and
the weight its truncations discarded: at depth 1 the ladders of CNOTs never
reach bond 16, so max_bond only binds in deeper circuits. Brute
force is out of reach, so every ratio is a fraction of the Goemans-Williamson
SDP bound (an upper bound on the optimum; true ratios are higher), printed
beside what classical methods reach on the same graph: GW's hyperplane
rounding (best and mean of 100) and networkx's one_exchange local search.

ms/step is the median wall time of a training step after the first, on this
machine's CPU with all torch threads.

    python benchmarks/study_big_graphs.py --nodes 100 200 --depths 1 --max-bond 16 --steps 30
    python benchmarks/study_big_graphs.py --nodes 100 --depths 4 --max-bond 16 32 64 --steps 30
    python benchmarks/study_big_graphs.py --nodes --mbe-nodes 512 --max-bond 16 --steps 40   # ~6 min of SDP
"""

from __future__ import annotations

import argparse
import time

import torch

from tqsim.maxcut import MaxCutProblem, make_ansatz, train
from tqsim.maxcut.study.baselines import goemans_williamson, one_exchange

FAMILIES = ("one-directional", "two-directional")


def baselines(problem: MaxCutProblem) -> tuple[float, str]:
    """The GW bound, and the baselines' line of the table (their cuts as fractions of it)."""
    began = time.perf_counter()
    gw = goemans_williamson(problem, seed=0)
    seconds = time.perf_counter() - began
    local = one_exchange(problem, seed=0)
    return gw.sdp_bound, (f"GW bound {gw.sdp_bound:.2f} ({seconds:.0f} s to solve); GW rounding best "
                          f"{gw.best_cut / gw.sdp_bound:.4f}, mean {gw.mean_cut / gw.sdp_bound:.4f}; "
                          f"one_exchange {local / gw.sdp_bound:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[100, 200])
    parser.add_argument("--mbe-nodes", type=int, nargs="*", default=[])
    parser.add_argument("--depths", type=int, nargs="+", default=[1])
    parser.add_argument("--max-bond", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads); random 3-regular graphs (seed 0), "
          f"seed 0, {args.steps} steps of Adam (lr {args.lr}), complex64 MPS; ratios are of the GW SDP bound")
    print("| vertices | encoding | qubits | family | depth | max_bond | bond reached | discarded | ms/step | "
          "expected ratio | read-out ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for encoding, sizes in (("node", args.nodes), ("mbe", args.mbe_nodes)):
        for n in sizes:
            problem = MaxCutProblem.random_regular(n, 3, seed=0)
            bound, line = baselines(problem)
            notes.append(f"{n} vertices: {line}")
            for family in FAMILIES:
                for depth in args.depths:
                    for bond in args.max_bond:
                        model = make_ansatz(family, problem, depth, seed=0, encoding=encoding, backend="mps",
                                            max_bond=bond)
                        result = train(model, steps=args.steps, lr=args.lr, device="cpu", progress=False,
                                       optimum=bound)
                        with torch.no_grad():
                            state = model()
                        final = result.final
                        print(f"| {n} | {encoding} | {result.num_qubits} | {family} | {depth} | {bond} | "
                              f"{max(state.bond_dimensions())} | {state.truncation_error():.1e} | "
                              f"{result.ms_per_step:.0f} | {final['expected_ratio']:.4f} | "
                              f"{final['readout_ratio']:.4f} |", flush=True)
    print()
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
