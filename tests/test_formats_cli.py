"""`fiji-bridge export | import | opsef` end to end on val images, through the real entry point."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.cli.main import main
from fiji_bridge.formats.masks import label_mask
from fiji_bridge.rois.labels import labels_to_annotations
from fiji_bridge.rois.roiset import read_roiset, write_roiset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2


@pytest.fixture
def annotated(tmp_path, dsb_val):
    """images/<id>.tif and rois/<id>_ROIs.zip (AnnotatorJ names, classes in groups) for 3 val images."""
    (tmp_path / "images").mkdir()
    (tmp_path / "rois").mkdir()
    truth = {}
    for mask in sorted((dsb_val / "masks").glob("*.tif"))[:3]:
        shutil.copy(dsb_val / "images" / mask.name, tmp_path / "images" / mask.name)
        labels = tifffile.imread(mask)
        anns = labels_to_annotations(labels)
        for ann in anns:
            ann.group = int(ann.name) % 3
        write_roiset(tmp_path / "rois" / f"{mask.stem}_ROIs.zip", anns)
        truth[mask.stem] = (labels, anns)
    return tmp_path, truth


def _same(zip_path: Path, labels: np.ndarray, anns) -> None:
    back = read_roiset(zip_path)
    assert [(a.name, a.group) for a in back] == [(a.name, a.group) for a in anns]
    assert np.array_equal(label_mask(back, labels.shape, by="name"), labels)


@pytest.mark.parametrize("fmt, folder, extra", [
    ("labels", "labelled_masks", []), ("layered", "layered_masks", []), ("coco", "coco", []),
    ("yolo", "yolo", ["--yolo-mode", "polygons"]),
])
def test_export_then_import_gives_the_same_rois(annotated, fmt, folder, extra):
    root, truth = annotated
    assert main(["export", str(root / "rois"), "--image", str(root / "images"), "--format", fmt,
                 "-o", str(root / "out"), *extra]) == 0
    source = root / "out" / folder
    args = ["import", str(source), "-o", str(root / "back")]
    if fmt == "yolo":
        args += ["--image", str(root / "images")]
    assert main(args) == 0
    for stem, (labels, anns) in truth.items():
        _same(root / "back" / f"{stem}_ROIs.zip", labels, anns)


def test_export_refuses_to_overwrite_and_reports_in_plain_words(annotated, capsys):
    root, _ = annotated
    args = ["export", str(root / "rois"), "--image", str(root / "images"), "--format", "labels,bbox", "-o", str(root / "out")]
    assert main(args) == 0
    before = {p: p.stat().st_mtime_ns for p in (root / "out").rglob("*") if p.is_file()}
    assert main(args) == 1
    assert "exists already" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in (root / "out").rglob("*") if p.is_file()} == before
    assert main([*args, "--overwrite"]) == 0


def test_export_of_one_zip_and_all_formats(annotated):
    root, truth = annotated
    stem = next(iter(truth))
    assert main(["export", str(root / "rois" / f"{stem}_ROIs.zip"), "--image", str(root / "images" / f"{stem}.tif"),
                 "--format", "all", "-o", str(root / "out"), "--class-name", "1=nucleus"]) == 0
    names = sorted(p.relative_to(root / "out").as_posix() for p in (root / "out").rglob("*") if p.is_file())
    assert f"labelled_masks/{stem}.tiff" in names and f"bounding_box_coordinates/Class_02/{stem}.csv" in names
    assert "coco/annotations.json" in names and "yolo/classes.txt" in names
    assert (root / "out" / "yolo" / "classes.txt").read_text().splitlines() == ["unclassified", "nucleus", "Class_02"]


def test_opsef_import_and_export_commands(tmp_path, dsb_val):
    root = tmp_path / "Processed_7"
    for sub in ("00_InputRaw", "02_SegMasks", "10_ImportExport"):
        (root / sub).mkdir(parents=True)
    rows = []
    for i, mask in enumerate(sorted((dsb_val / "masks").glob("*.tif"))[1:3]):  # two 256 x 256 images
        tifffile.imwrite(root / "00_InputRaw" / f"8bitSum_{i}.tif", tifffile.imread(dsb_val / "images" / mask.name)[..., 0])
        tifffile.imwrite(root / "02_SegMasks" / f"000_SD_Mask_0_b_{i}.tif", tifffile.imread(mask))
        rows.append(f"\\00_InputRaw\\8bitSum_{i}.tif;\\02_SegMasks\\000_SD_Mask_0_b_{i}.tif")
    pair_list = root / "10_ImportExport" / "FilePairList_x_7.txt"
    pair_list.write_bytes(("\r\n".join(rows) + "\r\n").encode())
    assert main(["opsef", "import", str(pair_list), "-o", str(tmp_path / "stack")]) == 0
    stack = tifffile.imread(tmp_path / "stack" / "FilePairList_x_7_stack.tif")
    rois = read_roiset(tmp_path / "stack" / "FilePairList_x_7_RoiSet.zip")
    assert stack.shape == (2, 256, 256) and {a.position for a in rois} == {1, 2}
    assert main(["opsef", "export", str(pair_list), "--rois", str(tmp_path / "stack" / "FilePairList_x_7_RoiSet.zip")]) == 0
    for i, mask in enumerate(sorted((dsb_val / "masks").glob("*.tif"))[1:3]):
        assert np.array_equal(tifffile.imread(root / "11_SegMasksFromFiji" / f"000_SD_Mask_0_b_{i}.tif"), tifffile.imread(mask))
    assert (root / "10_ImportExport" / "FilePairList_fromFiji_Masks.txt").read_bytes().count(b"\r\n") == 2


def test_console_script_reports_bad_input(tmp_path):
    bad = tmp_path / "FilePairList_bad.txt"
    bad.write_text("/00_InputRaw/8bitSum_a.tif;/02_SegMasks/000_CP_Mask_a.tif\n")
    result = subprocess.run([sys.executable, "-m", "fiji_bridge.cli.main", "opsef", "import", str(bad), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "FilePairList_bad.txt, line 1: the image /00_InputRaw/8bitSum_a.tif is not found" in result.stderr
    assert not (tmp_path / "o").exists()


def test_label_values_index_or_name_with_gaps_in_the_labels(tmp_path, dsb_val):
    mask = sorted((dsb_val / "masks").glob("*.tif"))[1]
    labels = tifffile.imread(mask)
    gapped = np.where(labels % 3 == 0, 0, labels * 2).astype(np.uint16)  # labels 2, 4, 8, 10, ...
    write_roiset(tmp_path / "img_ROIs.zip", labels_to_annotations(gapped))
    tifffile.imwrite(tmp_path / "img.tif", gapped)
    for values in ("index", "name"):
        assert main(["export", str(tmp_path / "img_ROIs.zip"), "--image", str(tmp_path / "img.tif"),
                     "--format", "labels", "--label-values", values, "-o", str(tmp_path / values)]) == 0
    by_name = tifffile.imread(tmp_path / "name" / "labelled_masks" / "img.tiff")
    by_index = tifffile.imread(tmp_path / "index" / "labelled_masks" / "img.tiff")
    assert np.array_equal(by_name, gapped)
    present = np.unique(gapped)[1:]
    assert np.array_equal(by_index, np.searchsorted(present, gapped) * (gapped > 0) + (gapped > 0))


def test_a_label_stack_imports_per_slice_and_exports_per_slice(tmp_path, dsb_val, capsys):
    """A stack of label images (as `fiji-bridge segment` writes for a stack) gives ROIs with
    position = slice; exported with its stack, each slice gets its own files."""
    masks = [tifffile.imread(m) for m in sorted((dsb_val / "masks").glob("*.tif"))[1:4]]
    stack = np.stack([m for m in masks if m.shape == masks[0].shape][:2] + [np.zeros_like(masks[0])])
    tifffile.imwrite(tmp_path / "z.tif", stack.astype(np.uint16), imagej=True, metadata={"axes": "ZYX"})
    assert main(["import", str(tmp_path / "z.tif"), "-o", str(tmp_path / "rois")]) == 0
    rois = read_roiset(tmp_path / "rois" / "z_ROIs.zip")
    assert sorted({a.position for a in rois}) == [1, 2]
    tifffile.imwrite(tmp_path / "img.tif", (stack > 0).astype(np.uint8) * 200, imagej=True, metadata={"axes": "ZYX"})
    assert main(["export", str(tmp_path / "rois" / "z_ROIs.zip"), "--image", str(tmp_path / "img.tif"),
                 "--format", "labels,coco", "-o", str(tmp_path / "out")]) == 0
    for position in (1, 2):
        written = tifffile.imread(tmp_path / "out" / "labelled_masks" / f"img-{position:04d}.tiff")
        assert np.array_equal(written, stack[position - 1])
    assert not (tmp_path / "out" / "labelled_masks" / "img.tiff").exists()


def test_export_counts_what_it_wrote_and_names_what_it_left_out(tmp_path, capsys):
    image = np.zeros((40, 50), np.uint8)
    tifffile.imwrite(tmp_path / "img.tif", image)
    from fiji_bridge.annotation import Annotation

    anns = [Annotation([(2, 2), (9, 2), (9, 9), (2, 9)], name="0001"),
            Annotation([(5, 5), (30, 30)], name="ruler", roi_type="line"),
            Annotation([(60, 60), (70, 60), (70, 70)], name="far"),
            Annotation([(20.6, 20.6), (20.9, 20.7), (20.7, 20.9)], name="speck")]
    write_roiset(tmp_path / "img_ROIs.zip", anns)
    assert main(["export", str(tmp_path / "img_ROIs.zip"), "--image", str(tmp_path / "img.tif"),
                 "--format", "coco", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr()
    assert "exported 1 ROIs of 1 image(s)" in out.out
    assert "left out: img.tif: ruler is a line (no area)" in out.err
    assert "left out: img.tif: far lies outside the 50x40 image" in out.err
    assert "left out: img.tif: speck is too small to cover a pixel centre of the 50x40 image" in out.err


def test_export_names_roi_files_without_an_image(annotated, capsys):
    folder, truth = annotated
    first = sorted(truth)[0]
    (folder / "images" / f"{first}.tif").rename(folder / "images" / "renamed.tif")
    assert main(["export", str(folder / "rois"), "--image", str(folder / "images"), "--format", "labels",
                 "-o", str(folder / "out")]) == 0
    out = capsys.readouterr()
    assert "of 2 image(s)" in out.out
    assert f"left out: {folder / 'rois' / (first + '_ROIs.zip')}: no image of that name" in out.err


def test_export_of_a_hyperstack_gives_one_file_per_plane(tmp_path, capsys):
    from fiji_bridge.annotation import Annotation

    tifffile.imwrite(tmp_path / "hs.tif", np.zeros((3, 2, 40, 40), np.uint8), imagej=True, metadata={"axes": "ZCYX"})
    square = [(2, 2), (8, 2), (8, 8), (2, 8)]
    anns = [Annotation(square, name="0001", position=3),  # z 2, channel 1
            Annotation([(x + 20, y) for x, y in square], name="0002", position=4),  # z 2, channel 2
            Annotation([(x, y + 20) for x, y in square], name="0006-0023-0005"),  # ROI Manager Add at z 3, channel 2
            Annotation([(x + 20, y + 20) for x, y in square], name="renamed", hyperstack=(2, 3, 1)),  # "Add to Manager" at z 3
            Annotation([(x + 10, y + 10) for x, y in square], name="z 1", hyperstack=(0, 1, 1))]
    write_roiset(tmp_path / "hs_ROIs.zip", anns)
    assert main(["export", str(tmp_path / "hs_ROIs.zip"), "--image", str(tmp_path / "hs.tif"),
                 "--format", "labels", "-o", str(tmp_path / "out")]) == 0
    folder = tmp_path / "out" / "labelled_masks"
    assert sorted(p.name for p in folder.iterdir()) == ["hs-0001.tiff", "hs-0002.tiff", "hs-0003.tiff"]  # z, not stack index
    assert [tifffile.imread(folder / f"hs-{z:04d}.tiff").max() for z in (1, 2, 3)] == [1, 2, 2]


def test_import_of_a_label_stack_against_a_hyperstack_lands_on_its_planes(tmp_path, capsys):
    """Slice n of the labels goes to (z, t) plane n of the image given with --image, on every
    channel; the CLI export then puts each slice's objects back in that plane's file."""
    labels = np.zeros((3, 30, 30), np.uint16)
    for z in range(3):  # two objects per slice: a stack of label images, not a layered mask
        labels[z, 2:8, 2 + 8 * z:8 + 8 * z] = 1
        labels[z, 20:26, 2 + 8 * z:8 + 8 * z] = 2
    tifffile.imwrite(tmp_path / "zc.tif", np.zeros((3, 2, 30, 30), np.uint8), imagej=True, metadata={"axes": "ZCYX"})
    tifffile.imwrite(tmp_path / "labels.tif", labels, imagej=True, metadata={"axes": "ZYX"})
    assert main(["import", str(tmp_path / "labels.tif"), "--image", str(tmp_path / "zc.tif"),
                 "-o", str(tmp_path / "rois")]) == 0
    rois = read_roiset(tmp_path / "rois" / "labels_ROIs.zip")
    assert [(a.position, a.hyperstack) for a in rois] == [(p, (0, z, 1)) for p, z in ((1, 1), (3, 2), (5, 3)) for _ in "ab"]
    tifffile.imwrite(tmp_path / "one.tif", np.zeros((30, 30), np.uint8))
    assert main(["import", str(tmp_path / "labels.tif"), "--image", str(tmp_path / "one.tif"),
                 "-o", str(tmp_path / "refused")]) == 1
    assert "has objects on slice 3, but its image has 1 plane(s)" in capsys.readouterr().err


def test_export_puts_an_roi_on_any_slice_in_each_of_its_planes(tmp_path, capsys):
    """A hyperstack position with slice 0 is on every slice of its frame, as ImageJ shows it."""
    tifffile.imwrite(tmp_path / "zt.tif", np.zeros((2, 2, 20, 20), np.uint8), imagej=True, metadata={"axes": "TZYX"})
    square = [(2, 2), (8, 2), (8, 8), (2, 8)]
    write_roiset(tmp_path / "zt_ROIs.zip", [Annotation(square, name="frame 1", hyperstack=(0, 0, 1)),
                                          Annotation([(x + 10, y) for x, y in square], name="z2 t2", hyperstack=(0, 2, 2))])
    assert main(["export", str(tmp_path / "zt_ROIs.zip"), "--image", str(tmp_path / "zt.tif"),
                 "--format", "labels", "-o", str(tmp_path / "out")]) == 0
    assert "exported 2 ROIs" in capsys.readouterr().out
    folder = tmp_path / "out" / "labelled_masks"
    assert sorted(p.name for p in folder.iterdir()) == ["zt-0001.tiff", "zt-0002.tiff", "zt-0004.tiff"]
    assert [tifffile.imread(folder / f"zt-{n:04d}.tiff").max() for n in (1, 2, 4)] == [1, 1, 1]
