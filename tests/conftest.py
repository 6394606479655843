"""Shared fixtures: dtypes with their tolerances, seeded generators, the gpu marker."""

import signal

import numpy as np
import pytest
import torch

TOL = {torch.complex64: 1e-5, torch.complex128: 1e-10}

# A suite started in the background (`pytest &`, nohup) inherits SIGINT ignored,
# and an ignored signal stays ignored in the subprocesses the Ctrl-C tests
# interrupt. Python's own handler is reset to the default at exec, so they get it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA; run on the GPU machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=[torch.complex64, torch.complex128], ids=["c64", "c128"])
def dtype(request):
    return request.param


@pytest.fixture
def tol(dtype):
    return TOL[dtype]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread avoids oversubscription on a shared machine (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
