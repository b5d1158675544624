"""Headless batch runs: a macro over a folder through `fiji-bridge macro --headless`, and the
headless ROI store (overlay + <img>_ROIs.zip) that replaces the ROI Manager without a display.

A macro with an error exiting non-zero with its text is covered by
tests/test_install.py::test_macro_command_fails_fast_with_the_error_text.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import tifffile

import fiji_bridge
from fiji_bridge.rois.labels import annotations_to_labels



def _first_ids(val: Path, n: int = 3) -> list[str]:
    return sorted(p.stem for p in (val / "images").glob("*.tif"))[:n]


def _headless_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "DISPLAY"}


def test_labels_to_rois_headless_fills_the_overlay_and_writes_rois_zip(tmp_path, dsb_val):
    mask = tifffile.imread(dsb_val / "masks" / f"{_first_ids(dsb_val)[0]}.tif")
    image = tmp_path / "cells.tif"
    tifffile.imwrite(image, mask)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import fiji_bridge
        from jpype import JClass
        fiji_bridge.start(mode="headless")
        imp = JClass("ij.IJ").openImage({str(image)!r})
        binding = JClass("groovy.lang.Binding")()
        binding.setVariable("imp", imp)  # called from Groovy, as ImageJ scripts call the service
        res = JClass("groovy.lang.GroovyShell")(binding).evaluate(
            'System.getProperties().get("fiji_bridge.service").apply(["labels_to_rois", imp])')
        print("ok", res.get("ok"), res.get("error"))
        print("headless", JClass("java.awt.GraphicsEnvironment").isHeadless())
        print("overlay", imp.getOverlay().size())
    """)], capture_output=True, text=True, timeout=180, env=_headless_env())
    assert done.returncode == 0, done.stderr
    expected = fiji_bridge.labels_to_annotations(mask)
    assert "ok True None" in done.stdout and "headless True" in done.stdout
    assert f"overlay {len(expected)}" in done.stdout
    stored = fiji_bridge.read_roiset(tmp_path / "cells_ROIs.zip")
    assert [a.name for a in stored] == [a.name for a in expected]
    values = [int(a.name) for a in stored]
    np.testing.assert_array_equal(annotations_to_labels(stored, mask.shape, values=values), mask)


def test_segment_nuclei_macro_over_a_folder_matches_the_python_api(tmp_path, dsb_val):
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir(), outputs.mkdir()
    crops = {}
    for i, image_id in enumerate(_first_ids(dsb_val)):
        crop = tifffile.imread(dsb_val / "images" / f"{image_id}.tif")[:200, :200]
        crops[f"img{i}"] = crop
        tifffile.imwrite(inputs / f"img{i}.tif", crop, photometric="rgb")
    macro = tmp_path / "batch.ijm"
    macro.write_text(textwrap.dedent(f"""
        setBatchMode(true);
        dir = "{inputs}/"; out = "{outputs}/";
        files = getFileList(dir);
        for (i = 0; i < files.length; i++) {{
            open(dir + files[i]);
            name = File.nameWithoutExtension;
            run("Segment Nuclei", "diameter=0 output=[label image] slices=current");
            saveAs("Tiff", out + name + "_labels.tif");
            close("*");
            print("done " + name);
        }}
    """))
    done = subprocess.run([sys.executable, "-m", "fiji_bridge.cli.main", "macro", str(macro), "--headless"],
                          capture_output=True, text=True, timeout=600, env=_headless_env())
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("done ")] == [f"done {n}" for n in crops]
    for name, crop in crops.items():
        saved = tifffile.imread(outputs / f"{name}_labels.tif")
        expected = fiji_bridge.segment_nuclei(crop)
        assert expected.max() > 0, name
        np.testing.assert_array_equal(saved, expected, err_msg=name)
