"""Small work on one thread: what keeps a shared CPU from stalling tqsim.

On a CPU that other processes also use, every parallel region of a second
intra-op thread can wait a whole scheduler time slice for that thread; small
states spend most of their time in such waits. Measured on a 2-core machine
(docs/benchmarks.md, "Small states on one thread"): up to 2**14 amplitudes a
training step is as fast on one thread as on two when the machine is quiet,
and beside two busy processes 1.5-4x faster in the mean at 12-14 qubits. The rule depends on the size of
the work only, never on the load, so the same seed keeps giving the same bits.
"""

from __future__ import annotations

import contextlib

import torch

#: Dense work of at most this many amplitudes (a ket of 14 qubits, a density
#: matrix of 7, or a batch of that many entries) runs on one intra-op thread.
ONE_THREAD_AMPLITUDES = 2**14


@contextlib.contextmanager
def one_thread_if_small(amplitudes: int, device: torch.device):
    """Run the block on one CPU thread when it handles at most :data:`ONE_THREAD_AMPLITUDES` amplitudes.

    The caller's thread count is restored afterwards, also on an exception;
    CUDA work and work above the limit run unchanged.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or amplitudes > ONE_THREAD_AMPLITUDES or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
