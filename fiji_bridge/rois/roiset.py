"""Read and write ImageJ ROI files (.roi) and ROI Manager sets (RoiSet.zip) with roifile."""
from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from roifile import ROI_OPTIONS, ROI_TYPE, ImagejRoi

from fiji_bridge.annotation import Annotation
from fiji_bridge.atomic import atomic_path
from fiji_bridge.errors import InputError
from fiji_bridge.rois.labels import annotation_mask, mask_outlines

_NO_COLOR = b"\x00\x00\x00\x00"
_MOVETO, _LINETO, _CLOSE = 0.0, 1.0, 4.0
_POLYGON_TYPES = {
    ROI_TYPE.POLYGON: "polygon", ROI_TYPE.FREEHAND: "freehand", ROI_TYPE.TRACED: "traced",
    ROI_TYPE.POLYLINE: "polyline", ROI_TYPE.FREELINE: "freeline", ROI_TYPE.ANGLE: "polyline",
    ROI_TYPE.POINT: "point",
}
_WRITE_TYPES = {
    "polygon": ROI_TYPE.POLYGON, "freehand": ROI_TYPE.FREEHAND, "traced": ROI_TYPE.TRACED,
    "polyline": ROI_TYPE.POLYLINE, "freeline": ROI_TYPE.FREELINE, "point": ROI_TYPE.POINT,
}
# ImageJ keeps integer coordinates as 16-bit offsets from the bounding box corner
_MIN_INT, _MAX_INT, _MAX_SPAN = -5000, 60535, 32767


# ---------------------------------------------------------------- reading

def read_roiset(path: str | os.PathLike) -> list[Annotation]:
    """Annotations from a .roi file or a ROI Manager .zip, in file order."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ROI file not found: {path}")
    if path.suffix.lower() != ".zip":
        return [_decode(path.read_bytes(), path.stem, f"{path}")]
    try:
        with zipfile.ZipFile(path) as zf:
            entries = [(info.filename, zf.read(info)) for info in zf.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise InputError(f"{path} is not a readable ROI set zip: {exc}") from exc
    anns = []
    for name, data in entries:
        where = f"{path}, entry {name!r}"
        if not name.lower().endswith(".roi"):
            raise InputError(f"{where} is not an ImageJ ROI (.roi) file")
        anns.append(_decode(data, Path(name).stem, where))
    return anns


def _decode(data: bytes, fallback_name: str, where: str) -> Annotation:
    try:
        roi = ImagejRoi.frombytes(data)
        return _to_annotation(roi, fallback_name)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from exc
    except Exception as exc:  # roifile and numpy raise many kinds on corrupt bytes
        raise InputError(f"{where} is not a valid ImageJ ROI: {exc}") from exc


def _to_annotation(roi: ImagejRoi, fallback_name: str) -> Annotation:
    common = dict(
        name=roi.name or fallback_name, group=int(roi.group) if 0 <= roi.group <= 255 else 0,
        position=int(roi.position), stroke_color=_color_to_hex(roi.stroke_color),
        hyperstack=_hyperstack(roi),
    )
    if roi.roitype == ROI_TYPE.RECT and roi.composite:
        paths = [_open_path(p) for p in ImagejRoi.path2coords(roi.multi_coordinates)]
        paths = [p for p in paths if len(p)]
        if not paths:
            raise InputError("composite ROI has no outline")
        return Annotation(paths[0], subpaths=tuple(paths[1:]), roi_type="composite", **common)
    if roi.roitype == ROI_TYPE.RECT and roi.rounded_rect_arc_size > 0:  # ImageJ's Roi(x, y, w, h, arc)
        outline = rounded_rect_outline(roi.left, roi.top, roi.right - roi.left, roi.bottom - roi.top,
                                       roi.rounded_rect_arc_size)
        return Annotation(outline, roi_type="traced", **common)
    if roi.roitype == ROI_TYPE.RECT:
        if roi.subpixelrect:
            x0, y0, x1, y1 = roi.xd, roi.yd, roi.xd + roi.widthd, roi.yd + roi.heightd
        else:
            x0, y0, x1, y1 = roi.left, roi.top, roi.right, roi.bottom
        return Annotation([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], roi_type="rectangle", **common)
    if roi.roitype == ROI_TYPE.OVAL:
        return Annotation(oval_outline(roi.left, roi.top, roi.right - roi.left, roi.bottom - roi.top),
                          roi_type="oval", **common)
    if roi.roitype == ROI_TYPE.LINE:
        return Annotation([[roi.x1, roi.y1], [roi.x2, roi.y2]], roi_type="line", **common)
    if roi.roitype in _POLYGON_TYPES:
        coords = np.asarray(roi.coordinates(), dtype=np.float64)
        if coords.size == 0:
            raise InputError(f"{roi.roitype.name.lower()} ROI has no coordinates")
        return Annotation(coords, roi_type=_POLYGON_TYPES[roi.roitype], **common)
    raise InputError(f"ROI type {roi.roitype.name} is not supported")


def _hyperstack(roi: ImagejRoi) -> tuple[int, int, int] | None:
    """(channel, slice, frame) when the ROI has a hyperstack position, as ImageJ's RoiDecoder reads it."""
    ctz = (int(roi.c_position), int(roi.z_position), int(roi.t_position))
    return ctz if max(ctz) > 0 else None


def _open_path(points: np.ndarray) -> np.ndarray:
    """Drop the closing vertex that repeats the first one."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
        pts = pts[:-1]
    return pts


def oval_outline(left: int, top: int, width: int, height: int) -> np.ndarray:
    """Integer outline of the pixels ImageJ's OvalRoi(left, top, width, height) covers
    (the rule of OvalRoi.getMask in ImageJ 1.53t)."""
    if width <= 0 or height <= 0:
        raise InputError(f"oval ROI has an empty bounding box ({width} x {height})")
    a, b = width / 2.0, height / 2.0
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    inside = (xx - (a - 0.5)) ** 2 / (a * a) + (yy - (b - 0.5)) ** 2 / (b * b) <= 1.0
    outlines = mask_outlines(inside)
    return outlines[0] + [left, top]


# java.awt.geom.RoundRectIterator: each corner is a cubic Bezier with these control offsets
_ARC_CV = 4.0 / 3.0 * (1.0 - np.cos(np.pi / 4)) * np.tan(np.pi / 4) / (
    np.sqrt(1.0 + np.tan(np.pi / 4) ** 2) - 1 + (1.0 - np.cos(np.pi / 4)))
_ARC_ACV = (1.0 - _ARC_CV) / 2.0
# per segment, (v0, v1, v2, v3) per point: (x + v0 w + v1 arc_w, y + v2 h + v3 arc_h)
_ROUND_RECT_SEGMENTS = (
    ((0.0, 0.0, 0.0, 0.5),),
    ((0.0, 0.0, 1.0, -0.5),),
    ((0.0, 0.0, 1.0, -_ARC_ACV), (0.0, _ARC_ACV, 1.0, 0.0), (0.0, 0.5, 1.0, 0.0)),
    ((1.0, -0.5, 1.0, 0.0),),
    ((1.0, -_ARC_ACV, 1.0, 0.0), (1.0, 0.0, 1.0, -_ARC_ACV), (1.0, 0.0, 1.0, -0.5)),
    ((1.0, 0.0, 0.0, 0.5),),
    ((1.0, 0.0, 0.0, _ARC_ACV), (1.0, -_ARC_ACV, 0.0, 0.0), (1.0, -0.5, 0.0, 0.0)),
    ((0.0, 0.5, 0.0, 0.0),),
    ((0.0, _ARC_ACV, 0.0, 0.0), (0.0, 0.0, 0.0, _ARC_ACV), (0.0, 0.0, 0.0, 0.5)),
)
_FLATNESS_SQ, _FLATTEN_LIMIT = 0.01 * 0.01, 10  # ShapeRoi.getMask: flatness 0.01; Java's depth limit


def rounded_rect_outline(left: int, top: int, width: int, height: int, corner_diameter: int) -> np.ndarray:
    """Integer outline of the pixels ImageJ's rounded rectangle Roi(left, top, width, height,
    corner_diameter) covers: ImageJ 1.53t's Roi.getMask, which fills a RoundRectangle2D through
    ShapeRoi (a float path, flattened to 0.01 px by Java's FlatteningPathIterator, PolygonFiller)."""
    if width <= 0 or height <= 0:
        raise InputError(f"rounded rectangle ROI has an empty bounding box ({width} x {height})")
    arc_w, arc_h = min(float(width), abs(float(corner_diameter))), min(float(height), abs(float(corner_diameter)))
    points: list[tuple[float, float]] = []
    x, y = float(left), float(top)
    for segment in _ROUND_RECT_SEGMENTS:  # moved to the ROI's own frame and stored as floats, as ShapeRoi does
        xy = [(float(np.float32(x + v0 * width + v1 * arc_w - x)), float(np.float32(y + v2 * height + v3 * arc_h - y)))
              for v0, v1, v2, v3 in segment]
        if len(xy) == 1:
            points.append(xy[0])
        else:
            _flatten_cubic([*points[-1], *xy[0], *xy[1], *xy[2]], 0, points)
    polygon = np.array(points, dtype=np.float32).astype(np.float64)
    if len(polygon) > 1 and np.array_equal(polygon[0], polygon[-1]):
        polygon = polygon[:-1]
    inside = annotation_mask(Annotation(polygon, roi_type="polygon"), (height, width))
    outlines = mask_outlines(inside)
    if len(outlines) != 1:
        raise InputError(f"rounded rectangle ROI {width} x {height} (corner {corner_diameter}) covers no single area")
    return outlines[0] + [left, top]


def _flatten_cubic(curve: list[float], level: int, out: list[tuple[float, float]]) -> None:
    """Java's FlatteningPathIterator on one cubic (x1, y1, cx1, cy1, cx2, cy2, x2, y2): split in
    halves (CubicCurve2D.subdivide) until flat enough or 10 levels deep; append the end points."""
    if level < _FLATTEN_LIMIT and _cubic_flatness_sq(curve) >= _FLATNESS_SQ:
        x1, y1, cx1, cy1, cx2, cy2, x2, y2 = curve
        x1, y1, x2, y2 = (x1 + cx1) / 2.0, (y1 + cy1) / 2.0, (x2 + cx2) / 2.0, (y2 + cy2) / 2.0
        mid_x, mid_y = (cx1 + cx2) / 2.0, (cy1 + cy2) / 2.0
        cx1, cy1, cx2, cy2 = (x1 + mid_x) / 2.0, (y1 + mid_y) / 2.0, (x2 + mid_x) / 2.0, (y2 + mid_y) / 2.0
        mid_x, mid_y = (cx1 + cx2) / 2.0, (cy1 + cy2) / 2.0
        _flatten_cubic([curve[0], curve[1], x1, y1, cx1, cy1, mid_x, mid_y], level + 1, out)
        _flatten_cubic([mid_x, mid_y, cx2, cy2, x2, y2, curve[6], curve[7]], level + 1, out)
        return
    out.append((float(np.float32(curve[6])), float(np.float32(curve[7]))))


def _cubic_flatness_sq(c: list[float]) -> float:
    """CubicCurve2D.getFlatnessSq: the larger squared distance of a control point from the chord."""
    return max(_segment_distance_sq(c[0], c[1], c[6], c[7], c[2], c[3]),
               _segment_distance_sq(c[0], c[1], c[6], c[7], c[4], c[5]))


def _segment_distance_sq(x1: float, y1: float, x2: float, y2: float, px: float, py: float) -> float:
    """Line2D.ptSegDistSq, with Java's order of operations."""
    x2, y2, px, py = x2 - x1, y2 - y1, px - x1, py - y1
    dot = px * x2 + py * y2
    if dot <= 0.0:
        projected = 0.0
    else:
        px, py = x2 - px, y2 - py
        dot = px * x2 + py * y2
        projected = 0.0 if dot <= 0.0 else dot * dot / (x2 * x2 + y2 * y2)
    return max(px * px + py * py - projected, 0.0)


def _color_to_hex(argb: bytes) -> str | None:
    if argb == _NO_COLOR:
        return None
    a, r, g, b = argb
    return f"#{r:02x}{g:02x}{b:02x}" if a == 255 else f"#{a:02x}{r:02x}{g:02x}{b:02x}"


# ---------------------------------------------------------------- writing

def write_roiset(path: str | os.PathLike, anns: Sequence[Annotation]) -> None:
    """Write annotations to a ROI Manager .zip (entries ``<name>.roi``, repeated names made
    unique as ImageJ's ROI Manager does; each ROI keeps its own name inside), or a single one
    to a .roi file. Replaces an existing file in one step: it appears complete or not at all."""
    path = Path(path)
    anns = list(anns)
    if path.suffix.lower() not in (".zip", ".roi"):
        raise InputError(f"ROI file name must end in .zip or .roi: {path}")
    if path.suffix.lower() == ".roi" and len(anns) != 1:
        raise InputError(f"a .roi file holds exactly one ROI, got {len(anns)}; use a .zip for {path}")
    blobs = [_to_roi(ann).tobytes() for ann in anns]
    with atomic_path(path, overwrite=True) as tmp:
        if path.suffix.lower() == ".roi":
            tmp.write_bytes(blobs[0])
        else:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                for entry, blob in zip(_unique_names(anns), blobs):
                    zf.writestr(entry + ".roi", blob)


def _unique_names(anns: Sequence[Annotation]) -> list[str]:
    """Entry names as ImageJ's RoiManager.getUniqueName makes them when saving: a name that
    another entry also has gets "-1", "-2", ... (the first of two equal names is renamed)."""
    names = [ann.name or _default_name(ann) for ann in anns]
    count = Counter(names)
    for i, original in enumerate(names):
        name, n = original, 1
        while count[name] - (name == original) > 0:
            dash = name.rfind("-")
            if dash != -1 and len(name) - dash < 5:
                name = name[:dash]
            name = f"{name}-{n}"
            n += 1
        count[original] -= 1
        count[name] += 1
        names[i] = name
    return names


def _default_name(ann: Annotation) -> str:
    """ImageJ's label for an unnamed ROI: centre y and x as yyyy-xxxx."""
    x0, y0, x1, y1 = ann.bounds()
    return f"{int((y0 + y1) / 2):04d}-{int((x0 + x1) / 2):04d}"


def _to_roi(ann: Annotation) -> ImagejRoi:
    if len(ann.polygon) == 0:
        raise InputError(f"ROI {ann.name or '(unnamed)'} has no coordinates")
    if not all(np.isfinite(p).all() for p in ann.paths):
        raise InputError(f"ROI {ann.name or '(unnamed)'} has coordinates that are not finite (NaN or infinity)")
    roi = _shape_roi(ann)
    roi.version = 229
    roi.name = ann.name
    roi.group = int(ann.group)
    roi.position = int(ann.position)
    if ann.hyperstack is not None:  # ImageJ reads these over ``position``; others read ``position``
        roi.c_position, roi.z_position, roi.t_position = ann.hyperstack
    if ann.stroke_color is not None:
        roi.stroke_color = _hex_to_color(ann.stroke_color, ann.name)
    return roi


def _shape_roi(ann: Annotation) -> ImagejRoi:
    if ann.roi_type == "composite":
        return _composite_roi(ann.paths)
    roi = ImagejRoi()
    pts = ann.polygon
    if ann.roi_type == "rectangle":
        _set_rectangle(roi, pts)
        return roi
    if ann.roi_type == "oval" and _is_integer(pts):
        x0, y0 = pts.min(axis=0).astype(int)
        x1, y1 = pts.max(axis=0).astype(int)
        if np.array_equal(oval_outline(x0, y0, x1 - x0, y1 - y0), pts):
            roi.roitype = ROI_TYPE.OVAL
            _set_bounds(roi, pts)
            return roi
    if ann.roi_type == "line" and len(pts) == 2:
        roi.roitype = ROI_TYPE.LINE
        (roi.x1, roi.y1), (roi.x2, roi.y2) = pts.tolist()
        roi.options |= ROI_OPTIONS.SUB_PIXEL_RESOLUTION
        _set_bounds(roi, pts)
        return roi
    # what is left: polygons, lines with more than 2 points, ovals that are not OvalRoi pixels
    roitype = _WRITE_TYPES.get(ann.roi_type, ROI_TYPE.POLYLINE if ann.roi_type == "line" else ROI_TYPE.POLYGON)
    integer = _is_integer(pts) and pts.min() >= _MIN_INT and pts.max() <= _MAX_INT and np.ptp(pts, axis=0).max() <= _MAX_SPAN
    if roitype == ROI_TYPE.TRACED and not integer:
        roitype = ROI_TYPE.POLYGON  # ImageJ keeps traced outlines with integer vertices only
    roi.roitype = roitype
    left_top = np.floor(pts.min(axis=0))
    roi.integer_coordinates = (np.round(pts) - left_top).astype(np.int32)
    if not integer:
        roi.options |= ROI_OPTIONS.SUB_PIXEL_RESOLUTION
        roi.subpixel_coordinates = pts.astype(np.float32)
    roi.n_coordinates = len(pts)
    _set_bounds(roi, pts)
    return roi


def _set_rectangle(roi: ImagejRoi, pts: np.ndarray) -> None:
    """A RECT over the bounding box of ``pts``: integer bounds as they are, others (or an empty
    box) as a sub-pixel rectangle, which ImageJ's RoiDecoder makes Roi(x, y, width, height) of.
    Its float32 fields are rounded so that ImageJ covers the same pixels as annotation_mask:
    x and y towards zero (same (int) x), width and height up (same ceil(width))."""
    roi.roitype = ROI_TYPE.RECT
    low, high = pts.min(axis=0), pts.max(axis=0)
    size = high - low
    if _is_integer(pts) and np.all(size > 0):
        _set_bounds(roi, pts)
        return
    roi.options |= ROI_OPTIONS.SUB_PIXEL_RESOLUTION
    roi.xd, roi.yd = (_to_float32(v, up=v < 0) for v in low.tolist())
    roi.widthd, roi.heightd = (_to_float32(v, up=True) for v in size.tolist())
    left, top = int(roi.xd), int(roi.yd)  # ImageJ's integer bounds, as its RoiEncoder writes them
    roi.left, roi.top = left, top
    roi.right = left + max(int(np.ceil(roi.widthd)), 1)
    roi.bottom = top + max(int(np.ceil(roi.heightd)), 1)


def _to_float32(value: float, *, up: bool) -> float:
    """The float32 nearest to ``value`` on one side: at least it (``up``) or at most it."""
    single = np.float32(value)
    if (float(single) < value) if up else (float(single) > value):  # compared in float64
        single = np.nextafter(single, np.float32(np.inf if up else -np.inf))
    return float(single)


def _composite_roi(paths: Sequence[np.ndarray]) -> ImagejRoi:
    """A ShapeRoi: one moveTo / lineTo ... / closePath run per outline, absolute coordinates."""
    ops = []
    for p in paths:
        if len(p) == 0:
            continue
        seg = np.empty((len(p), 3), dtype=np.float64)
        seg[:, 0] = _LINETO
        seg[0, 0] = _MOVETO
        seg[:, 1:] = p
        ops.extend([seg.ravel(), [_CLOSE]])
    roi = ImagejRoi()
    roi.roitype = ROI_TYPE.RECT
    roi.multi_coordinates = np.concatenate(ops).astype(np.float32)
    roi.shape_roi_size = roi.multi_coordinates.size
    _set_bounds(roi, np.concatenate(list(paths)))
    return roi


def _set_bounds(roi: ImagejRoi, pts: np.ndarray) -> None:
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    roi.left, roi.top, roi.right, roi.bottom = int(x0), int(y0), int(x1), int(y1)


def _is_integer(pts: np.ndarray) -> bool:
    return bool(np.all(pts == np.round(pts)))


def _hex_to_color(color: str, name: str) -> bytes:
    digits = color.lstrip("#")
    try:
        value = int(digits, 16)
    except ValueError:
        value = -1
    if len(digits) not in (6, 8) or value < 0:
        raise InputError(f"ROI {name or '(unnamed)'}: stroke colour must be '#RRGGBB' or '#AARRGGBB', got {color!r}")
    if len(digits) == 6:
        value |= 0xFF000000
    return value.to_bytes(4, "big")
