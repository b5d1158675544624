"""Label images <-> pixel-exact outlines, and outlines -> pixel masks (pure numpy).

Outlines run along pixel edges (integer vertices, ImageJ coordinates). Every boundary edge of
a label is directed with the label on its right-hand side (clockwise on screen for outer
boundaries, counter-clockwise for holes); at a vertex where the label touches itself only
diagonally the outline turns right, so diagonal neighbours get separate outlines. Filling all
outlines of a label with the even-odd rule at pixel centres gives back exactly its pixels,
as ImageJ's ThresholdToSelection composite ROIs do.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError

# Edge directions (dx, dy); turning right in y-down coordinates is (d + 1) % 4.
_RIGHT, _DOWN, _LEFT, _UP = 0, 1, 2, 3
_STEP = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int64)


def _next_direction_table() -> np.ndarray:
    """table[d, block] = direction of the edge that follows an edge of direction d.

    ``block`` encodes which of the four pixels around the shared vertex carry the label:
    bit 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right.
    """
    table = np.full((4, 16), -1, dtype=np.int8)
    for block in range(16):
        tl, tr, bl, br = (bool(block >> i & 1) for i in range(4))
        leaves = {  # outgoing edge of direction d exists at this vertex
            _RIGHT: br and not tr,
            _DOWN: bl and not br,
            _LEFT: tl and not bl,
            _UP: tr and not tl,
        }
        for d in range(4):
            for turn in (1, 0, 3):  # right turn first, then straight, then left
                if leaves[(d + turn) % 4]:
                    table[d, block] = (d + turn) % 4
                    break
    return table


_NEXT_DIRECTION = _next_direction_table()


def _validated_labels(labels: np.ndarray) -> np.ndarray:
    """Return ``labels`` as a 2-D int64 array, or raise InputError."""
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise InputError(f"a label image must be 2-D, got an array of shape {arr.shape}")
    if arr.dtype.kind == "b":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError("a label image must hold whole numbers; this float image has fractional or non-finite values")
    elif arr.dtype.kind not in "iu":
        raise InputError(f"a label image must have an integer type, got {arr.dtype}")
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise InputError("label values above 2**63 - 1 are not supported")
    if arr.size and arr.min() < 0:
        raise InputError(f"a label image must not hold negative values (found {arr.min()})")
    return arr.astype(np.int64, copy=False)


def _boundary_edges(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All directed boundary edges of all labels > 0 of a zero-padded label image, sorted by
    (start vertex, direction). Returns (x, y, direction, label) of each edge's start vertex."""
    w = padded.shape[1] - 2
    inner = padded[1:-1, 1:-1]
    parts = []
    # (neighbour slice, start offset (dx, dy) relative to the pixel, direction)
    for neighbour, (dx, dy), direction in (
        (padded[:-2, 1:-1], (0, 0), _RIGHT),   # top edge, left to right
        (padded[1:-1, 2:], (1, 0), _DOWN),     # right edge, top to bottom
        (padded[2:, 1:-1], (1, 1), _LEFT),     # bottom edge, right to left
        (padded[1:-1, :-2], (0, 1), _UP),      # left edge, bottom to top
    ):
        ys, xs = np.nonzero((inner != neighbour) & (inner > 0))
        parts.append((xs + dx, ys + dy, np.full(xs.size, direction, np.int8), inner[ys, xs]))
    x, y, d, lab = (np.concatenate(p) for p in zip(*parts))
    order = np.argsort(((y * (w + 1) + x) * 4 + d), kind="stable")
    return x[order], y[order], d[order], lab[order]


def _follow(padded: np.ndarray, x: np.ndarray, y: np.ndarray, d: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Index of the edge that follows each edge along its outline."""
    w = padded.shape[1] - 2
    ex, ey = x + _STEP[d, 0], y + _STEP[d, 1]
    # pixels around the end vertex (ex, ey): padded index = pixel index + 1
    block = ((padded[ey, ex] == lab).astype(np.int64)
             | (padded[ey, ex + 1] == lab) << 1
             | (padded[ey + 1, ex] == lab) << 2
             | (padded[ey + 1, ex + 1] == lab) << 3)
    nd = _NEXT_DIRECTION[d, block].astype(np.int64)
    keys = (y * (w + 1) + x) * 4 + d
    return np.searchsorted(keys, (ey * (w + 1) + ex) * 4 + nd)


def _cycle_order(nxt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a permutation made of cycles: each element's cycle id (its smallest member) and
    its distance from that member along the cycle."""
    n = nxt.size
    first = np.arange(n)
    jump = nxt.copy()
    while True:  # pointer doubling: minimum over 2**k successors
        smaller = np.minimum(first, first[jump])
        if np.array_equal(smaller, first):
            break
        first, jump = smaller, jump[jump]
    # list ranking on the cycles cut before their first member
    succ = np.where(nxt == first, np.arange(n), nxt)
    dist = (succ != np.arange(n)).astype(np.int64)
    while True:
        nsucc = succ[succ]
        if np.array_equal(nsucc, succ):
            break
        dist = dist + dist[succ]
        succ = nsucc
    length = np.bincount(first, minlength=n)[first]
    return first, length - 1 - dist


def _trace(labels: np.ndarray) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """Outlines of every label > 0: (sorted label values, outlines per label)."""
    padded = np.pad(labels, 1)
    x, y, d, lab = _boundary_edges(padded)
    if x.size == 0:
        return np.empty(0, np.int64), []
    nxt = _follow(padded, x, y, d, lab)
    cycle, position = _cycle_order(nxt)
    # keep vertices where the direction changes (edge start after a turn)
    corner = np.empty(x.size, dtype=bool)
    corner[nxt] = d != d[nxt]
    keep = np.flatnonzero(corner)
    order = keep[np.lexsort((position[keep], cycle[keep], lab[keep]))]
    points = np.stack([x[order], y[order]], axis=1).astype(np.float64)
    cyc = cycle[order]
    cuts = np.flatnonzero(cyc[1:] != cyc[:-1]) + 1
    outlines = np.split(points, cuts)
    starts = np.concatenate([[0], cuts])
    outline_labels = lab[order][starts]
    label_values, label_starts = np.unique(outline_labels, return_index=True)
    bounds = [*label_starts[1:], len(outlines)]
    grouped = [outlines[a:b] for a, b in zip(label_starts, bounds)]
    return label_values, grouped


def mask_outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Outlines (outer boundaries and holes) of a boolean mask as (N, 2) integer-vertex arrays.

    Filling all outlines with the even-odd rule at pixel centres gives back exactly ``mask``.
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise InputError(f"a mask must be 2-D, got an array of shape {arr.shape}")
    _, grouped = _trace(arr.astype(bool).astype(np.int64))
    return grouped[0] if grouped else []


def labels_to_annotations(
    labels: np.ndarray,
    *,
    position: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Annotation]:
    """One Annotation per label value k > 0 (ascending), named ``f"{k:04d}"``.

    A label with a single outline becomes a "traced" ROI; one with holes or several pieces a
    "composite" ROI (first outline in ``polygon``, the others in ``subpaths``).
    ``progress(done, total)`` is called as annotations are built.
    """
    values, grouped = _trace(_validated_labels(labels))
    total = len(values)
    anns = []
    for i, (k, outlines) in enumerate(zip(values.tolist(), grouped)):
        anns.append(Annotation(
            outlines[0], name=f"{k:04d}", position=position,
            roi_type="traced" if len(outlines) == 1 else "composite",
            subpaths=tuple(outlines[1:]),
        ))
        if progress is not None and (i % 1000 == 999 or i == total - 1):
            progress(i + 1, total)
    return anns


def _area_paths(ann: Annotation) -> list[np.ndarray]:
    """The outlines ImageJ fills for ``ann`` (not yet checked for finite coordinates); a rectangle
    becomes the whole-pixel box ImageJ's Roi(x, y, width, height) covers."""
    name = ann.name or "(unnamed)"
    if not ann.is_area:
        raise InputError(f"ROI {name} is a {ann.roi_type}, not an area: it has no pixel mask")
    paths = [p for p in ann.paths if len(p) >= 3]
    if not paths:
        raise InputError(f"ROI {name} has fewer than 3 vertices: it encloses no area")
    if ann.roi_type == "rectangle":
        return [_rectangle_box(np.concatenate(paths))]
    return paths


def _rectangle_box(points: np.ndarray) -> np.ndarray:
    """Integer outline of the pixels ImageJ's Roi(x, y, width, height) covers: it has no mask, so
    its whole integer bounds, from (int) x and max(ceil(width), 1) (ImageJ 1.53t)."""
    low, high = points.min(axis=0), points.max(axis=0)
    x0, y0 = np.trunc(low)
    x1, y1 = np.trunc(low) + np.maximum(np.ceil(high - low), 1)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _outlines(anns: Sequence[Annotation]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All outlines of all annotations, one annotation after another: (vertices (N, 2), number of
    vertices of each outline, annotation index of each outline)."""
    paths = [(i, p) for i, ann in enumerate(anns) for p in _area_paths(ann)]
    points = np.concatenate([p for _, p in paths])
    sizes = np.array([len(p) for _, p in paths], dtype=np.int64)
    path_owner = np.array([i for i, _ in paths], dtype=np.int64)
    finite = np.isfinite(points).all(axis=1)
    if not finite.all():
        name = anns[np.repeat(path_owner, sizes)[np.argmin(finite)]].name or "(unnamed)"
        raise InputError(f"ROI {name} has coordinates that are not finite numbers")
    return points, sizes, path_owner


def _imagej_frame(points: np.ndarray, owner: np.ndarray, composite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices as ImageJ's PolygonFiller gets them, and the integer corner they are relative to.

    ``owner`` is the annotation index of each vertex (ascending), ``composite`` tells for each
    annotation whether ImageJ holds it as a ShapeRoi. ImageJ keeps float32 coordinates relative
    to the ROI's bounds: a PolygonRoi as float32 offsets from its float bounds corner, given to
    the filler plus that corner's distance from the integer corner; a ShapeRoi as float32
    offsets from the integer corner. Returns (local (N, 2) float64, integer corner of each
    annotation (M, 2) float64)."""
    p32 = points.astype(np.float32)
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    low = np.minimum.reduceat(p32, first, axis=0)
    corner = np.floor(low.astype(np.float64))
    origin = np.where(composite[:, None], corner.astype(np.float32), low)
    local = (p32 - origin[owner]).astype(np.float64)  # rounded to float32 as in ImageJ
    local += (origin - corner)[owner]
    return local, corner


def _java_round(v: np.ndarray) -> np.ndarray:
    """Java's Math.round for v >= 0: the nearest integer, halves up (without rounding v + 0.5)."""
    down = np.floor(v)
    return down + (v - down >= 0.5)


def _crossings(anns: Sequence[Annotation], h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the outlines cross the rows of an h x w image, as ImageJ 1.53t's PolygonFiller
    (PolygonRoi.getMask, ShapeRoi.getMask) finds them: (annotation index, row, column from
    which the crossing toggles the pixels of the row), clipped to the image.

    In ImageJ's frame (see _imagej_frame) an edge from (x1, y1) to (x2, y2) with
    round(y1) < round(y2) (round: halves up) meets the rows r from round(y1) to round(y2) - 1 at
    x = x1 + (round(y1) + 0.5 - y1) * slope + 1e-8 + (r - round(y1)) * slope, and toggles the
    pixels from column (int)(x + 0.5) on. ImageJ adds the slope row by row where this multiplies,
    which differs in the last bits only, far below the 1e-8 nudge."""
    points, sizes, path_owner = _outlines(anns)
    owner = np.repeat(path_owner, sizes)
    composite = np.array([ann.roi_type == "composite" for ann in anns])
    local, corner = _imagej_frame(points, owner, composite)
    ends = np.cumsum(sizes)
    following = np.arange(1, local.shape[0] + 1)
    following[ends - 1] = ends - sizes  # each outline closes on its first vertex
    band = _java_round(local[:, 1])
    edge = np.flatnonzero(band != band[following])  # an edge within one row band crosses no row
    a, b = edge, following[edge]
    down = band[a] < band[b]
    a, b = np.where(down, a, b), np.where(down, b, a)  # start at the smaller row
    ax, ay = local[a, 0], local[a, 1]
    slope = (local[b, 0] - ax) / (local[b, 1] - ay)
    start_x = ax + (band[a] - ay + 0.5) * slope + 1e-8
    owner = owner[a]
    top = band[a] + corner[owner, 1]  # image row of the first crossing
    r0 = np.clip(top, 0, h).astype(np.int64)
    r1 = np.clip(band[b] + corner[owner, 1], 0, h).astype(np.int64)
    counts = r1 - r0
    edge = np.repeat(np.arange(counts.size), counts)
    step = np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = r0[edge] + step
    x = start_x[edge] + (step + (r0 - top)[edge]) * slope[edge]
    cols = np.floor(x + 0.5)  # x + 0.5 > 0: (int) in Java
    cols += corner[owner, 0][edge]
    np.clip(cols, 0, w, out=cols)
    return owner[edge], rows, cols.astype(np.int64)


def _spans(anns: Sequence[Annotation], h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of pixels inside each annotation (ImageJ's rule, see _crossings; even-odd over all
    its outlines), clipped to an h x w image: (annotation index, row, first column, end column),
    sorted by annotation index."""
    ann, rows, cols = _crossings(anns, h, w)
    # one sort key (annotation, row, column); fits in int64 for any label image that fits in memory
    order = np.argsort((ann * h + rows) * (w + 1) + cols, kind="stable")
    ann, rows, cols = ann[order], rows[order], cols[order]
    first, last = cols[0::2], cols[1::2]  # every row meets a closed outline an even number of times
    keep = last > first
    return ann[0::2][keep], rows[0::2][keep], first[keep], last[keep]


def _span_pixels(rows: np.ndarray, first: np.ndarray, last: np.ndarray, w: int) -> np.ndarray:
    """Flat indices of all pixels in the runs."""
    lengths = last - first
    offsets = np.repeat(rows * w + first - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(offsets.size)


def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
    if len(shape) != 2 or min(shape) < 0:
        raise InputError(f"an image shape must be (height, width), got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def annotation_mask(ann: Annotation, shape: Sequence[int]) -> np.ndarray:
    """Boolean mask of ``shape`` (height, width): the pixels ImageJ 1.53t's Roi.getMask gives.

    A pixel is in when its centre, moved up and left by a hair (1e-8 in x), is inside: even-odd
    over all outlines, computed as ImageJ's PolygonFiller does (float32 vertices relative to the
    ROI's bounds). So a centre exactly on the outline is in on right and bottom edges, out on
    left and top edges. A rectangle covers what ImageJ's Roi(x, y, width, height) covers:
    columns (int) x to (int) x + max(ceil(width), 1) - 1, rows alike."""
    h, w = _check_shape(shape)
    _, rows, first, last = _spans([ann], h, w)
    mask = np.zeros(h * w, dtype=bool)
    mask[_span_pixels(rows, first, last, w)] = True
    return mask.reshape(h, w)


def annotation_mask_in(ann: Annotation, shape: Sequence[int], box: tuple[int, int, int, int]) -> np.ndarray:
    """``annotation_mask(ann, shape)[y0:y1, x0:x1]`` for ``box`` = (x0, y0, x1, y1) inside the
    image, computed for the box only. The outline is not moved into the box's frame: moved
    vertices round differently, and a pixel centre exactly on an edge could change sides."""
    h, w = _check_shape(shape)
    x0, y0, x1, y1 = box
    _, rows, first, last = _spans([ann], h, w)
    inside = (rows >= y0) & (rows < y1)
    rows, first, last = rows[inside], np.clip(first[inside], x0, x1), np.clip(last[inside], x0, x1)
    keep = last > first
    mask = np.zeros((y1 - y0) * (x1 - x0), dtype=bool)
    mask[_span_pixels(rows[keep] - y0, first[keep] - x0, last[keep] - x0, x1 - x0)] = True
    return mask.reshape(y1 - y0, x1 - x0)


def annotations_to_labels(
    anns: Sequence[Annotation], shape: Sequence[int], *, values: Sequence[int] | None = None,
) -> np.ndarray:
    """Label image of ``shape``: ROI i painted with ``values[i]`` (default i + 1), later ROIs
    over earlier ones; uint16 when every value fits, else uint32."""
    h, w = _check_shape(shape)
    if isinstance(anns, np.ndarray) or not all(isinstance(a, Annotation) for a in anns):
        raise InputError("annotations_to_labels needs a list of Annotation objects "
                         "(wrap an (N, 2) xy polygon as Annotation(polygon))")
    if values is None:
        vals = np.arange(1, len(anns) + 1, dtype=np.int64)
    else:
        given = np.asarray(values).reshape(-1)
        if given.dtype.kind not in "biuf" or (given.dtype.kind == "f" and not (
                np.isfinite(given).all() and np.array_equal(given, np.round(given)))):
            raise InputError("label values must be whole numbers between 0 and 4294967295")
        if given.dtype.kind == "f" and given.size and max(-given.min(), given.max()) >= 2.0**63:
            raise InputError("label values must be between 0 and 4294967295")
        vals = given.astype(np.int64)
        if vals.size != len(anns):
            raise InputError(f"got {vals.size} label values for {len(anns)} ROIs")
        if vals.size and (vals.min() < 0 or vals.max() > np.iinfo(np.uint32).max):
            raise InputError("label values must be between 0 and 4294967295")
    dtype = np.uint16 if not vals.size or vals.max() <= np.iinfo(np.uint16).max else np.uint32
    topmost = np.zeros(h * w, dtype=np.int64)  # 1 + index of the last ROI covering each pixel
    if anns:
        ann, rows, first, last = _spans(anns, h, w)
        # paint in pieces of about 4 M pixels to bound the memory used
        painted = np.cumsum(last - first)
        cuts = np.searchsorted(painted, np.arange(1 << 22, int(painted[-1]) if painted.size else 0, 1 << 22))
        for part in np.split(np.arange(ann.size), cuts):
            pixels = _span_pixels(rows[part], first[part], last[part], w)
            np.maximum.at(topmost, pixels, np.repeat(ann[part] + 1, last[part] - first[part]))
    lookup = np.concatenate([[0], vals]).astype(dtype)
    return lookup[topmost].reshape(h, w)
