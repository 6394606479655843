"""``tqsim bench qutip``: tqsim against QuTiP on the same work, in one run.

Sections: partial traces of kets and of density matrices, the entropy of 6 of
20 qubits, mutual information, the same quantities from an MPS, and circuit
evolution (the same random circuits through qutip-qip's ``QubitCircuit.run``,
tqsim's StateVector and tqsim's MPS). Every case reports the median time of
each tool, the ratio QuTiP / tqsim, and the peak memory of the operation
measured in a fresh subprocess. Output: a Markdown table, JSON and a PNG plot.

tqsim runs on CUDA when it is present (``--device``), QuTiP on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

import tqsim as tq
from tqsim import _checks
from tqsim.bench.tools import brickwork, brickwork_circuit

QUICK = {
    "ket": [10, 12], "dm": [8, 9], "entropy": [12], "mutual": [8, 9], "mps": [12], "mps_ket": [13],
    "circuit": [8, 10],
}
FULL = {
    "ket": [12, 14, 16, 18, 20, 22, 24], "dm": [8, 9, 10, 11, 12, 13], "entropy": [20],
    "mutual": [10, 11, 12], "mps": [20, 60], "mps_ket": [14], "circuit": [8, 10, 12, 14, 16, 18, 20],
}
MPS_BOND = 32
DEPTH = 10


@dataclass
class Case:
    """One measurement: a section, a size and a variant, run by each tool."""

    section: str
    n: int
    variant: str
    tools: list[str]
    times: dict[str, float] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)  # peak extra bytes during the operation
    input_bytes: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.section}|{self.n}|{self.variant}"


# ------------------------------------------------------------------ the work


def _keep(n: int, variant: str, k: int = 6) -> list[int]:
    """``k`` qubits around the middle: a block ("contiguous") or every other qubit."""
    if variant.startswith("contiguous"):
        start = (n - k) // 2
        return list(range(start, start + k))
    if n < 2 * k - 1:  # too few qubits for a gap after each: spread them out
        return sorted({int(round(x)) for x in np.linspace(0, n - 1, k)})
    start = (n - 2 * k + 1) // 2
    return list(range(start, start + 2 * k, 2))


def _random_ket(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    v = rng.standard_normal(2**n) + 1j * rng.standard_normal(2**n)
    return v / np.linalg.norm(v)


def _qutip_circuit(n: int, layers):
    from qutip_qip.circuit import QubitCircuit

    qc = QubitCircuit(n)
    for angles, pairs in layers:
        for q, a in enumerate(angles):
            qc.add_gate("RY", targets=[q], arg_value=float(a))
        for a, b in pairs:
            qc.add_gate("CSIGN", controls=[a], targets=[b])
    return qc


def _mps_state(n: int, device: str) -> tq.MPS:
    start = tq.MPS.zeros(n, max_bond=MPS_BOND, dtype=torch.complex128, device=device)
    return brickwork_circuit(n, brickwork(n, DEPTH, seed=n)).run(start)


def prepare(case: Case, tool: str, device: str):
    """Build the inputs of ``case`` for ``tool``; return (operation, input bytes).

    The operation is a zero-argument callable doing exactly the timed work.
    """
    import qutip

    n, variant = case.n, case.variant
    dims_ket = [[2] * n, [1] * n]
    if case.section == "ket partial trace":
        keep = _keep(n, variant)
        v = _random_ket(n)
        if tool == "qutip":
            ket = qutip.Qobj(v, dims=dims_ket)
            return (lambda: ket.ptrace(keep)), v.nbytes
        psi = tq.StateVector.from_array(torch.from_numpy(v).to(device))
        return (lambda: tq.partial_trace(psi, keep)), v.nbytes
    if case.section == "dm partial trace":
        k = int(variant.split()[-1])
        keep = _keep(n, variant, k)
        v = _random_ket(n)
        rho = np.outer(v, v.conj())
        if tool == "qutip":
            q = qutip.Qobj(rho, dims=[[2] * n, [2] * n])
            del rho
            return (lambda: q.ptrace(keep)), v.nbytes * 2**n
        dm = tq.DensityMatrix(torch.from_numpy(rho).to(device), n)
        return (lambda: tq.partial_trace(dm, keep)), rho.nbytes
    if case.section == "entropy of 6":
        keep = _keep(n, variant)
        v = _random_ket(n)
        if tool == "qutip":
            ket = qutip.Qobj(v, dims=dims_ket)
            return (lambda: qutip.entropy_vn(ket.ptrace(keep))), v.nbytes
        psi = tq.StateVector.from_array(torch.from_numpy(v).to(device))
        return (lambda: tq.entropy(psi, keep)), v.nbytes
    if case.section == "mutual information":
        a, b = list(range(n // 2)), list(range(n // 2, n))
        v = _random_ket(n)
        if tool == "qutip":
            ket = qutip.Qobj(v, dims=dims_ket)
            # QuTiP's entropy_mutual needs the density matrix of the whole register
            return (lambda: qutip.entropy_mutual(qutip.ket2dm(ket), a, b)), v.nbytes
        psi = tq.StateVector.from_array(torch.from_numpy(v).to(device))
        return (lambda: tq.mutual_information(psi, a, b)), v.nbytes
    if case.section.startswith("MPS"):
        mps = _mps_state(n, device)
        quantity = case.section.split(": ")[1]
        keep = _keep(n, variant)
        a, b = keep[:3], keep[3:]  # two neighbouring blocks of 3 in the middle
        if tool == "qutip":
            ket = qutip.Qobj(mps.to_statevector().amplitudes().cpu().numpy(), dims=dims_ket)
            ops = {
                "partial trace 6": lambda: ket.ptrace(keep),
                "entropy of 6": lambda: qutip.entropy_vn(ket.ptrace(keep)),
                "mutual information": lambda: qutip.entropy_mutual(ket.ptrace(keep), [0, 1, 2], [3, 4, 5]),
            }
            return ops[quantity], 16 * 2**n
        ops = {
            "partial trace 6": lambda: tq.partial_trace(mps, keep),
            "entropy of 6": lambda: tq.entropy(mps, keep),
            "mutual information": lambda: tq.mutual_information(mps, a, b),
        }
        return ops[quantity], sum(c.numel() * c.element_size() for c in mps.cores)
    if case.section == "ket as a full MPS: partial trace 7":
        # a full-bond MPS (no truncation) of a random ket, 7 qubits spread over the register
        keep = _keep(n, variant, 7)
        v = _random_ket(n)
        if tool == "qutip":
            ket = qutip.Qobj(v, dims=dims_ket)
            return (lambda: ket.ptrace(keep)), v.nbytes
        mps = tq.MPS.from_statevector(tq.StateVector.from_array(torch.from_numpy(v).to(device)))
        return (lambda: tq.partial_trace(mps, keep)), sum(c.numel() * c.element_size() for c in mps.cores)
    if case.section == "circuit evolution":
        layers = brickwork(n, DEPTH, seed=n)
        if tool == "qutip":
            qc = _qutip_circuit(n, layers)
            start = qutip.basis([2] * n, [0] * n)
            return (lambda: qc.run(start)), 16 * 2**n
        if tool == "tqsim-mps":
            start = tq.MPS.zeros(n, max_bond=MPS_BOND, dtype=torch.complex128, device=device)
            return (lambda: brickwork_circuit(n, layers).run(start)), 0
        start = tq.StateVector.zeros(n, dtype=torch.complex128, device=device)
        return (lambda: brickwork_circuit(n, layers).run(start)), 16 * 2**n
    raise ValueError(f"unknown section {case.section!r}")


SECTIONS = ("ket", "dm", "entropy", "mutual", "mps", "circuit")
_SECTION_OF = {"mps_ket": "mps"}  # size lists that run with another section


def cases(sizes: dict[str, list[int]], sections=SECTIONS) -> list[Case]:
    sizes = {key: (value if _SECTION_OF.get(key, key) in sections else []) for key, value in sizes.items()}
    out = []
    both = ["qutip", "tqsim"]
    for n in sizes["ket"]:
        for v in ("contiguous", "interleaved"):
            out.append(Case("ket partial trace", n, v, both))
    for n in sizes["dm"]:
        for k in (4, 6):
            for v in ("contiguous", "interleaved"):
                out.append(Case("dm partial trace", n, f"{v} {k}", both))
    for n in sizes["entropy"]:
        for v in ("contiguous", "interleaved"):
            out.append(Case("entropy of 6", n, v, both))
    for n in sizes["mutual"]:
        out.append(Case("mutual information", n, "halves", both))
    for n in sizes["mps"]:
        tools = both if n <= 24 else ["tqsim"]
        for quantity in ("partial trace 6", "entropy of 6"):
            for v in ("contiguous", "interleaved"):
                out.append(Case(f"MPS: {quantity}", n, v, tools))
        out.append(Case("MPS: mutual information", n, "contiguous 3 + 3", tools))
    for n in sizes["mps_ket"]:
        out.append(Case("ket as a full MPS: partial trace 7", n, "interleaved", both))
    for n in sizes["circuit"]:
        out.append(Case("circuit evolution", n, f"brickwork depth {DEPTH}", ["qutip", "tqsim", "tqsim-mps"]))
    return out


# ------------------------------------------------------------------ measuring


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_time(op, device: str, quick: bool) -> float:
    op()
    _sync(device)
    times: list[float] = []
    budget = 0.05 if quick else 0.3
    while len(times) < (3 if quick else 5) or (sum(times) < budget and len(times) < 50):
        start = time.perf_counter()
        op()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_extra_memory(op, device: str) -> float:
    """Peak resident memory above the starting level while ``op`` runs (polled
    every 0.5 ms), or the peak CUDA allocation above the start on a GPU.

    ``op`` runs once before the measurement, so one-time set-up (library
    workspaces, thread pools) is not counted as the operation's memory.
    """
    op()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        op()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - base)
    import gc

    gc.collect()
    base = _rss()
    peak = [base]
    running = [True]

    def poll():
        while running[0]:
            peak[0] = max(peak[0], _rss())
            time.sleep(0.0005)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    result = op()
    running[0] = False
    watcher.join()
    peak[0] = max(peak[0], _rss())
    del result
    return float(peak[0] - base)


def _memory_in_subprocess(case: Case, tool: str, device: str) -> float | None:
    spec = json.dumps({"case": asdict(case), "tool": tool, "device": device})
    # large blocks always mmap'ed: freed memory leaves the process at once, so
    # resident memory follows what the operation really holds
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    result = subprocess.run(
        [sys.executable, "-m", "tqsim.bench.qutip", "--memory-probe", spec],
        capture_output=True, text=True, timeout=900, env=env,
    )
    if result.returncode != 0:
        print(f"  memory probe failed for {case.key} {tool}: {result.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return float(result.stdout.strip().splitlines()[-1])


def _memory_probe(spec: str) -> None:
    data = json.loads(spec)
    case = Case(**data["case"])
    op, _ = prepare(case, data["tool"], data["device"])
    print(peak_extra_memory(op, data["device"]))


# ------------------------------------------------------------------ reporting


def _fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def _fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    return f"{b / 2**20:.1f} MiB"


def markdown(results: list[Case], header: str) -> str:
    lines = [header, "", "| section | n | variant | QuTiP | tqsim | tqsim MPS | QuTiP / tqsim | "
             "peak extra memory QuTiP | tqsim | tqsim (input + extra) / input |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in results:
        q, t, m = c.times.get("qutip"), c.times.get("tqsim"), c.times.get("tqsim-mps")
        ratio = f"{q / t:.1f}x" if q and t else "-"
        mem_t = c.memory.get("tqsim")
        size = c.input_bytes.get("tqsim")
        rel = f"{(size + mem_t) / size:.2f}" if mem_t is not None and size else "-"
        lines.append(
            f"| {c.section} | {c.n} | {c.variant} | {_fmt_time(q)} | {_fmt_time(t)} | {_fmt_time(m)} | {ratio} | "
            f"{_fmt_bytes(c.memory.get('qutip'))} | {_fmt_bytes(mem_t)} | {rel} |"
        )
    return "\n".join(lines)


def plot(results: list[Case], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sections = list(dict.fromkeys(c.section for c in results))
    cols = 3
    rows = (len(sections) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    for ax, section in zip(axes.flat, sections):
        chosen = [c for c in results if c.section == section]
        for variant in dict.fromkeys(c.variant for c in chosen):
            for tool, style in (("qutip", "o--"), ("tqsim", "s-"), ("tqsim-mps", "^-")):
                pts = [(c.n, c.times[tool]) for c in chosen if c.variant == variant and tool in c.times]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, style, label=f"{tool} ({variant})", markersize=4)
        ax.set_yscale("log")
        ax.set_xlabel("qubits")
        ax.set_ylabel("time (s)")
        ax.set_title(section, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(sections):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(quick: bool, out: str, device: str, memory: bool, sections=SECTIONS) -> list[Case]:
    try:
        import qutip
        import qutip_qip
    except ImportError:
        raise SystemExit("tqsim bench qutip needs QuTiP: pip install 'tqsim[bench]' (qutip, qutip-qip)") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tq_device = str(_checks.device(device))
    header = (f"QuTiP {qutip.__version__} (qutip-qip {qutip_qip.__version__}, NumPy {np.__version__}) on the CPU against tqsim "
              f"{tq.__version__} on {tq_device}"
              + (f" ({torch.cuda.get_device_name()})" if tq_device.startswith("cuda") else
                 f" ({torch.get_num_threads()} threads)")
              + f"; torch {torch.__version__}; complex128")
    print(header, flush=True)
    results = cases(QUICK if quick else FULL, sections)
    for case in results:
        for tool in case.tools:
            dev = "cpu" if tool == "qutip" else tq_device
            op, nbytes = prepare(case, tool, dev)
            case.times[tool] = median_time(op, dev, quick)
            case.input_bytes[tool] = nbytes
            del op
            if memory:
                case.memory[tool] = _memory_in_subprocess(case, tool, dev)
        q, t = case.times.get("qutip"), case.times.get("tqsim")
        ratio = f"{q / t:8.1f}x" if q and t else "        -"
        print(f"{case.section:28s} n={case.n:3d} {case.variant:22s} "
              + " ".join(f"{tool}={_fmt_time(case.times[tool]):>9s}" for tool in case.tools) + f"  ratio {ratio}",
              flush=True)
    os.makedirs(out, exist_ok=True)
    table = markdown(results, header)
    with open(os.path.join(out, "bench_qutip.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out, "bench_qutip.json"), "w") as f:
        json.dump({"header": header, "cases": [asdict(c) for c in results]}, f, indent=2)
    plot(results, os.path.join(out, "bench_qutip.png"), header)
    print("\n" + table)
    print(f"\nwrote {out}/bench_qutip.md, bench_qutip.json, bench_qutip.png")
    return results


def launch(quick: bool, out: str, device: str, memory: bool, sections=SECTIONS) -> int:
    """Run the benchmark in a fresh interpreter with OpenBLAS's spin time short.

    NumPy and SciPy each bring an OpenBLAS thread pool; on a 2-core machine
    the idle pool's spinning threads stall the other for about 8 ms per call
    (QuTiP's ``entropy_vn`` on a 64 x 64 matrix: 8 ms instead of 0.4 ms).
    ``OPENBLAS_THREAD_TIMEOUT=4`` removes the stall without slowing large
    products, so QuTiP is measured at its best. It must be set before NumPy
    loads, hence the new process.
    """
    if os.environ.get("OPENBLAS_THREAD_TIMEOUT"):
        run(quick, out, device, memory, sections)
        return 0
    args = [sys.executable, "-m", "tqsim.bench.qutip", "--out", out, "--device", device,
            "--sections", ",".join(sections)]
    args += ["--quick"] * quick + ["--no-memory"] * (not memory)
    return subprocess.run(args, env={**os.environ, "OPENBLAS_THREAD_TIMEOUT": "4"}).returncode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (a minute)")
    parser.add_argument("--out", default="results/bench_qutip", help="output folder (default results/bench_qutip)")
    parser.add_argument("--device", default="auto", help="tqsim's device: auto, cpu or cuda (QuTiP runs on the CPU)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--sections", default=",".join(SECTIONS), type=_sections,
                        help=f"comma-separated subset of {','.join(SECTIONS)} (default all)")


def _sections(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [part for part in chosen if part not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown sections {unknown or text!r}; choose from {', '.join(SECTIONS)}")
    return chosen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tqsim.bench.qutip", description=__doc__)
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.memory_probe:
        _memory_probe(args.memory_probe)
        return 0
    return launch(args.quick, args.out, args.device, not args.no_memory, args.sections)


if __name__ == "__main__":
    sys.exit(main())
