"""The lessons' plots: the shared `vecgrad.viz.plot` module, under the name lessons use."""

from vecgrad.viz.plot import (COLORS, MARKERS, LinePlot, Series, bar_chart, heatmap,
                              line_plot, plotext_available)

__all__ = ["COLORS", "MARKERS", "LinePlot", "Series", "bar_chart", "heatmap", "line_plot",
           "plotext_available"]
