"""Adversarial losses with the standard discriminator / generator target conventions.

Kinds (all take raw discriminator logits of any shape, e.g. PatchGAN maps ``(B, 1, h, w)``):

* ``"lsgan"`` (the paper's least-squares GAN, Mao et al. 2017): D minimises
  ``mean((D(real) - 1)^2) + mean(D(fake)^2)``; G minimises ``mean((D(fake) - 1)^2)``.
* ``"vanilla"`` (Goodfellow et al., non-saturating G): BCE-with-logits, D: real -> 1, fake -> 0;
  G: fake -> 1.
* ``"ragan"`` (relativistic average GAN, ESRGAN): with ``Dra(a, b) = a - mean(b)``,
  D: ``(BCE(Dra(real, fake), 1) + BCE(Dra(fake, real), 0)) / 2``;
  G: ``(BCE(Dra(real, fake), 0) + BCE(Dra(fake, real), 1)) / 2``.
  As in the ESRGAN/KAIR/BasicSR training code, the *other* side's mean is treated as a constant
  (detached) in each term, and in the G step the real logits are detached.

``weight`` scales only the generator loss (the term added to the generator objective, 0.1 in the
paper); the discriminator loss is returned unweighted. Usage::

    d_loss = gan_loss.discriminator(D(real), D(fake.detach()))
    g_loss = gan_loss.generator(D(fake), real_logits=D(real))   # real_logits only needed for ragan
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GAN_KINDS = ("lsgan", "vanilla", "ragan")


def _target_loss(kind: str, logits: torch.Tensor, is_real: bool) -> torch.Tensor:
    target = torch.full_like(logits, 1.0 if is_real else 0.0)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


class GANLoss(nn.Module):
    """GAN objective of kind "lsgan" | "vanilla" | "ragan"; see the module docstring."""

    def __init__(self, kind: str = "lsgan", weight: float = 1.0):
        super().__init__()
        if kind not in GAN_KINDS:
            raise ValueError(f"GANLoss: kind must be one of {GAN_KINDS}, got {kind!r}")
        self.kind, self.weight = kind, float(weight)

    def discriminator(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """D-step loss (unweighted). ``fake_logits`` should come from ``D(fake.detach())``."""
        if self.kind == "ragan":
            real_term = _target_loss("ragan", real_logits - fake_logits.detach().mean(), True)
            fake_term = _target_loss("ragan", fake_logits - real_logits.detach().mean(), False)
            return 0.5 * (real_term + fake_term)
        return (_target_loss(self.kind, real_logits, True)
                + _target_loss(self.kind, fake_logits, False))

    def generator(self, fake_logits: torch.Tensor,
                  real_logits: torch.Tensor | None = None) -> torch.Tensor:
        """G-step loss times ``weight``. ``real_logits`` (D on real images) is required for ragan."""
        if self.kind == "ragan":
            if real_logits is None:
                raise ValueError("GANLoss('ragan').generator needs real_logits (D applied to real images)")
            real_logits = real_logits.detach()
            loss = 0.5 * (_target_loss("ragan", real_logits - fake_logits.mean(), False)
                          + _target_loss("ragan", fake_logits - real_logits.mean(), True))
        else:
            loss = _target_loss(self.kind, fake_logits, True)
        return self.weight * loss

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, weight={self.weight}"
