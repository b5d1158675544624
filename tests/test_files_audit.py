"""Files from the odd corners of an audit: RGB OpSeF projects, plain 4-D TIFFs, COCO polygon
unions and RLE checks, glob characters in names, huge PNGs, calibration kept by `segment`, BOMs,
COCO id clashes and impossible boxes, YOLO coordinates outside the image."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as coco_mask

from fiji_bridge.cli.main import main
from fiji_bridge.errors import InputError
from fiji_bridge.formats.coco import read_coco
from fiji_bridge.formats.images import Calibration, image_shape, read_calibration, read_image
from fiji_bridge.formats.imports import import_annotations
from fiji_bridge.formats.masks import label_mask
from fiji_bridge.formats.opsef import load_opsef
from fiji_bridge.formats.yolo import read_yolo
from fiji_bridge.ij.rois import rois_from_manager
from fiji_bridge.nucleaizer.files import read_planes, segment_file
from fiji_bridge.rois.labels import annotation_mask, labels_to_annotations
from fiji_bridge.rois.roiset import read_roiset, write_roiset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2


def _val_pair(dsb_val: Path, index: int) -> tuple[Path, Path]:
    mask = sorted((dsb_val / "masks").glob("*.tif"))[index]
    return dsb_val / "images" / mask.name, mask


def _grey(image: Path) -> np.ndarray:
    return tifffile.imread(image).mean(axis=2).astype(np.uint8)


# --- OpSeF projects of RGB images -----------------------------------------------------------

@pytest.fixture(params=[1, 2], ids=["one-line", "two-lines"])
def rgb_project(request, tmp_path, dsb_val) -> tuple[Path, list[np.ndarray], list[np.ndarray]]:
    """An OpSeF project whose 00_InputRaw images are the RGB val images themselves."""
    root = tmp_path / "Processed_1"
    for sub in ("00_InputRaw", "02_SegMasks", "10_ImportExport"):
        (root / sub).mkdir(parents=True)
    rows, images, labels = [], [], []
    for i in range(request.param):
        image, mask = _val_pair(dsb_val, i + 1)
        images.append(tifffile.imread(image))
        labels.append(tifffile.imread(mask))
        (root / "00_InputRaw" / f"8bitSum_{i}.tif").write_bytes(image.read_bytes())
        (root / "02_SegMasks" / f"{i}_Mask_x.tif").write_bytes(mask.read_bytes())
        rows.append(f"/00_InputRaw/8bitSum_{i}.tif;/02_SegMasks/{i}_Mask_x.tif")
    pair_list = root / "10_ImportExport" / "FilePairList_rgb.txt"
    pair_list.write_bytes(("\r\n".join(rows) + "\r\n").encode())
    return pair_list, images, labels


def test_opsef_import_of_rgb_images_writes_an_rgb_stack(rgb_project, tmp_path):
    pair_list, images, labels = rgb_project
    assert main(["opsef", "import", str(pair_list), "-o", str(tmp_path / "out")]) == 0
    with tifffile.TiffFile(tmp_path / "out" / "FilePairList_rgb_stack.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == ("ZYXS" if len(images) > 1 else "YXS")
        assert np.array_equal(tif.series[0].asarray().reshape((-1, 256, 256, 3)), np.stack(images))
    rois = read_roiset(tmp_path / "out" / "FilePairList_rgb_RoiSet.zip")
    for slice_no, truth in enumerate(labels, start=1):
        assert np.array_equal(label_mask([a for a in rois if a.position == slice_no], truth.shape, by="name"), truth)


def test_fiji_import_opsef_opens_rgb_images(clean_ij, rgb_project):
    pair_list, images, labels = rgb_project
    clean_ij.run_macro(f'run("Import OpSeF", "filepairlist={pair_list}");')
    imp = clean_ij.WindowManager.getCurrentImage()
    assert imp.getBitDepth() == 24 and imp.getStackSize() == len(images) and imp.getWidth() == 256
    pixel = int(imp.getStack().getProcessor(len(images)).getPixel(10, 20))
    assert [(pixel >> 16) & 255, (pixel >> 8) & 255, pixel & 255] == images[-1][20, 10].tolist()
    got = rois_from_manager(clean_ij)
    assert len(got) == sum(len(np.unique(lab)) - 1 for lab in labels)


def test_opsef_grey_stack_is_unchanged_by_rgb_support(tmp_path, dsb_val):
    root = tmp_path / "Processed_1"
    for sub in ("00_InputRaw", "02_SegMasks", "10_ImportExport"):
        (root / sub).mkdir(parents=True)
    image, mask = _val_pair(dsb_val, 0)
    tifffile.imwrite(root / "00_InputRaw" / "8bitSum_0.tif", _grey(image))
    (root / "02_SegMasks" / "0_Mask_x.tif").write_bytes(mask.read_bytes())
    (root / "10_ImportExport" / "FilePairList_g.txt").write_text("/00_InputRaw/8bitSum_0.tif;/02_SegMasks/0_Mask_x.tif\n")
    assert main(["opsef", "import", str(root / "10_ImportExport" / "FilePairList_g.txt"), "-o", str(tmp_path / "o")]) == 0
    with tifffile.TiffFile(tmp_path / "o" / "FilePairList_g_stack.tif") as tif:
        assert tif.series[0].axes == "YX" and np.array_equal(tif.series[0].asarray(), _grey(image))
    assert load_opsef(root / "10_ImportExport" / "FilePairList_g.txt").images.shape == (1, *_grey(image).shape)


# --- a plain TIFF of more than 3 dimensions -------------------------------------------------

def test_plain_4d_tiff_is_a_stack_of_its_pages_as_imagej_opens_it(ij, tmp_path, dsb_val):
    grey = _grey(_val_pair(dsb_val, 1)[0])[:96, :128]
    data = np.stack([np.stack([grey, 255 - grey]) + t for t in range(3)]).astype(np.uint8)  # (3, 2, Y, X)
    path = tmp_path / "tzyx.tif"
    tifffile.imwrite(path, data)
    assert tifffile.TiffFile(path).series[0].axes == "QQYX"  # what made a transpose fail
    planes = read_planes(path)
    assert planes.data.shape == (6, 96, 128) and planes.stack_axes == "I"
    assert planes.first_pages.tolist() == [1, 2, 3, 4, 5, 6]
    imp = ij.IJ.openImage(str(path))
    assert imp.getStackSize() == 6 and imp.getNSlices() == 6
    for page in range(6):
        pixels = np.asarray(imp.getStack().getProcessor(page + 1).getPixels(), dtype=np.int8).view(np.uint8)
        assert np.array_equal(pixels.reshape(96, 128), planes.data[page])


def test_segment_of_a_plain_4d_tiff_gives_a_label_stack(tmp_path, dsb_val):
    grey = _grey(_val_pair(dsb_val, 1)[0])[:96, :96]
    tifffile.imwrite(tmp_path / "q.tif", np.stack([np.stack([grey, grey])] * 2))
    assert main(["segment", str(tmp_path / "q.tif"), "-o", str(tmp_path / "out"), "--workers", "1"]) == 0
    labels = tifffile.imread(tmp_path / "out" / "q_labels.tif")
    assert labels.shape == (4, 96, 96) and all(labels[i].max() > 0 for i in range(4))
    positions = sorted({a.position for a in read_roiset(tmp_path / "out" / "q_ROIs.zip")})
    assert positions == [1, 2, 3, 4]


# --- COCO: polygons are a union, as pycocotools decodes them --------------------------------

def _coco_file(path: Path, segmentation, height: int = 40, width: int = 60) -> Path:
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.tif", "height": height, "width": width}],
                                "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                                                 "segmentation": segmentation}],
                                "categories": [{"id": 1, "name": "nucleus"}]}))
    return path


def _ann_to_mask(segmentation, height: int, width: int) -> np.ndarray:
    """pycocotools' COCO.annToMask."""
    if isinstance(segmentation, list):
        rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = coco_mask.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return coco_mask.decode(rle).astype(bool)


def _imported_mask(path: Path, height: int = 40, width: int = 60) -> np.ndarray:
    [item] = read_coco(path)[0]
    [ann] = item.annotations
    return annotation_mask(ann, (height, width))


def test_coco_overlapping_polygon_parts_are_unioned(tmp_path):
    seg = [[5, 5, 25, 5, 25, 25, 5, 25], [15, 15, 35, 15, 35, 35, 15, 35]]
    got = _imported_mask(_coco_file(tmp_path / "c.json", seg))
    assert got.sum() == 700 and got[20, 20]
    assert np.array_equal(got, _ann_to_mask(seg, 40, 60))


def test_coco_polygons_on_pixel_edges_keep_their_vertices(tmp_path):
    seg = [[2, 3, 12, 3, 12, 9, 2, 9], [20, 20, 30, 20, 30, 31, 20, 31]]
    [item] = read_coco(_coco_file(tmp_path / "c.json", seg))[0]
    [ann] = item.annotations
    assert ann.roi_type == "composite" and ann.polygon.tolist() == [[2, 3], [12, 3], [12, 9], [2, 9]]


_coordinate = st.floats(-6, 36, allow_nan=False).map(lambda v: round(v * 4) / 4)
_polygon = st.lists(st.tuples(_coordinate, _coordinate), min_size=3, max_size=7).map(
    lambda pts: [v for p in pts for v in p])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_polygon, min_size=1, max_size=3))
def test_coco_polygons_import_as_pycocotools_pixels(tmp_path, seg):
    path = _coco_file(tmp_path / "p.json", seg, 30, 31)
    expected = _ann_to_mask(seg, 30, 31)
    if not expected.any():  # kept as drawn: nothing to compare with
        return
    assert np.array_equal(_imported_mask(path, 30, 31), expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_coco_rle_imports_as_pycocotools_pixels(tmp_path, seed, compressed):
    rng = np.random.default_rng(seed)
    mask = (rng.random((23, 17)) < rng.uniform(0.05, 0.9)).astype(np.uint8)
    mask[rng.integers(23), rng.integers(17)] = 1
    rle = coco_mask.encode(np.asfortranarray(mask))
    if compressed:
        segmentation = {"size": [23, 17], "counts": rle["counts"].decode()}
    else:
        flat = mask.ravel(order="F")
        edges = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
        segmentation = {"size": [23, 17], "counts": ([0] if flat[0] else []) + runs}
    path = _coco_file(tmp_path / "r.json", segmentation, 23, 17)
    assert np.array_equal(_imported_mask(path, 23, 17), _ann_to_mask(segmentation, 23, 17))


@pytest.mark.parametrize("segmentation, words", [
    ({"size": [40, 60], "counts": "zzzz"}, "not a compressed RLE character"),
    ({"size": [40, 60], "counts": "0a"}, "ends inside a number"),
    ({"size": [40, 60], "counts": "0000"}, "not run lengths covering the 60x40 pixels"),
    ({"size": [40, 60], "counts": [100, 5]}, "not run lengths covering the 60x40 pixels"),
    ({"size": [40, 60], "counts": [2300, -10, 110]}, "not run lengths"),
])
def test_coco_rle_with_garbage_counts_is_refused(tmp_path, segmentation, words):
    with pytest.raises(InputError, match=words):
        read_coco(_coco_file(tmp_path / "g.json", segmentation))


@pytest.mark.parametrize("box", [[5, 5, -10, -10], [5, 5, 0, 4], [5, 5, 3, -1]])
def test_coco_box_of_no_size_is_refused(tmp_path, box):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.tif", "height": 40, "width": 60}],
                                "annotations": [{"id": 7, "image_id": 1, "bbox": box}]}))
    with pytest.raises(InputError, match="annotation 7 .*width or height of zero or less"):
        read_coco(path)


def test_coco_images_with_one_id_are_refused(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.tif", "height": 40, "width": 60},
                                           {"id": 1, "file_name": "b.tif", "height": 40, "width": 60}],
                                "annotations": [{"id": 1, "image_id": 1, "segmentation": [[5, 5, 25, 5, 25, 25]]}]}))
    with pytest.raises(InputError, match=r"two images have the id 1 \(a.tif and b.tif\)"):
        read_coco(path)
    assert main(["import", str(path), "-o", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()


# --- names with glob characters -------------------------------------------------------------

def test_import_image_folder_matches_names_with_glob_characters_exactly(tmp_path):
    (tmp_path / "imgs").mkdir()
    tifffile.imwrite(tmp_path / "imgs" / "well[A1].tif", np.zeros((100, 200), np.uint8))
    tifffile.imwrite(tmp_path / "imgs" / "wellA.tif", np.zeros((50, 50), np.uint8))
    (tmp_path / "well[A1].txt").write_text("0 0.5 0.5 0.2 0.2\n")
    assert main(["import", str(tmp_path / "well[A1].txt"), "--image", str(tmp_path / "imgs"),
                 "-o", str(tmp_path / "out")]) == 0
    [box] = read_roiset(tmp_path / "out" / "well[A1]_ROIs.zip")
    assert box.polygon.tolist() == [[80, 40], [120, 40], [120, 60], [80, 60]]
    (tmp_path / "wellA.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    [item] = import_annotations(tmp_path / "wellA.txt", image=tmp_path / "imgs")
    assert item.shape == (50, 50)


# --- PNGs above Pillow's decompression-bomb limit -------------------------------------------

def test_png_above_pillows_size_limit_reads_without_a_warning(tmp_path):
    limit = Image.MAX_IMAGE_PIXELS
    Image.new("1", (13500, 13500), 1).save(tmp_path / "scan.png")  # 182 megapixels: Pillow refuses
    Image.new("1", (10000, 9000)).save(tmp_path / "mid.png")  # 90 megapixels: Pillow warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = read_image(tmp_path / "scan.png")
        assert read_image(tmp_path / "mid.png").shape == (9000, 10000)
        assert image_shape(tmp_path / "scan.png") == (13500, 13500)
    assert big.shape == (13500, 13500) and big.all()
    assert Image.MAX_IMAGE_PIXELS == limit  # lifted only while fiji_bridge reads


def _zero_png(path: Path, width: int, height: int) -> None:
    """A black 8-bit PNG written row by row (the test process never holds the image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    packer, row = zlib.compressobj(1), bytes(width + 1)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_png_too_big_for_the_memory_says_so(tmp_path):
    _zero_png(tmp_path / "huge.png", 20000, 20000)  # 400 MB of pixels, read with 800 MB of address space
    code = ("import resource, sys; from fiji_bridge.errors import InputError; "
            "from fiji_bridge.formats.images import read_image; import skimage.io; "
            "resource.setrlimit(resource.RLIMIT_AS, (800 * 2**20, resource.RLIM_INFINITY)); "
            "\ntry: read_image(sys.argv[1])\nexcept InputError as exc: print(exc)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "huge.png")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"not enough memory to read image {tmp_path / 'huge.png'} (20000x20000 pixels, L); "
                                   "close other programs or split the image into tiles")


# --- calibration kept by segment ------------------------------------------------------------

@pytest.mark.parametrize("imagej", [True, False], ids=["imagej-um", "plain-cm"])
def test_segment_labels_keep_the_source_calibration(ij, tmp_path, dsb_val, imagej):
    grey = _grey(_val_pair(dsb_val, 1)[0])[:128, :128]
    source = tmp_path / "cal.tif"
    if imagej:
        tifffile.imwrite(source, grey, imagej=True, resolution=(1 / 0.325, 1 / 0.325), metadata={"unit": "um"})
    else:
        tifffile.imwrite(source, grey, resolution=(1 / 0.5, 1 / 0.25), resolutionunit="CENTIMETER")
    segment_file(source, tmp_path / "out")
    labels = tmp_path / "out" / "cal_labels.tif"
    assert read_calibration(labels) == read_calibration(source)
    want = ij.IJ.openImage(str(source)).getCalibration()
    got = ij.IJ.openImage(str(labels)).getCalibration()
    assert (got.pixelWidth, got.pixelHeight, str(got.getUnit())) == (want.pixelWidth, want.pixelHeight, str(want.getUnit()))
    assert str(got.getUnit()) == ("\u00b5m" if imagej else "cm") and got.pixelWidth == pytest.approx(0.325 if imagej else 0.5)


# --- byte-order marks; YOLO coordinates outside the image -----------------------------------

def test_box_csv_and_yolo_with_a_byte_order_mark_import(tmp_path):
    (tmp_path / "img.csv").write_bytes(b"\xef\xbb\xbfx,y,width,height\r\n10,10,5,5\r\n")
    (tmp_path / "img.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\n")
    [csv_item] = import_annotations(tmp_path / "img.csv")
    assert [a.polygon.tolist() for a in csv_item.annotations] == [[[10, 10], [15, 10], [15, 15], [10, 15]]]
    assert [a.polygon.tolist() for a in read_yolo(tmp_path / "img.txt", (100, 200))] == [
        [[80, 40], [120, 40], [120, 60], [80, 60]]]


@pytest.mark.parametrize("line, words", [
    ("0 1.5 0.5 0.2 0.2", "line 2 has a coordinate outside 0..1"),
    ("0 -0.3 -0.3 0.1 0.1", "line 2 has a coordinate outside 0..1"),
    ("0 0.1 0.2 0.3 0.2 1.2 0.9", "line 2 has a coordinate outside 0..1"),
    ("0 0.25 0.25 0 0", "line 2 is a box of zero width or height"),
])
def test_yolo_outside_the_image_or_of_no_size_is_refused(tmp_path, line, words):
    (tmp_path / "img.txt").write_text(f"0 0.5 0.5 0.2 0.2\n{line}\n")
    with pytest.raises(InputError, match=words):
        read_yolo(tmp_path / "img.txt", (100, 200))


def test_exported_masks_keep_the_image_calibration(ij, tmp_path, dsb_val):
    image, mask = _val_pair(dsb_val, 1)
    source = tmp_path / "cal.tif"
    tifffile.imwrite(source, _grey(image), imagej=True, resolution=(1 / 0.325, 1 / 0.325),
                     metadata={"unit": "um", "spacing": 2.0})
    write_roiset(tmp_path / "cal_ROIs.zip", labels_to_annotations(tifffile.imread(mask)))
    assert main(["export", str(tmp_path / "cal_ROIs.zip"), "--image", str(source), "--format",
                 "labels,binary,layered", "-o", str(tmp_path / "out")]) == 0
    for folder in ("labelled_masks", "binary_masks", "layered_masks"):
        written = tmp_path / "out" / folder / "cal.tiff"
        got = read_calibration(written)
        assert (got.x_resolution, got.y_resolution, got.unit, got.spacing) == (
            pytest.approx(1 / 0.325), pytest.approx(1 / 0.325), "um", None)
        cal = ij.IJ.openImage(str(written)).getCalibration()
        assert cal.pixelWidth == pytest.approx(0.325) and str(cal.getUnit()) == "\u00b5m"


def test_a_72_dpi_tiff_is_uncalibrated_as_in_imagej(ij, tmp_path):
    """Image programs write 72 dpi by default; ImageJ 1.x shows such a TIFF as uncalibrated, so
    the masks and labels made from it must not get a pixel size of 1/72 inch."""
    path = tmp_path / "dpi72.tif"
    tifffile.imwrite(path, np.zeros((20, 30), np.uint8), resolution=(72, 72), resolutionunit="INCH")
    assert not ij.IJ.openImage(str(path)).getCalibration().scaled()
    assert read_calibration(path) is None
    tifffile.imwrite(path, np.zeros((20, 30), np.uint8), resolution=(300, 300), resolutionunit="INCH")
    assert read_calibration(path) == Calibration(300.0, 300.0, "inch")
