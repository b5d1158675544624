"""Reading image sizes and masks, writing TIFFs that ImageJ opens (through a WriteBatch)."""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile

from fiji_bridge.errors import InputError
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.rois.planes import StackDims

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
TIFF_SUFFIXES = (".tif", ".tiff")
Crop = tuple[int, int, np.ndarray]


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
    along a leading axis "I", as ImageJ opens them."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if _pages_as_series(tif):
            return np.stack([s.asarray() for s in tif.series]), "I" + series.axes
        return series.asarray(), series.axes


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Pixels of an image file (TIFF with tifffile, other formats with scikit-image)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            return read_tiff(path)[0]
        from skimage.io import imread
        return np.asarray(imread(path))
    except Exception as exc:
        raise InputError(f"cannot read image {path}: {exc}") from exc


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
             slice_labels: list[str] | None = None) -> None:
    """Queue a TIFF that ImageJ opens as image or stack (ImageJ hyperstack format when possible)."""
    data = np.ascontiguousarray(data)
    imagej = data.dtype in (np.uint8, np.uint16, np.float32)
    metadata = {"Labels": list(slice_labels)} if (imagej and slice_labels) else {}

    def write(tmp: Path) -> None:
        if imagej:
            axes = "ZYX" if data.ndim == 3 else "YX"
            tifffile.imwrite(tmp, data, imagej=True, metadata={"axes": axes, **metadata})
        else:
            tifffile.imwrite(tmp, data)

    batch.add(path, write)


def add_sparse_stack(batch: WriteBatch, path: str | os.PathLike, crops: Sequence[Crop],
                     shape: tuple[int, int], slice_labels: Sequence[str] | None = None) -> None:
    """Queue a PackBits-compressed uint16 stack, slice i = ``crops[i]`` pasted into zeros.

    ``crops`` are (y0, x0, 2-D array) triples. PackBits packs each row on its own, so an empty
    row is encoded once and reused: a stack of small objects on large images writes fast, small,
    and is never held in memory whole. One strip per slice, which ImageJ 1.x reads (it
    ignores the slice labels of compressed stacks; tifffile and fiji_bridge keep them).
    """
    height, width = shape
    labels = {"Labels": list(slice_labels)} if slice_labels else {}

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
                         metadata={"axes": "ZYX", **labels})

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
