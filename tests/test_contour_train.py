"""The training script checkpoints, resumes where it stopped and writes small weights + a model card."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from fiji_bridge.contour import train, unet
from fiji_bridge.contour.model import GuidedUNet, widened


def tiny_dsb(folder: Path, n: int = 2) -> Path:
    """A DSB-style folder (images/ RGB uint8, masks/ uint16 labels) of a few disks per image."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    yy, xx = np.mgrid[:64, :64] + 0.5
    for i in range(n):
        labels = np.zeros((64, 64), np.uint16)
        for k, (cy, cx) in enumerate(rng.uniform(12, 52, (3, 2)), start=1):
            labels[((yy - cy) ** 2 + (xx - cx) ** 2 <= 36) & (labels == 0)] = k
        grey = np.where(labels > 0, 180, 30).astype(np.uint8)
        tifffile.imwrite(folder / "images" / f"img{i}.tif", np.repeat(grey[..., None], 3, axis=2))
        tifffile.imwrite(folder / "masks" / f"img{i}.tif", labels)
    return folder


def test_training_resumes_after_an_interruption_and_writes_outputs(tmp_path, capsys):
    data = tiny_dsb(tmp_path / "dsb")
    common = ["--train", str(data), "--val", str(data), "--workdir", str(tmp_path / "work"),
              "--out", str(tmp_path / "model"), "--width", "4", "--batch", "4", "--checkpoint-every", "0"]
    train.main([*common, "--minutes", "0.03"])
    first = torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)["state"]
    assert first["step"] > 0 and first["elapsed"] >= 0.03 * 60
    capsys.readouterr()
    train.main([*common, "--minutes", "0.06", "--resume"])
    assert f"resumed at step {first['step']}," in capsys.readouterr().out
    second = torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)["state"]
    assert second["step"] > first["step"] and second["elapsed"] >= 0.06 * 60
    saved = torch.load(tmp_path / "model" / "contour_unet.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in saved["state_dict"].values() if v.is_floating_point())
    assert saved["meta"]["steps"] == second["step"]
    assert json.loads((tmp_path / "model" / "training.json").read_text())["steps"] == second["step"]
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert "never `val`" in card and "Input" in card and "percentile" in card
    assert f"{len(unet.TTA_TRANSFORMS)} dihedral transforms" in card  # the passes predict() runs


def test_a_further_stage_starts_from_trained_weights_and_records_both(tmp_path):
    data = tiny_dsb(tmp_path / "dsb")
    common = ["--train", str(data), "--val", str(data), "--width", "4", "--batch", "4", "--checkpoint-every", "0"]
    train.main([*common, "--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "stage1"), "--minutes", "0.02"])
    first = torch.load(tmp_path / "work" / "checkpoint.pt", weights_only=False)
    train.main([*common, "--workdir", str(tmp_path / "stage2"), "--cache", str(tmp_path / "work"),
                "--out", str(tmp_path / "stage2_out"), "--minutes", "0.02", "--lr", "1e-3", "--seed", "1",
                "--init", str(tmp_path / "work" / "checkpoint.pt")])
    assert not list((tmp_path / "stage2").glob("*.npz"))  # samples come from the shared cache
    meta = torch.load(tmp_path / "stage2_out" / "contour_unet.pt", weights_only=True)["meta"]
    assert [s["steps"] for s in meta["stages"]][0] == first["state"]["step"]
    assert meta["stages"][1]["lr"] == 1e-3 and meta["steps"] == sum(s["steps"] for s in meta["stages"])
    assert [s["seed"] for s in meta["stages"]] == [0, 1]  # the new stage trained on newly simulated inits
    assert "stage 2:" in (tmp_path / "stage2_out" / "MODEL_CARD.md").read_text()
    assert "samples of seed 1" in (tmp_path / "stage2_out" / "MODEL_CARD.md").read_text()


def test_widening_keeps_the_function_of_the_narrower_network():
    torch.manual_seed(0)
    narrow = GuidedUNet(4).eval()
    for module in narrow.modules():  # batch norm statistics away from their defaults
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    x = torch.rand(2, 3, 32, 32)
    wide = widened(narrow, 7, noise=0.0).eval()
    assert wide.width == 7 and wide.enc[0][0].out_channels == 7 and wide.bottom[3].out_channels == 56
    assert torch.allclose(wide(x), narrow(x), atol=1e-5)
    noisy = widened(narrow, 7, noise=0.01).eval()
    assert not torch.equal(noisy(x), narrow(x))  # the copies can diverge
    with pytest.raises(ValueError, match="cannot widen"):
        widened(wide, 4)


def test_a_stage_with_a_larger_width_widens_the_previous_weights(tmp_path, capsys):
    data = tiny_dsb(tmp_path / "dsb")
    common = ["--train", str(data), "--val", str(data), "--batch", "4", "--checkpoint-every", "0",
              "--cache", str(tmp_path / "work"), "--minutes", "0.02"]
    train.main([*common, "--width", "4", "--workdir", str(tmp_path / "work")])
    capsys.readouterr()
    train.main([*common, "--width", "6", "--workdir", str(tmp_path / "stage2"), "--out", str(tmp_path / "out"),
                "--init", str(tmp_path / "work" / "checkpoint.pt")])
    assert "widening the network from width 4 to 6" in capsys.readouterr().out
    saved = torch.load(tmp_path / "out" / "contour_unet.pt", weights_only=True)
    assert saved["meta"]["width"] == 6 and saved["state_dict"]["enc.0.0.weight"].shape[0] == 6
    assert [s["width"] for s in saved["meta"]["stages"]] == [4, 6]
    assert "width 4" in (tmp_path / "out" / "MODEL_CARD.md").read_text()


def test_a_stage_from_a_checkpoint_without_lr_or_seed_records_their_old_defaults(tmp_path):
    """Checkpoints written before the lr and seed were recorded (their own and their earlier
    stages') still start a further stage; their missing fields get the defaults of that time."""
    data = tiny_dsb(tmp_path / "dsb")
    common = ["--train", str(data), "--val", str(data), "--width", "4", "--batch", "4", "--checkpoint-every", "0",
              "--cache", str(tmp_path / "work"), "--minutes", "0.02"]
    train.main([*common, "--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "stage1")])
    train.main([*common, "--workdir", str(tmp_path / "stage2"), "--out", str(tmp_path / "stage2_out"),
                "--lr", "1e-3", "--init", str(tmp_path / "work" / "checkpoint.pt")])
    old = torch.load(tmp_path / "stage2" / "checkpoint.pt", weights_only=False)
    for record in (old["state"], *old["state"]["stages"]):
        record.pop("lr", None)
        record.pop("seed", None)
    torch.save(old, tmp_path / "old.pt")
    train.main([*common, "--workdir", str(tmp_path / "stage3"), "--out", str(tmp_path / "stage3_out"),
                "--lr", "5e-4", "--seed", "1", "--init", str(tmp_path / "old.pt")])
    meta = torch.load(tmp_path / "stage3_out" / "contour_unet.pt", weights_only=True)["meta"]
    assert [(s["lr"], s["seed"]) for s in meta["stages"]] == [(train.DEFAULT_LR, 0), (train.DEFAULT_LR, 0), (5e-4, 1)]
    assert "stage 3:" in (tmp_path / "stage3_out" / "MODEL_CARD.md").read_text()


def test_a_file_as_out_is_refused_before_training(tmp_path, capsys):
    """--out names a folder; a file used to crash only after the whole run, when writing the weights."""
    (tmp_path / "weights.pt").write_bytes(b"")
    with pytest.raises(SystemExit):
        train.main(["--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "weights.pt")])
    assert "is a file" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_without_out_the_weights_stay_in_the_workdir_and_the_shipped_ones_are_untouched(tmp_path):
    """A stage run without --out used to overwrite models/contour_unet when it ended."""
    shipped = Path(__file__).resolve().parents[1] / "models" / "contour_unet"
    before = {p.name: p.read_bytes() for p in shipped.iterdir() if p.is_file()}
    data = tiny_dsb(tmp_path / "dsb")
    train.main(["--train", str(data), "--val", str(data), "--workdir", str(tmp_path / "work"), "--width", "4",
                "--batch", "4", "--checkpoint-every", "0", "--minutes", "0.01"])
    assert torch.load(tmp_path / "work" / "contour_unet.pt", weights_only=True)["meta"]["steps"] > 0
    assert {p.name: p.read_bytes() for p in shipped.iterdir() if p.is_file()} == before
