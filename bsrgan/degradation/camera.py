"""Constant tables for the synthetic camera of the processed-sensor-noise degradation.

Every number here is published data from Brooks et al., "Unprocessing Images for Learned Raw
Denoising", CVPR 2019 (public code: google-research/unprocessing, ``unprocess.py``); see
``docs/camera_noise.md`` for how each one is used and where this project deviates.
"""

from __future__ import annotations

import numpy as np

#: Four fixed XYZ -> camera colour matrices (Brooks' ``random_ccm``: measured on real cameras,
#: Adobe-DNG "ColorMatrix" style). A random convex combination of them is one synthetic camera.
XYZ_TO_CAMERA_MATRICES = np.array(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ],
    dtype=np.float64,
)

#: Linear sRGB (D65) -> CIE XYZ, as used by Brooks (IEC 61966-2-1 primaries).
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)

#: Brooks' ``random_gains``: brightness gain is 1 / N(mean, std); white-balance gains uniform.
RGB_GAIN_INVERSE_MEAN = 0.8
RGB_GAIN_INVERSE_STD = 0.1
#: Guard on the normal draw (mean +- 5 std): only keeps 1/N finite and positive, never active
#: in practice (probability ~6e-7 per draw).
RGB_GAIN_INVERSE_CLIP = (0.3, 1.3)
RED_GAIN_RANGE = (1.9, 2.4)
BLUE_GAIN_RANGE = (1.5, 1.9)

#: Brooks' ``random_noise_levels``: log(shot) ~ U(log 1e-4, log 1.2e-2);
#: log(read) = 2.18 * log(shot) + 1.20 + N(0, 0.26). Both are variance coefficients:
#: Var[raw] = read + shot * raw.
SHOT_NOISE_RANGE = (1e-4, 1.2e-2)
READ_NOISE_SLOPE = 2.18
READ_NOISE_INTERCEPT = 1.20
READ_NOISE_LOG_STD = 0.26

#: Highlight-preserving inverse gains (Brooks' ``safe_invert_gains``): gains fade to 1 above this
#: grey level so saturated pixels are not dimmed.
HIGHLIGHT_INFLECTION = 0.9

#: Colour of each site of a 2x2 Bayer tile, row-major, 0 = R, 1 = G, 2 = B.
BAYER_PATTERNS: dict[str, tuple[int, int, int, int]] = {
    "RGGB": (0, 1, 1, 2),
    "BGGR": (2, 1, 1, 0),
    "GRBG": (1, 0, 2, 1),
    "GBRG": (1, 2, 0, 1),
}

DEMOSAIC_METHODS = ("bilinear", "malvar")
TONE_MAPPINGS = ("smoothstep", "none")
DEFAULT_GAMMA = 2.2
