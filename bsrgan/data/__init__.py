"""Image data that ships with the package's dependencies (no download needed)."""
from bsrgan.data.embedded import EMBEDDED_PHOTOS, embedded_hr_images

__all__ = ["EMBEDDED_PHOTOS", "embedded_hr_images"]
