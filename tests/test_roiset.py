"""ImageJ .roi / RoiSet.zip files: round trips, metadata, ImageJ's encodings, bad files."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from roifile import ROI_TYPE, ImagejRoi

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.rois.labels import annotation_mask, annotations_to_labels, labels_to_annotations
from fiji_bridge.rois.roiset import oval_outline, read_roiset, write_roiset



def zip_entries(path: Path) -> dict[str, ImagejRoi]:
    with zipfile.ZipFile(path) as zf:
        return {n: ImagejRoi.frombytes(zf.read(n)) for n in zf.namelist()}


def test_every_dsb_val_mask_round_trips_through_a_roiset(tmp_path: Path, dsb_val: Path) -> None:
    path = tmp_path / "RoiSet.zip"
    masks = sorted((dsb_val / "masks").glob("*.tif"))
    assert len(masks) == 56
    for mask_path in masks:
        labels = tifffile.imread(mask_path)
        write_roiset(path, labels_to_annotations(labels))
        anns = read_roiset(path)
        back = annotations_to_labels(anns, labels.shape, values=[int(a.name) for a in anns])
        assert np.array_equal(back, labels), mask_path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays(np.uint16, st.tuples(st.integers(1, 20), st.integers(1, 20)), elements=st.integers(0, 4)))
def test_random_labels_round_trip_through_a_roiset(tmp_path: Path, labels: np.ndarray) -> None:
    path = tmp_path / "RoiSet.zip"
    written = labels_to_annotations(labels, position=2)
    write_roiset(path, written)
    anns = read_roiset(path)
    assert [(a.name, a.roi_type, a.position) for a in anns] == [(a.name, a.roi_type, 2) for a in written]
    for a, b in zip(written, anns):
        assert all(np.array_equal(p, q) for p, q in zip(a.paths, b.paths)) and len(a.paths) == len(b.paths)
    back = annotations_to_labels(anns, labels.shape, values=[int(a.name) for a in anns])
    assert np.array_equal(back, labels)


def test_metadata_and_every_type_survive(tmp_path: Path) -> None:
    anns = [
        Annotation([[1.5, 2.25], [10.75, 3], [5, 9.5]], name="float", group=3, position=2,
                   stroke_color="#80ff0000"),
        Annotation([[1, 2], [10, 2], [10, 8], [1, 8]], name="box", roi_type="rectangle", group=255),
        Annotation(oval_outline(3, 4, 7, 5), name="oval", roi_type="oval", stroke_color="#00ff00"),
        Annotation([[1, 2], [3.5, 4]], name="line", roi_type="line"),
        Annotation([[1, 2], [3.5, 4], [7, 7]], name="polyline", roi_type="polyline"),
        Annotation([[1, 2], [2, 3], [3, 3]], name="freeline", roi_type="freeline"),
        Annotation([[1, 2], [3, 4]], name="points", roi_type="point", position=5),
        Annotation([[0, 0], [3, 0], [3, 3], [0, 3]], name="traced", roi_type="traced", group=1),
        Annotation([[0, 0], [4, 0], [4, 4], [0, 4]], subpaths=([[1, 1], [1, 3], [3, 3], [3, 1]],),
                   name="ring", roi_type="composite"),
    ]
    path = tmp_path / "all.zip"
    write_roiset(path, anns)
    back = read_roiset(path)
    for a, b in zip(anns, back, strict=True):
        assert (b.name, b.roi_type, b.group, b.position, b.stroke_color) == \
            (a.name, a.roi_type, a.group, a.position, a.stroke_color)
        assert len(b.paths) == len(a.paths)
        for p, q in zip(a.paths, b.paths):
            np.testing.assert_allclose(q, p, atol=1e-5)  # ImageJ keeps float32


def test_imagej_encodings(tmp_path: Path) -> None:
    """Composite -> ImageJ shape ROI, traced -> integer TRACED polygon, float -> sub-pixel."""
    ring = Annotation([[0, 0], [4, 0], [4, 4], [0, 4]], subpaths=([[1, 1], [1, 3], [3, 3], [3, 1]],),
                      name="0001", roi_type="composite")
    traced = Annotation([[0, 0], [3, 0], [3, 3], [0, 3]], name="0002", roi_type="traced", group=7)
    floaty = Annotation([[0.5, 0], [3, 0.25], [3, 3]], name="0003", roi_type="polygon")
    path = tmp_path / "enc.zip"
    write_roiset(path, [ring, traced, floaty])
    rois = zip_entries(path)
    assert list(rois) == ["0001.roi", "0002.roi", "0003.roi"]
    shape = rois["0001.roi"]
    assert shape.roitype == ROI_TYPE.RECT and shape.composite
    # moveTo x y, lineTo x y (3 times), closePath, for each outline
    ops = shape.multi_coordinates.tolist()
    assert ops[0:12:3] == [0, 1, 1, 1] and ops[12] == 4 and ops[13:25:3] == [0, 1, 1, 1] and ops[25] == 4
    assert len(ops) == 26
    assert rois["0002.roi"].roitype == ROI_TYPE.TRACED and not rois["0002.roi"].subpixelresolution
    assert rois["0002.roi"].version >= 228 and rois["0002.roi"].group == 7
    assert rois["0003.roi"].subpixelresolution
    np.testing.assert_allclose(rois["0003.roi"].subpixel_coordinates, floaty.polygon)


def test_oval_reads_as_imagej_oval_pixels(tmp_path: Path) -> None:
    """Masks of OvalRoi(0, 0, w, h).getMask() taken from ImageJ 1.53t."""
    imagej = {
        (8, 2): ["01111110", "01111110"],
        (5, 5): ["01110", "11111", "11111", "11111", "01110"],
        (4, 6): ["0110", "1111", "1111", "1111", "1111", "0110"],
        (1, 1): ["1"],
        (3, 1): ["111"],
    }
    for (w, h), rows in imagej.items():
        roi = ImagejRoi(roitype=ROI_TYPE.OVAL, left=10, top=20, right=10 + w, bottom=20 + h, name="o")
        (tmp_path / "o.roi").write_bytes(roi.tobytes())
        (ann,) = read_roiset(tmp_path / "o.roi")
        assert ann.roi_type == "oval"
        mask = annotation_mask(ann, (30, 30))[20:20 + h, 10:10 + w]
        assert ["".join("1" if v else "0" for v in row) for row in mask] == rows
    for (w, h), area in {(17, 9): 121, (40, 23): 724, (100, 100): 7860}.items():
        assert annotation_mask(Annotation(oval_outline(0, 0, w, h)), (h, w)).sum() == area


def test_rectangle_and_single_roi_file(tmp_path: Path) -> None:
    box = Annotation([[2, 1], [6, 1], [6, 4], [2, 4]], name="box", roi_type="rectangle", position=3)
    write_roiset(tmp_path / "box.roi", [box])
    roi = ImagejRoi.frombytes((tmp_path / "box.roi").read_bytes())
    assert roi.roitype == ROI_TYPE.RECT and (roi.left, roi.top, roi.right, roi.bottom) == (2, 1, 6, 4)
    (back,) = read_roiset(tmp_path / "box.roi")
    assert back.polygon.tolist() == [[2, 1], [6, 1], [6, 4], [2, 4]] and back.position == 3
    assert annotation_mask(back, (5, 8)).sum() == 12


def test_duplicate_and_missing_names_are_made_unique_like_imagej(tmp_path: Path) -> None:
    square = [[0, 0], [2, 0], [2, 2], [0, 2]]
    anns = [Annotation(square, name=n) for n in ["a", "a", "a", "b-1", "b-1", ""]]
    write_roiset(tmp_path / "d.zip", anns)
    # ImageJ 1.53t RoiManager.getUniqueName renames the earlier of two equal names
    assert list(zip_entries(tmp_path / "d.zip")) == [
        "a-1.roi", "a-2.roi", "a.roi", "b-2.roi", "b-1.roi", "0001-0001.roi"]
    assert [a.name for a in read_roiset(tmp_path / "d.zip")] == ["a", "a", "a", "b-1", "b-1", "0001-0001"]


def test_write_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "RoiSet.zip"
    good = [Annotation([[0, 0], [2, 0], [2, 2]], name="keep")]
    write_roiset(path, good)
    before = path.read_bytes()
    bad = good + [Annotation([[0, 0], [1, 0], [1, 1]], name="bad", stroke_color="red")]
    with pytest.raises(InputError, match="stroke colour"):
        write_roiset(path, bad)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["RoiSet.zip"]  # no temporary file left behind
    write_roiset(path, [Annotation([[0, 0], [5, 0], [5, 5]], name="new")])
    assert [a.name for a in read_roiset(path)] == ["new"]  # replaced, not appended


def test_bad_files_name_the_file_and_entry(tmp_path: Path) -> None:
    good = ImagejRoi.frompoints([[0, 0], [3, 0], [3, 3]], name="ok").tobytes()
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(InputError, match="corrupt.zip"):
        read_roiset(corrupt)
    with zipfile.ZipFile(tmp_path / "mixed.zip", "w") as zf:
        zf.writestr("ok.roi", good)
        zf.writestr("notes.txt", "hello")
    with pytest.raises(InputError, match=r"mixed.zip, entry 'notes.txt'"):
        read_roiset(tmp_path / "mixed.zip")
    with zipfile.ZipFile(tmp_path / "badentry.zip", "w") as zf:
        zf.writestr("ok.roi", good)
        zf.writestr("broken.roi", good[:40])
    with pytest.raises(InputError, match=r"badentry.zip, entry 'broken.roi'"):
        read_roiset(tmp_path / "badentry.zip")
    (tmp_path / "bad.roi").write_bytes(b"Iout" + b"\x00" * 10)
    with pytest.raises(InputError, match="bad.roi"):
        read_roiset(tmp_path / "bad.roi")
    with pytest.raises(InputError, match="not found"):
        read_roiset(tmp_path / "missing.zip")


def test_bad_writes_are_refused(tmp_path: Path) -> None:
    square = Annotation([[0, 0], [2, 0], [2, 2]], name="s")
    with pytest.raises(InputError, match="exactly one ROI"):
        write_roiset(tmp_path / "two.roi", [square, square])
    with pytest.raises(InputError, match=".zip or .roi"):
        write_roiset(tmp_path / "rois.txt", [square])
    assert sorted(os.listdir(tmp_path)) == []
    write_roiset(tmp_path / "new" / "RoiSet.zip", [square])  # missing folders are made
    assert [a.name for a in read_roiset(tmp_path / "new" / "RoiSet.zip")] == ["s"]


def test_written_files_get_the_mode_of_any_new_file(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    write_roiset(tmp_path / "r.zip", [Annotation([(1, 1), (5, 1), (5, 5)], name="0001")])
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert (tmp_path / "r.zip").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o666 & ~umask


def test_positions_beyond_imagejs_int_are_refused_when_the_annotation_is_made() -> None:
    square = [[0, 0], [4, 0], [4, 4], [0, 4]]
    with pytest.raises(ValueError, match="stack position"):
        Annotation(square, position=2**31)
    with pytest.raises(ValueError, match="hyperstack position"):
        Annotation(square, hyperstack=(0, 2**31, 1))
    assert Annotation(square, position=2**31 - 1).position == 2**31 - 1
