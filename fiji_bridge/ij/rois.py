"""Annotation <-> ij.gui.Roi, the ROI Manager and image overlays (needs the running JVM).

ROIs are built directly as ImageJ objects (no .roi bytes in between). Batches go through the
small Java class ``fiji_bridge.RoiBridge`` (fiji_bridge/shims/RoiBridge.java) in one call per
batch: the coordinates of all ROIs cross as a few packed primitive arrays. When that class
cannot be loaded or compiled (no javac), the same conversion runs ROI by ROI through JPype,
which is about ten times slower but gives identical ROIs.

Geometry follows fiji_bridge.rois.roiset: rectangles are their 4 corners, ovals the integer
outline of the pixels ImageJ's OvalRoi covers, rounded rectangles (getCornerDiameter() > 0)
the integer outline of the pixels their getMask covers (roi_type "traced"), lines their 2 end
points, composite (ShapeRoi) outlines ``polygon`` + ``subpaths`` filled even-odd. Kept per ROI: name, group,
position (ImageJ's stack index), hyperstack position (channel, slice, frame) and stroke colour.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jpype
import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError, RuntimeNotAvailable
from fiji_bridge.ij.images import from_java_array, to_java_array
from fiji_bridge.ij.positions import plane_positions
from fiji_bridge.rois.planes import slice_from_name
from fiji_bridge.rois.roiset import oval_outline, rounded_rect_outline, write_roiset
from fiji_bridge.runtime.event_thread import on_event_thread

# ImageJ's Roi type codes
TYPE_CODES = {
    "rectangle": 0, "oval": 1, "polygon": 2, "freehand": 3, "traced": 4,
    "line": 5, "polyline": 6, "freeline": 7, "composite": 9, "point": 10,
}
_TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()} | {8: "polyline"}  # 8 = angle
_MIN_POINTS = {"line": 2, "polyline": 2, "freeline": 2, "point": 1, "rectangle": 2, "oval": 2}
_HELPER_CLASS = "fiji_bridge.RoiBridge"
_HELPER_SOURCE = Path(__file__).resolve().parent.parent / "shims" / "RoiBridge.java"
_HELPER_VERSION = 5  # RoiBridge.VERSION of the source next to this module
_helper_lock = threading.Lock()
_helper_cache: list[Any] = []  # [class or None] once looked up


# --- the Java helper --------------------------------------------------------------------------

def java_helper() -> Any | None:
    """The RoiBridge class, or None when it is neither on the class path nor compilable."""
    with _helper_lock:
        if not _helper_cache:
            _helper_cache.append(_load_helper())
        return _helper_cache[0]


def _load_helper() -> Any | None:
    """The helper class of this version: from the class path (the installed shims jar), else
    compiled from the source; None (pure JPype) when only an older build can be found."""
    if os.environ.get("FIJI_BRIDGE_PURE_JPYPE"):
        return None
    try:
        return _current(jpype.JClass(_HELPER_CLASS))
    except (TypeError, jpype.JException):
        pass
    ij_loader = jpype.JClass("ij.IJ").class_.getClassLoader()
    for loader in (jpype.JClass("ij.IJ").getClassLoader(), ij_loader):
        try:
            return _current(jpype.JClass(loader.loadClass(_HELPER_CLASS)))
        except (TypeError, jpype.JException):
            pass
    classes = _compiled_helper_dir()
    if classes is None:
        return None
    urls = jpype.JArray(jpype.JClass("java.net.URL"))([jpype.JClass("java.net.URL")(classes.as_uri() + "/")])
    loader = jpype.JClass("java.net.URLClassLoader")(urls, ij_loader)
    return _current(jpype.JClass(loader.loadClass(_HELPER_CLASS)))


def _current(helper: Any) -> Any | None:
    """``helper`` when it is this version's build; None for an older one (e.g. a shims jar
    installed before an upgrade: `fiji-bridge install` rebuilds it)."""
    return helper if int(getattr(helper, "VERSION", 0)) == _HELPER_VERSION else None


def _compiled_helper_dir() -> Path | None:
    """Compile RoiBridge.java once per source version into the user cache; None without javac."""
    javac = shutil.which("javac") or shutil.which("javac", path=str(Path(os.environ.get("JAVA_HOME", "/nonexistent")) / "bin"))
    if javac is None or not _HELPER_SOURCE.is_file():
        return None
    source = _HELPER_SOURCE.read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fiji_bridge"
    target = cache / f"roibridge-{hashlib.sha1(source).hexdigest()[:12]}"
    if (target / "fiji_bridge" / "RoiBridge.class").is_file():
        return target
    ij_jar = str(jpype.JClass("ij.IJ").class_.getProtectionDomain().getCodeSource().getLocation().toURI().getPath())
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".roibridge-", dir=cache))
    try:
        done = subprocess.run([javac, "--release", "11", "-nowarn", "-cp", ij_jar, "-d", str(tmp), str(_HELPER_SOURCE)],
                              capture_output=True, text=True)
        if done.returncode == 0:
            os.replace(tmp, target)  # atomic: another process may have won the race, which is fine
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target if (target / "fiji_bridge" / "RoiBridge.class").is_file() else None


# --- one ROI at a time (pure JPype) ------------------------------------------------------------

def annotation_to_roi(ann: Annotation) -> Any:
    """A new ij.gui.Roi for one annotation."""
    _Batch([ann])
    return _roi_with_properties(ann)


def _roi_with_properties(ann: Annotation) -> Any:
    roi = _make_roi(ann)
    if ann.name:
        roi.setName(ann.name)
    if ann.group:
        roi.setGroup(int(ann.group))
    if ann.position:
        roi.setPosition(int(ann.position))
    if ann.hyperstack is not None and max(ann.hyperstack) > 0:
        roi.setPosition(*(int(v) for v in ann.hyperstack))
    if ann.stroke_color is not None:
        roi.setStrokeColor(jpype.JClass("java.awt.Color")(jpype.JInt(_argb(ann, 0)), True))
    elif ann.group:
        roi.setStrokeColor(None)  # setGroup paints the group colour; keep the annotation as it is
    return roi


def _make_roi(ann: Annotation) -> Any:
    pts = ann.polygon
    code = TYPE_CODES[ann.roi_type]
    if ann.roi_type in ("rectangle", "oval"):
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        cls = jpype.JClass("ij.gui.Roi" if code == 0 else "ij.gui.OvalRoi")
        return cls(float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    if ann.roi_type == "line":
        return jpype.JClass("ij.gui.Line")(*(float(v) for v in pts[:2].ravel()))
    if ann.roi_type == "composite":
        path = jpype.JClass("java.awt.geom.Path2D$Float")(jpype.JClass("java.awt.geom.Path2D").WIND_EVEN_ODD)
        for outline in ann.paths:
            path.moveTo(float(outline[0, 0]), float(outline[0, 1]))
            for x, y in outline[1:].tolist():
                path.lineTo(x, y)
            path.closePath()
        return jpype.JClass("ij.gui.ShapeRoi")(path)
    xs, ys = to_java_array(pts[:, 0].astype(np.float32)), to_java_array(pts[:, 1].astype(np.float32))
    if ann.roi_type == "point":
        return jpype.JClass("ij.gui.PointRoi")(xs, ys, len(pts))
    return jpype.JClass("ij.gui.PolygonRoi")(xs, ys, len(pts), code)


def roi_to_annotation(roi: Any) -> Annotation:
    """An Annotation for one ij.gui.Roi."""
    code = int(roi.getType())
    roi_type = _TYPE_NAMES.get(code, "polygon")
    if roi_type == "rectangle" and roi.getCornerDiameter() > 0:
        r = roi.getBounds()
        paths = [rounded_rect_outline(int(r.x), int(r.y), int(r.width), int(r.height), int(roi.getCornerDiameter()))]
        roi_type = "traced"
    elif roi_type == "rectangle":
        r = roi.getFloatBounds()
        paths = [np.array([[r.x, r.y], [r.x + r.width, r.y], [r.x + r.width, r.y + r.height], [r.x, r.y + r.height]])]
    elif roi_type == "oval":
        r = roi.getBounds()
        paths = [oval_outline(int(r.x), int(r.y), int(r.width), int(r.height))]
    elif roi_type == "line":
        paths = [np.array([[roi.x1d, roi.y1d], [roi.x2d, roi.y2d]])]
    elif roi_type == "composite":
        paths = _shape_paths(roi)
    else:
        poly = roi.getFloatPolygon()
        n = int(poly.npoints)
        paths = [np.stack([np.asarray(poly.xpoints)[:n], np.asarray(poly.ypoints)[:n]], axis=1).astype(np.float64)]
    color = roi.getStrokeColor()
    return Annotation(paths[0], subpaths=tuple(paths[1:]), roi_type=roi_type, name=str(roi.getName() or ""),
                      group=int(roi.getGroup()), position=int(roi.getPosition()),
                      hyperstack=_hyperstack(roi),
                      stroke_color=None if color is None else _hex(int(color.getRGB())))


def _hyperstack(roi: Any) -> tuple[int, int, int] | None:
    """(channel, slice, frame) of an ROI with a hyperstack position other than (0, 0, 0), else None."""
    ctz = (int(roi.getCPosition()), int(roi.getZPosition()), int(roi.getTPosition()))
    return ctz if roi.hasHyperStackPosition() and max(ctz) > 0 else None


def _shape_paths(roi: Any) -> list[np.ndarray]:
    at = jpype.JClass("java.awt.geom.AffineTransform").getTranslateInstance(roi.getXBase(), roi.getYBase())
    it = roi.getShape().getPathIterator(at, 0.05)
    seg = jpype.JArray(jpype.JFloat)(6)
    paths: list[list[tuple[float, float]]] = []
    while not it.isDone():
        kind = int(it.currentSegment(seg))
        if kind == 0:  # SEG_MOVETO
            paths.append([(seg[0], seg[1])])
        elif kind == 1:  # SEG_LINETO
            paths[-1].append((seg[0], seg[1]))
        elif kind == 4 and len(paths[-1]) > 1 and paths[-1][-1] == paths[-1][0]:  # SEG_CLOSE
            paths[-1].pop()
        it.next()
    return [np.array(p, dtype=np.float64) for p in paths]


# --- batches --------------------------------------------------------------------------------------

def annotations_to_rois(anns: Sequence[Annotation]) -> Any:
    """A Java Roi[] for a list of annotations (one Java call when the helper is available)."""
    anns = list(anns)
    if not anns:
        return jpype.JArray(jpype.JClass("ij.gui.Roi"))(0)
    batch = _Batch(anns)
    helper = java_helper()
    if helper is None:
        return jpype.JArray(jpype.JClass("ij.gui.Roi"))([_roi_with_properties(a) for a in anns])
    return helper.build(*batch.packed())


def rois_to_annotations(rois: Any) -> list[Annotation]:
    """Annotations for a Java Roi[] (or a Python sequence of Rois)."""
    helper = java_helper()
    if helper is None or len(rois) == 0:
        return [roi_to_annotation(r) for r in rois]
    if not isinstance(rois, jpype.JArray):
        rois = jpype.JArray(jpype.JClass("ij.gui.Roi"))(list(rois))
    return _unpack(helper.pack(rois))


def _unpack(packed: Any) -> list[Annotation]:
    xs, ys = np.array(packed[0], dtype=np.float64), np.array(packed[1], dtype=np.float64)
    path_starts = from_java_array(packed[2], np.int32)
    roi_paths = from_java_array(packed[3], np.int32)
    types = from_java_array(packed[4], np.int32)
    names = str(packed[5]).split("\0")
    groups = from_java_array(packed[6], np.int32)
    positions = from_java_array(packed[7], np.int32)
    hyperstacks = from_java_array(packed[8], np.int32).reshape(-1, 3)
    colors = from_java_array(packed[9], np.int32)
    has_color = np.asarray(packed[10], dtype=bool)
    xy = np.stack([xs, ys], axis=1)
    paths = np.split(xy, path_starts[1:-1])
    anns = []
    for i, code in enumerate(types.tolist()):
        roi_type = _TYPE_NAMES.get(code, "polygon")
        mine = paths[roi_paths[i]:roi_paths[i + 1]]
        if roi_type == "oval":
            (x0, y0), (x1, y1) = mine[0].min(axis=0), mine[0].max(axis=0)
            mine = [oval_outline(int(x0), int(y0), int(x1 - x0), int(y1 - y0))]
        elif roi_type == "rectangle" and len(mine[0]) == 5:  # RoiBridge.pack: a rounded rectangle
            (x0, y0), (x1, y1), (corner, _) = mine[0][0], mine[0][2], mine[0][4]
            mine = [rounded_rect_outline(int(x0), int(y0), int(x1 - x0), int(y1 - y0), int(corner))]
            roi_type = "traced"
        anns.append(Annotation(mine[0], subpaths=tuple(mine[1:]), roi_type=roi_type, name=names[i],
                               group=int(groups[i]), position=int(positions[i]),
                               hyperstack=tuple(hyperstacks[i].tolist()) if hyperstacks[i].any() else None,
                               stroke_color=_hex(int(colors[i])) if has_color[i] else None))
    return anns


class _Batch:
    """Annotations checked once and flattened into the arrays RoiBridge.build takes."""

    def __init__(self, anns: list[Annotation]):
        self.anns = anns
        per_roi = [a.paths for a in anns]
        self.path_counts = np.fromiter((len(p) for p in per_roi), dtype=np.int32, count=len(anns))
        self.paths = [p for paths in per_roi for p in paths]
        self.xy = np.concatenate(self.paths)
        self._validate()

    def _validate(self) -> None:
        """Raise InputError naming the first annotation ImageJ cannot hold."""
        anns = self.anns
        counts = np.fromiter((len(a.polygon) for a in anns), dtype=np.int64, count=len(anns))
        needed = np.fromiter((_MIN_POINTS.get(a.roi_type, 3 if a.is_area else 1) for a in anns), dtype=np.int64,
                             count=len(anns))
        for i in np.flatnonzero(counts < needed)[:1].tolist():
            raise InputError(f"{_label(anns[i], i)}: a {anns[i].roi_type} ROI needs at least {needed[i]} points, "
                             f"got {counts[i]}")
        if not np.isfinite(self.xy).all():
            i = next(i for i, a in enumerate(anns) if not all(np.isfinite(p).all() for p in a.paths))
            raise InputError(f"{_label(anns[i], i)} has coordinates that are not finite numbers")
        self.colors = np.zeros(len(anns), dtype=np.int32)
        self.has_color = np.zeros(len(anns), dtype=bool)
        for i, ann in enumerate(anns):
            if "\0" in ann.name:
                raise InputError(f"{_label(ann, i)}: ROI names cannot contain NUL characters")
            if ann.roi_type in ("rectangle", "oval"):
                (x0, y0), (x1, y1) = ann.polygon.min(axis=0), ann.polygon.max(axis=0)
                if x1 <= x0 or y1 <= y0:
                    raise InputError(f"{_label(ann, i)}: a {ann.roi_type} ROI needs a bounding box wider and "
                                     "taller than 0")
            if ann.stroke_color is not None:
                self.colors[i], self.has_color[i] = _argb(ann, i), True

    def packed(self) -> list[Any]:
        """Arguments of RoiBridge.build (layout documented in RoiBridge.java)."""
        anns = self.anns
        xs, ys = (jpype.JArray(jpype.JDouble)(np.ascontiguousarray(v, dtype=np.float64)) for v in self.xy.T)
        path_starts = np.zeros(len(self.paths) + 1, dtype=np.int32)
        path_starts[1:] = np.cumsum(np.fromiter((len(p) for p in self.paths), dtype=np.int64, count=len(self.paths)))
        roi_paths = np.zeros(len(anns) + 1, dtype=np.int32)
        roi_paths[1:] = np.cumsum(self.path_counts)
        ints = lambda values: to_java_array(np.asarray(values, dtype=np.int32))  # noqa: E731
        return [xs, ys, to_java_array(path_starts),
                to_java_array(roi_paths), ints([TYPE_CODES[a.roi_type] for a in anns]),
                jpype.JString("\0".join(a.name for a in anns)), ints([a.group for a in anns]),
                ints([a.position for a in anns]),
                ints([v for a in anns for v in (a.hyperstack or (0, 0, 0))]), to_java_array(self.colors),
                jpype.JArray(jpype.JBoolean)(self.has_color)]


def _label(ann: Annotation, index: int) -> str:
    return f"ROI {index + 1} ({ann.name or 'unnamed'})"


def _argb(ann: Annotation, index: int) -> int:
    digits = (ann.stroke_color or "").lstrip("#")
    try:
        value = int(digits, 16)
    except ValueError:
        value = -1
    if len(digits) not in (6, 8) or value < 0:
        raise InputError(f"{_label(ann, index)}: stroke colour must be '#RRGGBB' or "
                         f"'#AARRGGBB', got {ann.stroke_color!r}")
    if len(digits) == 6:
        value |= 0xFF000000
    return value - (1 << 32) if value >= 1 << 31 else value


def _hex(argb: int) -> str:
    value = argb & 0xFFFFFFFF
    alpha = value >> 24
    return f"#{value & 0xFFFFFF:06x}" if alpha == 255 else f"#{value:08x}"


# --- ROI Manager and overlays --------------------------------------------------------------------

def _manager(create: bool) -> Any:
    if jpype.JClass("java.awt.GraphicsEnvironment").isHeadless():
        raise RuntimeNotAvailable(
            "the ROI Manager cannot exist in headless mode; keep ROIs in the image overlay "
            "(annotations_to_overlay) or a RoiSet.zip (write_roiset), or start with mode='interactive' under a display")
    RoiManager = jpype.JClass("ij.plugin.frame.RoiManager")
    return RoiManager.getRoiManager() if create else RoiManager.getInstance()


def rois_from_manager(bridge: Any = None) -> list[Annotation]:
    """All ROIs of ImageJ's ROI Manager as annotations, in list order ([] when none is open).
    An ROI without a stack or hyperstack position whose name holds a slice (``slice_from_name``)
    gets that slice. ``fiji_bridge.ij.positions.planes_of`` gives an ROI's planes on an image.

    ``bridge`` is the running fiji_bridge Bridge (the JVM must be started).
    """
    manager = _manager(create=False)
    if manager is None or manager.getCount() == 0:
        return []
    anns = rois_to_annotations(manager.getRoisAsArray())
    for ann in anns:
        if ann.hyperstack is None:
            ann.position = ann.position or slice_from_name(ann.name)
    return anns


def manager_areas_meeting(box: tuple[int, int, int, int], imp: Any) -> list[Annotation]:
    """The ROI Manager's area ROIs on the displayed plane of ``imp`` (or on every plane) whose
    bounds meet ``box`` = (x0, y0, x1, y1), as annotations (see :func:`manager_rois_meeting`)."""
    return rois_to_annotations(manager_rois_meeting(box, imp))


def manager_rois_meeting(box: tuple[int, int, int, int], imp: Any) -> list[Any]:
    """The ROI Manager's own area ROI objects on the displayed plane of ``imp`` (or on every
    plane) whose bounds meet ``box`` = (x0, y0, x1, y1); [] when no ROI Manager is open. An ROI
    is on the plane when its stack index is one of the plane's channels; with a hyperstack
    position, when its slice and frame are the plane's or 0 (as ImageJ shows it); with neither,
    when its name holds the plane's slice or no slice. Only those ROIs are returned, so the
    cost of converting them stays small in a ROI Manager holding thousands of annotations."""
    manager = _manager(create=False)
    if manager is None or manager.getCount() == 0:
        return []
    helper = java_helper()
    x0, y0, x1, y1 = (int(v) for v in box)
    positions, z, t = plane_positions(imp), int(imp.getSlice()), int(imp.getFrame())
    if helper is not None:
        return list(helper.areasMeeting(manager, x0, y0, x1, y1, jpype.JArray(jpype.JInt)(positions), z, t))
    meeting = []
    for roi in manager.getRoisAsArray():
        bounds = roi.getBounds()
        if roi.isArea() and _on_plane(roi, positions, z, t) and bounds.x <= x1 and bounds.y <= y1 \
                and bounds.x + bounds.width >= x0 and bounds.y + bounds.height >= y0:
            meeting.append(roi)
    return meeting


def _on_plane(roi: Any, positions: list[int], z: int, t: int) -> bool:
    """RoiBridge.onPlane for the JPype path."""
    if not positions:  # a single image: ImageJ shows every ROI on it
        return True
    p = int(roi.getPosition())
    if p == 0 and roi.hasHyperStackPosition():
        return int(roi.getZPosition()) in (0, z) and int(roi.getTPosition()) in (0, t)
    p = p or slice_from_name(str(roi.getName() or ""))
    return p == 0 or p in positions


def rois_to_manager(bridge: Any, anns: Sequence[Annotation], *, clear: bool = False) -> int:
    """Add annotations to ImageJ's ROI Manager (opening it if needed); returns the new count.

    Every annotation is checked before the manager changes, so bad input leaves it as it was.
    The manager changes on the Swing event thread, so its list is never painted half-changed.
    """
    rois = annotations_to_rois(anns)
    manager = _manager(create=True)
    helper = java_helper()

    def change() -> int:
        if clear:
            manager.reset()
        if helper is not None:
            helper.addAll(manager, rois)
        else:
            for roi in rois:
                manager.addRoi(roi)
        return int(manager.getCount())

    return on_event_thread(change)


def overlay_to_annotations(imp: Any) -> list[Annotation]:
    """The ROIs of an image's overlay as annotations ([] without an overlay)."""
    if imp is None:
        raise InputError("no image: expected an ImageJ ImagePlus, got None")
    overlay = imp.getOverlay()
    if overlay is None or overlay.size() == 0:
        return []
    return rois_to_annotations(overlay.toArray())


def annotations_to_overlay(imp: Any, anns: Sequence[Annotation], *, clear: bool = False) -> None:
    """Add annotations to an image's overlay (the ROI store that also works headless)."""
    if imp is None:
        raise InputError("no image: expected an ImageJ ImagePlus, got None")
    rois = annotations_to_rois(anns)
    overlay = None if clear else imp.getOverlay()
    if overlay is None:
        overlay = jpype.JClass("ij.gui.Overlay")()
    for roi in rois:
        overlay.add(roi)
    imp.setOverlay(overlay)


def is_headless() -> bool:
    """True when Java runs headless, where no ROI Manager can exist."""
    return bool(jpype.JClass("java.awt.GraphicsEnvironment").isHeadless())


def store_annotations(bridge: Any, imp: Any, anns: Sequence[Annotation], *, clear: bool = False) -> str:
    """Deliver annotations to the user; returns where they went.

    With a display: the ROI Manager ("ROI Manager"). Headless (no ROI Manager can exist): the
    image's overlay, plus ``<img>_ROIs.zip`` (AnnotatorJ's name) next to the image's file when it
    has one, holding all the overlay's ROIs; that zip is the image's annotation store and is
    replaced (atomically) on every call. Returns
    "overlay" or "overlay and <path>".
    """
    if not is_headless():
        rois_to_manager(bridge, anns, clear=clear)
        return "ROI Manager"
    annotations_to_overlay(imp, anns, clear=clear)
    info = imp.getOriginalFileInfo()
    directory = None if info is None else info.directory
    if not directory:
        return "overlay"
    path = Path(str(directory)) / f"{Path(str(imp.getTitle())).stem}_ROIs.zip"
    write_roiset(path, overlay_to_annotations(imp))
    return f"overlay and {path}"
