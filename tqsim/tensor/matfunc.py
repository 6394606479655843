"""Functions of Hermitian positive semidefinite matrices with gradients that stay finite.

``eigh``'s backward divides by eigenvalue gaps, so it breaks on the repeated
eigenvalues that pure and low-rank density matrices have (their kernels).
Here ``f(rho)`` is differentiated by the Daleckii-Krein formula instead, and
eigenvalues an eigensolver cannot tell from zero count as zero, so square
roots of rounding noise (~1e-8 in complex128) never reach a result.
"""

from __future__ import annotations

import math

import torch

__all__ = ["hermitian_eigh", "hermitian_eigvalsh", "logm_support", "psd_function", "sqrtm_psd",
           "unresolved_eigenvalues"]


_WIDER = {torch.complex64: torch.complex128, torch.float32: torch.float64}


def _solve_hermitian(solve, m: torch.Tensor):
    """``solve(m)``, retried in double precision where the single-precision solver breaks down.

    MKL's single-precision Hermitian solver can fail to converge, or return
    NaN, on matrices whose eigenvalues are all rounding noise (the difference
    of two equal complex64 density matrices did, at entries of 1e-8). The
    retry costs nothing on the inputs that succeed; on CUDA, where cuSOLVER
    runs and a check would wait for the device, results pass through.
    """
    try:
        result = solve(m)
        values = result[0] if isinstance(result, tuple) else result
        if m.device.type != "cpu" or m.dtype not in _WIDER or bool(torch.isfinite(values).all()):
            return result
    except torch.linalg.LinAlgError:
        if m.dtype not in _WIDER:
            raise
    result = solve(m.to(_WIDER[m.dtype]))
    real = m.real.dtype if m.is_complex() else m.dtype
    if isinstance(result, tuple):
        return result[0].to(real), result[1].to(m.dtype)
    return result.to(real)


def hermitian_eigvalsh(m: torch.Tensor) -> torch.Tensor:
    """``torch.linalg.eigvalsh`` that survives the single-precision solver's breakdowns."""
    return _solve_hermitian(torch.linalg.eigvalsh, m)


def hermitian_eigh(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh`` that survives the single-precision solver's breakdowns."""
    return _solve_hermitian(torch.linalg.eigh, m)


def unresolved_eigenvalues(lam: torch.Tensor) -> torch.Tensor:
    """Eigenvalues an eigensolver cannot tell from zero: at most ``2 sqrt(d) eps`` times the largest.

    Rounding leaves a pure state's kernel at about 1-2 eps; their square roots
    (~1e-8 in complex128) would otherwise swamp square-root based distances
    between equal low-rank states.
    """
    eps = torch.finfo(lam.dtype).eps
    return lam <= 2 * math.sqrt(lam.shape[-1]) * eps * lam.abs().amax(-1, keepdim=True)


def psd_function(rho: torch.Tensor, f, divided) -> torch.Tensor:
    """``f(rho)`` of Hermitian matrices ``(*batch, d, d)``, differentiated by the Daleckii-Krein formula.

    ``d f(rho) = V (K * (V^H d(rho) V)) V^H`` with ``K[i, j]`` the divided
    difference of ``f`` at eigenvalues ``i, j`` (``divided(lam)``). It stays
    finite on repeated eigenvalues (a maximally mixed state, a pure state's
    kernel), where ``eigh``'s own backward divides by zero gaps.
    """
    lam, vec = hermitian_eigh(rho.detach())
    value = (vec * f(lam).to(vec.dtype).unsqueeze(-2)) @ vec.mH
    if not (torch.is_grad_enabled() and rho.requires_grad):
        return value
    change = vec @ (divided(lam).to(vec.dtype) * (vec.mH @ rho @ vec)) @ vec.mH
    return value + (change - change.detach())  # the value of f, the first derivative of change


def sqrtm_psd(rho: torch.Tensor) -> torch.Tensor:
    """``sqrt(rho)`` of positive semidefinite matrices; unresolved eigenvalues count as zero.

    The divided differences of ``sqrt`` are ``1 / (sqrt(l_i) + sqrt(l_j))``; two
    zero eigenvalues have none (``sqrt`` has no derivative at 0) and get 0.
    """
    def root(lam):
        return torch.where(unresolved_eigenvalues(lam), torch.zeros_like(lam), lam).sqrt()

    def divided(lam):
        r = root(lam)
        total = r.unsqueeze(-1) + r.unsqueeze(-2)
        return torch.where(total > 0, 1 / total, torch.zeros_like(total))

    return psd_function(rho, root, divided)


def logm_support(sigma: torch.Tensor) -> torch.Tensor:
    """``log(sigma)`` on the support of ``sigma`` and 0 on its kernel (its unresolved eigenvalues).

    Divided differences of ``log``: ``(log x - log y) / (x - y)``, or
    ``1 / sqrt(x y)`` (relative error ``(x/y - 1)**2 / 24``) where ``x`` and
    ``y`` are too close for the quotient to keep its digits.
    """
    def log(lam):
        return torch.where(unresolved_eigenvalues(lam), torch.zeros_like(lam), lam.log())

    def divided(lam):
        x, y = lam.unsqueeze(-1), lam.unsqueeze(-2)
        near = (x - y).abs() <= torch.finfo(lam.dtype).eps ** (1 / 3) * torch.maximum(x, y)
        k = torch.where(near, torch.rsqrt(x * y), (x.log() - y.log()) / (x - y))
        kept = ~unresolved_eigenvalues(lam)
        return torch.where(kept.unsqueeze(-1) & kept.unsqueeze(-2), k, torch.zeros_like(k))

    return psd_function(sigma, log, divided)
