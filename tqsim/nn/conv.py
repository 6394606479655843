"""FactorizedConv2d: CP (Lebedev et al. 2014) and Tucker-2 (Kim et al. 2015) convolutions.

The kernel ``(out, in, kh, kw)`` is held factorized and the forward pass runs
as a chain of small convolutions, never rebuilding the kernel:

- CP rank R: 1x1 (in -> R), depthwise (kh x 1), depthwise (1 x kw), 1x1 (R -> out);
- Tucker-2 ranks (R_out, R_in): 1x1 (in -> R_in), kh x kw core (R_in -> R_out), 1x1 (R_out -> out).
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from .factorized_tensors import CPTensor, TuckerTensor, adopt
from .linear import IMPLEMENTATIONS
from .ranks import check_factorization, positive_int

__all__ = ["FactorizedConv2d"]

CONV_FACTORIZATIONS = ("cp", "tucker")


def _pair_of_ints(value, what: str, minimum: int) -> tuple[int, int]:
    pair = _pair(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum for v in pair):
        raise ValueError(f"{what} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _explicit_padding(padding, kernel_size, stride, dilation) -> tuple[int, int]:
    """Numeric padding for the factorized chain; 'valid' and a symmetric 'same' are honoured."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0)
        if padding != "same":
            raise ValueError(f"padding {padding!r} not understood; use an int, a pair, 'valid' or 'same'")
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride 1, got stride {stride}")
        total = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
        if any(t % 2 for t in total):
            raise ValueError(
                f"padding='same' with kernel {kernel_size} and dilation {dilation} needs uneven padding "
                "on the two sides, which the factorized chain cannot honour; pass explicit padding"
            )
        return (total[0] // 2, total[1] // 2)
    return _pair_of_ints(padding, "padding", 0)


class FactorizedConv2d(nn.Module):
    """A 2-D convolution with a CP or Tucker-2 factorized kernel.

    Parameters follow ``nn.Conv2d`` (``groups`` must be 1 and padding is zeros);
    ``rank`` is an int (CP) / pair (Tucker-2: out, in), a float fraction of the
    dense parameter count or "same".
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        rank="same",
        factorization: str = "cp",
        stride=1,
        padding=0,
        dilation=1,
        bias: bool = True,
        implementation: str = "factorized",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = _pair_of_ints(kernel_size, "kernel_size", 1)
        self.stride = _pair_of_ints(stride, "stride", 1)
        self.dilation = _pair_of_ints(dilation, "dilation", 1)
        self.padding = _explicit_padding(padding, self.kernel_size, self.stride, self.dilation)
        self.factorization = check_factorization(factorization, CONV_FACTORIZATIONS)
        self.implementation = check_factorization(implementation, IMPLEMENTATIONS, "implementation")
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        kw = {"device": device, "dtype": dtype}
        if self.factorization == "cp":
            self.weight_tensor = CPTensor(shape, rank, **kw)
        else:
            self.weight_tensor = TuckerTensor(shape, rank, modes=(0, 1), **kw)
        self.bias = nn.Parameter(torch.empty(self.out_channels, **kw)) if bias else None
        self.reset_parameters()

    @property
    def rank(self):
        return self.weight_tensor.rank

    def reset_parameters(self) -> None:
        """``nn.Conv2d``'s default scale: kernel entries with std 1/sqrt(3 fan_in)."""
        fan_in = self.in_channels * math.prod(self.kernel_size)
        self.weight_tensor.reset_parameters(1 / math.sqrt(3 * fan_in))
        if self.bias is not None:
            with torch.no_grad():
                self.bias.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    @property
    def weight(self) -> torch.Tensor:
        """The dense kernel ``(out, in, kh, kw)``, rebuilt from the factors."""
        return self.weight_tensor.to_tensor()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(
                f"input of shape {tuple(x.shape)}; expected (batch, {self.in_channels}, H, W) or ({self.in_channels}, H, W)"
            )
        if self.implementation == "reconstructed":
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        if self.factorization == "cp":
            return self._cp_forward(x)
        return self._tucker_forward(x)

    def _cp_forward(self, x: torch.Tensor) -> torch.Tensor:
        weights, f_out, f_in, f_h, f_w = self.weight_tensor.components()
        rank = weights.shape[0]
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        x = F.conv2d(x, f_in.T.reshape(rank, self.in_channels, 1, 1))
        x = F.conv2d(x, f_h.T.reshape(rank, 1, -1, 1), stride=(sh, 1), padding=(ph, 0), dilation=(dh, 1), groups=rank)
        x = F.conv2d(x, f_w.T.reshape(rank, 1, 1, -1), stride=(1, sw), padding=(0, pw), dilation=(1, dw), groups=rank)
        return F.conv2d(x, (f_out * weights).reshape(self.out_channels, rank, 1, 1), self.bias)

    def _tucker_forward(self, x: torch.Tensor) -> torch.Tensor:
        core, f_out, f_in = self.weight_tensor.components()
        r_out, r_in = core.shape[:2]
        x = F.conv2d(x, f_in.T.reshape(r_in, self.in_channels, 1, 1))
        x = F.conv2d(x, core, stride=self.stride, padding=self.padding, dilation=self.dilation)
        return F.conv2d(x, f_out.reshape(self.out_channels, r_out, 1, 1), self.bias)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, rank, factorization: str = "cp", **kwargs) -> "FactorizedConv2d":
        """Decompose a trained ``nn.Conv2d``, keeping stride, padding, dilation and bias."""
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"from_conv needs an nn.Conv2d, got {type(conv).__name__}")
        if conv.groups != 1:
            raise ValueError(f"cannot factorize a grouped convolution (groups={conv.groups}); only groups=1 is supported")
        if conv.padding_mode != "zeros":
            raise ValueError(f"padding_mode {conv.padding_mode!r} is not supported; only 'zeros'")
        weight = conv.weight.detach()
        layer = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            rank,
            factorization,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            bias=conv.bias is not None,
            device=weight.device,
            dtype=weight.dtype,
            **kwargs,
        )
        if layer.factorization == "cp":
            decomposed = CPTensor.from_tensor(weight, layer.rank)
        else:
            decomposed = TuckerTensor.from_tensor(weight, layer.rank, modes=(0, 1))
        return adopt(layer, decomposed, conv.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, factorization={self.factorization!r}, "
            f"rank={self.rank}, stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"bias={self.bias is not None}"
        )
