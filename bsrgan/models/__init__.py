"""Networks: the RRDBNet generator, its named variants, official weights and discriminators."""
from bsrgan.models.discriminators import PatchGANDiscriminator, UNetDiscriminatorSN
from bsrgan.models.pretrained import PRETRAINED, WeightsError, load_pretrained, read_state_dict
from bsrgan.models.registry import DISCRIMINATORS, MODELS, build_discriminator, build_model
from bsrgan.models.rrdbnet import RRDBNet

__all__ = [
    "DISCRIMINATORS", "MODELS", "PRETRAINED", "PatchGANDiscriminator", "RRDBNet",
    "UNetDiscriminatorSN", "WeightsError", "build_discriminator", "build_model", "load_pretrained",
    "read_state_dict",
]
