"""Training losses: pixel (L1/L2), VGG perceptual, GAN objectives, and a low-pass colour term."""
from bsrgan.losses.colour import LowPassColourLoss
from bsrgan.losses.gan import GAN_KINDS, GANLoss
from bsrgan.losses.perceptual import PRESETS, PerceptualLoss, VGGWeightsError, layer_indices
from bsrgan.losses.pixel import PixelLoss

__all__ = [
           "GAN_KINDS",
           "PRESETS",
           "GANLoss",
           "LowPassColourLoss",
           "PerceptualLoss",
           "PixelLoss",
           "VGGWeightsError",
           "layer_indices",
]
