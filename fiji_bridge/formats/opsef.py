"""OpSeF projects <-> a stack of images with per-slice ROIs (AnnotatorJ's OpSeF exchange).

Project root ``Processed_<run>/``; a ``10_ImportExport/FilePairList_*.txt`` names one
image and its masks per line (``/00_InputRaw/8bitSum_X.tif;/02_SegMasks/..._Mask_...tif``,
or with ``_Classes``: ``img;classmask1;classmask2;``), paths relative to the root, an
optional first line ``root;<abs path>``, CRLF or LF, ``\\`` or ``/``. Import: the images of
all lines form one stack; slice i gets one ROI per label k > 0 of its mask, named ``%04d``
of k, group = NN of the ``_MaskClassNN`` mask holding k; ``12_TmpRoisFromFiji/<mask>_ROIs.zip``
replaces the mask when present. Export writes ``12_TmpRoisFromFiji/``, ``11_SegMasksFromFiji/``
(labels = integer ROI names, other ROIs get max + 1), ``13_ClassifiedSegMasksFromFiji/``
and the ``FilePairList_fromFiji_Masks.txt`` / ``_Classes.txt`` lists (CRLF) OpSeF re-imports.
"""
from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PureWindowsPath

import numpy as np

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.formats.classes import groups_in
from fiji_bridge.formats.images import add_tiff, check_shape, image_shape, read_image, read_labels
from fiji_bridge.formats.masks import integer_name, label_values
from fiji_bridge.rois.labels import annotations_to_labels, labels_to_annotations
from fiji_bridge.rois.planes import StackDims, planes_of
from fiji_bridge.rois.roiset import read_roiset, write_roiset

LISTS_DIR = "10_ImportExport"
TMP_ROIS_DIR = "12_TmpRoisFromFiji"
MASKS_OUT_DIR = "11_SegMasksFromFiji"
CLASSES_OUT_DIR = "13_ClassifiedSegMasksFromFiji"
MASKS_LIST = "FilePairList_fromFiji_Masks.txt"
CLASSES_LIST = "FilePairList_fromFiji_Classes.txt"
CLASS_FOLDER_OF = {"02_SegMasks": "07_ClassifiedSegMasks", MASKS_OUT_DIR: CLASSES_OUT_DIR}
_MASK = re.compile(r"^(.*?)_Mask(?!Class)(.*)$")
_CLASS_MASK = re.compile(r"^(.*?)_MaskClass(\d{2,3})(.*)$")
CRLF = "\r\n"


@dataclass
class OpsefPair:
    """One line of a FilePairList: the image (text as written, and resolved) and its masks."""

    image_entry: str
    image: Path
    mask_name: str
    mask: Path | None = None
    class_masks: dict[int, Path] = field(default_factory=dict)


@dataclass
class OpsefProject:
    """A parsed FilePairList and the project root its paths are relative to."""

    list_file: Path
    root: Path
    root_line: str | None
    pairs: list[OpsefPair]


@dataclass
class OpsefStack:
    """The images of a project as one stack, and the ROIs of each slice (position = slice)."""

    project: OpsefProject
    images: np.ndarray
    annotations: list[Annotation]
    from_tmp_rois: list[bool]


def class_mask_name(mask_name: str, group: int) -> str:
    """``<prefix>_Mask<suffix>`` -> ``<prefix>_MaskClassNN<suffix>``."""
    match = _MASK.match(mask_name)
    if not match:
        raise InputError(f"mask file name {mask_name} has no '_Mask' part to name class masks after")
    return f"{match.group(1)}_MaskClass{group:02d}{match.group(2)}"


def read_pair_list(path: str | os.PathLike) -> OpsefProject:
    """Parse a FilePairList (masks or classes variant) and check every file it names exists."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read FilePairList {path}: {exc}") from exc
    rows = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    root_line = None
    if rows and rows[0][1].split(";", 1)[0].strip().lower() == "root":
        root_line = rows.pop(0)[1]
    if not rows:
        raise InputError(f"FilePairList {path} lists no images")
    entries = [(n, [f.strip() for f in line.split(";") if f.strip()]) for n, line in rows]
    root = _project_root(path, root_line, entries[0][1][0])
    pairs = [_pair(path, root, n, fields) for n, fields in entries]
    return OpsefProject(path, root, root_line, pairs)


def load_opsef(path: str | os.PathLike) -> OpsefStack:
    """The project's images as a stack (n, H, W[, C]) and its ROIs, checked for consistent sizes."""
    project = read_pair_list(path)
    images, anns, from_tmp = [], [], []
    for slice_no, pair in enumerate(project.pairs, start=1):
        image = read_image(pair.image)
        if images and image.shape != images[0].shape:
            raise InputError(f"{pair.image} is {_size(image.shape)} but {project.pairs[0].image} is "
                             f"{_size(images[0].shape)}: the images of an OpSeF stack must have one size")
        images.append(image)
        tmp_rois = project.root / TMP_ROIS_DIR / f"{Path(pair.mask_name).stem}_ROIs.zip"
        if tmp_rois.is_file():
            slice_anns = [replace(a, position=slice_no) for a in read_roiset(tmp_rois)]
        else:
            slice_anns = _mask_annotations(pair, image_shape(pair.image), slice_no)
        anns += slice_anns
        from_tmp.append(tmp_rois.is_file())
    return OpsefStack(project, np.stack(images), anns, from_tmp)


def export_opsef(project: OpsefProject | str | os.PathLike, anns: Sequence[Annotation], *,
                 overwrite: bool = False) -> list[Path]:
    """Write the ROIs (position = slice) back into the project, all files or none.

    Slices without ROIs are skipped. ROIs whose name is not a new positive integer get the
    next free label of their slice (and that number as their name in the ROI zip).
    """
    if not isinstance(project, OpsefProject):
        project = read_pair_list(project)
    slices = _by_slice(project, anns)
    if not slices:
        raise InputError("there are no ROIs to export")
    all_groups = groups_in(anns)
    root, batch = project.root, WriteBatch(overwrite=overwrite)
    head = [project.root_line] if project.root_line else []
    mask_lines, class_lines = list(head), list(head)
    for slice_no, slice_anns in sorted(slices.items()):
        pair = project.pairs[slice_no - 1]
        shape = image_shape(pair.image)
        areas = [a for a in slice_anns if a.is_area]
        values = label_values(areas, by="name")
        renamed = {id(a): f"{v:04d}" for a, v in zip(areas, values.tolist()) if integer_name(a.name) != v}
        zip_anns = [replace(a, name=renamed.get(id(a), a.name), position=slice_no) for a in slice_anns]
        stem = Path(pair.mask_name).stem
        batch.add(root / TMP_ROIS_DIR / f"{stem}_ROIs.zip", lambda tmp, z=zip_anns: write_roiset(tmp, z))
        labels = annotations_to_labels(areas, shape, values=values.tolist())
        add_tiff(batch, root / MASKS_OUT_DIR / pair.mask_name, labels)
        mask_lines.append(f"{pair.image_entry};/{MASKS_OUT_DIR}/{pair.mask_name}")
        groups = np.array([a.group for a in areas], dtype=np.int64)
        class_files = []
        for group in all_groups:
            name = class_mask_name(pair.mask_name, group)
            members = values[groups == group]
            add_tiff(batch, root / CLASSES_OUT_DIR / name, np.where(np.isin(labels, members), labels, 0).astype(labels.dtype))
            class_files.append(f"/{CLASSES_OUT_DIR}/{name};")
        class_lines.append(f"{pair.image_entry};" + "".join(class_files))
    batch.add_text(root / LISTS_DIR / MASKS_LIST, "".join(line + CRLF for line in mask_lines))
    if all_groups:
        batch.add_text(root / LISTS_DIR / CLASSES_LIST, "".join(line + CRLF for line in class_lines))
    return batch.commit()


def _by_slice(project: OpsefProject, anns: Sequence[Annotation]) -> dict[int, list[Annotation]]:
    count = len(project.pairs)
    slices: dict[int, list[Annotation]] = {}
    for ann in anns:
        found = planes_of(ann, StackDims(1, count, 1))  # a stack index, (c, z, t) or the slice in the name
        position = (found[0] if len(found) == 1 else 0) or (1 if count == 1 else 0)
        if not 1 <= position <= count:
            raise InputError(f"ROI {ann.name or '(unnamed)'} is on slice {ann.position}, but "
                             f"{project.list_file} has {count} images (slices 1..{count}); "
                             "every ROI needs the slice it belongs to")
        slices.setdefault(position, []).append(ann)
    return slices


def _mask_annotations(pair: OpsefPair, shape: tuple[int, int], slice_no: int) -> list[Annotation]:
    """ROIs of a slice from its instance mask (or its class masks), groups from the class masks."""
    class_labels = {}
    for group, file in pair.class_masks.items():
        data = read_labels(file)
        check_shape(file, data.shape, shape, "class mask")
        class_labels[group] = data
    if pair.mask is not None:
        labels = read_labels(pair.mask)
        check_shape(pair.mask, labels.shape, shape, "mask")
    else:
        labels = np.zeros(shape, dtype=np.int64)
        for data in class_labels.values():
            labels = np.where(data > 0, data, labels)
    group_of = {}
    for group, data in class_labels.items():
        group_of.update({int(k): group for k in np.unique(data) if k > 0})
    anns = labels_to_annotations(labels, position=slice_no)
    for ann in anns:
        ann.group = group_of.get(int(ann.name), 0)
    return anns


def _project_root(list_file: Path, root_line: str | None, first_image: str) -> Path:
    """The root line's folder when the first image is found there, else the list's grandparent."""
    candidates = []
    if root_line:
        candidates.append(Path(_normalise(root_line.split(";", 1)[1].strip().rstrip(";"))))
    candidates.append(list_file.absolute().parent.parent)
    for root in candidates:
        if _resolve(root, first_image).is_file():
            return root
    return candidates[-1]


def _pair(list_file: Path, root: Path, line_no: int, fields: list[str]) -> OpsefPair:
    if len(fields) < 2:
        raise InputError(f"{list_file}, line {line_no}: expected 'image;mask', got {';'.join(fields)!r}")
    image = _existing(list_file, root, line_no, fields[0], "image")
    mask, class_masks = None, {}
    for entry in fields[1:]:
        path = _existing(list_file, root, line_no, entry, "mask")
        match = _CLASS_MASK.match(path.name)
        if match:
            class_masks[int(match.group(2))] = path
        else:
            mask = path
    if mask is None:
        first = class_masks[min(class_masks)]
        match = _CLASS_MASK.match(first.name)
        mask_name = f"{match.group(1)}_Mask{match.group(3)}"
        derived = _sibling_folder(first.parent, reverse=True) / mask_name
        mask = derived if derived.is_file() else None
    else:
        mask_name = mask.name
        if not class_masks:
            class_masks = _find_class_masks(mask)
    return OpsefPair(fields[0], image, mask_name, mask, class_masks)


def _find_class_masks(mask: Path) -> dict[int, Path]:
    """``_MaskClassNN`` masks of an instance mask in the matching classified folder."""
    match = _MASK.match(mask.name)
    folder = _sibling_folder(mask.parent, reverse=False)
    if not match or not folder.is_dir():
        return {}
    found = {}
    for path in folder.glob(f"{glob.escape(match.group(1))}_MaskClass*{glob.escape(match.group(2))}"):
        cm = _CLASS_MASK.match(path.name)
        if cm and cm.group(1) == match.group(1) and cm.group(3) == match.group(2):
            found[int(cm.group(2))] = path
    return dict(sorted(found.items()))


def _sibling_folder(folder: Path, *, reverse: bool) -> Path:
    mapping = {v: k for k, v in CLASS_FOLDER_OF.items()} if reverse else CLASS_FOLDER_OF
    return folder.parent / mapping.get(folder.name, folder.name)


def _existing(list_file: Path, root: Path, line_no: int, entry: str, what: str) -> Path:
    path = _resolve(root, entry)
    if not path.is_file():
        raise InputError(f"{list_file}, line {line_no}: the {what} {entry} is not found at {path}")
    return path


def _resolve(root: Path, entry: str) -> Path:
    text = _normalise(entry)
    if PureWindowsPath(entry).drive or (Path(text).is_absolute() and Path(text).is_file()):
        return Path(text)
    return root / text.lstrip("/")


def _normalise(text: str) -> str:
    return text.strip().replace("\\", "/")


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}" + (f"x{shape[2]}" if len(shape) > 2 else "")
