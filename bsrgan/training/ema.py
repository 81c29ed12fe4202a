"""Exponential moving average of a model's weights (the weights that get evaluated and exported)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    """Keep ``ema = decay * ema + (1 - decay) * weights`` after every optimiser step.

    The average lives in a frozen deep copy of the model (``.module``, eval mode), so it can be
    run directly for validation. Buffers (none in RRDBNet) are copied, not averaged.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(unwrap(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model``'s current weights."""
        source = unwrap(model)
        ema_params = list(self.module.parameters())
        params = [p.detach() for p in source.parameters()]
        if len(ema_params) != len(params):
            raise ValueError("EMA and model have different parameter lists")
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for ema_buf, buf in zip(self.module.buffers(), source.buffers()):
            ema_buf.copy_(buf)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights as a plain state dict (loadable into the bare model)."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare module inside DistributedDataParallel and/or torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model
