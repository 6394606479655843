"""A training step replayed as one CUDA graph.

At 20 qubits a GPU training step does a few milliseconds of device work but
launches hundreds to thousands of small kernels, and building the circuit,
planning the fusion and running autograd in Python costs 5-10 times the device
time. Recording the step once (forward, loss, backward, optimizer step and the
read-out tensors) and replaying the recording removes all of that host work.

Parameters, gradients and optimizer state stay where the recording put them,
so the optimizer must be capturable (``Adam(..., capturable=True)``). The first
``warmup`` steps run eagerly on a side stream (libraries initialise lazily);
they are ordinary training steps.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import torch

__all__ = ["GraphedStep"]


class GraphedStep:
    """``step()`` = ``outputs = compute(); outputs[0].backward(); optimizer.step()``, recorded once.

    ``compute`` must return a sequence whose first item is the scalar loss; the
    rest (tensors or objects holding them) are returned as they are. After a
    replay they hold the new values, until the next call overwrites them.
    If recording fails (an operation that waits for the host, say), the step
    stays eager and ``captured`` is False.
    """

    def __init__(self, compute: Callable[[], Any], optimizer: torch.optim.Optimizer, warmup: int = 3):
        self.compute, self.optimizer, self.warmup = compute, optimizer, warmup
        self.captured = False
        self.failed: str | None = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._outputs: Any = None
        self._eager_steps = 0

    def _eager(self):
        self.optimizer.zero_grad(set_to_none=True)
        outputs = self.compute()
        outputs[0].backward()
        self.optimizer.step()
        return outputs

    def __call__(self):
        if self._graph is not None:
            self._graph.replay()
            return self._outputs
        if self.failed is not None or self._eager_steps < self.warmup:
            self._eager_steps += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                outputs = self._eager()
            torch.cuda.current_stream().wait_stream(side)
            return outputs
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        try:
            with torch.cuda.graph(graph):
                outputs = self.compute()
                outputs[0].backward()
                self.optimizer.step()
        except RuntimeError as error:
            self.failed = str(error).splitlines()[0]
            warnings.warn(f"training step could not be recorded as a CUDA graph ({self.failed}); running eagerly",
                          RuntimeWarning, stacklevel=2)
            torch.cuda.synchronize()
            return self()
        self._graph, self._outputs, self.captured = graph, outputs, True
        graph.replay()
        return outputs
