"""Bad input gives a clear InputError naming the file, and nothing is written or lost."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.atomic import WriteBatch
from fiji_bridge.formats.coco import ImageAnnotations, coco_dataset, read_coco, write_text
from fiji_bridge.formats.exports import export_annotations, pair_rois_with_images
from fiji_bridge.formats.imports import import_annotations, write_roisets
from fiji_bridge.formats.masks import label_values
from fiji_bridge.rois.roiset import write_roiset

SQUARE = Annotation([(2, 2), (6, 2), (6, 6), (2, 6)], name="0001", group=1)


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_existing_file_is_kept_and_nothing_else_written_without_overwrite(tmp_path):
    (tmp_path / "binary_masks").mkdir()
    keep = tmp_path / "binary_masks" / "img.tiff"
    keep.write_bytes(b"precious")
    item = ImageAnnotations("img.tif", (10, 10), [SQUARE])
    with pytest.raises(InputError, match=r"img.tiff exists already.*overwrite"):
        export_annotations([item], tmp_path, ["labels", "binary"])
    assert _files(tmp_path) == {keep: b"precious"}
    export_annotations([item], tmp_path, ["labels", "binary"], overwrite=True)
    assert tifffile.imread(keep).sum() == 16


def test_failing_writer_leaves_no_file_and_no_temporary(tmp_path):
    batch = WriteBatch()
    batch.add_text(tmp_path / "a" / "first.txt", "complete")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    batch.add(tmp_path / "b" / "second.txt", broken)
    with pytest.raises(InputError, match="cannot write .*second.txt: disk full; nothing was written"):
        batch.commit()
    assert list(tmp_path.rglob("*")) == []


def test_crlf_text_and_duplicate_targets(tmp_path):
    batch = WriteBatch()
    batch.add_text(tmp_path / "list.txt", "a;b\nc;d\n", newline="\r\n")
    with pytest.raises(InputError, match="same file"):
        batch.add_text(tmp_path / "list.txt", "again")
    batch.commit()
    assert (tmp_path / "list.txt").read_bytes() == b"a;b\r\nc;d\r\n"


def test_coco_with_unknown_image_id_names_the_file(tmp_path):
    data = coco_dataset([ImageAnnotations("img.tif", (10, 10), [SQUARE])])
    data["annotations"][0]["image_id"] = 7
    path = tmp_path / "bad.json"
    path.write_text(write_text(data))
    with pytest.raises(InputError, match=r"bad.json: annotation 1 refers to image id 7"):
        read_coco(path)
    with pytest.raises(InputError, match="bad.json"):
        import_annotations(path)


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"images": []}), "needs 'images' and 'annotations'"),
    (json.dumps({"images": [{"id": 1}], "annotations": []}), "needs id, file_name, width and height"),
])
def test_malformed_coco_names_the_file(tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(InputError, match=f"broken.json.*{message}|{message}.*broken.json"):
        read_coco(path)


def test_zip_with_a_non_roi_entry_names_the_file_and_writes_nothing(tmp_path):
    rois = tmp_path / "img_ROIs.zip"
    write_roiset(rois, [SQUARE])
    with zipfile.ZipFile(rois, "a") as zf:
        zf.writestr("notes.txt", "hello")
    image = tmp_path / "img.tif"
    tifffile.imwrite(image, np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match=r"img_ROIs.zip, entry 'notes.txt' is not an ImageJ ROI"):
        pair_rois_with_images(rois, image)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="img_ROIs.zip"):
        write_roisets(import_annotations(rois), out)
    assert not out.exists()


def test_mask_of_another_size_than_its_image_is_refused(tmp_path):
    mask = tmp_path / "img.tiff"
    tifffile.imwrite(mask, np.ones((10, 12), np.uint16))
    image = tmp_path / "img.tif"
    tifffile.imwrite(image, np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match=r"mask .*img.tiff is 12x10 pixels but its image is 10x10"):
        import_annotations(mask, "labels", image=image)


def test_yolo_needs_the_image_size(tmp_path):
    path = tmp_path / "img.txt"
    path.write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(InputError, match="img.txt.*give its image.*open the image first"):
        import_annotations(path)
    path.write_text("0 0.5 0.5\n")
    tifffile.imwrite(tmp_path / "img.tif", np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match=r"img.txt: line 1 has 2 numbers"):
        import_annotations(path, image=tmp_path)


def test_roi_folder_without_matching_images(tmp_path):
    (tmp_path / "rois").mkdir()
    write_roiset(tmp_path / "rois" / "other_ROIs.zip", [SQUARE])
    (tmp_path / "images").mkdir()
    tifffile.imwrite(tmp_path / "images" / "img.tif", np.zeros((10, 10), np.uint8))
    with pytest.raises(InputError, match="no <image>_ROIs.zip"):
        pair_rois_with_images(tmp_path / "rois", tmp_path / "images")


def test_unknown_format_is_refused_before_writing(tmp_path):
    with pytest.raises(InputError, match="unknown export format pdf"):
        export_annotations([ImageAnnotations("img.tif", (10, 10), [SQUARE])], tmp_path / "out", ["labels", "pdf"])
    assert not (tmp_path / "out").exists()


def test_label_values_from_names_give_new_rois_max_plus_one():
    anns = [Annotation(SQUARE.polygon, name=n) for n in ("0007", "new", "0003", "0007", "0012-0034")]
    assert label_values(anns, by="name").tolist() == [7, 8, 3, 9, 10]
    assert label_values(anns, by="index").tolist() == [1, 2, 3, 4, 5]


def test_no_temporary_files_are_left_after_success(tmp_path):
    export_annotations([ImageAnnotations("img.tif", (10, 10), [SQUARE])], tmp_path, ["labels", "layered", "coco"])
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert sorted(os.path.relpath(p, tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == [
        "coco/annotations.json", "labelled_masks/Class_01/img.tiff", "labelled_masks/img.tiff",
        "layered_masks/Class_01/img.tiff", "layered_masks/img.tiff"]


def test_output_folder_that_is_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match=r"cannot write .*out.*nothing was written"):
        export_annotations([ImageAnnotations("img.tif", (10, 10), [SQUARE])], blocker, ["labels", "coco"])
    assert _files(tmp_path) == {blocker: b"not a folder"}


def test_export_needs_the_image_size_and_checks_its_options(tmp_path):
    with pytest.raises(InputError, match="size of image img.tif is unknown"):
        export_annotations([ImageAnnotations("img.tif", (0, 0), [SQUARE])], tmp_path, ["labels"])
    item = ImageAnnotations("img.tif", (10, 10), [SQUARE])
    with pytest.raises(InputError, match="YOLO mode"):
        export_annotations([item], tmp_path, ["yolo"], yolo_mode="polygon")
    with pytest.raises(InputError, match="label values"):
        export_annotations([item], tmp_path, ["labels"], label_values="names")
    assert _files(tmp_path) == {}
    written = export_annotations([item], tmp_path, "labels,bbox")  # a string of formats, as in the CLI
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "bounding_box_coordinates/Class_01/img.csv", "bounding_box_coordinates/img.csv",
        "labelled_masks/Class_01/img.tiff", "labelled_masks/img.tiff"]


@pytest.mark.parametrize("name, text, words", [
    ("img.txt", "0 nan 0.5 0.2 0.2\n", "line 1 holds a number that is not finite"),
    ("boxes.csv", "x,y,width,height\n1,2,inf,4\n", "line 2 is not 'x,y,width,height'"),
])
def test_non_finite_numbers_are_refused_on_import(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=words):
        import_annotations(path, shape=(10, 20)) if name.endswith(".txt") else import_annotations(path)


def test_roi_with_non_finite_coordinates_is_not_written(tmp_path):
    bad = Annotation([(1, 1), (np.nan, 4), (5, 5)])
    with pytest.raises(InputError, match="not finite"):
        write_roiset(tmp_path / "r.zip", [SQUARE, bad])
    assert not (tmp_path / "r.zip").exists()


def test_series_titles_of_one_file_get_their_own_outputs(tmp_path):
    # Bio-Formats titles: "<file> - Series N"; only a real extension is taken off a title
    items = [ImageAnnotations(f"experiment.lif - Series {n}", (10, 10), [SQUARE]) for n in (1, 2)]
    written = export_annotations(items, tmp_path, ["labels"])
    assert sorted(p.name for p in written if p.parent.name == "labelled_masks") == [
        "experiment.lif - Series 1.tiff", "experiment.lif - Series 2.tiff"]


def test_a_jpeg_mask_is_refused(tmp_path):
    from skimage.io import imsave

    mask = np.zeros((20, 20), np.uint8)
    mask[5:12, 5:12] = 255
    imsave(tmp_path / "mask.jpg", mask, check_contrast=False)
    for kind in ("auto", "binary", "labels"):
        with pytest.raises(InputError, match="mask.jpg is a JPEG: its lossy compression"):
            import_annotations(tmp_path / "mask.jpg", kind)


def test_stacks_are_told_apart_and_pages_written_one_by_one_are_read(tmp_path):
    layered = np.zeros((2, 20, 20), np.uint8)
    layered[0, 2:6, 2:6] = 255  # ImageJ-style binary layers
    layered[1, 10:15, 10:15] = 255
    tifffile.imwrite(tmp_path / "layers.tif", layered, imagej=True, metadata={"axes": "ZYX", "Labels": ["cellA", "cellB"]})
    [item] = import_annotations(tmp_path / "layers.tif")
    assert [a.name for a in item.annotations] == ["cellA", "cellB"]
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:  # a label image per page, no ImageJ metadata
        for k in range(3):
            page = np.zeros((20, 20), np.uint16)
            page[2:6, 2 + 4 * k:5 + 4 * k] = 1
            page[12:16, 2:6] = 2
            tif.write(page)
    [item] = import_annotations(tmp_path / "pages.tif")
    assert sorted(a.position for a in item.annotations) == [1, 1, 2, 2, 3, 3]
