"""Service commands behind Plugins > Fiji Bridge > Suggest Contour, Accept Contour, Next Candidate.

Everything is checked and computed before the image's selection or the ROI Manager changes,
so on bad input both stay as they were and the caller gets a plain-words error.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import jpype
import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.contour.api import METHODS, suggest_contour
from fiji_bridge.contour.crop import source_region
from fiji_bridge.errors import InputError
from fiji_bridge.formats.masks import shifted
from fiji_bridge.ij.images import current_plane, current_plane_region
from fiji_bridge.ij.positions import place, plane_position
from fiji_bridge.ij.rois import (annotation_to_roi, manager_areas_meeting, manager_rois_meeting, roi_to_annotation,
                                 rois_to_manager)
from fiji_bridge.service.commands import command
from fiji_bridge.runtime.event_thread import on_event_thread
from fiji_bridge.service.options import flag

OPEN_TYPES = ("line", "polyline", "freeline")


@dataclass
class _Suggestion:
    """What the last suggestion on an image was made from (for Next Candidate)."""

    init: np.ndarray
    closed: bool
    group: int
    method: str
    max_distance: float
    candidate: int
    outline: np.ndarray
    position: int
    added: str = ""  # the ROI Manager entry this suggestion was added as ("" if it was not)
    entry: np.ndarray | None = None  # that entry's outline as added: it is replaced only while unchanged


_last: dict[int, _Suggestion] = {}
_last_lock = threading.Lock()
_busy: set[int] = set()  # images a Suggest Contour or Next Candidate is working on
_naming_lock = threading.Lock()  # naming and adding are one step, also for commands run at once
_given: dict[int, int] = {}  # ROI Manager (identity hash) -> the highest number it was given


def _current_image(image: Any, what: str) -> Any:
    imp = image if image is not None else jpype.JClass("ij.WindowManager").getCurrentImage()
    if imp is None:
        raise InputError(f"{what} needs an open image: open one and draw a selection over an object")
    return imp


def _selection(imp: Any, what: str) -> Annotation:
    roi = imp.getRoi()
    if roi is None:
        raise InputError(f"{what} needs a selection on \"{imp.getTitle()}\": draw a rough outline or a line "
                         "over the object first")
    ann = roi_to_annotation(roi)
    if ann.roi_type == "point":
        raise InputError(f"{what} needs an outline or a line, not a point selection: "
                         "draw a rough outline or a line over the object")
    return ann


def _options(options: dict[str, Any]) -> tuple[str, float]:
    method = str(options.get("method", "unet")).strip().lower().replace(" ", "_")
    if method not in METHODS:
        raise InputError(f"method={method!r} is not one of: {', '.join(METHODS)}")
    try:
        max_distance = float(options.get("max_distance", 17))
    except (TypeError, ValueError):
        raise InputError(f"max_distance must be a number of pixels, got {options.get('max_distance')!r}") from None
    return method, max_distance


def _existing(imp: Any, state: _Suggestion, box: tuple[int, int, int, int], offset: np.ndarray) -> list[Annotation]:
    """The ROI Manager's area ROIs (shifted by -offset) on this plane that meet ``box``, except
    the ROI being refined (the init itself) and the entry this suggestion replaces."""
    return [shifted(a, -offset[0], -offset[1]) for a in manager_areas_meeting(box, imp)
            if a.name != state.added and not np.array_equal(a.polygon, state.init)]


def _source(imp: Any, state: _Suggestion) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """(pixels, their offset (x, y) in the image, their box) to suggest from: for the U-Net only
    the part it reads (see crop.source_region), else the whole current plane."""
    width, height = int(imp.getWidth()), int(imp.getHeight())
    if state.method == "unet":
        box = source_region(state.init, (height, width), state.max_distance, closed=state.closed)
        if box[2] > box[0] and box[3] > box[1]:  # else the init misses the image: the API says so
            return current_plane_region(imp, box), np.array(box[:2], np.float64), box
    return current_plane(imp), np.zeros(2), (0, 0, width, height)


def _next_name(manager: Any) -> str:
    """AnnotatorJ's 0001, 0002, ...: one above the highest number among the ROI names and the
    names given before in this ROI Manager, so a name is not given twice after deletions (or
    imported labels with gaps); an emptied ROI Manager starts again at 0001."""
    names = [str(roi.getName()).strip() for roi in manager.getRoisAsArray()]
    if not names:
        return "0001"
    highest = max((int(n) for n in names if n.isdecimal() and n.isascii()), default=0)
    return f"{max(highest, _given.get(_identity(manager), 0)) + 1:04d}"


def _identity(obj: Any) -> int:
    return int(jpype.JClass("java.lang.System").identityHashCode(obj))


def _manager_outline(manager: Any, index: int) -> np.ndarray:
    return roi_to_annotation(manager.getRoi(index)).polygon


def _add_to_manager(bridge: Any, ann: Annotation, imp: Any = None) -> np.ndarray:
    """Add an outline to the ROI Manager under the next free 0001-style name (set on ``ann``);
    returns the outline as the ROI Manager holds it. With ``imp``, an outline the ROI Manager
    already holds on its displayed plane is not added again: ``ann`` takes that entry's name."""
    def name_and_add() -> np.ndarray:
        with _naming_lock:
            if imp is not None:
                name, outline = _entry_holding(imp, ann.polygon)
                if name:
                    ann.name = name
                    return outline
            manager = jpype.JClass("ij.plugin.frame.RoiManager").getInstance()
            ann.name = "0001" if manager is None else _next_name(manager)
            rois_to_manager(bridge, [ann])
            manager = jpype.JClass("ij.plugin.frame.RoiManager").getInstance()
            _given[_identity(manager)] = int(ann.name)
            return _manager_outline(manager, int(manager.getCount()) - 1)
    return on_event_thread(name_and_add)


def _replace_in_manager(imp: Any, name: str, expected: np.ndarray | None, ann: Annotation) -> np.ndarray | None:
    """Put ``ann`` in place of the ROI Manager entry ``name`` on the displayed plane of ``imp``
    (names repeat across planes), keeping the name, if that entry still has the ``expected``
    outline; returns its new outline, or None (entry gone or changed: it stays as the person left it)."""
    def replace() -> np.ndarray | None:
        with _naming_lock:
            manager = jpype.JClass("ij.plugin.frame.RoiManager").getInstance()
            if manager is None or not name or expected is None:
                return None
            entry = _entry_on_plane(imp, expected, name)
            index = -1 if entry is None else _index_of(manager, entry)
            if index < 0:
                return None
            ann.name = name
            manager.setRoi(annotation_to_roi(ann), index)
            return _manager_outline(manager, index)
    return on_event_thread(replace)


def _index_of(manager: Any, roi: Any) -> int:
    """The ROI Manager index of this very ROI object (Roi.equals compares shapes), or -1."""
    wanted = _identity(roi)
    return next((i for i, entry in enumerate(manager.getRoisAsArray()) if _identity(entry) == wanted), -1)


def _entry_on_plane(imp: Any, outline: np.ndarray, name: str | None = None) -> Any:
    """The ROI Manager's own entry (named ``name``, or any named one) on the displayed plane of
    ``imp`` with this outline, or None."""
    for roi in manager_rois_meeting(_box(outline), imp):
        entry_name = str(roi.getName() or "")
        if (entry_name == name if name is not None else entry_name) \
                and _same_outline(roi_to_annotation(roi).polygon, outline):
            return roi
    return None


def _box(outline: np.ndarray) -> tuple[int, int, int, int]:
    return (*np.floor(outline.min(0)).astype(int), *np.ceil(outline.max(0)).astype(int))


def _same_outline(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-4))


@contextmanager
def _claimed(imp: Any, what: str) -> Iterator[int]:
    """Claim the image for one suggestion (menu commands and shortcuts run on threads of their
    own, so a second quick press could work from the same last suggestion); refused, not
    waited for, while one runs. Yields the image's id."""
    key = int(imp.getID())
    with _last_lock:
        if key in _busy:
            raise InputError(f"{what}: the previous Suggest Contour or Next Candidate on \"{imp.getTitle()}\" "
                             "is still running; press again when it is done")
        _busy.add(key)
    try:
        yield key
    finally:
        with _last_lock:
            _busy.discard(key)


def _suggest(bridge: Any, imp: Any, state: _Suggestion, add: bool) -> dict[str, Any]:
    pixels, offset, box = _source(imp, state)
    outline = suggest_contour(pixels, state.init - offset, method=state.method, max_distance=state.max_distance,
                              closed=state.closed, existing=_existing(imp, state, box, offset),
                              candidate=state.candidate) + offset
    state.outline = outline
    ann = Annotation(outline, group=state.group, roi_type="traced")
    place(imp, ann, state.position)
    imp.setRoi(annotation_to_roi(ann))
    state.entry = _replace_in_manager(imp, state.added, state.entry, ann) if state.added else None
    if state.entry is None:
        state.entry = _add_to_manager(bridge, ann) if add else None
        state.added = ann.name if add else ""
    with _last_lock:
        _last[int(imp.getID())] = state
    return {"vertices": len(outline), "candidate": state.candidate + 1, "name": state.added}


@command("suggest_contour")
def suggest(bridge: Any, image: Any = None, **options: Any) -> dict[str, Any]:
    """Replace the current selection with the suggested contour of the object it points at.

    Options: ``method`` (unet, region_growing, active_contour), ``max_distance`` (px, 17),
    ``add`` (also add it to the ROI Manager as 0001, 0002...; the selection's group is kept).
    """
    imp = _current_image(image, "Suggest Contour")
    ann = _selection(imp, "Suggest Contour")
    if ann.roi_type == "composite":
        raise InputError("Suggest Contour needs one outline or line; the selection is made of several "
                         "(a composite selection): draw one rough outline over the object")
    method, max_distance = _options(options)
    closed = ann.roi_type not in OPEN_TYPES
    add = flag(options.get("add", False))
    state = _Suggestion(ann.polygon, closed, int(ann.group), method, max_distance, 0, ann.polygon, plane_position(imp))
    with _claimed(imp, "Suggest Contour") as key:
        try:
            if add and closed:  # refining an ROI Manager entry replaces it
                state.added, state.entry = _entry_holding(imp, ann.polygon)
            return _suggest(bridge, imp, state, add)
        except Exception:
            with _last_lock:  # Next Candidate must not go back to an older suggestion
                _last.pop(key, None)
            raise


def _entry_holding(imp: Any, outline: np.ndarray) -> tuple[str, np.ndarray | None]:
    """(name, outline) of the ROI Manager entry on the displayed plane with this outline, or ("", None)."""
    entry = _entry_on_plane(imp, outline)
    return ("", None) if entry is None else (str(entry.getName()), roi_to_annotation(entry).polygon)


@command("next_candidate")
def next_candidate(bridge: Any, image: Any = None, **options: Any) -> dict[str, Any]:
    """Replace the last suggestion on this image with the next-ranked candidate object; when that
    suggestion was added to the ROI Manager, its entry is replaced too (same name)."""
    imp = _current_image(image, "Next Candidate")
    with _claimed(imp, "Next Candidate") as key:
        with _last_lock:
            last = _last.get(key)
        if last is None or last.position != plane_position(imp):
            raise InputError(f"Next Candidate works after Suggest Contour on \"{imp.getTitle()}\" "
                             "(on the same slice): run Suggest Contour first")
        if imp.getRoi() is not None and not _same_outline(roi_to_annotation(imp.getRoi()).polygon, last.outline):
            raise InputError("the selection has changed since the last suggestion: Next Candidate replaces "
                             "that suggestion only; run Suggest Contour on the new selection")
        state = _Suggestion(last.init, last.closed, last.group, last.method, last.max_distance,
                            last.candidate + 1, last.outline, last.position, last.added, last.entry)
        return _suggest(bridge, imp, state, flag(options.get("add", False)))


@command("accept_contour")
def accept(bridge: Any, image: Any = None, **options: Any) -> str:
    """Add the current selection (normally the suggestion) to the ROI Manager as 0001, 0002...;
    returns the name (that of the entry already holding it on this plane, which is not added again)."""
    imp = _current_image(image, "Accept Contour")
    ann = _selection(imp, "Accept Contour")
    if not ann.is_area:
        raise InputError(f"Accept Contour adds outlines; the selection is a {ann.roi_type}: "
                         "run Suggest Contour on it first")
    place(imp, ann)
    ann.stroke_color = None
    _add_to_manager(bridge, ann, imp)
    return ann.name
