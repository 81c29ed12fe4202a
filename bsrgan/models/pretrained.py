"""Load released RRDBNet weights (KAIR/BSRGAN layout) and our own trainer's checkpoints.

``load_pretrained("BSRGAN")`` fetches a released model through ``bsrgan.assets``;
``load_pretrained("path/to/file.pth")`` reads a file. The architecture (sf, nf, nb, gc, channels) is
read from the tensor shapes, weights are cast to fp32 and loaded with ``strict=True``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from bsrgan.models.rrdbnet import RRDBNet

# Asset names (see bsrgan.assets) of released RRDBNet weights, all in the KAIR key layout.
PRETRAINED: dict[str, str] = {
    "BSRGAN": "BSRGAN x4, GAN-trained on the BSRGAN degradation model (the paper's main model)",
    "BSRNet": "BSRNet x4, the PSNR-oriented (L1-only) BSRGAN generator",
    "BSRGANx2": "BSRGAN x2 (no upconv2)",
    "RRDB": "RRDB x4, PSNR-oriented ESRGAN generator trained on bicubic degradation",
    "ESRGAN": "ESRGAN x4 (Wang et al. 2018), bicubic degradation",
    "FSSR_DPED": "FSSR x4 (Fritsche et al. 2019), DPED track",
    "FSSR_JPEG": "FSSR x4 (Fritsche et al. 2019), JPEG track",
    "RealSR_DPED": "RealSR x4 (Ji et al. 2020), DPED track",
    "RealSR_JPEG": "RealSR x4 (Ji et al. 2020), DF2K-JPEG track",
    "RealSR_JPEG_x4_fp16": "RealSR x4 DF2K-JPEG converted from realsr-ncnn-vulkan, fp16 (offline mirror)",
}

# Where a trainer checkpoint (a dict of dicts) keeps generator weights, in order of preference:
# EMA weights first (they are what a trained model is evaluated with), then the raw generator, then
# the generic names used by BasicSR ("params_ema", "params"), KAIR/Lightning ("state_dict") and others.
CHECKPOINT_KEYS = ("ema", "params_ema", "generator_ema", "model_ema", "net_g_ema",
                   "generator", "params", "net_g", "state_dict", "model")
# Wrapper prefixes added by DistributedDataParallel / DataParallel / AveragedModel and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_MAX_LISTED = 8
# Trainer checkpoints also hold numpy RNG states (arrays); allow exactly what rebuilding a numpy
# array needs, nothing that runs code. Everything else still goes through weights_only=True.
_NUMPY_ARRAY_GLOBALS = [np.ndarray, np.dtype, type(np.dtype(np.uint32)),
                        getattr(np, "_core", getattr(np, "core", None)).multiarray._reconstruct]


class WeightsError(ValueError):
    """A weights file cannot be read or does not fit RRDBNet; the message names the file.

    Attributes ``missing``, ``unexpected`` (key names) and ``mismatched``
    (``(key, file_shape, model_shape)``) describe a layout mismatch (empty for read errors).
    """

    def __init__(self, message: str, missing=(), unexpected=(), mismatched=()):
        super().__init__(message)
        self.missing, self.unexpected, self.mismatched = list(missing), list(unexpected), list(mismatched)


def _is_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _unwrap_checkpoint(obj, source: Path, depth: int = 0) -> dict[str, torch.Tensor]:
    """Return the generator state dict inside ``obj`` (a state dict or a trainer checkpoint)."""
    if _is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, Mapping) and depth < 3:
        for key in CHECKPOINT_KEYS:
            if isinstance(obj.get(key), Mapping):
                return _unwrap_checkpoint(obj[key], source, depth + 1)
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors:  # a state dict with extra metadata (e.g. AveragedModel's n_averaged counter)
            return tensors
        raise WeightsError(f"{source}: checkpoint has no weights under any of {list(CHECKPOINT_KEYS)}; "
                           f"top-level keys: {sorted(map(str, obj))[:20]}")
    raise WeightsError(f"{source}: expected a state dict (name -> tensor) or a checkpoint dict, "
                       f"found {type(obj).__name__}")


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if key == "n_averaged":  # torch.optim.swa_utils.AveragedModel bookkeeping
            continue
        while key.startswith(WRAPPER_PREFIXES):
            key = key.split(".", 1)[1]
        out[key] = value
    return out


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a weights file into a plain fp32 state dict.

    Accepts plain state dicts and checkpoint dicts (generator weights picked by ``CHECKPOINT_KEYS``
    order: EMA first), strips ``module.`` / ``_orig_mod.`` prefixes, casts floating tensors to fp32.
    Uses ``torch.load(weights_only=True)``: no code from the file is executed.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        with torch.serialization.safe_globals(_NUMPY_ARRAY_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types (unpickling, zip, struct, IO errors)
        raise WeightsError(f"{path}: cannot read as a PyTorch weights file "
                           f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from err
    state = _strip_prefixes(_unwrap_checkpoint(obj, path))
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def infer_rrdbnet_config(state: Mapping[str, torch.Tensor]) -> dict[str, int] | None:
    """RRDBNet constructor arguments implied by a KAIR-layout state dict, or None if not RRDBNet-like.

    sf is 4 when ``upconv2`` is present, else 2; nf/in_nc from ``conv_first``, out_nc from
    ``conv_last``, gc from the first dense conv, nb from the highest ``RRDB_trunk`` index.
    """
    try:
        nf, in_nc = state["conv_first.weight"].shape[:2]
        out_nc = state["conv_last.weight"].shape[0]
        gc = state["RRDB_trunk.0.RDB1.conv1.weight"].shape[0]
    except (KeyError, ValueError, IndexError):
        return None
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"RRDB_trunk\.(\d+)\.", k))}
    return {"in_nc": int(in_nc), "out_nc": int(out_nc), "nf": int(nf), "nb": max(blocks) + 1,
            "gc": int(gc), "sf": 4 if "upconv2.weight" in state else 2}


def _listing(items: list, label: str) -> str:
    shown = ", ".join(map(str, items[:_MAX_LISTED]))
    more = f" ... (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return f"{len(items)} {label}: {shown}{more}"


def check_layout(model: torch.nn.Module, state: Mapping[str, torch.Tensor], source: Path) -> None:
    """Raise WeightsError naming every missing / unexpected key and shape mismatch."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in expected.items()
                  if k in state and state[k].shape != v.shape]
    if not (missing or unexpected or mismatched):
        return
    parts = []
    if missing:
        parts.append(_listing(missing, "missing keys"))
    if unexpected:
        parts.append(_listing(unexpected, "unexpected keys"))
    if mismatched:
        parts.append(_listing([f"{k} file {f} vs model {m}" for k, f, m in mismatched],
                              "shape mismatches"))
    raise WeightsError(f"{source}: not an RRDBNet state dict of the KAIR/BSRGAN layout "
                       f"(compared with RRDBNet({model.extra_repr()})): " + "; ".join(parts),
                       missing, unexpected, mismatched)


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = str(name_or_path)
    if name in PRETRAINED:
        from bsrgan import assets  # lazy: only needed for registry names (raises assets.AssetError)
        return Path(assets.fetch(name))
    raise WeightsError(f"{name}: neither an existing weights file nor a released model name "
                       f"(names: {', '.join(PRETRAINED)})")


def load_pretrained(name_or_path: str | Path, device: str | torch.device = "cpu") -> RRDBNet:
    """Build an RRDBNet matching a weights file and load it (strict), in eval mode, fp32.

    Args:
        name_or_path: a name in ``PRETRAINED`` (fetched via ``bsrgan.assets.fetch``; raises
            ``bsrgan.assets.AssetError`` when it cannot be obtained) or a path to a ``.pth`` file:
            a plain state dict or a checkpoint of our trainer (EMA weights preferred, see
            ``CHECKPOINT_KEYS``).
        device: where to put the model.

    Raises:
        WeightsError: unreadable file, or a state dict that does not fit RRDBNet (the message lists
            missing / unexpected keys and shape mismatches and names the file).
    """
    path = _resolve(name_or_path)
    state = read_state_dict(path)
    config = infer_rrdbnet_config(state)
    model = RRDBNet(**config) if config else RRDBNet()  # default: report against the x4 release
    check_layout(model, state, path)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
