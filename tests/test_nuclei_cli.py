"""`fiji-bridge segment` and `fiji-bridge demo` on real files (TIFF, ImageJ hyperstack, PNG, JPEG)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from skimage.io import imsave

from fiji_bridge import segment_nuclei
from fiji_bridge.cli.main import main
from fiji_bridge.errors import InputError
from fiji_bridge.nucleaizer.files import read_planes
from fiji_bridge.rois.labels import annotations_to_labels
from fiji_bridge.rois.roiset import read_roiset

ONE_WORKER = ("--workers", "1")  # keep the test light on a shared 2-core machine
FLUO = ("0bda515e3702", "a3a1b8f9794e", "2e172afb1f43", "cf26c41245fe")


@pytest.fixture(scope="module")
def greys(dsb_val: Path) -> list[np.ndarray]:
    out = []
    for prefix in FLUO:
        (path,) = (dsb_val / "images").glob(prefix + "*.tif")
        out.append(tifffile.imread(path)[:, :, 0])
    return out


def _rois_as_labels(path: Path, shape: tuple[int, int], position: int | None = None) -> np.ndarray:
    anns = [a for a in read_roiset(path) if position is None or a.position == position]
    return annotations_to_labels(anns, shape, values=[int(a.name) for a in anns])


def test_batch_of_mixed_files(tmp_path, greys, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    tifffile.imwrite(inputs / "plain.tif", greys[0])
    imsave(inputs / "grey.png", greys[1], check_contrast=False)
    rgb = np.stack([greys[2]] * 3, axis=-1)
    imsave(inputs / "photo.jpg", rgb, check_contrast=False)
    hyper = np.stack(greys).reshape(2, 2, *greys[0].shape)  # T=2, Z=2
    tifffile.imwrite(inputs / "hyper.tif", hyper, imagej=True, metadata={"axes": "TZYX"})
    (inputs / "broken.tif").write_bytes(b"this is not a TIFF file")

    assert main(["segment", str(inputs), "-o", str(out), *ONE_WORKER]) == 1
    err = capsys.readouterr().err
    broken_lines = [line for line in err.splitlines() if "broken.tif" in line and line.startswith("error:")]
    assert len(broken_lines) == 1 and not (out / "broken_labels.tif").exists()

    labels = tifffile.imread(out / "plain_labels.tif")
    assert np.array_equal(labels, segment_nuclei(greys[0]))
    assert np.array_equal(_rois_as_labels(out / "plain_ROIs.zip", labels.shape), labels)
    assert {a.position for a in read_roiset(out / "plain_ROIs.zip")} == {0}

    assert np.array_equal(tifffile.imread(out / "grey_labels.tif"), segment_nuclei(greys[1]))
    jpeg_labels = tifffile.imread(out / "photo_labels.tif")
    assert jpeg_labels.shape == greys[2].shape and jpeg_labels.max() > 10

    with tifffile.TiffFile(out / "hyper_labels.tif") as tif:
        assert tif.series[0].axes == "TZYX" and tif.is_imagej
        stack = tif.series[0].asarray()
    assert stack.shape == hyper.shape
    for index, grey in enumerate(greys, start=1):
        t, z = divmod(index - 1, 2)
        assert np.array_equal(stack[t, z], segment_nuclei(grey))
        assert np.array_equal(_rois_as_labels(out / "hyper_ROIs.zip", grey.shape, position=index), stack[t, z])

    before = {p.name: p.stat().st_mtime_ns for p in [*out.glob("*_labels.tif"), *out.glob("*_ROIs.zip")]}
    assert main(["segment", str(inputs / "plain.tif"), str(inputs / "grey.png"), "-o", str(out), *ONE_WORKER]) == 0
    assert "skipped 2" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in [*out.glob("*_labels.tif"), *out.glob("*_ROIs.zip")]} == before


def test_channel_option_and_missing_input(tmp_path, greys, capsys):
    two = np.stack([np.zeros_like(greys[0]), greys[0]])  # channel 2 holds the nuclei
    tifffile.imwrite(tmp_path / "two.tif", two, imagej=True, metadata={"axes": "CYX"})
    assert main(["segment", str(tmp_path / "two.tif"), str(tmp_path / "nope.tif"), "--channel", "2",
                 "--diameter", "15", "-o", str(tmp_path / "out"), *ONE_WORKER]) == 1
    assert "nope.tif: no such file" in capsys.readouterr().err
    labels = tifffile.imread(tmp_path / "out" / "two_labels.tif")
    assert np.array_equal(labels, segment_nuclei(greys[0], diameter=15))


def test_rois_of_a_hyperstack_with_channels_land_on_its_planes(tmp_path, greys):
    """Planes of a 2-channel z-stack are stack indices 1 and 3 in ImageJ; the ROIs get those and the
    hyperstack position (0, z, 1), so ImageJ shows them on both channels of their plane, and an
    export against the image puts them back on their planes."""
    hyper = np.stack([np.stack([np.zeros_like(g), g]) for g in greys[:2]])  # Z, C, Y, X; nuclei in channel 2
    tifffile.imwrite(tmp_path / "zc.tif", hyper, imagej=True, metadata={"axes": "ZCYX"})
    assert main(["segment", str(tmp_path / "zc.tif"), "--channel", "2", "-o", str(tmp_path), *ONE_WORKER]) == 0
    anns = read_roiset(tmp_path / "zc_ROIs.zip")
    assert {(a.position, a.hyperstack) for a in anns} == {(1, (0, 1, 1)), (3, (0, 2, 1))}
    labels = tifffile.imread(tmp_path / "zc_labels.tif")
    assert main(["export", str(tmp_path / "zc_ROIs.zip"), "--image", str(tmp_path / "zc.tif"),
                 "--format", "labels", "-o", str(tmp_path / "out")]) == 0
    for z in (0, 1):  # files are numbered by (z, t) plane, not by stack index
        exported = tifffile.imread(tmp_path / "out" / "labelled_masks" / f"zc-{z + 1:04d}.tiff")
        assert np.array_equal(exported > 0, labels[z] > 0) and labels[z].max() > 10


def test_rois_of_a_tiff_without_imagej_metadata_follow_its_pages(tmp_path, greys):
    """ImageJ opens a TIFF without ImageJ metadata as a plain stack of its pages (channels too):
    the ROIs of plane z get the page of its first channel, and no hyperstack position."""
    pages = np.stack([np.stack([g, np.zeros_like(g)]) for g in greys[:2]])  # Z, C, Y, X
    tifffile.imwrite(tmp_path / "shaped.tif", pages, metadata={"axes": "ZCYX"})
    assert main(["segment", str(tmp_path / "shaped.tif"), "-o", str(tmp_path), *ONE_WORKER]) == 0
    assert {(a.position, a.hyperstack) for a in read_roiset(tmp_path / "shaped_ROIs.zip")} == {(1, None), (3, None)}


@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_channel_picks_an_rgb_sample_and_refuses_a_missing_one(tmp_path, greys, suffix):
    rgb = np.zeros((*greys[0].shape, 3), np.uint8)
    rgb[..., 1] = greys[0]  # the nuclei are green
    path = tmp_path / f"rgb{suffix}"
    tifffile.imwrite(path, rgb) if suffix == ".tif" else imsave(path, rgb)
    assert np.array_equal(read_planes(path, channel=2).data[0], greys[0])
    with pytest.raises(InputError, match="--channel 4 is out of range; the image has 3"):
        read_planes(path, channel=4)
    tifffile.imwrite(tmp_path / "grey.tif", greys[0])
    with pytest.raises(InputError, match="--channel 2 is out of range; the image has 1"):
        read_planes(tmp_path / "grey.tif", channel=2)


def test_demo(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    assert "nuclei found" in printed
    labels = tifffile.imread(tmp_path / "demo" / "nuclei_sample_labels.tif")
    assert labels.max() > 50
    assert len(read_roiset(tmp_path / "demo" / "nuclei_sample_ROIs.zip")) == labels.max()


@pytest.mark.parametrize("option, words", [
    (["--diameter", "inf"], "--diameter must be between 5.5 and 352"),
    (["--diameter", "1"], "--diameter must be between"),
    (["--channel", "0"], "--channel counts from 1"),
    (["--scheduler", "myhost"], "--scheduler needs HOST:PORT"),
])
def test_bad_options_are_refused_before_anything_starts(tmp_path, greys, capsys, option, words):
    tifffile.imwrite(tmp_path / "a.tif", greys[0])
    assert main(["segment", str(tmp_path / "a.tif"), "-o", str(tmp_path / "out"), *option]) == 1
    assert words in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_a_file_is_one_line_of_error(tmp_path, capsys):
    (tmp_path / "results.txt").write_text("a file")
    assert main(["demo", "-o", str(tmp_path / "results.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fiji-bridge demo: ") and "is a file, not a folder" in err and "Traceback" not in err


def test_pages_written_one_by_one_are_a_stack(tmp_path, greys):
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        for k in range(3):
            tif.write(np.roll(greys[0], 30 * k, axis=1))
    planes = read_planes(tmp_path / "pages.tif")
    assert planes.data.shape == (3, *greys[0].shape)
    assert np.array_equal(planes.data[2], np.roll(greys[0], 60, axis=1))


@pytest.mark.parametrize("command", ["segment", "demo"])
def test_an_output_folder_that_is_a_file_is_named_in_plain_words(tmp_path, greys, capsys, command):
    tifffile.imwrite(tmp_path / "a.tif", greys[0])
    (tmp_path / "results.txt").write_text("a file")
    inputs = [str(tmp_path / "a.tif")] if command == "segment" else []
    file = tmp_path / "results.txt"
    for output, words in ((file, f"{file} is a file"),
                          (file / "sub", f"{file / 'sub'} cannot be made: {file} is a file")):
        assert main([command, *inputs, "-o", str(output), *(ONE_WORKER if inputs else ())]) == 1
        assert capsys.readouterr().err == (f"fiji-bridge {command}: the output folder (-o) {words}, not a folder; "
                                           "give a folder (made when missing)\n")
    assert (tmp_path / "results.txt").read_text() == "a file"


def test_a_channel_error_names_the_input_once(tmp_path, greys, capsys):
    path = tmp_path / "grey.tif"
    tifffile.imwrite(path, greys[0])
    assert main(["segment", str(path), "--channel", "3", "-o", str(tmp_path / "out"), *ONE_WORKER]) == 1
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "--channel" in line]
    assert line.endswith(f"error: {path}: --channel 3 is out of range; the image has 1 channel(s)")
    assert line.count(str(path)) == 1


@pytest.mark.parametrize("content, words", [
    ("text", "not a torch file"),
    ("contour", "is not a nucleus model: it holds no 'config' and 'state_dict'"),
    ({"config": {"target_diameter": 20.0}, "state_dict": {}}, "is not a nucleus model: its config is unusable"),
    ({"config": {"widths": [4, 8], "target_diameter": 20.0}, "state_dict": {}},
     "is not a nucleus model: its weights do not fit the network"),
])
def test_a_wrong_model_file_is_one_plain_error_naming_it(tmp_path, greys, content, words):
    import torch

    from fiji_bridge.resources import bundled

    path = tmp_path / "some_wrong_file.pt"
    if content == "text":
        path.write_text("these are not weights\n")
    elif content == "contour":  # the other model's real weights
        path.write_bytes((bundled("models") / "contour_unet" / "contour_unet.pt").read_bytes())
    else:
        torch.save(content, path)
    with pytest.raises(InputError) as caught:
        segment_nuclei(greys[0], model=path)
    message = str(caught.value)
    assert words in message and str(path) in message and "\n" not in message
