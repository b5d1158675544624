"""Segment image files: read the planes of a TIFF/PNG/JPEG, write ``<stem>_labels.tif`` and ``<stem>_ROIs.zip``.

Planes of a TIFF (ImageJ hyperstacks included): a colour axis ``S`` (RGB samples) or ``C``
(channels) gives the colour of each plane, nucleAIzer-style (more than 3 channels -> the
first 3), unless ``channel`` picks one channel (1-based; of C, or else of the RGB samples). Every other axis (Z, T, ...) is
iterated: each slice is segmented on its own and the label image keeps those axes. The ROIs
of a plane belong to that plane of the image as ImageJ opens it (``formats.images.stack_dims``):
its stack index (for a TIFF without ImageJ metadata, a plain stack of pages, the page of the
plane's first channel) and, on an ImageJ hyperstack, the hyperstack position (0, z, t), which
ImageJ shows on every channel (see ``fiji_bridge.rois.planes``). A single 2-D plane gives
position 0.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.formats.images import TIFF_SUFFIXES, read_calibration, read_image, read_tiff, stack_dims
from fiji_bridge.nucleaizer.pipeline import segment_nuclei
from fiji_bridge.rois import planes as stack_planes
from fiji_bridge.rois.labels import labels_to_annotations
from fiji_bridge.rois.planes import StackDims
from fiji_bridge.rois.roiset import write_roiset

SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


@dataclass
class Planes:
    """Planes (N, Y, X[, C]) to segment one by one, and the stack axes they came from."""

    data: np.ndarray
    stack_shape: tuple[int, ...]
    stack_axes: str
    first_pages: np.ndarray  # per plane: ImageJ's stack index of its first (or picked) channel
    dims: StackDims  # the file as ImageJ opens it

    def place(self, anns: list[Annotation], index: int) -> None:
        """Put the annotations of plane ``index`` (0-based) on that plane of the source image as
        ImageJ opens it (a hyperstack: every channel of the plane)."""
        for ann in anns:
            stack_planes.place(ann, int(self.first_pages[index]), self.dims)


def _first_pages(axes: str, shape: tuple[int, ...], channel: int | None) -> np.ndarray:
    """The 1-based page (ImageJ stack index, in file order) of each plane's first channel, or of
    channel ``channel``; planes in the order ``read_planes`` gives them."""
    page_axes = [(a, n) for a, n in zip(axes, shape) if a not in "YXS"]
    if not page_axes:
        return np.ones(1, np.int64)
    stack_sizes = [n for a, n in page_axes if a != "C"]
    count = int(np.prod(stack_sizes, dtype=np.int64))
    grid = iter(np.indices(stack_sizes).reshape(len(stack_sizes), count))
    picked = (channel or 1) - 1 if "C" in axes else 0
    coords = [np.full(count, picked) if a == "C" else next(grid) for a, _ in page_axes]
    return np.ravel_multi_index(coords, [n for _, n in page_axes]) + 1


def _colour_last(data: np.ndarray, axes: str, channel: int | None, path: Path) -> tuple[np.ndarray, str]:
    """Move S/C to the end, or pick ``channel`` (of C, else of the RGB samples S); returns data
    and the remaining axes."""
    if channel is not None:
        picked = "C" if "C" in axes else "S" if "S" in axes else ""
        count = data.shape[axes.index(picked)] if picked else 1
        if not 1 <= channel <= count:
            raise InputError(f"{path}: --channel {channel} is out of range; the image has {count} channel(s)")
        if picked:
            data = np.take(data, channel - 1, axis=axes.index(picked))
            axes = axes.replace(picked, "")
    if "C" in axes:
        if "S" not in axes:
            data = np.moveaxis(data, axes.index("C"), -1)
            axes = axes.replace("C", "") + "C"
        else:
            data = np.take(data, 0, axis=axes.index("C"))
            axes = axes.replace("C", "")
    if "S" in axes:
        data = np.moveaxis(data, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    return data, axes


def read_planes(path: str | os.PathLike, *, channel: int | None = None) -> Planes:
    """The planes of an image file to segment (see the module docstring for the axis rules)."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            data, axes = read_tiff(path)
        except Exception as exc:
            raise InputError(f"cannot read image {path}: {exc}") from exc
    else:
        data = read_image(path)
        axes = "YX" if data.ndim == 2 else "YXS"
        if data.ndim not in (2, 3):
            raise InputError(f"{path}: not a 2-D image (shape {data.shape})")
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"{path}: no Y and X axes in the image (axes {axes})")
    first_pages = _first_pages(axes, data.shape, channel)
    data, axes = _colour_last(data, axes, channel, path)
    colour = axes[-1] if axes[-1] in "CS" else ""
    plane_axes = "YX" + colour
    stack_axes = "".join(a for a in axes if a not in plane_axes)
    order = [axes.index(a) for a in stack_axes + plane_axes]
    data = np.transpose(data, order)
    stack_shape = data.shape[: len(stack_axes)]
    return Planes(data.reshape((-1,) + data.shape[len(stack_axes) :]), tuple(stack_shape), stack_axes, first_pages,
                  stack_dims(path))


def output_paths(path: str | os.PathLike, outdir: str | os.PathLike) -> tuple[Path, Path]:
    """``OUTDIR/<stem>_labels.tif`` and ``OUTDIR/<stem>_ROIs.zip``."""
    stem = Path(path).stem
    return Path(outdir) / f"{stem}_labels.tif", Path(outdir) / f"{stem}_ROIs.zip"


def _imagej_axes(stack_axes: str, stack_shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """Axes ImageJ understands for the label stack: T and Z kept, anything else flattened to Z."""
    if stack_axes in ("", "T", "Z", "TZ"):
        return stack_axes, stack_shape
    return "Z", (int(np.prod(stack_shape)),)


def segment_file(
    path: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    diameter: float | None = None,
    tta: bool = False,
    channel: int | None = None,
) -> int:
    """Segment every plane of ``path``; write labels and ROIs atomically; return the object count.
    The label image keeps a TIFF's calibration (pixel size, unit, z spacing)."""
    planes = read_planes(path, channel=channel)
    labels = [segment_nuclei(plane, diameter=diameter, tta=tta) for plane in planes.data]
    dtype = np.uint32 if any(lab.dtype == np.uint32 for lab in labels) else np.uint16
    stack = np.stack([lab.astype(dtype) for lab in labels])
    stacked = len(labels) > 1 or planes.stack_axes != ""
    annotations = []
    for index, lab in enumerate(labels):
        plane = labels_to_annotations(lab)
        if stacked:
            planes.place(plane, index)
        annotations += plane
    axes, shape = _imagej_axes(planes.stack_axes, planes.stack_shape)
    image = stack.reshape(shape + stack.shape[1:]) if stacked else stack[0]
    labels_path, rois_path = output_paths(path, outdir)
    calibration = read_calibration(path)

    def write_labels(tmp: Path) -> None:
        imagej = dtype == np.uint16
        extra = calibration.tiff_options(imagej=imagej) if calibration else {}
        if imagej:
            meta = calibration.imagej_metadata() if calibration else {}
            tifffile.imwrite(tmp, image, imagej=True, metadata={"axes": axes + "YX", **meta}, **extra)
        else:
            tifffile.imwrite(tmp, image, **extra)

    batch = WriteBatch(overwrite=True)
    batch.add(labels_path, write_labels)
    batch.add(rois_path, lambda tmp: write_roiset(tmp, annotations))
    batch.commit()
    return sum(int(lab.max()) for lab in labels)
