"""Reading image sizes and masks, writing TIFFs that ImageJ opens (through a WriteBatch)."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import tifffile

from fiji_bridge.errors import InputError
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.rois.planes import StackDims

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
TIFF_SUFFIXES = (".tif", ".tiff")
Crop = tuple[int, int, np.ndarray]
TIFF_UNITS = {2: "inch", 3: "cm"}  # TIFF ResolutionUnit -> ImageJ's unit (as its TiffDecoder)
_pillow_guard = threading.Lock()
_pillow_lifts = 0
_pillow_limit: int | None = None


@dataclass(frozen=True)
class Calibration:
    """ImageJ's spatial calibration of a TIFF: pixels per unit in x and y, the unit ("um",
    "cm", ... or "" for none) and the z spacing of a stack (None when not given)."""

    x_resolution: float
    y_resolution: float
    unit: str = ""
    spacing: float | None = None

    def tiff_options(self, *, imagej: bool) -> dict[str, Any]:
        """tifffile.imwrite keywords that store this calibration (ImageJ's unit and spacing go
        into the ImageJ metadata, so only ``imagej`` files carry them)."""
        options: dict[str, Any] = {"resolution": (self.x_resolution, self.y_resolution)}
        if not imagej:
            units = {v: k for k, v in TIFF_UNITS.items()}
            options["resolutionunit"] = units.get(self.unit, 1)
        return options

    def imagej_metadata(self) -> dict[str, Any]:
        """The ImageJ metadata entries (``unit``, ``spacing``) of this calibration; the TIFF
        description is ASCII, so micro is written "u" as ImageJ does ("um"), and a unit with
        other non-ASCII letters is left out."""
        unit = self.unit.replace("\u00b5", "u").replace("\u03bc", "u")
        meta: dict[str, Any] = {"unit": unit} if unit and unit.isascii() else {}
        if self.spacing is not None:
            meta["spacing"] = self.spacing
        return meta


def image_files(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (sorted, hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"image folder {folder} does not exist")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of a 2-D image (grey or RGB), read from the header where possible."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                shape = tif.series[0].shape
                axes = tif.series[0].axes
            if "Y" in axes and "X" in axes:
                return int(shape[axes.index("Y")]), int(shape[axes.index("X")])
        return _plane_shape(read_image(path), path)
    except InputError:
        raise
    except Exception as exc:  # unreadable or not an image: say which file
        raise InputError(f"cannot read image {path}: {exc}") from exc


def stack_dims(path: str | os.PathLike) -> StackDims:
    """Channels, slices and frames of an image file as ImageJ 1.x opens it: an ImageJ TIFF as
    its metadata says (a hyperstack), any other TIFF as a plain stack of its 2-D planes (RGB
    samples are one plane's colours), other files as one image."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        return StackDims()
    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_imagej:
                meta = tif.imagej_metadata or {}
                dims = StackDims(*(int(meta.get(k, 1)) for k in ("channels", "slices", "frames")))
                images = int(meta.get("images", dims.size))
                return dims if dims.size == images else StackDims(1, images, 1)  # as ImageJ's FileOpener
            series = tif.series[0]
            planes = int(np.prod([n for a, n in zip(series.axes, series.shape) if a not in "YXS"], dtype=np.int64))
            return StackDims(1, planes * (len(tif.series) if _pages_as_series(tif) else 1), 1)
    except Exception as exc:
        raise InputError(f"cannot read image {path}: {exc}") from exc


def _pages_as_series(tif: tifffile.TiffFile) -> bool:
    """True for a file whose pages were written one by one (each its own series of one shape),
    which ImageJ opens as a stack."""
    first = tif.series[0]
    return len(tif.series) > 1 and all(s.shape == first.shape and s.axes == first.axes for s in tif.series)


def read_tiff(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """(pixels, tifffile axes) of a TIFF's first series; pages written one by one are stacked
    along a leading axis "I", as ImageJ opens them. Stack axes tifffile cannot name (a shaped
    TIFF without axes metadata: "QQYX") become one axis "I" of pages in file order, the plain
    stack ImageJ 1.x opens."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if _pages_as_series(tif):
            return _plain_stack(np.stack([s.asarray() for s in tif.series]), "I" + series.axes)
        return _plain_stack(series.asarray(), series.axes)


def _plain_stack(data: np.ndarray, axes: str) -> tuple[np.ndarray, str]:
    """``data`` with its stack axes (all but Y, X, S) merged into one axis "I" when an axis
    letter repeats (tifffile's "Q" for unknown axes), else unchanged."""
    if len(set(axes)) == len(axes):
        return data, axes
    stack = [i for i, a in enumerate(axes) if a not in "YXS"]
    plane = [i for i, a in enumerate(axes) if a in "YXS"]
    data = np.transpose(data, stack + plane)
    return data.reshape((-1,) + data.shape[len(stack):]), "I" + "".join(axes[i] for i in plane)


def read_calibration(path: str | os.PathLike) -> Calibration | None:
    """The spatial calibration ImageJ 1.x reads from a TIFF (resolution tags; the unit from the
    ImageJ metadata, else from ResolutionUnit), or None for other files and uncalibrated TIFFs."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        return None
    try:
        with tifffile.TiffFile(path) as tif:
            tags = tif.pages.first.tags
            meta = tif.imagej_metadata or {}
            resolution = [_rational(tags[name].value) if name in tags else None
                          for name in ("XResolution", "YResolution")]
            tiff_unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 1
    except Exception as exc:
        raise InputError(f"cannot read image {path}: {exc}") from exc
    x_res, y_res = resolution
    if not x_res or x_res <= 0 or not np.isfinite(x_res):
        return None
    y_res = y_res if y_res and y_res > 0 and np.isfinite(y_res) else x_res
    unit = str(meta.get("unit") or TIFF_UNITS.get(tiff_unit, "")).strip()
    spacing = meta.get("spacing")
    spacing = float(spacing) if isinstance(spacing, (int, float)) and spacing > 0 else None
    if x_res == 1 and y_res == 1 and unit in ("", "pixel", "pixels") and spacing is None:
        return None
    if not meta.get("unit") and unit == "inch" and x_res == y_res == 72 and spacing is None:
        return None  # the 72 dpi that image programs write by default: ImageJ shows it uncalibrated
    return Calibration(x_res, y_res, unit, spacing)


def _rational(value: object) -> float | None:
    """A TIFF RATIONAL tag value ((numerator, denominator) or a number) as a float."""
    if isinstance(value, tuple) and len(value) == 2:
        return value[0] / value[1] if value[1] else None
    return float(value) if isinstance(value, (int, float)) else None


def plane_calibration(path: str | os.PathLike) -> Calibration | None:
    """The x/y calibration of an image file (``read_calibration`` without the z spacing), for
    files made of one of its planes."""
    calibration = read_calibration(path)
    return replace(calibration, spacing=None) if calibration is not None else None


@contextmanager
def pillow_size_limit_lifted() -> Iterator[None]:
    """Let Pillow open images of any size while the block runs: its decompression-bomb guard
    (refusing images above ~179 megapixels, warning above ~89) is for files from strangers,
    not for a microscopy image the user named. Thread-safe; the limit is back afterwards."""
    global _pillow_lifts, _pillow_limit
    from PIL import Image
    with _pillow_guard:
        if _pillow_lifts == 0:
            _pillow_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _pillow_lifts += 1
    try:
        yield
    finally:
        with _pillow_guard:
            _pillow_lifts -= 1
            if _pillow_lifts == 0:
                Image.MAX_IMAGE_PIXELS = _pillow_limit


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Pixels of an image file (TIFF with tifffile, other formats with scikit-image)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            return read_tiff(path)[0]
        from skimage.io import imread
        with pillow_size_limit_lifted():
            return np.asarray(imread(path))
    except MemoryError:
        raise InputError(f"not enough memory to read image {path} ({_size_text(path)}); "
                         "close other programs or split the image into tiles") from None
    except Exception as exc:
        raise InputError(f"cannot read image {path}: {exc}") from exc


def _size_text(path: Path) -> str:
    """The image's size for a message (its header, else the file's size)."""
    try:
        from PIL import Image
        with pillow_size_limit_lifted(), Image.open(path) as image:
            return f"{image.width}x{image.height} pixels, {image.mode}"
    except Exception:  # only for the message: the size is a courtesy
        return f"{path.stat().st_size / 1e6:.0f} MB file"


def read_plane(path: str | os.PathLike) -> np.ndarray:
    """A single 2-D plane (mask or grey image); InputError for stacks and colour images."""
    arr = read_image(path)
    squeezed = np.squeeze(arr)
    if squeezed.ndim != 2:
        raise InputError(f"{path} is not a single 2-D image (shape {arr.shape})")
    return squeezed


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """A 2-D integer label mask; InputError for float masks with fractions or negative labels."""
    return as_labels(read_plane(path), path)


def read_label_stack(path: str | os.PathLike) -> np.ndarray:
    """Label masks (N, Y, X): the slices of a stack (Z, T, ... in file order) or one 2-D mask."""
    arr = np.squeeze(read_image(path))
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim < 2 or arr.shape[-1] in (3, 4):  # colour samples, not a stack of slices
        raise InputError(f"{path} is not a label mask or a stack of them (shape {arr.shape})")
    return as_labels(arr.reshape((-1,) + arr.shape[-2:]), path)


def as_labels(labels: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Integer labels; InputError for fractions or negative values (``path`` names the file)."""
    if labels.dtype.kind == "f":
        if not np.all(np.mod(labels, 1) == 0):
            raise InputError(f"{path} holds fractional values; a label mask needs integers")
    if labels.dtype.kind in "fi" and labels.size and labels.min() < 0:
        raise InputError(f"{path} holds negative values; a label mask needs labels >= 0")
    if labels.dtype == bool:
        return labels.astype(np.uint8)
    return labels.astype(np.int64) if labels.dtype.kind == "f" else labels


def check_shape(path: str | os.PathLike, shape: tuple[int, ...], expected: tuple[int, int],
                what: str) -> None:
    """InputError when a mask's (height, width) differs from its image's."""
    if tuple(shape[-2:]) != tuple(expected):
        raise InputError(f"{what} {path} is {shape[-1]}x{shape[-2]} pixels but its image is "
                         f"{expected[1]}x{expected[0]}")


def add_tiff(batch: WriteBatch, path: str | os.PathLike, data: np.ndarray,
             slice_labels: list[str] | None = None, *, rgb: bool | None = None,
             calibration: Calibration | None = None) -> None:
    """Queue a TIFF that ImageJ opens as image or stack (ImageJ hyperstack format when possible):
    (Y, X) or (Z, Y, X); with ``rgb`` uint8 (Y, X, 3) or (Z, Y, X, 3), an RGB image or stack
    (``rgb=None``: uint8 (Z, Y, X, 3) is an RGB stack). ``calibration``: the pixel size and
    unit to store (ImageJ reads them back)."""
    data = np.ascontiguousarray(data)
    if rgb is None:
        rgb = data.ndim == 4 and data.dtype == np.uint8 and data.shape[-1] == 3
    imagej = data.dtype in (np.uint8, np.uint16, np.float32)
    metadata = {"Labels": list(slice_labels)} if (imagej and slice_labels) else {}
    if calibration is not None and imagej:
        metadata.update(calibration.imagej_metadata())
    extra = calibration.tiff_options(imagej=imagej) if calibration is not None else {}
    plane_axes = "YXS" if rgb else "YX"
    if rgb and (data.dtype != np.uint8 or data.shape[-1] != 3):
        raise InputError(f"an RGB TIFF needs uint8 (..., 3) pixels, got {data.dtype} {data.shape}")
    if data.ndim not in (len(plane_axes), len(plane_axes) + 1):
        raise InputError(f"cannot write {path}: {data.ndim}-D pixels of shape {data.shape} are no "
                         f"{'RGB ' if rgb else ''}image or stack")

    def write(tmp: Path) -> None:
        if imagej:
            axes = ("Z" if data.ndim > len(plane_axes) else "") + plane_axes
            tifffile.imwrite(tmp, data, imagej=True, metadata={"axes": axes, **metadata}, **extra)
        else:
            tifffile.imwrite(tmp, data, **extra)

    batch.add(path, write)


def add_sparse_stack(batch: WriteBatch, path: str | os.PathLike, crops: Sequence[Crop],
                     shape: tuple[int, int], slice_labels: Sequence[str] | None = None,
                     calibration: Calibration | None = None) -> None:
    """Queue a PackBits-compressed uint16 stack, slice i = ``crops[i]`` pasted into zeros.

    ``crops`` are (y0, x0, 2-D array) triples. PackBits packs each row on its own, so an empty
    row is encoded once and reused: a stack of small objects on large images writes fast, small,
    and is never held in memory whole. One strip per slice, which ImageJ 1.x reads (it
    ignores the slice labels of compressed stacks; tifffile and fiji_bridge keep them).
    """
    height, width = shape
    labels = {"Labels": list(slice_labels)} if slice_labels else {}
    if calibration is not None:
        labels.update(calibration.imagej_metadata())
    extra = calibration.tiff_options(imagej=True) if calibration is not None else {}

    def pages() -> Iterator[bytes]:
        empty_row = imagecodecs.packbits_encode(bytes(width * 2))
        for y0, x0, crop in crops or [(0, 0, np.zeros((0, 0), np.uint16))]:
            rows = [empty_row] * height
            for y in range(max(y0, 0), min(y0 + crop.shape[0], height)):
                line = crop[y - y0]
                if line.any():
                    row = np.zeros(width, dtype="<u2")
                    row[x0:x0 + line.size] = line
                    rows[y] = imagecodecs.packbits_encode(row.tobytes())
            yield b"".join(rows)

    def write(tmp: Path) -> None:
        tifffile.imwrite(tmp, pages(), shape=(max(len(crops), 1), height, width), dtype="<u2",
                         imagej=True, compression="packbits", rowsperstrip=height,
                         metadata={"axes": "ZYX", **labels}, **extra)

    batch.add(path, write)


def iter_slices(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """The 2-D slices of a TIFF stack one at a time (a 2-D image is one slice)."""
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            if series.ndim == 2 or (series.ndim == 3 and series.shape[-1] in (3, 4) and "S" in series.axes):
                yield series.asarray()
                return
            for page in tif.pages:
                yield page.asarray()
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise InputError(f"cannot read stack {path}: {exc}") from exc


def read_slice_labels(path: str | os.PathLike) -> list[str] | None:
    """ImageJ slice labels of a TIFF stack, if it has them."""
    with tifffile.TiffFile(path) as tif:
        meta = tif.imagej_metadata or {}
    labels = meta.get("Labels")
    if isinstance(labels, str):  # tifffile gives a one-slice stack's label as a string
        labels = [labels]
    return [str(x) for x in labels] if labels else None


def _plane_shape(arr: np.ndarray, path: Path) -> tuple[int, int]:
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (3, 4)):
        return int(arr.shape[0]), int(arr.shape[1])
    raise InputError(f"{path} is not a 2-D image (shape {arr.shape})")
