"""Stacks survive export and re-import: every file of an image with several (z, t) planes says
its plane (``<img>-NNNN``, numbered in ImageJ's (z, t) order), and importing such a file (masks,
layered masks, COCO entries) puts its ROIs back on that plane - in Fiji's Import Masks and in
``fiji-bridge import --image``. Single-plane images keep AnnotatorJ's ``<img>`` names."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.cli.main import main
from fiji_bridge.errors import InputError
from fiji_bridge.formats.coco import ImageAnnotations
from fiji_bridge.formats.plane_files import merge_planes, per_plane, plane_named, split_plane
from fiji_bridge.ij.rois import rois_from_manager, rois_to_manager
from fiji_bridge.rois.planes import StackDims
from fiji_bridge.rois.roiset import read_roiset, write_roiset
from fiji_bridge.runtime.macro import MacroError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2


def square(x: int, y: int, size: int = 8, **kwargs) -> Annotation:
    return Annotation([(x, y), (x + size, y), (x + size, y + size), (x, y + size)], **kwargs)


def files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def coco_names(out) -> list[str]:
    return [im["file_name"] for im in json.loads((out / "coco" / "annotations.json").read_text())["images"]]


@pytest.fixture
def stack3(tmp_path):
    """A 3-slice 8-bit stack, 40 x 40, as ImageJ saves it."""
    path = tmp_path / "stack3.tif"
    tifffile.imwrite(path, np.zeros((3, 40, 40), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    return path


# --- Fiji: Export Annotations and Import Masks ------------------------------------------------------

@pytest.mark.imagej
def test_rois_all_on_one_slice_are_exported_as_that_slice_and_import_back_onto_it(clean_ij, stack3, tmp_path):
    clean_ij.run_macro(f'open("{stack3}");')
    rois_to_manager(clean_ij, [square(4, 4, name="a", position=3), square(20, 20, name="b", position=3)])
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label layered coco");')
    out = tmp_path / "out"
    assert files(out / "labelled_masks") == ["stack3-0003.tiff"]
    assert files(out / "layered_masks") == ["stack3-0003.tiff"]
    assert coco_names(out) == ["stack3-0003.tif"]
    for mask in ("labelled_masks", "layered_masks"):
        clean_ij.run_macro(f'setSlice(1); run("Import Masks", "annotation=[{out / mask / "stack3-0003.tiff"}] kind=auto clear");')
        assert [a.position for a in rois_from_manager(clean_ij)] == [3, 3]  # not the displayed slice 1
    clean_ij.run_macro(f'setSlice(2); run("Import Masks", "annotation=[{out / "coco" / "annotations.json"}] kind=auto clear");')
    assert [(a.name, a.position) for a in rois_from_manager(clean_ij)] == [("a", 3), ("b", 3)]


@pytest.mark.imagej
def test_a_coco_file_of_several_slices_imports_back_into_its_stack(clean_ij, stack3, tmp_path):
    clean_ij.run_macro(f'open("{stack3}");')
    rois_to_manager(clean_ij, [square(4, 4, name="a", position=1), square(20, 20, name="b", position=3)])
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out layered coco");')
    out = tmp_path / "out"
    assert files(out / "layered_masks") == ["stack3-0001.tiff", "stack3-0003.tiff"]
    assert coco_names(out) == ["stack3-0001.tif", "stack3-0003.tif"]
    clean_ij.run_macro(f'setSlice(2); run("Import Masks", "annotation=[{out / "coco" / "annotations.json"}] kind=auto clear");')
    assert [(a.name, a.position) for a in rois_from_manager(clean_ij)] == [("a", 1), ("b", 3)]
    clean_ij.run_macro(f'run("Import Masks", "annotation=[{out / "layered_masks" / "stack3-0003.tiff"}] kind=auto clear");')
    assert [(a.name, a.position) for a in rois_from_manager(clean_ij)] == [("b", 3)]


@pytest.mark.imagej
def test_a_hyperstack_is_exported_by_plane_and_imports_back_on_every_channel_of_it(clean_ij, tmp_path):
    clean_ij.run_macro('newImage("hyper", "8-bit black", 40, 40, 2, 3, 1);')  # 2 channels x 3 z
    rois_to_manager(clean_ij, [square(4, 4, name="z1", hyperstack=(1, 1, 1)),
                               square(20, 20, name="z3", hyperstack=(2, 3, 1))])
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label coco");')
    out = tmp_path / "out"
    assert files(out / "labelled_masks") == ["hyper-0001.tiff", "hyper-0003.tiff"]  # planes, not stack index 5
    assert coco_names(out) == ["hyper-0001.tif", "hyper-0003.tif"]
    clean_ij.run_macro(f'Stack.setPosition(1, 1, 1); run("Import Masks", "annotation=[{out / "labelled_masks" / "hyper-0003.tiff"}] kind=auto clear");')
    assert [a.hyperstack for a in rois_from_manager(clean_ij)] == [(0, 3, 1)]
    clean_ij.run_macro(f'run("Import Masks", "annotation=[{out / "coco" / "annotations.json"}] kind=auto clear");')
    assert [(a.name, a.hyperstack) for a in rois_from_manager(clean_ij)] == [("z1", (0, 1, 1)), ("z3", (0, 3, 1))]


@pytest.mark.imagej
def test_export_refuses_an_roi_beyond_the_last_slice(clean_ij, stack3, tmp_path):
    clean_ij.run_macro(f'open("{stack3}");')
    rois_to_manager(clean_ij, [square(4, 4, name="0001", position=1), square(20, 20, name="far", position=7)])
    with pytest.raises(MacroError, match=r"ROI far is on slice 7, but stack3.tif has 3 slices"):
        clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label");')
    assert not (tmp_path / "out").exists()


@pytest.mark.imagej
def test_import_masks_refuses_a_plane_file_beyond_the_planes_of_the_image(clean_ij, tmp_path):
    tifffile.imwrite(tmp_path / "cells-0004.tiff", np.pad(np.ones((5, 5), np.uint16), 5))
    clean_ij.run_macro('newImage("cells.tif", "8-bit black", 15, 15, 3);')
    with pytest.raises(MacroError, match=r'cells-0004.tiff is for plane 4 of a stack .* "cells.tif" has 3 plane\(s\)'):
        clean_ij.run_macro(f'run("Import Masks", "annotation=[{tmp_path / "cells-0004.tiff"}] kind=auto");')
    assert rois_from_manager(clean_ij) == []


# --- command line -----------------------------------------------------------------------------------

def test_cli_export_of_a_stack_imports_back_into_one_roi_zip_on_its_planes(stack3, tmp_path):
    write_roiset(tmp_path / "stack3_ROIs.zip", [square(4, 4, name="0001", position=1),
                                                square(20, 20, name="0002", position=3)])
    assert main(["export", str(tmp_path / "stack3_ROIs.zip"), "--image", str(stack3),
                 "--format", "labels,layered,coco", "-o", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert files(out / "labelled_masks") == ["stack3-0001.tiff", "stack3-0003.tiff"]
    for source, image in ((out / "labelled_masks", stack3), (out / "layered_masks", stack3.parent),
                          (out / "coco" / "annotations.json", stack3)):
        target = tmp_path / f"back_{source.name}"
        assert main(["import", str(source), "--image", str(image), "-o", str(target)]) == 0
        assert files(target) == ["stack3_ROIs.zip"]
        assert [a.position for a in read_roiset(target / "stack3_ROIs.zip")] == [1, 3]


def test_cli_import_of_a_hyperstack_plane_file_lands_on_that_plane(tmp_path):
    tifffile.imwrite(tmp_path / "zc.tif", np.zeros((3, 2, 30, 30), np.uint8), imagej=True, metadata={"axes": "ZCYX"})
    tifffile.imwrite(tmp_path / "zc-0002.tiff", np.pad(np.ones((5, 5), np.uint16), ((5, 20), (5, 20))))
    assert main(["import", str(tmp_path / "zc-0002.tiff"), "--image", str(tmp_path / "zc.tif"),
                 "-o", str(tmp_path / "rois")]) == 0
    assert [(a.position, a.hyperstack) for a in read_roiset(tmp_path / "rois" / "zc_ROIs.zip")] == [(3, (0, 2, 1))]


def test_cli_import_refuses_a_plane_beyond_the_image(stack3, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "stack3-0009.tiff", np.pad(np.ones((5, 5), np.uint16), ((5, 30), (5, 30))))
    assert main(["import", str(tmp_path / "stack3-0009.tiff"), "--image", str(stack3),
                 "-o", str(tmp_path / "rois")]) == 1
    assert "stack3-0009.tiff holds plane 9 of a stack, but stack3.tif has 3 plane(s)" in capsys.readouterr().err
    assert not (tmp_path / "rois").exists()


def test_cli_export_refuses_an_roi_beyond_the_stack(stack3, tmp_path, capsys):
    write_roiset(tmp_path / "stack3_ROIs.zip", [square(4, 4, name="near", position=2),
                                                square(4, 4, name="far", hyperstack=(0, 5, 1))])
    assert main(["export", str(tmp_path / "stack3_ROIs.zip"), "--image", str(stack3),
                 "--format", "labels", "-o", str(tmp_path / "out")]) == 1
    assert "ROI far is at channel 0, slice 5, frame 1, but stack3.tif has 3 slices" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_single_plane_images_keep_their_names(tmp_path):
    tifffile.imwrite(tmp_path / "two_channels.tif", np.zeros((2, 30, 30), np.uint8), imagej=True, metadata={"axes": "CYX"})
    tifffile.imwrite(tmp_path / "flat.tif", np.zeros((30, 30), np.uint8))
    for name in ("two_channels", "flat"):
        write_roiset(tmp_path / f"{name}_ROIs.zip", [square(4, 4, name="0001", position=2)])
        assert main(["export", str(tmp_path / f"{name}_ROIs.zip"), "--image", str(tmp_path / f"{name}.tif"),
                     "--format", "labels,coco", "-o", str(tmp_path / name)]) == 0
        assert files(tmp_path / name / "labelled_masks") == [f"{name}.tiff"]
        assert coco_names(tmp_path / name) == [f"{name}.tif"]


# --- the naming rule --------------------------------------------------------------------------------

def test_plane_names():
    assert split_plane("cells-0003.tiff") == ("cells", 3)
    assert split_plane("cells-12345.tif") == ("cells", 12345)
    assert split_plane("cells-003.tif") == ("cells-003", 0)  # not written by an export
    assert split_plane("cells-0000.tif") == ("cells-0000", 0)
    assert plane_named("cells-0003.tiff", "cells.tif") == 3
    assert plane_named("cells-0003.tiff", "cells-0003.tif") == 0  # the image's own name
    assert plane_named("other-0003.tiff", "cells.tif") == 0


def test_an_roi_without_a_position_is_on_every_plane():
    dims = StackDims(1, 2, 2)
    anns = [square(0, 0, name="all"), square(10, 10, name="t2", position=4)]
    items = per_plane(ImageAnnotations("zt.tif", (20, 20), anns), dims)
    assert [(i.file_name, i.plane, [a.name for a in i.annotations]) for i in items] == [
        ("zt-0001.tif", 1, ["all"]), ("zt-0002.tif", 2, ["all"]), ("zt-0003.tif", 3, ["all"]),
        ("zt-0004.tif", 4, ["all", "t2"])]


def test_planes_of_one_image_merge_into_one_item_and_a_plane_twice_is_refused():
    a, b = square(0, 0, name="a", position=1), square(0, 0, name="b", position=3)
    merged = merge_planes([ImageAnnotations("s.tif", (9, 9), [a], plane=1), ImageAnnotations("t.png", (9, 9), []),
                           ImageAnnotations("s.tif", (9, 9), [b], plane=3)])
    assert [(i.file_name, [x.name for x in i.annotations]) for i in merged] == [("s.tif", ["a", "b"]), ("t.png", [])]
    with pytest.raises(InputError, match="two of the files give plane 1 of s.tif"):
        merge_planes([ImageAnnotations("s.tif", (9, 9), [a], plane=1), ImageAnnotations("s.tif", (9, 9), [b], plane=1)])


def test_a_line_without_a_position_does_not_give_every_plane_a_file():
    dims = StackDims(1, 3, 1)
    anns = [square(0, 0, name="on2", position=2), Annotation([(1, 1), (9, 9)], name="ruler", roi_type="line")]
    items = per_plane(ImageAnnotations("st.tif", (20, 20), anns), dims)
    assert [(i.file_name, [a.name for a in i.annotations]) for i in items] == [("st-0002.tif", ["on2", "ruler"])]


def test_overwrite_removes_the_files_of_planes_that_no_longer_hold_rois(stack3, tmp_path, capsys):
    out = tmp_path / "out"
    export = ["export", str(tmp_path / "stack3_ROIs.zip"), "--image", str(stack3), "--format", "labels,bbox",
              "-o", str(out)]
    write_roiset(tmp_path / "stack3_ROIs.zip", [square(4, 4, name="0001", position=1),
                                                square(20, 20, name="0002", position=3, group=2)])
    assert main(export) == 0
    assert files(out / "labelled_masks") == ["stack3-0001.tiff", "stack3-0003.tiff"]
    assert files(out / "labelled_masks" / "Class_02") == ["stack3-0003.tiff"]
    write_roiset(tmp_path / "stack3_ROIs.zip", [square(4, 4, name="0001", position=1)])  # plane 3's ROI deleted
    assert main(export) == 1  # without --overwrite the earlier files stop the export
    assert "exists already" in capsys.readouterr().err
    assert files(out / "labelled_masks") == ["stack3-0001.tiff", "stack3-0003.tiff"]
    assert main([*export, "--overwrite"]) == 0
    assert files(out / "labelled_masks") == ["stack3-0001.tiff"]
    assert files(out / "bounding_box_coordinates") == ["stack3-0001.csv"]
    assert not (out / "labelled_masks" / "Class_02").exists()
