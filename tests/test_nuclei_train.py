"""The nucleus training script checkpoints, resumes where it stopped, runs further stages from
trained weights and writes float16 weights with their recipe."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from fiji_bridge.nucleaizer import train


def tiny_dsb(folder: Path) -> Path:
    """A DSB-style folder (train/images RGB uint8, train/masks uint16 labels, kinds.json) of disks."""
    rng = np.random.default_rng(0)
    (folder / "train" / "images").mkdir(parents=True)
    (folder / "train" / "masks").mkdir()
    yy, xx = np.mgrid[:96, :96] + 0.5
    kinds = {}
    for i, kind in enumerate(("gray_darkbg", "color", "gray_lightbg")):
        labels = np.zeros((96, 96), np.uint16)
        for k, (cy, cx) in enumerate(rng.uniform(12, 84, (6, 2)), start=1):
            labels[((yy - cy) ** 2 + (xx - cx) ** 2 <= 49) & (labels == 0)] = k
        grey = np.where(labels > 0, 180, 30).astype(np.uint8)
        tifffile.imwrite(folder / "train" / "images" / f"img{i}.tif", np.repeat(grey[..., None], 3, axis=2))
        tifffile.imwrite(folder / "train" / "masks" / f"img{i}.tif", labels)
        kinds[f"img{i}"] = kind
    (folder / "kinds.json").write_text(json.dumps(kinds))
    return folder


def test_training_resumes_and_further_stages_keep_the_record(tmp_path, capsys):
    data = tiny_dsb(tmp_path / "dsb")
    common = ["--data", str(data), "--batch", "2", "--checkpoint-minutes", "0"]
    first_run = [*common, "--work", str(tmp_path / "work"), "--out", str(tmp_path / "stage1.pt")]
    train.main([*first_run, "--budget-minutes", "0.02"])
    first = torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)
    assert first["step"] > 0 and first["elapsed"] >= 0.02 * 60
    assert (tmp_path / "work" / train.cache_name()).is_file()
    capsys.readouterr()
    train.main([*first_run, "--budget-minutes", "0.04", "--resume"])
    assert f"resumed at step {first['step']}," in capsys.readouterr().out
    second = torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)
    assert second["step"] > first["step"] and second["elapsed"] >= 0.04 * 60

    train.main([*common, "--work", str(tmp_path / "stage2"), "--out", str(tmp_path / "stage2.pt"),
                "--budget-minutes", "0.02", "--lr", "1e-3", "--seed", "1", "--init", str(tmp_path / "work" / "checkpoint.pt")])
    saved = torch.load(tmp_path / "stage2.pt", weights_only=False)
    assert all(v.dtype == torch.float16 for v in saved["state_dict"].values() if v.is_floating_point())
    stages = saved["config"]["stages"]
    assert [s["lr"] for s in stages] == [3e-3, 1e-3] and stages[0]["steps"] == second["step"]
    assert [s["seed"] for s in stages] == [0, 1]  # the sample seed of each stage is kept
    assert saved["config"]["steps"] == sum(s["steps"] for s in stages) > second["step"]


def test_a_folder_as_out_is_refused_before_training(tmp_path, capsys):
    """--out names a file; a folder used to crash only after the whole run, at export."""
    with pytest.raises(SystemExit):
        train.main(["--work", str(tmp_path / "work"), "--out", str(tmp_path)])
    assert "is a folder" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_without_out_the_weights_stay_in_the_work_folder_and_the_shipped_ones_are_untouched(tmp_path, monkeypatch):
    """A stage run without --out used to overwrite models/nucleus/nucleus_unet.pt when it ended."""
    root = Path(__file__).resolve().parents[1]
    shipped = root / "models" / "nucleus" / "nucleus_unet.pt"
    before = shipped.read_bytes()
    monkeypatch.chdir(root)  # where the README's commands run
    data = tiny_dsb(tmp_path / "dsb")
    train.main(["--data", str(data), "--batch", "2", "--checkpoint-minutes", "0", "--budget-minutes", "0.01",
                "--work", str(tmp_path / "work")])
    assert torch.load(tmp_path / "work" / "nucleus_unet.pt", weights_only=False)["config"]["steps"] > 0
    assert shipped.read_bytes() == before
