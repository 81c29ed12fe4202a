"""VGG perceptual loss: weighted L1 between frozen ImageNet VGG features of prediction and target.

Layer names follow the VGG paper per stage: ``conv{stage}_{k}`` (before its ReLU), ``relu{stage}_{k}``,
``pool{stage}``; ``layer_indices`` gives their positions in torchvision's ``vgg19().features`` /
``vgg16().features``.

Presets (named on VGG19, the paper's backbone):

* ``"released"``: the authors' released BSRGAN GAN config (KAIR ``F_feature_layer`` [2, 7, 16, 25, 34],
  ``F_weights`` [0.1, 0.1, 1, 1, 1]). In torchvision's vgg19().features these indices are the convs
  conv1_2, conv2_2, conv3_4, conv4_4, conv5_4 and the features are taken *before* their ReLU
  (pre-activation features, as advocated by ESRGAN).
* ``"paper"``: the paper's description, features up to the 4th max-pooling layer: we take the last
  conv before pool4, conv4_4, pre-activation (index 25), weight 1. Pre-activation follows ESRGAN,
  on which BSRGAN builds; conv4_4 is the deepest map "up to the 4th pooling layer".

Backbones: ``"vgg19"`` (torchvision IMAGENET1K_V1 weights, downloaded by torch.hub on a machine with
internet, or ``weights_path``) and ``"vgg16"`` (from ``weights_path`` or the asset ``vgg16-features``;
runs offline). With VGG16 each preset layer maps to the same position within the same stage
(counted from the stage's end: conv3_4 -> conv3_3, conv4_4 -> conv4_3, conv5_4 -> conv5_3), which is a
deviation from the paper stated in ``PerceptualLoss.description``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import vgg as tv_vgg

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_CONFIGS = {"vgg16": tv_vgg.cfgs["D"], "vgg19": tv_vgg.cfgs["E"]}
VGG19_URL = tv_vgg.VGG19_Weights.IMAGENET1K_V1.url
VGG16_ASSET = "vgg16-features"
PRESETS: dict[str, dict[str, float]] = {  # layer names on VGG19
    "released": {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0},
    "paper": {"conv4_4": 1.0},
}
_CRITERIA = {"l1": F.l1_loss, "l2": F.mse_loss}


class VGGWeightsError(RuntimeError):
    """VGG weights are unavailable or do not fit; the message says where to put them."""


def layer_names(backbone: str) -> list[str]:
    """Names of the modules of torchvision ``<backbone>().features``, in index order."""
    names, stage, conv = [], 1, 0
    for item in VGG_CONFIGS[backbone]:
        if item == "M":
            names.append(f"pool{stage}")
            stage, conv = stage + 1, 0
        else:
            conv += 1
            names += [f"conv{stage}_{conv}", f"relu{stage}_{conv}"]
    return names


def layer_indices(backbone: str) -> dict[str, int]:
    """Layer name -> index in torchvision ``<backbone>().features`` (e.g. vgg19 conv5_4 -> 34)."""
    return {name: i for i, name in enumerate(layer_names(backbone))}


def map_layer(name: str, src: str, dst: str) -> str:
    """Same layer kind, stage and position from the stage's end in another VGG (vgg19 conv3_4 -> vgg16
    conv3_3). Pool layers map to themselves."""
    match = re.fullmatch(r"(conv|relu)(\d)_(\d)", name)
    if match is None:
        return name
    kind, stage, k = match.group(1), int(match.group(2)), int(match.group(3))
    count = {b: sum(1 for n in layer_names(b) if n.startswith(f"conv{stage}_")) for b in (src, dst)}
    return f"{kind}{stage}_{max(1, count[dst] - (count[src] - k))}"


def _vgg_features(backbone: str, depth: int) -> nn.Sequential:
    """torchvision's VGG feature stack truncated to ``depth`` modules, ReLUs not in place (so a
    captured pre-activation map is not overwritten). Initialised from a private RNG (seed 0)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        layers = tv_vgg.make_layers(VGG_CONFIGS[backbone])[:depth]
    for i, module in enumerate(layers):
        if isinstance(module, nn.ReLU):
            layers[i] = nn.ReLU(inplace=False)
    return layers


def _read_features_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types (unpickling, zip, struct, IO errors)
        raise VGGWeightsError(f"{path}: cannot read VGG weights ({type(err).__name__}: {err})") from err
    if not isinstance(state, Mapping):
        raise VGGWeightsError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def _load_into(features: nn.Sequential, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy torchvision ``features.N.*`` (or bare ``N.*``) tensors into ``features``; fp16 -> fp32."""
    state = {k.removeprefix("features."): v for k, v in state.items()
             if not k.startswith("classifier.")}
    expected = features.state_dict()
    missing = [k for k in expected if k not in state]
    mismatched = [f"{k} file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or mismatched:
        raise VGGWeightsError(f"{source}: not torchvision VGG features weights for this backbone; "
                              f"missing keys: {missing[:8]}; shape mismatches: {mismatched[:8]}")
    features.load_state_dict({k: state[k].float() for k in expected}, strict=True)


def vgg19_cache_path() -> Path:
    """Where torchvision's VGG19 ImageNet file lives in the torch.hub cache (``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_URL).name


def vgg_weights_file(backbone: str, weights_path: str | Path | None = None) -> Path:
    """The local file with ImageNet weights for ``backbone``, obtained once if needed.

    ``weights_path`` if given (must exist); else for ``"vgg19"`` torchvision's file in the
    torch.hub cache, downloaded there (sha256 prefix checked) unless ``BSRGAN_OFFLINE=1``; for
    ``"vgg16"`` the asset ``vgg16-features`` (cache, mirror or download). Raises
    :class:`VGGWeightsError` naming what to do when the file cannot be had.
    """
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise VGGWeightsError(f"{path}: VGG weights file not found")
        return path
    if backbone == "vgg19":
        target = vgg19_cache_path()
        if target.is_file():
            return target
        from bsrgan.assets import AssetSettings  # lazy: settings only matter for a download

        try:
            if AssetSettings.from_env().offline:
                # BSRGAN_OFFLINE=1 means no network for every download, torch.hub's included.
                raise ConnectionError("downloads are disabled (BSRGAN_OFFLINE=1)")
            target.parent.mkdir(parents=True, exist_ok=True)
            hash_prefix = Path(VGG19_URL).stem.rsplit("-", 1)[-1]  # vgg19-dcbb9e9d -> dcbb9e9d
            # writes a temporary file and renames it: an interrupted download leaves no file
            torch.hub.download_url_to_file(VGG19_URL, str(target), hash_prefix=hash_prefix)
        except Exception as err:  # offline: URLError / OSError; bad download: RuntimeError
            raise VGGWeightsError(
                f"cannot obtain torchvision's VGG19 ImageNet weights from {VGG19_URL} "
                f"({type(err).__name__}: {err}). Download that file to {target}, pass "
                f"weights_path=..., or use backbone='vgg16' (offline asset '{VGG16_ASSET}')") from err
        return target
    from bsrgan import assets  # lazy: the asset registry is only needed for the vgg16 default
    try:
        return Path(assets.fetch(VGG16_ASSET))
    except assets.AssetError as err:
        raise VGGWeightsError(f"VGG16 weights unavailable: {err}") from err


def _load_vgg_weights(features: nn.Sequential, backbone: str, weights_path: str | Path | None) -> str:
    """Fill ``features`` with ImageNet weights; returns a short text naming their origin."""
    path = vgg_weights_file(backbone, weights_path)
    _load_into(features, _read_features_state(path), str(path))
    if weights_path is not None:
        return f"ImageNet weights from {path.name}"
    if backbone == "vgg19":
        return "torchvision IMAGENET1K_V1 weights"
    return f"ImageNet weights from asset '{VGG16_ASSET}'"


class PerceptualLoss(nn.Module):
    """``weight * sum_l w_l * criterion(phi_l(pred), phi_l(target))`` over frozen VGG features.

    Args:
        backbone: "vgg19" (paper) or "vgg16" (offline stand-in; a stated deviation).
        preset: "released" or "paper" (see the module docstring); ignored when ``layer_weights``
            is given.
        weights_path: local file with torchvision VGG ``features.*`` weights (fp16 allowed).
        pretrained: must be True outside tests; False gives an untrained (seeded) backbone and says
            so in ``description``.
        layer_weights: explicit ``{layer name: weight}`` in the backbone's own naming.
        criterion: "l1" (paper) or "l2"; weight: overall factor (1 in the paper).

    Inputs ``pred``, ``target``: ``(B, 3, H, W)`` RGB in [0, 1]; they are ImageNet-normalised inside.
    Target features are computed without gradient. Returns a scalar.
    """

    def __init__(self, backbone: str = "vgg19", preset: str = "released",
                 weights_path: str | Path | None = None, pretrained: bool = True,
                 layer_weights: Mapping[str, float] | None = None, criterion: str = "l1",
                 weight: float = 1.0):
        super().__init__()
        if backbone not in VGG_CONFIGS:
            raise ValueError(f"PerceptualLoss: backbone must be one of {sorted(VGG_CONFIGS)}, "
                             f"got {backbone!r}")
        if criterion not in _CRITERIA:
            raise ValueError(f"PerceptualLoss: criterion must be one of {sorted(_CRITERIA)}, "
                             f"got {criterion!r}")
        if weights_path is not None and not pretrained:
            raise ValueError("PerceptualLoss: weights_path given together with pretrained=False")
        if layer_weights is not None:
            preset = "custom"
        else:
            if preset not in PRESETS:
                raise ValueError(f"PerceptualLoss: preset must be one of {sorted(PRESETS)}, "
                                 f"got {preset!r}")
            layer_weights = {map_layer(n, "vgg19", backbone): w for n, w in PRESETS[preset].items()}
        indices = layer_indices(backbone)
        unknown = sorted(set(layer_weights) - set(indices))
        if unknown or not layer_weights:
            raise ValueError(f"PerceptualLoss: unknown {backbone} layers {unknown}; "
                             f"choose from {list(indices)}")
        self.backbone, self.preset, self.criterion = backbone, preset, criterion
        self.weight = float(weight)
        self.layer_weights = dict(sorted(layer_weights.items(), key=lambda kv: indices[kv[0]]))
        self.layers = {name: indices[name] for name in self.layer_weights}
        self.vgg = _vgg_features(backbone, max(self.layers.values()) + 1)
        if pretrained:
            origin = _load_vgg_weights(self.vgg, backbone, weights_path)
        else:
            origin = "UNTRAINED random weights (pretrained=False; for tests only)"
        self.vgg.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.description = self._describe(origin)

    def _describe(self, origin: str) -> str:
        layers = ", ".join(f"{n} (features[{i}]) x{self.layer_weights[n]:g}"
                           for n, i in self.layers.items())
        text = (f"{self.criterion.upper()} perceptual loss x{self.weight:g} on {self.backbone.upper()} "
                f"({origin}) features {layers}; conv layers taken before their ReLU; inputs RGB "
                f"[0,1] ImageNet-normalised; preset '{self.preset}'.")
        if self.backbone == "vgg16":
            text += (" DEVIATION: the paper uses VGG19; VGG16 (real ImageNet weights available "
                     "offline) is used instead, each VGG19 layer mapped to the same position in the "
                     "same stage (e.g. conv3_4 -> conv3_3, conv5_4 -> conv5_3).")
        return text

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.vgg.eval()  # the backbone stays frozen in eval mode
        return self

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Requested feature maps of ``x`` ``(B, 3, H, W)`` in [0, 1], keyed by layer name."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"PerceptualLoss expects (B, 3, H, W) RGB, got {tuple(x.shape)}")
        x = (x - self.mean) / self.std
        wanted = {i: n for n, i in self.layers.items()}
        out = {}
        for i, module in enumerate(self.vgg):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"PerceptualLoss: pred {tuple(pred.shape)} and target "
                             f"{tuple(target.shape)} differ in shape")
        pred_feats = self.features(pred)
        with torch.no_grad():
            target_feats = self.features(target)
        fn = _CRITERIA[self.criterion]
        loss = sum(w * fn(pred_feats[n], target_feats[n]) for n, w in self.layer_weights.items())
        return self.weight * loss

    def extra_repr(self) -> str:
        return f"backbone={self.backbone!r}, layers={self.layers}, weight={self.weight}"
