"""Plugins > Fiji Bridge > Export Annotations, Import Masks, Import OpSeF, Export OpSeF in a real
ImageJ, driven by macros with the paths as options (as recorded, no dialog shown)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import tifffile

from fiji_bridge.ij.rois import rois_from_manager, rois_to_manager
from fiji_bridge.rois.labels import labels_to_annotations
from fiji_bridge.ij.positions import planes_of
from fiji_bridge.rois.planes import slice_from_name
from fiji_bridge.rois.roiset import write_roiset
from fiji_bridge.runtime.macro import MacroError

pytestmark = [pytest.mark.imagej, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def val_case(dsb_val, tmp_path):
    """A 256 x 256 val image copied to tmp, its labels and ROIs with classes (label % 3)."""
    mask = sorted((dsb_val / "masks").glob("*.tif"))[1]
    image = tmp_path / "images" / mask.name
    image.parent.mkdir()
    shutil.copy(dsb_val / "images" / mask.name, image)
    labels = tifffile.imread(mask)
    anns = labels_to_annotations(labels)
    for ann in anns:
        ann.group = int(ann.name) % 3
    return image, labels, anns


def test_export_annotations_from_the_roi_manager(clean_ij, val_case, tmp_path):
    image, labels, anns = val_case
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, anns)
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label coco");')
    stem = image.stem
    assert np.array_equal(tifffile.imread(tmp_path / "out" / "labelled_masks" / f"{stem}.tiff"), labels)
    assert (tmp_path / "out" / "labelled_masks" / "Class_02" / f"{stem}.tiff").is_file()
    assert (tmp_path / "out" / "coco" / "annotations.json").is_file()
    with pytest.raises(MacroError, match="exists already"):
        clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label");')


def test_a_title_with_slashes_is_one_file_name(clean_ij, val_case, tmp_path):
    image, labels, anns = val_case
    clean_ij.run_macro(f'open("{image}"); rename("cells 1/2");')
    rois_to_manager(clean_ij, anns)
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label");')
    assert [p.name for p in (tmp_path / "out" / "labelled_masks").glob("*.tiff")] == ["cells 1_2.tiff"]


def test_export_annotations_from_a_folder_then_import_masks_keeps_names_and_classes(clean_ij, val_case, tmp_path):
    image, labels, anns = val_case
    write_roiset(image.parent / f"{image.stem}_ROIs.zip", anns)
    clean_ij.run_macro(f'run("Export Annotations", "source=folder image={image.parent} output={tmp_path}/out layered");')
    layered = tmp_path / "out" / "layered_masks" / f"{image.stem}.tiff"
    assert len(tifffile.TiffFile(layered).pages) == len(anns)
    opened = clean_ij.run_macro(f'open("{layered}"); n = nSlices; s = 0; for (i = 1; i <= n; i++) '
                                '{ setSlice(i); getStatistics(a, mean); s += a * mean; } close(); return "" + n + " " + s;')
    assert opened.split() == [str(len(anns)), str(int((labels > 0).sum()))]  # ImageJ reads the compressed stack

    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, anns[:1])  # already there: an import adds, it does not clear
    clean_ij.run_macro(f'run("Import Masks", "annotation={layered} kind=auto connectivity=8");')
    got = rois_from_manager(clean_ij)
    assert len(got) == 1 + len(anns)
    assert [(a.name, a.group) for a in got[1:]] == [(a.name, a.group) for a in anns]
    clean_ij.run_macro(f'run("Import Masks", "annotation={layered} kind=layered connectivity=8 clear");')
    assert len(rois_from_manager(clean_ij)) == len(anns)


def test_export_label_values_from_names_in_a_macro(clean_ij, val_case, tmp_path):
    image, labels, anns = val_case
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, anns[::-1])  # reversed: index values differ from the names
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label values=name");')
    assert np.array_equal(tifffile.imread(tmp_path / "out" / "labelled_masks" / f"{image.stem}.tiff"), labels)


def test_export_from_a_folder_without_its_name_or_into_a_file_is_refused(clean_ij, val_case, tmp_path):
    image, labels, anns = val_case
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, anns)
    with pytest.raises(MacroError, match="from a folder needs the image folder"):
        clean_ij.run_macro(f'run("Export Annotations", "source=folder image=[] output={tmp_path}/out label");')
    assert not (tmp_path / "out").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(MacroError, match="cannot write .*file.*nothing was written"):
        clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/file label");')


def test_export_says_which_line_and_point_rois_it_leaves_out(clean_ij, val_case, tmp_path):
    image, labels, anns = val_case
    clean_ij.run_macro(f'open("{image}"); print("\\Clear"); makeRectangle(10, 10, 20, 20); roiManager("add");'
                       'makeLine(5, 5, 50, 60); roiManager("add"); roiManager("select", 1); roiManager("rename", "ruler");'
                       'makePoint(40, 40); roiManager("add");')
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label coco");')
    log = str(clean_ij.run_macro('return getInfo("log");'))
    assert "2 left out" in log and "ruler is a line (no area)" in log
    assert tifffile.imread(tmp_path / "out" / "labelled_masks" / f"{image.stem}.tiff").max() == 1


def test_export_from_a_folder_names_roi_files_without_an_image(clean_ij, val_case, tmp_path):
    image, labels, anns = val_case
    write_roiset(image.parent / f"{image.stem}_ROIs.zip", anns)
    write_roiset(image.parent / "gone_ROIs.zip", anns[:2])
    clean_ij.run_macro(f'print("\\Clear"); run("Export Annotations", "source=folder image={image.parent} output={tmp_path}/out label");')
    log = str(clean_ij.run_macro('return getInfo("log");'))
    assert "1 left out" in log and "gone_ROIs.zip: no image of that name" in log


def test_import_masks_refuses_a_mask_of_another_size(clean_ij, val_case, tmp_path):
    image, _, anns = val_case
    wrong = tmp_path / "wrong.tif"
    tifffile.imwrite(wrong, np.ones((100, 80), np.uint16))
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, anns[:2])
    with pytest.raises(MacroError, match=r"wrong.tif is 80x100 pixels but its image is 256x256"):
        clean_ij.run_macro(f'run("Import Masks", "annotation={wrong} kind=labels connectivity=8 clear");')
    assert [a.name for a in rois_from_manager(clean_ij)] == [a.name for a in anns[:2]]


@pytest.fixture
def opsef_project(dsb_val, tmp_path):
    root = tmp_path / "Processed_3"
    for sub in ("00_InputRaw", "02_SegMasks", "07_ClassifiedSegMasks", "10_ImportExport"):
        (root / sub).mkdir(parents=True)
    rows, truth = [], []
    for i, mask in enumerate(sorted((dsb_val / "masks").glob("*.tif"))[1:3]):
        grey = tifffile.imread(dsb_val / "images" / mask.name).mean(axis=2).astype(np.uint8)
        tifffile.imwrite(root / "00_InputRaw" / f"8bitSum_{i}.tif", grey)
        labels = tifffile.imread(mask)
        labels[labels % 5 == 0] = 0  # OpSeF zeroes filtered objects: gaps in the labels
        tifffile.imwrite(root / "02_SegMasks" / f"000_CP_Mask_1_b_{i}.tif", labels)
        tifffile.imwrite(root / "07_ClassifiedSegMasks" / f"000_CP_MaskClass01_1_b_{i}.tif",
                         np.where(labels % 2 == 1, labels, 0).astype(np.uint16))
        rows.append(f"\\00_InputRaw\\8bitSum_{i}.tif;\\02_SegMasks\\000_CP_Mask_1_b_{i}.tif")
        truth.append(labels)
    pair_list = root / "10_ImportExport" / "FilePairList_dsb_3.txt"
    pair_list.write_bytes((f"root;{root}\r\n" + "\r\n".join(rows) + "\r\n").encode())
    return pair_list, truth


def test_import_opsef_opens_the_stack_and_fills_the_roi_manager_per_slice(clean_ij, opsef_project):
    pair_list, truth = opsef_project
    clean_ij.run_macro(f'run("Import OpSeF", "filepairlist={pair_list}");')
    imp = clean_ij.WindowManager.getCurrentImage()
    assert imp.getStackSize() == 2 and imp.getWidth() == 256 and imp.getBitDepth() == 8
    assert str(imp.getStack().getSliceLabel(2)) == "8bitSum_1.tif"
    got = rois_from_manager(clean_ij)
    for position, labels in enumerate(truth, start=1):
        present = [k for k in np.unique(labels).tolist() if k]
        on_slice = [a for a in got if a.position == position]
        assert [a.name for a in on_slice] == [f"{k:04d}" for k in present]
        assert [a.group for a in on_slice] == [1 if k % 2 else 0 for k in present]

    manager = clean_ij.roi_manager()
    manager.select(0)
    manager.runCommand("Delete")  # edit: remove the first object of slice 1
    clean_ij.run_macro(f'run("Export OpSeF", "filepairlist={pair_list}");')
    root = pair_list.parents[1]
    exported = tifffile.imread(root / "11_SegMasksFromFiji" / "000_CP_Mask_1_b_0.tif")
    first = min(k for k in np.unique(truth[0]) if k)
    assert np.array_equal(exported, np.where(truth[0] == first, 0, truth[0]))
    lines = (root / "10_ImportExport" / "FilePairList_fromFiji_Masks.txt").read_bytes().split(b"\r\n")
    assert lines[1] == b"\\00_InputRaw\\8bitSum_0.tif;/11_SegMasksFromFiji/000_CP_Mask_1_b_0.tif"
    assert (root / "13_ClassifiedSegMasksFromFiji" / "000_CP_MaskClass01_1_b_1.tif").is_file()


def test_import_opsef_with_a_missing_file_changes_nothing(clean_ij, opsef_project, val_case):
    pair_list, _ = opsef_project
    (pair_list.parents[1] / "00_InputRaw" / "8bitSum_1.tif").unlink()
    rois_to_manager(clean_ij, val_case[2][:3])
    with pytest.raises(MacroError, match=r"FilePairList_dsb_3.txt, line 3: the image .*8bitSum_1.tif is not found"):
        clean_ij.run_macro(f'run("Import OpSeF", "filepairlist={pair_list}");')
    assert len(rois_from_manager(clean_ij)) == 3
    assert clean_ij.WindowManager.getImageCount() == 0


def test_export_annotations_of_a_stack_writes_one_file_per_annotated_slice(clean_ij, val_case, tmp_path):
    _, labels, anns = val_case
    stack = tmp_path / "pair.tif"
    tifffile.imwrite(stack, np.stack([labels > 0, labels > 0]).astype(np.uint8) * 255, imagej=True,
                    metadata={"axes": "ZYX"})  # two slices (without axes: two channels, one plane)
    clean_ij.run_macro(f'open("{stack}");')
    for ann in anns:
        ann.position = 1 if int(ann.name) % 2 else 2
    rois_to_manager(clean_ij, anns)
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label");')
    odd = tifffile.imread(tmp_path / "out" / "labelled_masks" / "pair-0001.tiff")
    even = tifffile.imread(tmp_path / "out" / "labelled_masks" / "pair-0002.tiff")
    assert np.array_equal(odd > 0, (labels > 0) & (labels % 2 == 1))
    assert np.array_equal(even > 0, (labels > 0) & (labels % 2 == 0))


def test_rois_added_to_a_stack_the_imagej_way_belong_to_their_slice(clean_ij, val_case, tmp_path):
    """ImageJ 1.x's ROI Manager "Add" on a stack keeps position 0 and puts the slice in the name
    (0002-yyyy-xxxx); fiji_bridge reads that slice as ImageJ does (RoiManager.getSliceNumber)."""
    _, labels, anns = val_case
    stack = tmp_path / "pair.tif"
    tifffile.imwrite(stack, np.stack([labels > 0, labels > 0]).astype(np.uint8) * 255, imagej=True,
                    metadata={"axes": "ZYX"})  # two slices (without axes: two channels, one plane)
    clean_ij.run_macro(f'open("{stack}"); setSlice(1); makeRectangle(10, 10, 20, 20); roiManager("add");'
                       'setSlice(2); makeRectangle(50, 50, 20, 20); roiManager("add");')
    rois = clean_ij.RoiManager.getInstance().getRoisAsArray()
    assert [int(r.getPosition()) for r in rois] == [0, 0]  # the premise: ImageJ left no position
    assert [a.position for a in rois_from_manager(clean_ij)] == [1, 2]
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label");')
    first = tifffile.imread(tmp_path / "out" / "labelled_masks" / "pair-0001.tiff")
    second = tifffile.imread(tmp_path / "out" / "labelled_masks" / "pair-0002.tiff")
    assert first[10:30, 10:30].all() and not first[50:70, 50:70].any()
    assert second[50:70, 50:70].all() and not second[10:30, 10:30].any()


def test_slice_from_name_follows_imagej(bridge):
    names = ["0002-0088-0107", "00012-00088-00107", "000003-000088-000107", "0001", "0088-0107", "",
             "nucleus-one-two", "abcd-0088-0107", "-inf-0088-0107", "1e99-0088-0107", "0000-0088-0107", "0nan-0088-0107"]
    manager = bridge.RoiManager(True)  # a hidden instance, only for its name rule
    assert [slice_from_name(n) for n in names] == [max(int(manager.getSliceNumber(n)), 0) for n in names]

def test_import_masks_puts_label_stack_slices_on_the_planes_of_a_hyperstack(clean_ij, tmp_path):
    labels = np.zeros((3, 40, 40), np.uint16)
    for z in range(3):  # two nuclei per slice: a stack of label images, not a layered mask
        labels[z, 5 + 10 * z:12 + 10 * z, 5:12] = 1
        labels[z, 5 + 10 * z:12 + 10 * z, 25:32] = 2
    tifffile.imwrite(tmp_path / "z.tif", labels, imagej=True, metadata={"axes": "ZYX"})
    clean_ij.run_macro('newImage("flat", "8-bit black", 40, 40, 1);')
    with pytest.raises(MacroError, match=r"z.tif has objects on slice 3, but \"flat\" has 1 plane"):
        clean_ij.run_macro(f'run("Import Masks", "annotation={tmp_path / "z.tif"} kind=auto connectivity=8");')
    assert rois_from_manager(clean_ij) == []
    clean_ij.run_macro('newImage("hs", "8-bit black", 40, 40, 2, 3, 1);')  # 2 channels x 3 z
    clean_ij.run_macro(f'run("Import Masks", "annotation={tmp_path / "z.tif"} kind=auto connectivity=8");')
    imp = clean_ij.WindowManager.getCurrentImage()
    # on every channel of plane z: ImageJ's hyperstack position (0, z, 1)
    assert [a.hyperstack for a in rois_from_manager(clean_ij)] == [(0, z, 1) for z in (1, 1, 2, 2, 3, 3)]
    assert [planes_of(imp, a) for a in rois_from_manager(clean_ij)] == [[int(imp.getStackIndex(1, z, 1))] for z in (1, 1, 2, 2, 3, 3)]


def test_import_masks_of_an_roi_file_keeps_stack_positions_and_slice_names(clean_ij, tmp_path):
    from fiji_bridge.annotation import Annotation

    square = [(2, 2), (8, 2), (8, 8), (2, 8)]
    anns = [Annotation(square, name="0001", position=3),  # z 2, channel 1 of a 2-channel hyperstack
            Annotation(square, name="0006-0005-0005"),  # the ROI Manager's Add at z 3, channel 2
            Annotation(square, name="free")]  # no slice: the displayed plane
    write_roiset(tmp_path / "r_ROIs.zip", anns)
    clean_ij.run_macro('newImage("hs", "8-bit black", 40, 40, 2, 3, 1); Stack.setPosition(2, 1, 1);')
    clean_ij.run_macro(f'run("Import Masks", "annotation={tmp_path / "r_ROIs.zip"} kind=auto connectivity=8");')
    imp = clean_ij.WindowManager.getCurrentImage()
    assert [a.hyperstack for a in rois_from_manager(clean_ij)] == [(0, z, 1) for z in (2, 3, 1)]
    write_roiset(tmp_path / "far_ROIs.zip", [Annotation(square, name="0009-0005-0005")])
    with pytest.raises(MacroError, match=r'ROI 0009-0005-0005 is on slice 9, but "hs" has 2 channel\(s\), 3 slice\(s\) and 1 frame\(s\)'):
        clean_ij.run_macro(f'run("Import Masks", "annotation={tmp_path / "far_ROIs.zip"} kind=auto connectivity=8");')


def test_import_masks_puts_a_channel_roi_of_one_plane_on_every_channel(clean_ij, tmp_path):
    from fiji_bridge.annotation import Annotation

    write_roiset(tmp_path / "c_ROIs.zip", [Annotation([(2, 2), (8, 2), (8, 8), (2, 8)], name="a", hyperstack=(2, 1, 1))])
    clean_ij.run_macro('newImage("c", "8-bit black", 40, 40, 2, 1, 1);'
                       f'run("Import Masks", "annotation={tmp_path / "c_ROIs.zip"} kind=auto connectivity=8");')
    assert [(a.position, a.hyperstack) for a in rois_from_manager(clean_ij)] == [(0, None)]
