"""ImagePlus <-> numpy / xarray against real ImageJ 1.x: every pixel type, stacks, hyperstacks."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fiji_bridge.errors import InputError
from fiji_bridge.ij.images import (
    current_plane,
    image_dims,
    imageplus_to_numpy,
    imageplus_to_xarray,
    numpy_to_imageplus,
    numpy_to_processor,
    processor_to_numpy,
    xarray_to_imageplus,
)

pytestmark = pytest.mark.imagej


def imagej_value(imp, x: int, y: int, index: int = 1):
    """A pixel as ImageJ itself reads it (stack index 1-based); RGB as (r, g, b)."""
    ip = imp.getStack().getProcessor(index)
    if imp.getBitDepth() == 24:
        c = int(ip.getPixel(x, y))
        return ((c >> 16) & 255, (c >> 8) & 255, c & 255)
    return ip.getPixelValue(x, y) if imp.getBitDepth() == 32 else int(ip.getPixel(x, y))


@pytest.mark.parametrize("dtype, bit_depth", [(np.uint8, 8), (np.uint16, 16), (np.float32, 32)])
def test_gray_round_trip_and_orientation(bridge, dtype, bit_depth):
    rng = np.random.default_rng(bit_depth)
    info = np.iinfo(dtype) if np.dtype(dtype).kind == "u" else None
    data = (rng.integers(0, info.max, (37, 53), endpoint=True) if info else rng.normal(0, 1e3, (37, 53))).astype(dtype)
    if info:
        data[0, :2] = [0, info.max]  # extremes survive the signed Java types
    else:
        data[0, :3] = [np.nan, np.inf, -0.0]
    imp = numpy_to_imageplus(data, title="t")
    assert imp.getBitDepth() == bit_depth
    assert (imp.getWidth(), imp.getHeight(), imp.getStackSize()) == (53, 37, 1)
    for x, y in [(0, 0), (1, 0), (52, 36), (17, 5)]:
        np.testing.assert_equal(imagej_value(imp, x, y), data[y, x])
    back = imageplus_to_numpy(imp)
    assert back.dtype == dtype and back.flags.writeable and back.flags.c_contiguous
    np.testing.assert_array_equal(back, data)


def test_rgb_round_trip(bridge):
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    imp = numpy_to_imageplus(data)
    assert imp.getBitDepth() == 24 and image_dims(imp) == ("y", "x", "rgb")
    assert imagej_value(imp, 5, 7) == tuple(data[7, 5])
    np.testing.assert_array_equal(imageplus_to_numpy(imp), data)


def test_hyperstack_keeps_imagej_czt_order(bridge):
    rng = np.random.default_rng(4)
    data = rng.integers(0, 65536, (2, 3, 4, 9, 11), dtype=np.uint16)  # t, z, c, y, x
    imp = numpy_to_imageplus(data)
    assert (imp.getNChannels(), imp.getNSlices(), imp.getNFrames()) == (4, 3, 2)
    assert imp.isHyperStack() and image_dims(imp) == ("t", "z", "c", "y", "x")
    for t, z, c in [(0, 0, 0), (1, 2, 3), (0, 1, 2)]:
        index = imp.getStackIndex(c + 1, z + 1, t + 1)
        assert imagej_value(imp, 10, 8, index) == data[t, z, c, 8, 10]
    np.testing.assert_array_equal(imageplus_to_numpy(imp), data)
    assert imageplus_to_numpy(imp, squeeze=False).shape == data.shape
    imp.setPosition(3, 2, 2)
    np.testing.assert_array_equal(current_plane(imp), data[1, 1, 2])


def test_dims_argument_reorders_axes(bridge):
    data = np.arange(5 * 6 * 7 * 3, dtype=np.float32).reshape(5, 6, 7, 3)  # c, y, x, t
    imp = numpy_to_imageplus(np.moveaxis(data, 3, 0), dims=("t", "c", "y", "x"))
    assert (imp.getNChannels(), imp.getNSlices(), imp.getNFrames()) == (5, 1, 3)
    np.testing.assert_array_equal(imageplus_to_numpy(imp), np.moveaxis(data, 3, 0))


def test_rgb_stack_and_current_slice(bridge):
    data = np.random.default_rng(5).integers(0, 256, (3, 8, 9, 3), dtype=np.uint8)
    imp = numpy_to_imageplus(data, dims=("z", "y", "x", "rgb"))
    assert imp.getStackSize() == 3 and image_dims(imp) == ("z", "y", "x", "rgb")
    np.testing.assert_array_equal(imageplus_to_numpy(imp), data)
    imp.setSlice(2)
    np.testing.assert_array_equal(current_plane(imp), data[1])


def test_processor_round_trip(bridge):
    plane = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    ip = numpy_to_processor(plane)
    assert ip.get(3, 2) == plane[2, 3]
    np.testing.assert_array_equal(processor_to_numpy(ip), plane)


def test_conversion_rules(bridge):
    mask = numpy_to_imageplus(np.array([[True, False]]))
    assert mask.getBitDepth() == 8 and imageplus_to_numpy(mask).tolist() == [[255, 0]]
    wide = numpy_to_imageplus(np.array([[0.1, -2.5]], dtype=np.float64))
    assert wide.getBitDepth() == 32
    np.testing.assert_array_equal(imageplus_to_numpy(wide), np.array([[0.1, -2.5]], dtype=np.float32))
    labels = numpy_to_imageplus(np.array([[70000, 3, 0]], dtype=np.int32))
    assert labels.getBitDepth() == 32 and imageplus_to_numpy(labels).tolist() == [[70000.0, 3.0, 0.0]]
    with pytest.raises(InputError, match="2\\*\\*24"):
        numpy_to_imageplus(np.array([[2**24 + 1]], dtype=np.int64))
    with pytest.raises(InputError, match="32-bit float range"):
        numpy_to_imageplus(np.array([[1e300]]))
    with pytest.raises(InputError, match="complex"):
        numpy_to_imageplus(np.ones((2, 2), dtype=np.complex64))
    with pytest.raises(InputError, match="dims"):
        numpy_to_imageplus(np.ones((2, 2, 2)), dims=("y", "z", "x"))
    with pytest.raises(InputError, match="empty"):
        numpy_to_imageplus(np.ones((0, 4), dtype=np.uint8))


def test_xarray_calibration_round_trip(bridge):
    rng = np.random.default_rng(6)
    imp = numpy_to_imageplus(rng.random((3, 2, 5, 6)).astype(np.float32), dims=("t", "z", "y", "x"), title="cal")
    cal = imp.getCalibration()
    cal.pixelWidth, cal.pixelHeight, cal.pixelDepth, cal.frameInterval = 0.25, 0.5, 2.0, 30.0
    cal.setXUnit("micron")
    cal.setYUnit("micron")
    cal.setZUnit("micron")
    cal.setTimeUnit("sec")
    cal.xOrigin = 4.0
    data = imageplus_to_xarray(imp)
    assert data.dims == ("t", "z", "y", "x") and data.attrs["title"] == "cal"
    np.testing.assert_allclose(data.x.values, (np.arange(6) - 4) * 0.25)
    np.testing.assert_allclose(data.t.values, [0, 30, 60])
    assert data.x.attrs["units"] == "micron" and data.t.attrs["units"] == "sec"
    again = xarray_to_imageplus(data)
    cal2 = again.getCalibration()
    assert (cal2.pixelWidth, cal2.pixelHeight, cal2.pixelDepth, cal2.frameInterval) == (0.25, 0.5, 2.0, 30.0)
    assert cal2.xOrigin == pytest.approx(4.0) and str(cal2.getZUnit()) == "micron" and str(cal2.getTimeUnit()) == "sec"
    np.testing.assert_array_equal(imageplus_to_xarray(again).values, data.values)


def test_matches_imagej_reading_real_files(bridge, dsb_val):
    """ImageJ's own TIFF reader and tifffile agree through the conversion (RGB image, uint16 mask)."""
    name = sorted((dsb_val / "images").glob("*.tif"))[0].name
    for path in (dsb_val / "images" / name, dsb_val / "masks" / name):
        imp = bridge.IJ.openImage(str(path))
        np.testing.assert_array_equal(imageplus_to_numpy(imp), tifffile.imread(path))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hnp.arrays(st.sampled_from([np.uint8, np.uint16, np.float32]),
                  hnp.array_shapes(min_dims=2, max_dims=5, min_side=1, max_side=6)))
def test_round_trip_property(bridge, data):
    dims = ("t", "z", "c", "y", "x")[5 - data.ndim:]
    back = imageplus_to_numpy(numpy_to_imageplus(data, dims=dims), squeeze=False)
    expected = data.reshape((1,) * (5 - data.ndim) + data.shape)
    np.testing.assert_array_equal(back, expected)
