"""Training losses: pixel (L1/L2), VGG perceptual, and GAN objectives."""
from bsrgan.losses.gan import GAN_KINDS, GANLoss
from bsrgan.losses.perceptual import PRESETS, PerceptualLoss, VGGWeightsError, layer_indices
from bsrgan.losses.pixel import PixelLoss

__all__ = [
           "GAN_KINDS",
           "PRESETS",
           "GANLoss",
           "PerceptualLoss",
           "PixelLoss",
           "VGGWeightsError",
           "layer_indices",
]
