"""What `fiji-bridge segment` may replace in its output folder, and what counts as done.

Real DSB2018 val images, the real CLI (one local dask worker), real files: a hand-annotated
AnnotatorJ ROI zip and a ground-truth label image beside the images, two plates with the same
file name, a changed input, a folder re-run with other options, folders without images.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from skimage.io import imsave

from fiji_bridge import Annotation, read_roiset, write_roiset
from fiji_bridge.batch.engine import SUMMARY_NAME
from fiji_bridge.cli.main import main

ONE_WORKER = ("--workers", "1")  # keep the tests light on a shared 2-core machine


@pytest.fixture(scope="module")
def pair(dsb_val: Path) -> tuple[np.ndarray, np.ndarray]:
    """A real 256x256 val image (RGB) and its ground-truth label mask."""
    for path in sorted((dsb_val / "images").glob("*.tif")):
        image = tifffile.imread(path)
        if image.shape[:2] == (256, 256):
            return image, tifffile.imread(dsb_val / "masks" / path.name)
    raise AssertionError("no 256x256 val image")


def _segment(inputs: list[Path], out: Path, *options: str) -> int:
    return main(["segment", *map(str, inputs), "-o", str(out), *ONE_WORKER, *options])


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _summary(folder: Path) -> dict:
    return json.loads((folder / SUMMARY_NAME).read_text())


def test_hand_annotations_beside_the_images_are_never_replaced(tmp_path, pair, capsys):
    image, mask = pair
    folder = tmp_path / "cells"
    folder.mkdir()
    imsave(folder / "cells.png", image, check_contrast=False)
    write_roiset(folder / "cells_ROIs.zip", [Annotation([[10, 10], [40, 10], [40, 40], [10, 40]], name="hand-drawn")])
    tifffile.imwrite(folder / "other.tif", image)
    tifffile.imwrite(folder / "other_labels.tif", mask)  # ground truth of image "other"
    (folder / "notes.czi").write_bytes(b"a format segment does not read")
    before = _contents(folder)

    assert _segment([folder], folder) == 1
    err = capsys.readouterr().err
    assert "refusing to replace 2 file(s)" in err and "nothing was written" in err and "--overwrite" in err
    assert f"{folder / 'cells_ROIs.zip'} was not written by a batch" in err
    assert f"{folder / 'other_labels.tif'} was not written by a batch" in err
    assert "note: skipped 1 file(s) segment cannot read" in err and "notes.czi" in err
    assert _contents(folder) == before  # no output, no summary

    assert _segment([folder], folder, "--overwrite") == 0
    assert [a.name for a in read_roiset(folder / "cells_ROIs.zip")][:2] == ["0001", "0002"]
    assert not np.array_equal(tifffile.imread(folder / "other_labels.tif"), mask)


def test_only_outputs_written_from_the_same_unchanged_input_are_done(tmp_path, pair, capsys):
    image, _ = pair
    plate1, plate2, results = tmp_path / "plate1", tmp_path / "plate2", tmp_path / "results"
    plate1.mkdir(), plate2.mkdir()
    imsave(plate1 / "A01.png", image, check_contrast=False)
    tifffile.imwrite(plate2 / "A01.tif", np.zeros((512, 300), np.uint16))  # another image, same name
    assert _segment([plate1], results) == 0
    made = _contents(results)
    capsys.readouterr()

    assert _segment([plate2], results) == 1  # not "already done"
    err = capsys.readouterr().err
    assert f"{results / 'A01_labels.tif'} was written from another input, {plate1 / 'A01.png'}" in err
    assert "another output folder, or --overwrite" in err
    assert _contents(results) == made
    record = _summary(results)["outputs"][str(plate1 / "A01.png")]
    assert record["state"] == "done" and sorted(record["files"]) == ["A01_ROIs.zip", "A01_labels.tif"]

    assert _segment([plate1], results) == 0  # the same, unchanged input is done
    assert "segmented 0, skipped 1" in capsys.readouterr().out
    assert {k: v for k, v in _contents(results).items() if k != SUMMARY_NAME} == {
        k: v for k, v in made.items() if k != SUMMARY_NAME}

    # the batch's own outputs of a changed input are redone without --overwrite
    imsave(plate1 / "A01.png", image[:200, :180], check_contrast=False)
    assert _segment([plate1], results) == 0
    assert "segmented 1, skipped 0" in capsys.readouterr().out
    assert tifffile.imread(results / "A01_labels.tif").shape == (200, 180)

    # an output edited after the batch wrote it is kept: skipped while its input is unchanged,
    # refused when the input changes
    hand = [Annotation([[1, 1], [9, 1], [9, 9]], name="corrected")]
    write_roiset(results / "A01_ROIs.zip", hand)
    assert _segment([plate1], results) == 0 and "skipped 1" in capsys.readouterr().out
    os.utime(plate1 / "A01.png", ns=(time.time_ns(), time.time_ns()))
    assert _segment([plate1], results) == 1
    assert f"{results / 'A01_ROIs.zip'} was changed after the batch wrote it" in capsys.readouterr().err
    assert [a.name for a in read_roiset(results / "A01_ROIs.zip")] == ["corrected"]

    assert _segment([plate2], results, "--overwrite") == 0
    assert tifffile.imread(results / "A01_labels.tif").shape == (512, 300)
    assert list(_summary(results)["outputs"]) == [str(plate2 / "A01.tif")]


def test_one_folder_never_mixes_results_of_different_options(tmp_path, pair, capsys):
    grey = pair[0][:, :, 0]
    p1, p2, res = tmp_path / "p1", tmp_path / "p2", tmp_path / "res"
    p1.mkdir(), p2.mkdir()
    tifffile.imwrite(p1 / "a.tif", grey)
    tifffile.imwrite(p2 / "b.tif", grey)
    assert _segment([p1], res, "--diameter", "8") == 0
    made = _contents(res)
    capsys.readouterr()

    assert _segment([p2], res, "--diameter", "20", "--overwrite") == 1
    err = capsys.readouterr().err
    assert "2 outputs made with other options" in err and "a_labels.tif, a_ROIs.zip" in err
    assert _contents(res) == made

    assert _segment([p1, p2], res, "--diameter", "20", "--overwrite") == 0
    summary = _summary(res)
    assert summary["options"]["diameter"] == 20.0
    assert sorted(summary["outputs"]) == [str(p1 / "a.tif"), str(p2 / "b.tif")]
    assert _contents(res)["a_labels.tif"] != made["a_labels.tif"]
    capsys.readouterr()

    # same options: --overwrite of one input keeps the other's outputs and their record
    assert _segment([p2], res, "--diameter", "20", "--overwrite") == 0
    assert sorted(_summary(res)["outputs"]) == [str(p1 / "a.tif"), str(p2 / "b.tif")]
    assert _segment([p1, p2], res, "--diameter", "20") == 0
    assert "segmented 0, skipped 2" in capsys.readouterr().out


@pytest.mark.parametrize("names", [[], ["A01.czi", "A02.nd2", "B01.czi", "B02.czi", "read me.txt"]])
def test_a_folder_without_readable_images_is_an_error(tmp_path, capsys, names):
    folder = tmp_path / "plate"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"not for segment")
    assert _segment([folder], tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert f"no readable images found in {folder}" in err and ".tif, .tiff, .png, .jpg, .jpeg" in err
    if names:
        assert f"skipped {len(names)} file(s) segment cannot read" in err
        assert "A01.czi" in err and "and 2 more" in err
    else:
        assert "skipped" not in err
    assert not (tmp_path / "out").exists()


def test_a_failed_input_loses_its_outputs_and_claims_no_file_made_later(tmp_path, pair, capsys):
    """An input that fails has no outputs (not those of another version of it, nor of other
    options), and its record does not let a later batch replace a file the person puts there."""
    image, _ = pair
    plate, results = tmp_path / "plate", tmp_path / "results"
    plate.mkdir()
    imsave(plate / "A01.png", image, check_contrast=False)
    tifffile.imwrite(plate / "A02.tif", image[..., 0])
    assert _segment([plate], results, "--diameter", "25") == 0
    (plate / "A02.tif").write_bytes((plate / "A02.tif").read_bytes()[:300])  # truncated: fails in the worker
    assert _segment([plate], results, "--overwrite") == 1  # other options; A02 fails
    assert not (results / "A02_labels.tif").exists() and not (results / "A02_ROIs.zip").exists()
    summary = _summary(results)
    assert summary["status"] == "complete" and list(summary["outputs"]) == [str(plate / "A01.png")]
    assert {r["state"] for r in summary["outputs"].values()} == {"done"}
    capsys.readouterr()
    write_roiset(results / "A02_ROIs.zip", [Annotation([[1, 1], [9, 1], [9, 9]], name="hand-drawn")])
    tifffile.imwrite(plate / "A02.tif", image[..., 0])  # the input repaired
    assert _segment([plate], results) == 1
    assert f"{results / 'A02_ROIs.zip'} was not written by a batch" in capsys.readouterr().err
    assert [a.name for a in read_roiset(results / "A02_ROIs.zip")] == ["hand-drawn"]


def test_the_same_file_through_a_symlink_is_the_same_input(tmp_path, pair, capsys):
    image, _ = pair
    plate, results = tmp_path / "plate", tmp_path / "results"
    plate.mkdir()
    imsave(plate / "A01.png", image, check_contrast=False)
    (tmp_path / "link").symlink_to(plate)
    assert _segment([plate], results) == 0
    capsys.readouterr()
    assert _segment([tmp_path / "link" / "A01.png"], results) == 0
    assert "segmented 0, skipped 1" in capsys.readouterr().out
    assert _segment([tmp_path / "link" / ".." / "plate" / "A01.png"], results) == 0


def test_a_second_batch_into_a_folder_in_use_and_odd_summaries_are_refused(tmp_path, pair, capsys):
    import fcntl
    image, _ = pair
    plate, results = tmp_path / "plate", tmp_path / "results"
    plate.mkdir()
    imsave(plate / "A01.png", image, check_contrast=False)
    results.mkdir()
    with open(results / ".fiji_bridge_batch.lock", "a") as held:  # what a running batch holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert _segment([plate], results) == 1
    assert "another fiji-bridge batch is writing into" in capsys.readouterr().err
    assert not (results / "A01_labels.tif").exists()
    assert _segment([plate], results) == 0 and not (results / ".fiji_bridge_batch.lock").exists()
    summary = _summary(results)
    old_format = {k: v for k, v in summary.items() if k != "outputs"}
    for text, words in ((json.dumps(old_format), "written by an older fiji-bridge"),
                        ("[1]", "is not a batch summary")):
        (results / SUMMARY_NAME).write_text(text)
        capsys.readouterr()
        assert _segment([plate], results) == 1
        err = capsys.readouterr().err
        assert words in err and "--overwrite" in err


def test_images_named_like_outputs_are_segmented_and_only_the_batch_outputs_are_skipped(tmp_path, pair, capsys):
    """`stained_labels.tif` is a real image (not the output of an input `stained.*`): it is
    segmented, in place too; the outputs a batch recorded in a folder are never taken for inputs."""
    image, _ = pair
    plate, other = tmp_path / "plate", tmp_path / "other"
    plate.mkdir()
    imsave(plate / "cells.png", image[:128, :128], check_contrast=False)
    tifffile.imwrite(plate / "stained_labels.tif", image[128:, 128:])

    assert _segment([plate], plate) == 0
    captured = capsys.readouterr()
    assert "segmented 2, skipped 0" in captured.out and "note:" not in captured.err
    assert tifffile.imread(plate / "stained_labels_labels.tif").shape == (128, 128)
    assert sorted(_summary(plate)["outputs"]) == [str(plate / "cells.png"), str(plate / "stained_labels.tif")]

    assert _segment([plate], plate) == 0  # its own outputs (recorded) are neither inputs nor "unreadable"
    captured = capsys.readouterr()
    assert "segmented 0, skipped 2" in captured.out and "note:" not in captured.err

    assert _segment([plate], other) == 0  # elsewhere: the outputs recorded in plate's summary stay out
    captured = capsys.readouterr()
    assert "segmented 2, skipped 0" in captured.out and "note:" not in captured.err
    assert sorted(p.name for p in other.glob("*_labels.tif")) == ["cells_labels.tif", "stained_labels_labels.tif"]


def test_a_folder_of_batch_outputs_holds_no_inputs(tmp_path, pair, capsys):
    image, _ = pair
    plate, results = tmp_path / "plate", tmp_path / "results"
    plate.mkdir()
    imsave(plate / "A01.png", image[:96, :96], check_contrast=False)
    assert _segment([plate], results) == 0
    tifffile.imwrite(results / "extra_labels.tif", image[:64, :64])  # put there by hand: not an output
    capsys.readouterr()
    assert _segment([results], tmp_path / "again") == 0
    captured = capsys.readouterr()
    assert "segmented 1, skipped 0" in captured.out and "note:" not in captured.err
    assert [p.name for p in (tmp_path / "again").glob("*_labels.tif")] == ["extra_labels_labels.tif"]
