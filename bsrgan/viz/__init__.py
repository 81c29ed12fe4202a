"""Figures of the notebooks, built by the package so the notebooks stay thin.

Every function returns a ``matplotlib.figure.Figure`` drawn in the project style
(:func:`bsrgan.plotting.style`: text >= 9 pt); save it with :class:`bsrgan.plotting.FigureWriter`.

- :mod:`bsrgan.viz.degradation`: the single ops of the degradation model (notebook 01);
- :mod:`bsrgan.viz.shuffle`: one sample step by step, the order statistics, a gallery (01);
- :mod:`bsrgan.viz.training`: training pairs, curves, validation grids (02, 03);
- :mod:`bsrgan.viz.comparison`: bicubic vs BSRNet vs BSRGAN, perception-distortion plot (03).
"""
