"""The annotation record shared by every part of fiji_bridge (pure Python, no JVM)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ROI_TYPES = (
    "polygon", "freehand", "traced", "rectangle", "oval",
    "line", "polyline", "freeline", "point", "composite",
)
AREA_TYPES = ("polygon", "freehand", "traced", "rectangle", "oval", "composite")


_INT_MAX = 2**31 - 1  # ImageJ stores positions as Java ints


@dataclass(eq=False)
class Annotation:
    """One ImageJ ROI as plain data, in ImageJ coordinates.

    ``polygon`` is an (N, 2) float array of x, y vertices: x right, y down, pixel (x, y)
    covers [x, x+1) x [y, y+1), so an outline traced along pixel edges has integer vertices.
    A composite ROI (holes, several pieces, as ImageJ's ThresholdToSelection makes) keeps its
    first outline in ``polygon`` and the others in ``subpaths``; all outlines together are
    filled with the even-odd rule. ``position`` is ImageJ's 1-based stack position (0 = none),
    ``hyperstack`` ImageJ's hyperstack position (channel, slice, frame; 0 = any) or None (see
    ``fiji_bridge.rois.planes``), ``group`` the class (0 = unclassified, 1..255),
    ``stroke_color`` '#RRGGBB' or '#AARRGGBB'.
    """

    polygon: np.ndarray
    name: str = ""
    group: int = 0
    position: int = 0
    stroke_color: str | None = None
    roi_type: str = "polygon"
    subpaths: tuple[np.ndarray, ...] = field(default_factory=tuple)
    hyperstack: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        self.polygon = np.asarray(self.polygon, dtype=np.float64).reshape(-1, 2)
        self.subpaths = tuple(np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in self.subpaths)
        if self.roi_type not in ROI_TYPES:
            raise ValueError(f"unknown ROI type {self.roi_type!r}; expected one of {', '.join(ROI_TYPES)}")
        if not 0 <= int(self.group) <= 255:
            raise ValueError(f"ROI group must be 0..255, got {self.group}")
        if not 0 <= int(self.position) <= _INT_MAX:
            raise ValueError(f"stack position must be 0..{_INT_MAX} (ImageJ's int), got {self.position}")
        if self.hyperstack is not None:
            self.hyperstack = tuple(int(v) for v in self.hyperstack)
            if len(self.hyperstack) != 3 or min(self.hyperstack) < 0 or max(self.hyperstack) > _INT_MAX:
                raise ValueError(f"hyperstack position must be (channel, slice, frame) in 0..{_INT_MAX}, "
                                 f"got {self.hyperstack}")

    @property
    def paths(self) -> list[np.ndarray]:
        """All outlines: ``polygon`` first, then ``subpaths``."""
        return [self.polygon, *self.subpaths]

    @property
    def is_area(self) -> bool:
        """True for ROI types that enclose pixels (not lines or points)."""
        return self.roi_type in AREA_TYPES

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) over all outlines."""
        pts = np.concatenate(self.paths)
        return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())
