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

from typing import Any, Callable

import torch

__all__ = ["GraphedStep"]


class GraphedStep:
    """``step()`` = ``outputs = compute(); outputs[0].backward(); optimizer.step()``, recorded once.

    ``compute`` must return a sequence whose first item is the scalar loss; the
    rest (tensors or objects holding them) are returned as they are. After a
    replay they hold the new values, until the next call overwrites them.
    ``compute`` must not wait for the device (no ``.item()``, no host copies,
    no cuSOLVER eigensolvers); a recording that fails raises, because the
    device is unusable for the rest of the process after a failed capture.
    """

    def __init__(self, compute: Callable[[], Any], optimizer: torch.optim.Optimizer, warmup: int = 3):
        self.compute, self.optimizer, self.warmup = compute, optimizer, warmup
        _float64_step_counts(optimizer)
        self.captured = False
        self._graph: torch.cuda.CUDAGraph | None = None
        self._outputs: Any = None
        self._eager_steps = 0

    def __call__(self):
        if self._graph is not None:
            self._graph.replay()
            return self._outputs
        if self._eager_steps < self.warmup:
            self._eager_steps += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.optimizer.zero_grad(set_to_none=True)
                outputs = self.compute()
                outputs[0].backward()
                self.optimizer.step()
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
            raise RuntimeError(
                f"the training step cannot be recorded as a CUDA graph ({str(error).splitlines()[0]}); "
                "train with cuda_graph=False"
            ) from error
        self._graph, self._outputs, self.captured = graph, outputs, True
        graph.replay()
        return outputs


def _float64_step_counts(optimizer: torch.optim.Optimizer) -> None:
    """Give a capturable Adam float64 step counts for float64 parameters, before its first step.

    A capturable Adam counts steps in a float32 tensor on the device and forms
    its bias correction ``1 - 0.999**step`` from it: a cancellation that puts
    a 1e-5 relative error into every update (the eager optimizer's count is an
    exact float). Adam creates its state at the first step only when the state
    is empty, so the state is laid out here with a float64 count (and a count
    restored from a checkpoint, which loading casts to float32, is cast back).
    """
    if not isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)) or not optimizer.defaults.get("capturable"):
        return
    for group in optimizer.param_groups:
        for param in group["params"]:
            if param.dtype != torch.float64:
                continue
            if optimizer.state[param]:  # restored from a checkpoint: loading made the count float32
                optimizer.state[param]["step"] = optimizer.state[param]["step"].to(torch.float64)
                continue
            state = {"step": torch.zeros((), dtype=torch.float64, device=param.device)}
            for key in ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group.get("amsgrad") else ()):
                state[key] = torch.zeros_like(param, memory_format=torch.preserve_format)
            optimizer.state[param] = state
