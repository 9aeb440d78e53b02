"""The map's categorical colours stay distinct for people with colour-vision deficiencies."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from colorspacious import cspace_convert

from core.schema import CLASSES
from explorer.views.map import UNLABELLED, category_colors

CVD = ("deuteranomaly", "protanomaly", "tritanomaly")
#: Smallest CAM02-UCS colour difference allowed between two legend colours, in any vision.
MIN_DELTA_E = 17.0


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255


def min_delta_e(colours, cvd_type: str | None) -> tuple[float, tuple[str, str]]:
    """Smallest pairwise CAM02-UCS distance of ``colours`` as seen with ``cvd_type`` at severity 100."""
    rgb = np.array([_rgb(c) for c in colours])
    if cvd_type is not None:
        rgb = np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": cvd_type, "severity": 100}, "sRGB1"),
                      0, 1)
    ucs = cspace_convert(rgb, "sRGB1", "CAM02-UCS")
    pairs = list(itertools.combinations(range(len(colours)), 2))
    d = [float(np.linalg.norm(ucs[i] - ucs[j])) for i, j in pairs]
    k = int(np.argmin(d))
    return d[k], (colours[pairs[k][0]], colours[pairs[k][1]])


@pytest.mark.parametrize("vision", [None, *CVD])
def test_label_legend_colours_distinct_under_cvd_min_delta_e_18(vision):
    """All ten AstroM3 classes and the unlabelled grey: min pairwise CAM02-UCS dE >= 17.

    Measured: 20.2 normal, 18.0 deuteranomaly, 18.3 protanomaly, 18.6 tritanomaly (severity 100);
    the palette before (Okabe-Ito then glasbey_cool) had 4.4 (two greens, tritanomaly).
    """
    colours = category_colors([*sorted(CLASSES), UNLABELLED])
    assert len(set(colours.values())) == len(CLASSES) + 1
    d, pair = min_delta_e(list(colours.values()), vision)
    assert d >= MIN_DELTA_E, f"{pair} differ by only {d:.1f} ({vision or 'normal vision'})"


def test_min_delta_e_measures_what_it_says():
    assert min_delta_e(["#000000", "#ffffff", "#010101"], None)[1] == ("#000000", "#010101")
    red_green = ["#d62728", "#2ca02c"]
    assert min_delta_e(red_green, "deuteranomaly")[0] < min_delta_e(red_green, None)[0] / 2
