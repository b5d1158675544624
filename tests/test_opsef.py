"""OpSeF projects in OpSeF's real layout, built from dsb2018/val: import, export, re-import checks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from fiji_bridge.annotation import Annotation
from fiji_bridge.errors import InputError
from fiji_bridge.formats.masks import label_mask
from fiji_bridge.formats.opsef import export_opsef, load_opsef, read_pair_list
from fiji_bridge.rois.roiset import read_roiset, write_roiset

IDS = ("06350c7cc618", "0bda515e3702", "13c8ff1f4988")  # three 256 x 256 val images


def _val_file(val: Path, folder: str, prefix: str) -> Path:
    [path] = (val / folder).glob(prefix + "*.tif")
    return path


@pytest.fixture(scope="module")
def truth(dsb_val) -> dict[str, np.ndarray]:
    """The val labels with every 4th object filtered out (zeroed, not relabelled), as OpSeF does."""
    out = {}
    for prefix in IDS:
        labels = tifffile.imread(_val_file(dsb_val, "masks", prefix)).astype(np.int32)
        out[prefix] = np.where(labels % 4 == 0, 0, labels)
    return out


def _group(label: int) -> int:
    return 1 if label % 2 else 2


@pytest.fixture
def project(tmp_path, dsb_val, truth):
    """Processed_run001/ with 00_InputRaw, 02_SegMasks, 07_ClassifiedSegMasks and lists: masks
    list with ``root;`` line, CRLF and backslashes; classes list with LF and slashes; a list with
    a stale root line; a list outside the project that only its root line locates."""
    root = tmp_path / "Processed_run001"
    for sub in ("00_InputRaw", "02_SegMasks", "07_ClassifiedSegMasks", "10_ImportExport"):
        (root / sub).mkdir(parents=True)
    mask_rows, class_rows = [f"root;{root}"], []
    for i, prefix in enumerate(IDS):
        rgb = tifffile.imread(_val_file(dsb_val, "images", prefix))
        tifffile.imwrite(root / "00_InputRaw" / f"8bitSum_img{i}.tif", rgb.mean(axis=2).astype(np.uint8))
        labels = truth[prefix]
        mask = f"000_CP_Mask_1_batch_img{i}.tif"
        tifffile.imwrite(root / "02_SegMasks" / mask, labels.astype(np.uint16 if i else np.int32))
        classes = []
        for group in (1, 2):
            name = f"000_CP_MaskClass{group:02d}_1_batch_img{i}.tif"
            keep = np.isin(labels, [k for k in np.unique(labels) if k and _group(k) == group])
            tifffile.imwrite(root / "07_ClassifiedSegMasks" / name, np.where(keep, labels, 0).astype(np.uint16))
            classes.append(f"/07_ClassifiedSegMasks/{name}")
        mask_rows.append(f"\\00_InputRaw\\8bitSum_img{i}.tif;\\02_SegMasks\\{mask}")
        class_rows.append(f"/00_InputRaw/8bitSum_img{i}.tif;" + "".join(c + ";" for c in classes))
    lists = root / "10_ImportExport"
    (lists / "FilePairList_dsb_run001.txt").write_bytes("\r\n".join(mask_rows).encode() + b"\r\n")
    (lists / "FilePairList_Classes_dsb_run001.txt").write_text("\n".join(class_rows) + "\n")
    (lists / "sub").mkdir()  # found only through its root line (with a trailing ';')
    (lists / "sub" / "FilePairList_sub_run001.txt").write_text(f"root;{root};\n" + "\n".join(mask_rows[1:]))
    (lists / "FilePairList_moved_run001.txt").write_text(
        "root;/elsewhere/Processed_run001\n" + "\n".join(r.replace("\\", "/") for r in mask_rows[1:]))
    return root


def _check_import(stack, truth) -> None:
    assert stack.images.shape == (3, 256, 256) and stack.images.dtype == np.uint8
    for slice_no, prefix in enumerate(IDS, start=1):
        labels = truth[prefix]
        anns = [a for a in stack.annotations if a.position == slice_no]
        present = [k for k in np.unique(labels).tolist() if k]
        assert [a.name for a in anns] == [f"{k:04d}" for k in present]  # the label is kept in the name
        assert [a.group for a in anns] == [_group(k) for k in present]
        assert np.array_equal(label_mask(anns, labels.shape, by="name"), labels)


@pytest.mark.parametrize("list_name", ["FilePairList_dsb_run001.txt", "FilePairList_Classes_dsb_run001.txt",
                                       "FilePairList_moved_run001.txt", "sub/FilePairList_sub_run001.txt"])
def test_import_gives_slices_labels_names_and_classes(project, truth, list_name):
    stack = load_opsef(project / "10_ImportExport" / list_name)
    assert stack.project.root == project
    assert not any(stack.from_tmp_rois)
    _check_import(stack, truth)


def test_import_prefers_rois_saved_from_fiji(project):
    saved = [Annotation([(1, 1), (9, 1), (9, 9), (1, 9)], name="0042", group=2)]
    (project / "12_TmpRoisFromFiji").mkdir()
    write_roiset(project / "12_TmpRoisFromFiji" / "000_CP_Mask_1_batch_img1_ROIs.zip", saved)
    stack = load_opsef(project / "10_ImportExport" / "FilePairList_dsb_run001.txt")
    assert stack.from_tmp_rois == [False, True, False]
    second = [a for a in stack.annotations if a.position == 2]
    assert [(a.name, a.group) for a in second] == [("0042", 2)]


def _reimport_like_opsef(root: Path, list_file: Path) -> list[tuple[Path, Path]]:
    """What OpSeF's re-import does: CRLF lines, optional root line, backslashes normalised,
    paths relative to the root; every file must exist and each mask must match its image."""
    raw = list_file.read_bytes()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    pairs = []
    for line in raw.decode().split("\r\n"):
        fields = [f for f in line.split(";") if f]
        if not fields or fields[0] == "root":
            continue
        paths = [root / f.replace("\\", "/").lstrip("/") for f in fields]
        assert all(p.is_file() for p in paths), paths
        image = tifffile.imread(paths[0])
        for mask in paths[1:]:
            assert tifffile.imread(mask).shape == image.shape
        pairs.append((paths[0], *paths[1:]))
    return pairs


def test_export_passes_opsef_reimport_checks_and_keeps_labels(project, truth):
    list_file = project / "10_ImportExport" / "FilePairList_dsb_run001.txt"
    stack = load_opsef(list_file)
    first = [a for a in stack.annotations if a.position == 1]
    second = [a for a in stack.annotations if a.position == 2]
    removed = first[0]
    added = Annotation([(100, 100), (120, 100), (120, 110), (100, 110)], name="0105-0110", group=1, position=2)
    edited = [a for a in first[1:]] + second + [added]  # slice 3 left without ROIs
    written = export_opsef(list_file, edited)
    assert len(written) == 2 * (1 + 1 + 2) + 2

    masks_list = project / "10_ImportExport" / "FilePairList_fromFiji_Masks.txt"
    pairs = _reimport_like_opsef(project, masks_list)
    lines = masks_list.read_bytes().decode().split("\r\n")
    assert lines[0] == f"root;{project}"
    assert lines[1] == "\\00_InputRaw\\8bitSum_img0.tif;/11_SegMasksFromFiji/000_CP_Mask_1_batch_img0.tif"
    assert [p[0].name for p in pairs] == ["8bitSum_img0.tif", "8bitSum_img1.tif"]  # empty slice 3 skipped

    labels0 = tifffile.imread(pairs[0][1])
    assert np.array_equal(labels0, np.where(truth[IDS[0]] == int(removed.name), 0, truth[IDS[0]]))
    labels1 = tifffile.imread(pairs[1][1])
    expected1 = truth[IDS[1]].copy()
    new_label = expected1.max() + 1  # a new ROI gets max + 1, the others keep their labels
    expected1[100:110, 100:120] = new_label
    assert np.array_equal(labels1, expected1)

    class_pairs = _reimport_like_opsef(project, project / "10_ImportExport" / "FilePairList_fromFiji_Classes.txt")
    assert [p[1].name for p in class_pairs] == ["000_CP_MaskClass01_1_batch_img0.tif", "000_CP_MaskClass01_1_batch_img1.tif"]
    for (_, class1, class2), labels in zip(class_pairs, (labels0, labels1)):
        c1, c2 = tifffile.imread(class1), tifffile.imread(class2)
        assert np.array_equal(c1 + c2, labels)
        assert all(_group(k) == 1 or k == new_label for k in np.unique(c1)[1:])
        assert all(_group(k) == 2 for k in np.unique(c2)[1:])

    zipped = read_roiset(project / "12_TmpRoisFromFiji" / "000_CP_Mask_1_batch_img1_ROIs.zip")
    assert zipped[-1].name == f"{new_label:04d}" and {a.position for a in zipped} == {2}

    again = load_opsef(project / "10_ImportExport" / "FilePairList_fromFiji_Masks.txt")
    assert again.from_tmp_rois == [True, True]
    reread = [a for a in again.annotations if a.position == 2]
    assert [(a.name, a.group) for a in reread] == [(a.name, a.group) for a in zipped]


def test_second_export_needs_overwrite_and_changes_nothing_without_it(project):
    list_file = project / "10_ImportExport" / "FilePairList_Classes_dsb_run001.txt"
    anns = load_opsef(list_file).annotations
    export_opsef(list_file, anns)
    masks_list = project / "10_ImportExport" / "FilePairList_fromFiji_Masks.txt"
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    fewer = [a for a in anns if a.position != 1]
    with pytest.raises(InputError, match="exists already"):
        export_opsef(list_file, fewer)
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before
    export_opsef(list_file, fewer, overwrite=True)
    assert len(masks_list.read_bytes().decode().strip().split("\r\n")) == 2
    assert masks_list.read_bytes().decode().startswith("/00_InputRaw/8bitSum_img1.tif;/11_SegMasksFromFiji/")


def test_rois_without_a_slice_are_refused(project):
    list_file = project / "10_ImportExport" / "FilePairList_dsb_run001.txt"
    with pytest.raises(InputError, match="slice"):
        export_opsef(list_file, [Annotation([(0, 0), (5, 0), (5, 5)], name="x")])
    assert not (project / "11_SegMasksFromFiji").exists()


def test_missing_file_is_named(project):
    (project / "02_SegMasks" / "000_CP_Mask_1_batch_img2.tif").unlink()
    with pytest.raises(InputError, match=r"FilePairList_dsb_run001.txt, line 4: the mask .*img2.tif is not found"):
        read_pair_list(project / "10_ImportExport" / "FilePairList_dsb_run001.txt")


def test_images_of_different_sizes_are_refused(project):
    tifffile.imwrite(project / "00_InputRaw" / "8bitSum_img1.tif", np.zeros((200, 256), np.uint8))
    with pytest.raises(InputError, match=r"8bitSum_img1.tif is 256x200 but .*8bitSum_img0.tif is 256x256"):
        load_opsef(project / "10_ImportExport" / "FilePairList_dsb_run001.txt")


def test_mask_of_another_size_is_refused(project):
    tifffile.imwrite(project / "02_SegMasks" / "000_CP_Mask_1_batch_img2.tif", np.zeros((256, 300), np.uint16))
    with pytest.raises(InputError, match=r"mask .*000_CP_Mask_1_batch_img2.tif is 300x256 pixels but its image is 256x256"):
        load_opsef(project / "10_ImportExport" / "FilePairList_dsb_run001.txt")

