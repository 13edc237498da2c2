"""See what a network sees (``striate.viz``): filters, feature maps, receptive fields, Grad-CAM,
saliency, training curves, confusion matrices, prediction grids and the HTML run report.

Plots need matplotlib (``pip install 'striate[plot]'``), imported only when a plot is drawn;
:func:`feature_maps`, :func:`receptive_field`, :func:`grad_cam` and :func:`saliency` return
arrays and need NumPy alone. Every ``plot_*`` function takes an optional ``path``: given, it
writes a PNG of exactly ``figsize * dpi`` pixels there and returns the path; omitted, it
returns the matplotlib ``Figure``. The ``striate show`` and ``striate report`` commands live in
:mod:`striate.viz.cli`.

>>> from striate import viz
>>> viz.plot_filters(model.features[0], "filters.png")
'filters.png'
"""
from .attribution import grad_cam, plot_grad_cam, plot_saliency, resize_bilinear, saliency
from .features import feature_maps, plot_feature_map, plot_feature_maps
from .filters import plot_filters
from .history import plot_history
from .predictions import confusion_matrix, plot_confusion_matrix, plot_predictions
from .receptive_field import empirical_receptive_field, plot_receptive_field, receptive_field
from .report import write_report

__all__ = [
    "confusion_matrix",
    "empirical_receptive_field",
    "feature_maps",
    "grad_cam",
    "plot_confusion_matrix",
    "plot_feature_map",
    "plot_feature_maps",
    "plot_filters",
    "plot_grad_cam",
    "plot_history",
    "plot_predictions",
    "plot_receptive_field",
    "plot_saliency",
    "receptive_field",
    "resize_bilinear",
    "saliency",
    "write_report",
]
