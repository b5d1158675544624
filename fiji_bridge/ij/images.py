"""ImagePlus <-> numpy and xarray.DataArray (needs the running JVM).

Pixel data cross as bulk copies, never element by element: numpy -> Java wraps the numpy
memory in a direct NIO buffer and Java copies it into a new primitive array; Java -> numpy
has Java copy into a reused staging buffer that numpy copies on. No Java array is ever built
from a Python list. Every conversion returns a copy, never a view, so later edits on either side are
not seen by the other.

Axis order is ImageJ's: ``("t", "z", "c", "y", "x")``, keeping only the axes ImageJ reports
with more than one element, plus a trailing ``"rgb"`` axis of 3 for RGB images.

Conversion rules from numpy to ImageJ:

- uint8 -> 8-bit, uint16 -> 16-bit, float32 -> 32-bit, (..., 3) uint8 with an ``"rgb"`` axis
  -> RGB.
- bool -> 8-bit with 0 and 255 (ImageJ's binary mask convention).
- float64 -> 32-bit (rounded to float32; values beyond the float32 range are an error).
- other integer types (int8, int16, int32, int64, uint32, uint64) -> 32-bit float, but only
  when every value is exactly representable (|v| <= 2**24); otherwise an InputError.
- anything else (complex, object, strings) -> InputError.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import jpype
import jpype.nio
import numpy as np
import xarray as xr

from fiji_bridge.errors import InputError

AXES = ("t", "z", "c", "y", "x")
RGB_AXIS = "rgb"
_FLOAT32_EXACT_INT = 2**24

# ImagePlus bit depth -> (numpy dtype of the Java array, numpy dtype shown to users)
_BIT_DEPTHS = {
    8: (np.int8, np.uint8),
    16: (np.int16, np.uint16),
    32: (np.float32, np.float32),
    24: (np.int32, np.uint32),
}


def _jclass(name: str) -> Any:
    return jpype.JClass(name)


# --- raw array transfer -------------------------------------------------------------------

def _java_type(dtype: np.dtype) -> Any:
    return {np.dtype(np.int8): jpype.JByte, np.dtype(np.int16): jpype.JShort,
            np.dtype(np.int32): jpype.JInt, np.dtype(np.float32): jpype.JFloat}[np.dtype(dtype)]


def _typed_view(buffer: Any, dtype: np.dtype) -> Any:
    """The typed NIO view of a byte buffer matching ``dtype``."""
    kind = np.dtype(dtype)
    if kind == np.int8:
        return buffer
    if kind == np.int16:
        return buffer.asShortBuffer()
    if kind == np.int32:
        return buffer.asIntBuffer()
    return buffer.asFloatBuffer()


def _native_buffer(array: np.ndarray) -> Any:
    order = _jclass("java.nio.ByteOrder").nativeOrder()
    return jpype.nio.convertToDirectBuffer(array.view(np.uint8)).order(order)


def to_java_array(values: np.ndarray) -> Any:
    """A new Java primitive array holding the bytes of a 1-D int8/int16/int32/float32 array."""
    flat = np.ascontiguousarray(values).reshape(-1)
    if not flat.flags.writeable:  # convertToDirectBuffer needs writable memory
        flat = flat.copy()
    out = jpype.JArray(_java_type(flat.dtype))(flat.size)
    if flat.size:
        _typed_view(_native_buffer(flat), flat.dtype).get(out)
    return out


_STAGING_BYTES = 1 << 23  # 8 MiB per thread, reused for every Java -> numpy copy
_staging = threading.local()


def _staging_buffer() -> tuple[np.ndarray, Any]:
    """This thread's staging bytes and the direct NIO buffer over them (kept for the process)."""
    if not hasattr(_staging, "pair"):
        memory = np.empty(_STAGING_BYTES, dtype=np.uint8)
        _staging.pair = (memory, _native_buffer(memory))
    return _staging.pair


def from_java_array(values: Any, dtype: np.dtype, out: np.ndarray | None = None, *,
                    offset: int = 0, length: int | None = None) -> np.ndarray:
    """Copy a Java primitive array (or its ``length`` items from ``offset``) into ``out`` (1-D, contiguous) or a new numpy array.

    Java bulk-copies the array, a piece at a time, into a reused staging buffer that numpy
    copies on. A direct buffer over ``out`` itself would keep that memory alive until the next
    Java GC; JPype's own buffer view costs a fresh native allocation per call.
    """
    dtype = np.dtype(dtype)
    size = len(values) - offset if length is None else length
    if out is None:
        out = np.empty(size, dtype=dtype)
    memory, buffer = _staging_buffer()
    buffer.clear()  # typed views start at the byte buffer's position, which a byte copy moved
    staged, typed = memory.view(dtype), _typed_view(buffer, dtype)
    for start in range(0, size, staged.size):
        count = min(staged.size, size - start)
        typed.clear()
        typed.put(values, offset + start, count)
        out[start:start + count] = staged[:count]
    return out


# --- numpy -> ImageJ dtype rules ------------------------------------------------------------

def _imagej_pixels(array: np.ndarray, rgb: bool) -> tuple[np.ndarray, int]:
    """Apply the conversion rules: (array in an ImageJ dtype, bit depth)."""
    dtype = array.dtype
    if rgb:
        if dtype != np.uint8:
            raise InputError(f"an RGB image must be uint8, got {dtype}")
        return array, 24
    if dtype == np.uint8:
        return array, 8
    if dtype == np.uint16:
        return array, 16
    if dtype == np.float32:
        return array, 32
    if dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255), 8
    if dtype == np.float64:
        finite = array[np.isfinite(array)]
        if finite.size and np.abs(finite).max() > np.finfo(np.float32).max:
            raise InputError("this float64 image holds values beyond the 32-bit float range ImageJ can store")
        return array.astype(np.float32), 32
    if dtype.kind in "iu":
        if array.size and (array.min() < -_FLOAT32_EXACT_INT or array.max() > _FLOAT32_EXACT_INT):
            raise InputError(
                f"this {dtype} image holds values beyond +-2**24, which a 32-bit float ImageJ image "
                "cannot store exactly; convert it to uint16 (values 0..65535) or scale it first")
        return array.astype(np.float32), 32
    raise InputError(f"ImageJ cannot hold {dtype} pixels; use uint8, uint16, float32 or RGB uint8")


def _pack_rgb(planes: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> ImageJ's packed int32 0xAARRGGBB (alpha 255)."""
    r, g, b = (planes[..., k].astype(np.uint32) for k in range(3))
    return ((r << 16) | (g << 8) | b | np.uint32(0xFF000000)).view(np.int32)


def _unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """ImageJ's packed int32 -> (..., 3) uint8."""
    v = packed.view(np.uint32)
    out = np.empty(v.shape + (3,), dtype=np.uint8)
    out[..., 0] = v >> 16
    out[..., 1] = v >> 8
    out[..., 2] = v
    return out


# --- ImageProcessor <-> numpy ----------------------------------------------------------------

def processor_to_numpy(ip: Any) -> np.ndarray:
    """One ImageProcessor as a (y, x) array, or (y, x, 3) uint8 for RGB."""
    return _plane_to_numpy(ip.getPixels(), int(ip.getBitDepth()), int(ip.getHeight()), int(ip.getWidth()))


def _plane_to_numpy(pixels: Any, bit_depth: int, height: int, width: int, first_row: int = 0) -> np.ndarray:
    """``height`` rows from ``first_row`` of a plane's Java pixel array as (height, width[, 3])."""
    java_dtype, user_dtype = _BIT_DEPTHS[bit_depth]
    plane = from_java_array(pixels, java_dtype, offset=first_row * width, length=height * width).reshape(height, width)
    return _unpack_rgb(plane) if bit_depth == 24 else plane.view(user_dtype)


def numpy_to_processor(plane: np.ndarray) -> Any:
    """A (y, x) array (or (y, x, 3) uint8 RGB) as a new ImageProcessor."""
    arr = np.asarray(plane)
    rgb = arr.ndim == 3 and arr.shape[-1] == 3 and arr.dtype == np.uint8
    if arr.ndim != 2 and not rgb:
        raise InputError(f"an image plane must be 2-D (or (y, x, 3) uint8 RGB), got shape {arr.shape}")
    arr, bit_depth = _imagej_pixels(arr, rgb)
    return _make_processor(_plane_pixels(arr, bit_depth), bit_depth, arr.shape[1], arr.shape[0])


def _plane_pixels(plane: np.ndarray, bit_depth: int) -> Any:
    if bit_depth == 24:
        return to_java_array(_pack_rgb(plane))
    return to_java_array(plane.view(_BIT_DEPTHS[bit_depth][0]))


def _make_processor(pixels: Any, bit_depth: int, width: int, height: int) -> Any:
    if bit_depth == 8:
        return _jclass("ij.process.ByteProcessor")(width, height, pixels, None)
    if bit_depth == 16:
        return _jclass("ij.process.ShortProcessor")(width, height, pixels, None)
    if bit_depth == 32:
        return _jclass("ij.process.FloatProcessor")(width, height, pixels, None)
    return _jclass("ij.process.ColorProcessor")(width, height, pixels)


# --- ImagePlus <-> numpy ------------------------------------------------------------------------

def image_dims(imp: Any) -> tuple[str, ...]:
    """The dims of ``imageplus_to_numpy(imp)``: non-singleton t, z, c, then y, x (+ "rgb")."""
    sizes = {"t": imp.getNFrames(), "z": imp.getNSlices(), "c": imp.getNChannels()}
    dims = tuple(a for a in ("t", "z", "c") if sizes[a] > 1) + ("y", "x")
    return dims + (RGB_AXIS,) if imp.getBitDepth() == 24 else dims


def imageplus_to_numpy(imp: Any, *, squeeze: bool = True) -> np.ndarray:
    """All planes of an ImagePlus as a numpy copy in ImageJ's (t, z, c, y, x) order.

    With ``squeeze`` only the axes of ``image_dims(imp)`` remain; otherwise the array is
    always 5-D (6-D with the RGB axis). RGB comes back as trailing uint8 (r, g, b).
    """
    _require_image(imp)
    bit_depth = int(imp.getBitDepth())
    java_dtype, user_dtype = _BIT_DEPTHS[bit_depth]
    stack = imp.getStack()
    width, height = int(imp.getWidth()), int(imp.getHeight())
    nc, nz, nt = int(imp.getNChannels()), int(imp.getNSlices()), int(imp.getNFrames())
    n = int(stack.getSize())
    if nc * nz * nt != n:  # dimensions out of step with the stack: treat it as a plain z-stack
        nc, nz, nt = 1, n, 1
    raw = np.empty((n, height * width), dtype=java_dtype)
    for i in range(n):
        from_java_array(stack.getPixels(i + 1), java_dtype, out=raw[i])
    planes = raw.reshape(nt, nz, nc, height, width)
    out = _unpack_rgb(planes) if bit_depth == 24 else planes.view(user_dtype)
    if not squeeze:
        return out
    keep = tuple(k for k, size in enumerate((nt, nz, nc)) if size == 1)
    return out.squeeze(axis=keep)


def current_plane(imp: Any) -> np.ndarray:
    """The plane ImageJ currently shows (the current slice / channel / frame) as a copy."""
    _require_image(imp)
    return processor_to_numpy(imp.getProcessor())


def current_plane_region(imp: Any, box: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels x0 <= x < x1, y0 <= y < y1 (``box``) of the plane ImageJ currently shows, as a copy.

    Only the rows of the box cross from Java, so a small region of a large image is cheap.
    """
    _require_image(imp)
    ip = imp.getProcessor()
    width, height = int(ip.getWidth()), int(ip.getHeight())
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise InputError(f"region {box} is not inside the {width}x{height} image")
    rows = _plane_to_numpy(ip.getPixels(), int(ip.getBitDepth()), y1 - y0, width, first_row=y0)
    return np.ascontiguousarray(rows[:, x0:x1])


def numpy_to_imageplus(array: np.ndarray, *, dims: Sequence[str] | None = None, title: str = "image") -> Any:
    """A new ImagePlus holding a copy of ``array`` (see the module doc for dtype rules).

    ``dims`` names the axes from ``("t", "z", "c", "y", "x", "rgb")``; it must end with
    ``("y", "x")`` or ``("y", "x", "rgb")``. Without it: 2-D is (y, x); 3-D uint8 with a last
    axis of 3 is (y, x, rgb); other 3-D arrays are (z, y, x); 4-D (z, c, y, x); 5-D (t, z, c, y, x).
    """
    arr = np.asarray(array)
    dims = _resolve_dims(arr, dims)
    rgb = dims[-1] == RGB_AXIS
    arr, bit_depth = _imagej_pixels(arr, rgb)
    order = [dims.index(a) for a in AXES if a in dims] + ([dims.index(RGB_AXIS)] if rgb else [])
    arr = arr.transpose(order)
    sizes = {a: arr.shape[i] for i, a in enumerate(a for a in AXES if a in dims)}
    nt, nz, nc = (sizes.get(a, 1) for a in ("t", "z", "c"))
    height, width = sizes["y"], sizes["x"]
    if height == 0 or width == 0 or nt * nz * nc == 0:
        raise InputError(f"cannot make an ImageJ image from an empty array of shape {np.shape(array)}")
    planes = arr.reshape((nt * nz * nc, height, width) + ((3,) if rgb else ()))
    ImagePlus = _jclass("ij.ImagePlus")
    if len(planes) == 1:
        return ImagePlus(title, _make_processor(_plane_pixels(planes[0], bit_depth), bit_depth, width, height))
    stack = _jclass("ij.ImageStack")(width, height)
    for plane in planes:
        stack.addSlice("", _plane_pixels(plane, bit_depth))
    imp = ImagePlus(title, stack)
    imp.setDimensions(nc, nz, nt)
    if nc > 1 or nt > 1:
        imp.setOpenAsHyperStack(True)
    if nc > 1 and bit_depth != 24:
        CompositeImage = _jclass("ij.CompositeImage")
        imp = CompositeImage(imp, CompositeImage.COLOR)
    return imp


def _resolve_dims(arr: np.ndarray, dims: Sequence[str] | None) -> tuple[str, ...]:
    if dims is None:
        defaults = {2: ("y", "x"), 4: ("z", "c", "y", "x"), 5: AXES}
        if arr.ndim == 3:
            rgb = arr.dtype == np.uint8 and arr.shape[-1] == 3
            return ("y", "x", RGB_AXIS) if rgb else ("z", "y", "x")
        if arr.ndim not in defaults:
            raise InputError(f"cannot tell the axes of a {arr.ndim}-D array; pass dims, e.g. ('t', 'z', 'c', 'y', 'x')")
        return defaults[arr.ndim]
    dims = tuple(str(d) for d in dims)
    allowed = set(AXES) | {RGB_AXIS}
    if len(dims) != arr.ndim or len(set(dims)) != len(dims) or not set(dims) <= allowed:
        raise InputError(f"dims {dims} do not fit an array of shape {arr.shape}; use distinct names from "
                         f"{', '.join(AXES)}, {RGB_AXIS}, one per axis")
    if dims[-2:] != ("y", "x") and dims[-3:] != ("y", "x", RGB_AXIS):
        raise InputError(f"dims must end with ('y', 'x') or ('y', 'x', 'rgb'), got {dims}")
    if dims[-1] == RGB_AXIS and arr.shape[-1] != 3:
        raise InputError(f"the 'rgb' axis must have 3 elements, got {arr.shape[-1]}")
    return dims


def _require_image(imp: Any) -> None:
    if imp is None:
        raise InputError("no image: expected an ImageJ ImagePlus, got None")


# --- ImagePlus <-> xarray -----------------------------------------------------------------------

def imageplus_to_xarray(imp: Any) -> xr.DataArray:
    """An ImagePlus as a DataArray with ImageJ dims, calibrated coords and units.

    Coordinates are ``(index - origin) * pixel size`` for x, y, z, ``index * frameInterval``
    for t (index when no interval is set), channel numbers 1.. for c; each coordinate's
    ``attrs["units"]`` holds ImageJ's unit. ``attrs["title"]`` is the image title.
    """
    data = imageplus_to_numpy(imp)
    dims = image_dims(imp)
    cal = imp.getCalibration()
    coords: dict[str, Any] = {}
    for axis, size in zip(dims, data.shape):
        coords[axis] = _axis_coords(cal, axis, size)
    return xr.DataArray(data, dims=dims, coords=coords, attrs={"title": str(imp.getTitle())})


def _axis_coords(cal: Any, axis: str, size: int) -> xr.Variable:
    index = np.arange(size, dtype=np.float64)
    if axis == "x":
        values, unit = (index - cal.xOrigin) * cal.pixelWidth, cal.getXUnit()
    elif axis == "y":
        values, unit = (index - cal.yOrigin) * cal.pixelHeight, cal.getYUnit()
    elif axis == "z":
        values, unit = (index - cal.zOrigin) * cal.pixelDepth, cal.getZUnit()
    elif axis == "t":
        interval = float(cal.frameInterval)
        values, unit = (index * interval, cal.getTimeUnit()) if interval > 0 else (index, "frame")
    elif axis == "c":
        return xr.Variable(axis, np.arange(1, size + 1))
    else:
        return xr.Variable(axis, ["R", "G", "B"])
    return xr.Variable(axis, values, attrs={"units": str(unit)})


def xarray_to_imageplus(data: xr.DataArray, *, title: str | None = None) -> Any:
    """A DataArray (dims from t, z, c, y, x, rgb) as a new calibrated ImagePlus."""
    imp = numpy_to_imageplus(data.values, dims=tuple(str(d) for d in data.dims),
                             title=title or str(data.attrs.get("title", data.name or "image")))
    cal = imp.getCalibration()
    for axis in ("x", "y", "z", "t"):
        if axis in data.coords and data.coords[axis].size > 1:
            _set_calibration(cal, axis, data.coords[axis])
    imp.setCalibration(cal)
    return imp


def _set_calibration(cal: Any, axis: str, coord: xr.DataArray) -> None:
    values = np.asarray(coord.values, dtype=np.float64)
    step = float(values[1] - values[0])
    if step <= 0 or not np.allclose(np.diff(values), step, rtol=1e-6, atol=0):
        raise InputError(f"coordinate {axis!r} must increase in equal steps to become an ImageJ calibration")
    unit = coord.attrs.get("units")
    if axis == "t":
        cal.frameInterval = step
        if unit and unit != "frame":
            cal.setTimeUnit(unit)
        return
    origin = -float(values[0]) / step
    if axis == "x":
        cal.pixelWidth, cal.xOrigin = step, origin
        if unit:
            cal.setXUnit(unit)
    elif axis == "y":
        cal.pixelHeight, cal.yOrigin = step, origin
        if unit:
            cal.setYUnit(unit)
    else:
        cal.pixelDepth, cal.zOrigin = step, origin
        if unit:
            cal.setZUnit(unit)
