"""bsrgan.data: the embedded photographs need no network and are real colour photos."""
import numpy as np
import pytest

from bsrgan.data import EMBEDDED_PHOTOS, embedded_hr_images


def test_embedded_images_are_colour_photos():
    images = embedded_hr_images()
    assert list(images) == list(EMBEDDED_PHOTOS)
    for name, img in images.items():
        assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3, name
        assert min(img.shape[:2]) >= 300, name  # large enough for a 288 px HR crop
        assert 0.0 <= img.min() and img.max() <= 1.0
        # colour, not gray: channels differ somewhere substantially
        assert np.abs(img[..., 0] - img[..., 2]).mean() > 0.02, name
        # natural photos have rich texture: many distinct values
        assert len(np.unique(np.rint(img[..., 1] * 255))) > 100, name


def test_subset_and_unknown_name():
    assert list(embedded_hr_images(["coffee"])) == ["coffee"]
    with pytest.raises(KeyError, match="available"):
        embedded_hr_images(["lena"])
