"""Plugins > Fiji Bridge > Segment Nuclei in real ImageJ (under Xvfb), driven by macros."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from fiji_bridge import segment_nuclei
from fiji_bridge.ij.images import imageplus_to_numpy, numpy_to_imageplus
from fiji_bridge.ij.rois import overlay_to_annotations, rois_from_manager
from fiji_bridge.rois.labels import annotations_to_labels
from fiji_bridge.runtime.macro import MacroError

pytestmark = pytest.mark.imagej

FLUO = "0bda515e3702"  # gray_darkbg 256x256
TISSUE = "4e92129f4e80"  # color 256x320
OTHERS = ("a3a1b8f9794e", "2e172afb1f43")  # more gray_darkbg 256x256 for a stack


def _val_image(dsb_val: Path, prefix: str) -> np.ndarray:
    (path,) = (dsb_val / "images").glob(prefix + "*.tif")
    return tifffile.imread(path)


def _show(array: np.ndarray, dims=None, title="nuclei"):
    imp = numpy_to_imageplus(array, dims=dims, title=title)
    imp.show()
    return imp


def _labels_from(anns, shape, position=None) -> np.ndarray:
    chosen = [a for a in anns if position is None or a.position == position]
    return annotations_to_labels(chosen, shape, values=[int(a.name) for a in chosen])


def test_8bit_to_roi_manager_equals_labels(clean_ij, dsb_val):
    grey = _val_image(dsb_val, FLUO)[:, :, 0]
    _show(grey)
    clean_ij.run_macro('run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=current");')
    expected = segment_nuclei(grey)
    anns = rois_from_manager(clean_ij)
    assert len(anns) == expected.max() > 20
    assert [a.name for a in anns] == [f"{k:04d}" for k in range(1, expected.max() + 1)]
    assert np.array_equal(_labels_from(anns, grey.shape), expected)


def test_16bit_to_overlay_with_manual_size_and_tta(clean_ij, dsb_val):
    grey16 = _val_image(dsb_val, FLUO)[:, :, 0].astype(np.uint16) * 200
    imp = _show(grey16)
    clean_ij.run_macro('run("Segment Nuclei", "diameter=15 tta output=overlay slices=current");')
    expected = segment_nuclei(grey16, diameter=15, tta=True)
    assert np.array_equal(_labels_from(overlay_to_annotations(imp), grey16.shape), expected)


def test_rgb_to_label_image(clean_ij, dsb_val):
    rgb = _val_image(dsb_val, TISSUE)
    _show(rgb, dims=("y", "x", "rgb"), title="tissue")
    clean_ij.run_macro('run("Segment Nuclei", "diameter=0 output=[label image] slices=current");')
    from jpype import JClass

    result = JClass("ij.WindowManager").getCurrentImage()
    assert str(result.getTitle()) == "tissue-nuclei" and result.getBitDepth() == 16
    assert np.array_equal(imageplus_to_numpy(result), segment_nuclei(rgb))


def test_stack_all_slices_positions(clean_ij, dsb_val):
    planes = np.stack([_val_image(dsb_val, p)[:, :, 0] for p in (FLUO, *OTHERS)])
    imp = _show(planes, dims=("z", "y", "x"), title="stack")
    imp.setSlice(2)
    clean_ij.run_macro('run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=all clear");')
    anns = rois_from_manager(clean_ij)
    assert {a.position for a in anns} == {1, 2, 3}
    for z, plane in enumerate(planes, start=1):
        assert np.array_equal(_labels_from(anns, plane.shape, position=z), segment_nuclei(plane))
    clean_ij.run_macro('roiManager("reset"); run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=current");')
    anns = rois_from_manager(clean_ij)
    assert {a.position for a in anns} == {2}
    assert np.array_equal(_labels_from(anns, planes[1].shape), segment_nuclei(planes[1]))


def test_hyperstack_rois_show_on_every_channel_of_their_plane(clean_ij, dsb_val):
    grey = _val_image(dsb_val, FLUO)[:, :, 0]
    imp = _show(np.stack([np.stack([grey, grey // 2])] * 2), dims=("z", "c", "y", "x"), title="zc")
    clean_ij.run_macro('run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=all clear");')
    manager = clean_ij.RoiManager.getInstance()
    positions = {(int(r.getCPosition()), int(r.getZPosition()), int(r.getTPosition()), int(r.getPosition()))
                 for r in manager.getRoisAsArray()}
    assert positions == {(0, 1, 1, 0), (0, 2, 1, 0)}  # ImageJ draws them on channel 1 and 2 alike
    anns = [a for a in rois_from_manager(clean_ij) if a.hyperstack == (0, 2, 1)]
    assert np.array_equal(_labels_from(anns, grey.shape), segment_nuclei(np.stack([grey, grey // 2], axis=-1)))
    assert imp.getNChannels() == 2


def test_rois_of_a_time_lapse_of_z_stacks_get_their_slice_and_frame(clean_ij, dsb_val):
    """On one channel with slices and frames ImageJ maps no bare stack index back to its plane."""
    grey = _val_image(dsb_val, FLUO)[:, :, 0]
    _show(np.stack([np.stack([grey, grey])] * 2), dims=("t", "z", "y", "x"), title="zt").setPosition(1, 2, 2)
    clean_ij.run_macro('run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=current clear");')
    assert {a.hyperstack for a in rois_from_manager(clean_ij)} == {(0, 2, 2)}


def test_rois_of_a_single_multichannel_plane_show_on_every_channel(clean_ij, dsb_val):
    grey = _val_image(dsb_val, FLUO)[:, :, 0]
    _show(np.stack([grey, grey // 2]), dims=("c", "y", "x"), title="c2")
    clean_ij.run_macro('run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=all clear");')
    assert {(a.position, a.hyperstack) for a in rois_from_manager(clean_ij)} == {(0, None)}


def test_macro_replay_gives_the_same_rois(clean_ij, dsb_val):
    grey = _val_image(dsb_val, OTHERS[0])[:, :, 0]
    _show(grey)
    macro = 'run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=current clear");'
    clean_ij.run_macro(macro)
    first = _labels_from(rois_from_manager(clean_ij), grey.shape)
    clean_ij.run_macro(macro)
    assert np.array_equal(_labels_from(rois_from_manager(clean_ij), grey.shape), first)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: _show(np.zeros((64, 64), np.uint8)), "blank"),
        (lambda: _show(np.full((64, 64), 77, np.uint16)), "blank"),
        (lambda: _show(np.array([[5]], np.uint8)), "1x1"),
        (lambda: _show(np.where(np.eye(32) > 0, np.nan, 1.0).astype(np.float32)), "NaN"),
        (lambda: _show(np.zeros((2, 2, 2, 32, 32), np.uint8) + np.arange(32, dtype=np.uint8), dims=("t", "z", "c", "y", "x")), "5-D"),
    ],
    ids=["empty", "constant", "1x1", "nan", "5d"],
)
def test_bad_input_gives_a_clear_message(clean_ij, make, words):
    make()
    with pytest.raises(MacroError, match=words):
        clean_ij.run_macro('run("Segment Nuclei", "diameter=0 output=[ROI Manager] slices=current");')
    assert rois_from_manager(clean_ij) == []


def test_no_image_and_bad_option(clean_ij):
    with pytest.raises(MacroError, match="needs an open image"):
        clean_ij.run_macro('run("Segment Nuclei", "diameter=0");')
    _show(np.zeros((8, 8), np.uint8))
    with pytest.raises(MacroError, match="diameter"):
        clean_ij.run_macro('run("Segment Nuclei", "diameter=-3");')
