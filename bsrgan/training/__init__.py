"""Training BSRNet (stage 1, L1) and BSRGAN (stage 2, L1 + VGG + GAN).

``train(config, out_dir)`` runs one stage and returns a :class:`TrainResult`;
``python -m bsrgan.train --config experiments/<name>.yaml`` (or ``torchrun ... -m bsrgan.train``)
and ``bsrgan train --config ...`` do the same from a shell.
"""
from bsrgan.training.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from bsrgan.training.config import (
    LOSS_PRESETS,
    STAGE_DEFAULTS,
    ConfigError,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    ResumeConfigError,
    RuntimeConfig,
    TrainConfig,
    ValidationConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    replace,
    save_config,
)
from bsrgan.training.dataset import BlindSRDataset, MissingTrainingDataError, ResumableSampler
from bsrgan.training.ema import ModelEMA
from bsrgan.training.trainer import NonFiniteLossError, Trainer, TrainResult, train

__all__ = [
    "LOSS_PRESETS", "STAGE_DEFAULTS", "BlindSRDataset", "ConfigError", "DataConfig", "LossConfig",
    "MissingTrainingDataError", "ModelConfig", "ModelEMA", "NonFiniteLossError", "OptimConfig",
    "ResumableSampler", "ResumeConfigError",
    "RuntimeConfig", "TrainConfig", "TrainResult", "Trainer", "ValidationConfig",
    "config_from_dict", "config_to_dict", "latest_checkpoint", "list_checkpoints",
    "load_checkpoint", "load_config", "replace", "save_config", "train",
]
