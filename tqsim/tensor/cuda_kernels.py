"""Triton kernels for 1- and 2-qubit matrices on CUDA states.

A gate touches every amplitude once, so its speed is set by memory bandwidth.
``torch.matmul`` on a grouped view reaches about a tenth of an H100's bandwidth
for these tiny matrices; these kernels read each amplitude group once, mix it
in registers and write it back, in place if asked.

Each program handles ``BLOCK`` groups. A group is the ``2**k`` amplitudes that
share every bit except the target bits; it is loaded as one tile
``[BLOCK, (2,) * k, 2]`` whose last axis is (real, imaginary), so a pair of
floats is always one vector load, and split into registers with ``tl.split``.

The kernels serve forward passes without autograd; :func:`accepts` says when.
"""

from __future__ import annotations

import torch

try:  # Triton ships with CUDA builds of PyTorch only
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised on CPU-only installs
    triton = None

__all__ = ["accepts", "apply_small_matrix", "available"]

_BLOCK = 256
_WARPS = 4


def available() -> bool:
    """True when Triton is importable and CUDA is present."""
    return triton is not None and torch.cuda.is_available()


def accepts(state: torch.Tensor, matrix: torch.Tensor, out: torch.Tensor | None) -> bool:
    """Whether :func:`apply_small_matrix` can take this call.

    Needs a contiguous complex CUDA state, one unbatched 2x2 or 4x4 matrix of
    the same dtype and no gradient to track.
    """
    if triton is None or not state.is_cuda:
        return False
    if state.dtype not in (torch.complex64, torch.complex128) or matrix.dtype != state.dtype:
        return False
    if state.is_conj() or (out is not None and out.is_conj()):
        return False
    if matrix.ndim != 2 or matrix.shape[0] not in (2, 4) or not state.is_contiguous():
        return False
    if out is not None and (out.shape != state.shape or not out.is_contiguous()):
        return False
    return not (torch.is_grad_enabled() and (state.requires_grad or matrix.requires_grad))


def apply_small_matrix(
    state: torch.Tensor, matrix: torch.Tensor, positions: list[int], out: torch.Tensor | None
) -> torch.Tensor:
    """Apply ``matrix`` to bit ``positions`` (ascending, 0 = least significant).

    Bit ``positions[-1]`` is the most significant bit of the matrix index. The
    batch axes of ``state`` simply become more groups. ``out`` may be ``state``.
    """
    if out is None:
        out = torch.empty_like(state)
    k = len(positions)
    groups = state.numel() >> k
    grid = (triton.cdiv(groups, _BLOCK),)
    args = (
        torch.view_as_real(state),
        torch.view_as_real(out),
        torch.view_as_real(matrix.resolve_conj().contiguous()),
        groups,
    )
    if k == 1:
        _apply_1q[grid](*args, positions[0], BLOCK=_BLOCK, num_warps=_WARPS)
    else:
        _apply_2q[grid](*args, positions[0], positions[1], BLOCK=_BLOCK, num_warps=_WARPS)
    return out


if triton is not None:

    @triton.jit
    def _insert_zero_bit(index, position):
        low = index & ((1 << position) - 1)
        return ((index >> position) << (position + 1)) | low

    @triton.jit
    def _cmul(ar, ai, br, bi):
        return ar * br - ai * bi, ar * bi + ai * br

    @triton.jit
    def _entry(m_ptr, flat_index):
        return tl.load(m_ptr + 2 * flat_index), tl.load(m_ptr + 2 * flat_index + 1)

    @triton.jit
    def _apply_1q(x_ptr, out_ptr, m_ptr, groups, p0, BLOCK: tl.constexpr):
        g = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
        base = _insert_zero_bit(g, p0)
        two = tl.arange(0, 2).to(tl.int64)
        # tile [BLOCK, target bit, re/im]
        offsets = 2 * (base[:, None, None] + (two << p0)[None, :, None]) + two[None, None, :]
        mask = (g < groups)[:, None, None]
        tile = tl.load(x_ptr + offsets, mask=mask)
        re, im = tl.split(tile)
        x0r, x1r = tl.split(re)
        x0i, x1i = tl.split(im)
        ur, ui = _entry(m_ptr, 0)
        y0r, y0i = _cmul(ur, ui, x0r, x0i)
        ur, ui = _entry(m_ptr, 1)
        tr, ti = _cmul(ur, ui, x1r, x1i)
        y0r += tr
        y0i += ti
        ur, ui = _entry(m_ptr, 2)
        y1r, y1i = _cmul(ur, ui, x0r, x0i)
        ur, ui = _entry(m_ptr, 3)
        tr, ti = _cmul(ur, ui, x1r, x1i)
        y1r += tr
        y1i += ti
        result = tl.join(tl.join(y0r, y1r), tl.join(y0i, y1i))
        tl.store(out_ptr + offsets, result, mask=mask)

    @triton.jit
    def _row(m_ptr, row, x0r, x0i, x1r, x1i, x2r, x2i, x3r, x3i):
        ur, ui = _entry(m_ptr, 4 * row)
        ar, ai = _cmul(ur, ui, x0r, x0i)
        ur, ui = _entry(m_ptr, 4 * row + 1)
        tr, ti = _cmul(ur, ui, x1r, x1i)
        ar += tr
        ai += ti
        ur, ui = _entry(m_ptr, 4 * row + 2)
        tr, ti = _cmul(ur, ui, x2r, x2i)
        ar += tr
        ai += ti
        ur, ui = _entry(m_ptr, 4 * row + 3)
        tr, ti = _cmul(ur, ui, x3r, x3i)
        return ar + tr, ai + ti

    @triton.jit
    def _apply_2q(x_ptr, out_ptr, m_ptr, groups, p0, p1, BLOCK: tl.constexpr):
        g = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
        base = _insert_zero_bit(_insert_zero_bit(g, p0), p1)
        two = tl.arange(0, 2).to(tl.int64)
        # tile [BLOCK, high target bit, low target bit, re/im]
        offsets = (
            2
            * (
                base[:, None, None, None]
                + (two << p1)[None, :, None, None]
                + (two << p0)[None, None, :, None]
            )
            + two[None, None, None, :]
        )
        mask = (g < groups)[:, None, None, None]
        tile = tl.load(x_ptr + offsets, mask=mask)
        re, im = tl.split(tile)
        re_low0, re_low1 = tl.split(re)
        im_low0, im_low1 = tl.split(im)
        # amplitude j has high bit j >> 1 and low bit j & 1
        x0r, x2r = tl.split(re_low0)
        x1r, x3r = tl.split(re_low1)
        x0i, x2i = tl.split(im_low0)
        x1i, x3i = tl.split(im_low1)
        y0r, y0i = _row(m_ptr, 0, x0r, x0i, x1r, x1i, x2r, x2i, x3r, x3i)
        y1r, y1i = _row(m_ptr, 1, x0r, x0i, x1r, x1i, x2r, x2i, x3r, x3i)
        y2r, y2i = _row(m_ptr, 2, x0r, x0i, x1r, x1i, x2r, x2i, x3r, x3i)
        y3r, y3i = _row(m_ptr, 3, x0r, x0i, x1r, x1i, x2r, x2i, x3r, x3i)
        re = tl.join(tl.join(y0r, y2r), tl.join(y1r, y3r))
        im = tl.join(tl.join(y0i, y2i), tl.join(y1i, y3i))
        tl.store(out_ptr + offsets, tl.join(re, im), mask=mask)
