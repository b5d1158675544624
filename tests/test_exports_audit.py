"""Export/import fixes from the annotation audit: macro format keys, ROIs hidden by later ROIs,
stale class files on overwrite, one box rule for every format, label values of class masks,
Class_NN files imported with their class, COCO files checked against the image, plain messages."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
from jpype import JClass

from fiji_bridge.annotation import Annotation
from fiji_bridge.cli.main import main
from fiji_bridge.errors import InputError
from fiji_bridge.formats.coco import ImageAnnotations
from fiji_bridge.formats.exports import export_annotations
from fiji_bridge.ij.rois import rois_from_manager, rois_to_manager
from fiji_bridge.rois.labels import annotation_mask, labels_to_annotations
from fiji_bridge.rois.roiset import read_roiset, write_roiset
from fiji_bridge.runtime.macro import MacroError

pytestmark = [pytest.mark.imagej, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
FORMAT_FOLDERS = {"labelled_masks", "layered_masks", "binary_masks", "bounding_box_coordinates", "yolo", "coco"}


@pytest.fixture
def val_image(dsb_val, tmp_path) -> tuple[Path, np.ndarray]:
    """A 256 x 256 val image copied to tmp/images and its label image."""
    mask = sorted((dsb_val / "masks").glob("*.tif"))[1]
    image = tmp_path / "images" / mask.name
    image.parent.mkdir()
    shutil.copy(dsb_val / "images" / mask.name, image)
    return image, tifffile.imread(mask)


def _oval(x: float, y: float, size: float, name: str, group: int = 0) -> Annotation:
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    points = np.c_[x + size / 2 * (1 + np.cos(angles)), y + size / 2 * (1 + np.sin(angles))]
    return Annotation(points, name=name, group=group)


def _service(command: str, options: dict) -> dict:
    """Call a service command as the Jython commands do: [name, image, options map]."""
    request, settings = JClass("java.util.ArrayList")(), JClass("java.util.HashMap")()
    for key, value in options.items():
        settings.put(key, value)
    request.add(command)
    request.add(JClass("ij.WindowManager").getCurrentImage())
    request.add(settings)
    result = JClass("java.lang.System").getProperties().get("fiji_bridge.service").apply(request)
    return {"ok": bool(result.get("ok")), "error": str(result.get("error") or "")}


# 1. format words in macros
@pytest.mark.parametrize("words, folders", [
    ("bbox", {"bounding_box_coordinates"}),
    ("bounding labels", {"bounding_box_coordinates", "labelled_masks"}),
    ("all", FORMAT_FOLDERS),
])
def test_macro_accepts_the_command_line_format_names(clean_ij, val_image, tmp_path, words, folders):
    image, labels = val_image
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, labels_to_annotations(labels)[:3])
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output=[{tmp_path}/out a] {words}");')
    assert {p.name for p in (tmp_path / "out a").iterdir()} == folders


@pytest.mark.parametrize("options, message", [
    ("masks", "unknown macro option 'masks'.*bounding.*bbox.*all"),
    ("format=bbox", "unknown macro option 'format=bbox'.*output="),
    ("", "no format chosen"),
])
def test_macro_refuses_unknown_words_and_no_format(clean_ij, val_image, tmp_path, options, message):
    image, labels = val_image
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, labels_to_annotations(labels)[:3])
    with pytest.raises(MacroError, match=message):
        clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out {options}");')
    assert not (tmp_path / "out").exists()


def test_dialog_with_no_format_ticked_writes_nothing(clean_ij, val_image, tmp_path):
    image, labels = val_image
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, labels_to_annotations(labels)[:3])
    result = _service("export_annotations", {"output": str(tmp_path / "out"), "source": "manager", "formats": ""})
    assert not result["ok"] and "no format chosen" in result["error"]
    assert not (tmp_path / "out").exists()


# 2. ROIs covered by later ROIs
def test_rois_covered_by_later_rois_are_reported(clean_ij, val_image, tmp_path, capsys):
    image, _ = val_image
    anns = [_oval(60, 60, 10, "small", 1), _oval(100, 100, 10, "seen"), _oval(50, 50, 30, "big", 2)]
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, anns)
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/fiji label coco");')
    assert set(np.unique(tifffile.imread(tmp_path / "fiji" / "labelled_masks" / f"{image.stem}.tiff"))) == {0, 2, 3}
    log = clean_ij.log_text()
    assert "1 ROI(s) not visible in the label masks because later ROIs cover" in log
    assert f"{image.name}: small" in log and "seen" not in log

    write_roiset(tmp_path / "rois.zip", anns)
    capsys.readouterr()
    assert main(["export", str(tmp_path / "rois.zip"), "--image", str(image), "--format", "binary,bbox",
                 "-o", str(tmp_path / "cli")]) == 0
    err = capsys.readouterr().err
    assert "1 ROI(s) not visible in the binary masks" in err and f"{image.name}: small" in err
    assert main(["export", str(tmp_path / "rois.zip"), "--image", str(image), "--format", "bbox",
                 "-o", str(tmp_path / "boxes")]) == 0
    assert "not visible" not in capsys.readouterr().err  # boxes show every ROI


# 3. overwrite replaces all of an image's class files
def test_overwrite_removes_the_images_stale_class_files(tmp_path):
    first = [_oval(10, 10, 20, "0001", 2), _oval(60, 60, 20, "0002", 1)]
    other = ImageAnnotations("other.tif", (128, 128), [_oval(5, 5, 20, "0001", 2)])
    export_annotations([ImageAnnotations("img.tif", (128, 128), first), other], tmp_path, ["labels", "bbox"])
    assert (tmp_path / "labelled_masks" / "Class_02" / "img.tiff").is_file()

    first[0].group = 1  # re-classified: class 2 is no longer used by img
    export_annotations([ImageAnnotations("img.tif", (128, 128), first)], tmp_path, ["labels", "bbox"], overwrite=True)
    for folder, suffix in (("labelled_masks", ".tiff"), ("bounding_box_coordinates", ".csv")):
        assert not (tmp_path / folder / "Class_02" / f"img{suffix}").exists()
        assert (tmp_path / folder / "Class_02" / f"other{suffix}").is_file()  # another image's file stays
    assert set(np.unique(tifffile.imread(tmp_path / "labelled_masks" / "Class_01" / "img.tiff"))) == {0, 1, 2}


def test_a_stale_class_file_is_not_removed_without_overwrite(tmp_path):
    stale = tmp_path / "labelled_masks" / "Class_03" / "img.tiff"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"earlier export")
    with pytest.raises(InputError, match="Class_03/img.tiff exists already.*earlier export.*--overwrite"):
        export_annotations([ImageAnnotations("img.tif", (64, 64), [_oval(5, 5, 20, "0001", 1)])], tmp_path, ["labels"])
    assert stale.read_bytes() == b"earlier export" and not (tmp_path / "labelled_masks" / "img.tiff").exists()


# 4. one box rule: the box of the ROI's pixels, as ImageJ fills them
def _imagej_pixel_box(roi, shape: tuple[int, int]) -> list[int]:
    """Box of the pixels ImageJ's own mask of ``roi`` covers inside an image of ``shape``."""
    bounds, mask = roi.getBounds(), roi.getMask()
    pixels = np.ones((bounds.height, bounds.width), bool) if mask is None else \
        np.array(mask.getPixels(), dtype=np.int8).reshape(mask.getHeight(), mask.getWidth()) != 0
    ys, xs = np.nonzero(pixels)
    ys, xs = ys + bounds.y, xs + bounds.x
    inside = (xs >= 0) & (ys >= 0) & (xs < shape[1]) & (ys < shape[0])
    xs, ys = xs[inside], ys[inside]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def test_csv_yolo_and_coco_boxes_are_the_box_of_imagej_pixels(clean_ij, val_image, tmp_path):
    image, _ = val_image
    clean_ij.run_macro(f'open("{image}"); '
                       'makeSelection("polygon", newArray(10.3,40.2,35.6,12.1), newArray(12.7,15.1,44.9,38.4)); roiManager("add"); '
                       'makeRectangle(-3.5,100.5,10,10); roiManager("add"); '
                       'makeSelection("polygon", newArray(200.6,250.9,230.2), newArray(30.5,31.4,70.8)); roiManager("add"); '
                       f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out bounding yolo coco");')
    stem = image.stem
    truth = [_imagej_pixel_box(roi, (256, 256)) for roi in clean_ij.roi_manager().getRoisAsArray()]
    table = (tmp_path / "out" / "bounding_box_coordinates" / f"{stem}.csv").read_text().splitlines()
    rows = [[int(v) for v in row] for row in csv.reader(table[1:])]
    yolo = [[float(v) * 256 for v in line.split()[1:]] for line in (tmp_path / "out" / "yolo" / f"{stem}.txt").open()]
    yolo = [[round(v, 4) for v in (xc - w / 2, yc - h / 2, w, h)] for xc, yc, w, h in yolo]
    coco = [a["bbox"] for a in json.loads((tmp_path / "out" / "coco" / "annotations.json").read_text())["annotations"]]
    assert rows == truth
    assert yolo == truth
    assert coco == truth


# 5. the same ROI has the same value in labelled_masks and Class_NN with values=name
def test_label_values_by_name_agree_between_main_and_class_masks(clean_ij, val_image, tmp_path):
    image, _ = val_image
    anns = [_oval(10, 10, 20, "0003", 1), _oval(50, 10, 20, "0003", 1), _oval(90, 10, 20, "nucleus A", 1),
            _oval(130, 10, 20, "0012", 2)]
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, anns)
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label values=name");')
    name = image.stem + ".tiff"
    main_mask = tifffile.imread(tmp_path / "out" / "labelled_masks" / name)
    for ann in anns:
        pixels = annotation_mask(ann, main_mask.shape)
        class_mask = tifffile.imread(tmp_path / "out" / "labelled_masks" / f"Class_{ann.group:02d}" / name)
        assert np.unique(main_mask[pixels]).size == 1
        assert np.array_equal(class_mask[pixels], main_mask[pixels]), ann.name
    assert sorted(np.unique(main_mask))[1:] == [3, 12, 13, 14]


# 6. a file inside Class_NN/ imports as class NN
def test_a_class_file_imports_with_its_class(clean_ij, val_image, tmp_path):
    image, labels = val_image
    anns = labels_to_annotations(labels)
    for ann in anns:
        ann.group = int(ann.name) % 3
    export_annotations([ImageAnnotations(image.name, labels.shape, anns)], tmp_path / "out", ["labels", "layered", "bbox"])
    class_one = [a.name for a in anns if a.group == 1]
    for folder, suffix in (("labelled_masks", ".tiff"), ("layered_masks", ".tiff"), ("bounding_box_coordinates", ".csv")):
        file = tmp_path / "out" / folder / "Class_01" / f"{image.stem}{suffix}"
        assert main(["import", str(file), "-o", str(tmp_path / "back" / folder)]) == 0
        back = read_roiset(tmp_path / "back" / folder / f"{image.stem}_ROIs.zip")
        assert len(back) == len(class_one) and {a.group for a in back} == {1}, folder
        clean_ij.run_macro(f'open("{image}"); run("Import Masks", "annotation=[{file}] kind=auto clear"); close();')
        got = rois_from_manager(clean_ij)
        assert len(got) == len(class_one) and {a.group for a in got} == {1}, folder

    # a class given explicitly wins over the folder
    file = tmp_path / "out" / "labelled_masks" / "Class_01" / f"{image.stem}.tiff"
    assert main(["import", str(file), "--class", "5", "-o", str(tmp_path / "given")]) == 0
    assert {a.group for a in read_roiset(tmp_path / "given" / f"{image.stem}_ROIs.zip")} == {5}
    assert main(["import", str(file), "--class", "x", "-o", str(tmp_path / "bad")]) == 1
    clean_ij.run_macro(f'open("{image}"); run("Import Masks", "annotation=[{file}] kind=auto class=4 clear");')
    assert {a.group for a in rois_from_manager(clean_ij)} == {4}
    with pytest.raises(MacroError, match="option class must be a class number 0..255"):
        clean_ij.run_macro(f'run("Import Masks", "annotation=[{file}] kind=auto class=300");')


# 7. COCO files are checked against the image
def test_coco_import_refuses_an_image_of_another_size(clean_ij, dsb_val, val_image, tmp_path, capsys):
    image, labels = val_image
    item = ImageAnnotations(image.name, labels.shape, labels_to_annotations(labels))
    export_annotations([item], tmp_path / "out", "coco")
    coco = tmp_path / "out" / "coco" / "annotations.json"
    big = sorted((dsb_val / "images").glob("*.tif"))[0]
    assert tifffile.imread(big).shape[:2] == (360, 360)
    for make in (f'open("{big}");', 'newImage("tiny", "8-bit black", 64, 64, 1);'):
        clean_ij.run_macro(make)
        with pytest.raises(MacroError, match=r"annotates .*256x256 pixels, but the open image .* is (360x360|64x64)"):
            clean_ij.run_macro(f'run("Import Masks", "annotation={coco} kind=auto clear");')
        assert clean_ij.roi_manager().getCount() == 0
    clean_ij.run_macro('newImage("same size", "8-bit black", 256, 256, 1);')
    clean_ij.run_macro(f'run("Import Masks", "annotation={coco} kind=auto");')
    assert clean_ij.roi_manager().getCount() == len(np.unique(labels)) - 1
    assert f"annotates {image.name}; its ROIs were added to \"same size\"" in clean_ij.log_text()

    assert main(["import", str(coco), "--image", str(big), "-o", str(tmp_path / "back")]) == 1
    assert "256x256 pixels, but " + big.name + " is 360x360" in capsys.readouterr().err
    assert not (tmp_path / "back").exists()


# 8. messages name the option of their context
def test_messages_name_the_options_of_each_context(clean_ij, val_image, tmp_path):
    image, labels = val_image
    clean_ij.run_macro(f'open("{image}");')
    rois_to_manager(clean_ij, labels_to_annotations(labels)[:2])
    clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label yolo");')
    assert (tmp_path / "out" / "yolo" / "classes.txt").read_text() == "unclassified\n"
    with pytest.raises(MacroError, match=r"exists already.*macro option: overwrite.*--overwrite on the command line"):
        clean_ij.run_macro(f'run("Export Annotations", "source=[ROI Manager] output={tmp_path}/out label");')
    with pytest.raises(MacroError, match="is a folder; Import Masks reads one file") as folder_error:
        clean_ij.run_macro(f'run("Import Masks", "annotation={tmp_path}/out/labelled_masks kind=auto");')
    assert "--kind" not in str(folder_error.value)
    odd = tmp_path / "objects.dat"
    odd.write_text("1 2 3\n")
    with pytest.raises(MacroError, match=r"give the Kind in the dialog \(macro option kind=") as kind_error:
        clean_ij.run_macro(f'run("Import Masks", "annotation={odd} kind=auto");')
    assert "--kind" not in str(kind_error.value)


def test_export_from_the_roi_manager_keeps_the_image_calibration(clean_ij, val_image, tmp_path):
    image, _ = val_image
    out = tmp_path / "out"
    clean_ij.run_macro(f'open("{image}"); run("Properties...", "unit=micron pixel_width=0.325 pixel_height=0.325");'
                       f'makeOval(20, 20, 30, 30); roiManager("add");'
                       f'run("Export Annotations", "source=[ROI Manager] output=[{out}] label binary layered");')
    for folder in ("labelled_masks", "binary_masks", "layered_masks"):
        cal = clean_ij.IJ.openImage(str(out / folder / f"{image.stem}.tiff")).getCalibration()
        assert abs(cal.pixelWidth - 0.325) < 1e-6 and abs(cal.pixelHeight - 0.325) < 1e-6, folder
        assert str(cal.getUnit()) in ("micron", "\u00b5m", "um"), folder
