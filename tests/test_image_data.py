"""Image data loaders (VOC, web tags, AMT crowd, SD4, folder), the ResNet backbone and the feature
cache, on tiny fixtures in each published layout."""
import json
import shutil
import warnings

import numpy as np
import pytest
import torch

from fixtures_images import (FOLDER_LABELS, VOC07_TEST, VOC07_TRAINVAL, VOC12_SETS, add_amt_row,
                             corrupt, make_amt, make_image_folder, make_label_table, make_sd4,
                             make_voc, make_voc12, make_web, write_split)
from pyro_can.run_folder import RunFolder
from pyro_can import api, backbones, registry
from pyro_can.config import Config
from pyro_can.datasets import LOADERS, folder, sd4, voc, web
from pyro_can.datasets import images as image_mod
from pyro_can.errors import DataError
from pyro_can.sections import loader_sections

pytestmark = pytest.mark.filterwarnings("ignore:.*randomly initialized backbone:UserWarning")


def config(name, root, **kw):
    base = dict(data=name, root=None if root is None else str(root), arch="resnet18",
                feature_cache=True, workers=0, device="cpu", epochs=2, batch_size=4)
    base.update(kw)
    return Config(**base)


def load(name, root, noise_rate=0.0, seed=0, **kw):
    src = loader_sections(config(name, root, noise_rate=noise_rate, seed=seed,
                                 test_fraction=0.25, **kw))
    return LOADERS[name](src.data, src.images, src.runtime)


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """One copy of each fixture for the module, so the feature cache is shared between tests."""
    base = tmp_path_factory.mktemp("images")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "voc07": make_voc(base / "voc07"),
            "voc12": make_voc12(base / "voc12"),
            "web": make_web(base / "web"),
            "amt": make_amt(base / "amt"),
            "sd4": make_sd4(base / "sd4"),
            "folder": make_image_folder(base / "folder", {"apple": 4, "pear": 4}),
            "table": make_label_table(base / "table"),
        }


@pytest.fixture
def registered(monkeypatch):
    """The loaders in the registry (until registry.DATA lists them itself)."""
    for name, loader in LOADERS.items():
        monkeypatch.setitem(registry.DATA, name, loader)


def column(name):
    return voc.VOC_CLASSES.index(name)


# -- VOC -----------------------------------------------------------------------------------------
def test_voc07_items_labels_and_split(roots):
    items = voc.items(str(roots["voc07"]))
    assert items.class_names == voc.VOC_CLASSES and not items.single_label
    assert items.ids == list(VOC07_TRAINVAL) + list(VOC07_TEST)
    assert list(items.split) == ["train"] * 8 + ["test"] * 4
    for image_id, objects in {**VOC07_TRAINVAL, **VOC07_TEST}.items():
        row = items.labels[items.ids.index(image_id)]
        assert set(np.flatnonzero(row)) == {column(n) for n, _ in objects}  # difficult included
    assert all(p.endswith(f"JPEGImages/{i}.jpg") for p, i in zip(items.paths, items.ids))
    strict = voc.items(str(roots["voc07"]), include_difficult=False)
    assert strict.labels[strict.ids.index("000020"), column("person")] == 0  # only difficult
    assert strict.labels[strict.ids.index("000020"), column("car")] == 1


def test_voc07_features_are_cached_and_six_crops_averaged(roots, monkeypatch):
    first = load("voc07", roots["voc07"])
    items = voc.items(str(roots["voc07"]))
    assert first.x_train.shape == (8, 512) and first.x_test.shape == (4, 512)
    assert first.x_train.dtype == np.float32 and abs(first.x_train.mean()) < 1e-4
    assert np.array_equal(first.ann_labels, items.labels[:8])
    assert np.array_equal(first.y_test, items.labels[8:])
    assert np.array_equal(first.y_train_clean, items.labels[:8]) and not first.corrupted.any()
    assert list(first.train_ids) == list(range(8)) and list(first.test_ids) == list(range(8, 12))
    cached = list((roots["voc07"] / ".pyro_can_cache").glob("resnet18-centre-*.npz"))
    assert len(cached) == 2  # train and test lists

    def no_backbone(*a, **k):
        raise AssertionError("the backbone ran although the features are cached")

    with monkeypatch.context() as m:
        m.setattr(backbones, "build_backbone", no_backbone)
        again = load("voc07", roots["voc07"])
    assert np.array_equal(first.x_train, again.x_train)
    six = load("voc07", roots["voc07"], test_crops=6)
    assert six.x_test.shape == (4, 512) and not np.allclose(six.x_test, first.x_test)
    assert np.array_equal(six.x_train, first.x_train)
    noisy = load("voc07", roots["voc07"], noise_rate=1.0)
    assert np.array_equal(noisy.corrupted, (noisy.ann_labels != first.ann_labels).any(1))
    assert noisy.corrupted.any() and np.array_equal(noisy.y_test, first.y_test)


def test_six_crop_view_is_corners_centre_and_full_image():
    from PIL import Image

    img = Image.new("RGB", (300, 200))
    crops = backbones.six_crop_view()(img)
    assert crops.shape == (6, 3, 224, 224)
    assert backbones.centre_view()(img).shape == (3, 224, 224)
    assert backbones.train_view()(img).shape == (3, 224, 224)


def test_voc12_trains_on_trainval_minus_val(roots):
    items = voc.items(str(roots["voc12"]), "2012")
    assert [i for i, s in zip(items.ids, items.split) if s == "train"] == VOC12_SETS["train"]
    assert [i for i, s in zip(items.ids, items.split) if s == "test"] == VOC12_SETS["val"]
    assert items.notes and "kept out of training" in items.notes[0]
    data = load("voc12", roots["voc12"])
    assert data.num_items == 5 and len(data.y_test) == 3


def test_voc_missing_split_file_and_bad_split(tmp_path):
    root = make_voc(tmp_path, sets={"trainval": ["000007"]}, objects={"000007": [("car", 0)]})
    with pytest.raises(DataError, match=r"ImageSets/Main/test\.txt: missing"):
        load("voc07", root)
    with pytest.raises(DataError, match="VOC2007 image sets are"):
        load("voc07", root, split="bogus")
    with pytest.raises(DataError, match="cannot be the training set"):
        load("voc07", root, split="trainval")
    with pytest.raises(DataError, match="no VOCdevkit/VOC2012"):
        load("voc12", root)


def test_voc_bad_annotation_and_missing_image(tmp_path):
    root = make_voc(tmp_path, sets={"trainval": ["000007"], "test": ["000008"]},
                    objects={"000007": [("car", 0)], "000008": [("zebra", 0)]})
    with pytest.raises(DataError, match=r"000008\.xml: object class 'zebra'"):
        voc.items(str(root))
    ann = root / "VOCdevkit" / "VOC2007" / "Annotations" / "000008.xml"
    ann.write_text("<annotation><object>")
    with pytest.raises(DataError, match=r"000008\.xml: cannot parse"):
        voc.items(str(root))
    make_voc(tmp_path, sets={"trainval": ["000007"], "test": ["000008"]},
             objects={"000007": [("car", 0)], "000008": [("dog", 0)]})
    (root / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000008.jpg").unlink()
    with pytest.raises(DataError, match=r"000008\.jpg: image of '000008'"):
        voc.items(str(root))


# -- web -----------------------------------------------------------------------------------------
def test_web_maps_tags_through_synonyms_and_drops_unknown(roots):
    with pytest.warns(UserWarning, match="2 of 10 images have no tag"):
        items = web.items(str(roots["web"]))
    assert items.dropped == 2 and len(items) == 8
    assert "c/sunset.jpg" not in items.ids and "c/food.jpg" not in items.ids
    expect = {"a/dog1.jpg": {"dog"}, "a/dog2.jpg": {"dog"}, "a/cat1.jpg": {"cat", "sofa"},
              "b/cat2.jpg": {"cat"}, "b/car1.jpg": {"car"}, "b/car2.jpg": {"car"},
              "c/plane.jpg": {"aeroplane"}, "c/train.jpg": {"train"}}
    for image_id, classes in expect.items():
        row = items.labels[items.ids.index(image_id)]
        assert set(np.flatnonzero(row)) == {column(c) for c in classes}
    assert (items.split == "test").sum() == 2


def test_web_all_unknown_tags_is_an_error(tmp_path):
    make_web(tmp_path, rows=[("x.jpg", "sunset"), ("y.jpg", "food yummy")])
    with pytest.raises(DataError, match="none of its 2 images has a tag that maps"):
        web.items(str(tmp_path))


def test_web_user_synonyms(roots, tmp_path):
    root = tmp_path / "web"
    shutil.copytree(roots["web"], root, ignore=shutil.ignore_patterns(".pyro_can_cache"))
    (root / "synonyms.json").write_text(json.dumps({"canine": ["dog", "puppy"],
                                                    "feline": ["cat", "kitten"]}))
    with pytest.warns(UserWarning, match="6 of 10"):
        items = web.items(str(root))
    assert items.class_names == ["canine", "feline"] and len(items) == 4
    assert items.labels.tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]  # "#Puppies" -> puppy
    (root / "synonyms.json").write_text('["dog"]')
    with pytest.raises(DataError, match="synonyms.json: expected an object"):
        web.items(str(root))


def test_web_tested_on_clean_voc07(roots):
    with pytest.warns(UserWarning, match="2 of 10"):
        data = load("web", roots["web"], test=f"voc07:{roots['voc07']}")
    vitems = voc.items(str(roots["voc07"]))
    assert data.num_items == 8 and data.y_train_clean is None and data.corrupted is None
    assert np.array_equal(data.y_test, vitems.labels[vitems.split == "test"])
    with pytest.raises(DataError, match="expected NAME:DIR"):
        load("web", roots["web"], test="voc07")


# -- AMT -----------------------------------------------------------------------------------------
def test_amt_keeps_every_answer(roots):
    data = load("amt", roots["amt"], arch="mlp", feature_cache=False)
    rows = (roots["amt"] / "annotations.csv").read_text().splitlines()[1:]
    assert data.num_items == 24 and data.num_annotations == len(rows) > data.num_items
    assert data.has_crowd and data.single_label and data.class_names == ["class0", "class1",
                                                                         "class2"]
    assert set(data.ann_worker) == {0, 1, 2, 3}  # W0..W3 numbered in sorted order
    item, worker, label = rows[0].split(",")
    assert data.ann_labels[0].argmax() == int(label) and data.ann_item[0] == int(item)
    assert np.array_equal(data.y_test.argmax(1), np.arange(24, 36) % 3)
    assert data.x_test.shape == (12, 6)


def test_amt_bad_rows_name_the_line(roots, tmp_path):
    root = tmp_path / "amt"
    shutil.copytree(roots["amt"], root)
    line = add_amt_row(root, 3, "W1", 5)
    with pytest.raises(DataError, match=rf"annotations\.csv line {line}: label 5 is out of range "
                                        r"0\.\.2"):
        load("amt", root, arch="mlp")
    make_amt(root)
    line = add_amt_row(root, 99, "W1", 0)
    with pytest.raises(DataError, match=rf"line {line}: item 99 is out of range"):
        load("amt", root, arch="mlp")
    make_amt(root)
    add_amt_row(root, 2, "W1", "two")
    with pytest.raises(DataError, match="label 'two' is not an integer"):
        load("amt", root, arch="mlp")
    with pytest.raises(DataError, match="reads feature vectors"):
        load("amt", roots["amt"], arch="resnet18")


def test_amt_split_json(tmp_path):
    root = make_amt(tmp_path, classes=False)
    write_split(root, range(0, 20), range(24, 36))
    data = load("amt", root, arch="mlp")
    assert data.num_items == 20 and data.class_names == ["0", "1", "2"]
    write_split(root, range(0, 20), range(10, 30))
    with pytest.raises(DataError, match="in both 'train' and 'test'"):
        load("amt", root, arch="mlp")


# -- SD4 and folder ------------------------------------------------------------------------------
def test_sd4_noisy_train_clean_test(roots, tmp_path):
    items = sd4.items(str(roots["sd4"]))
    assert items.class_names == ["jacket", "shirt", "sweater"] and items.single_label
    assert list(items.split).count("train") == 8 and list(items.split).count("test") == 4
    data = load("sd4", roots["sd4"])
    assert np.array_equal(data.y_test.argmax(1), [0, 0, 1, 1])
    assert data.y_train_clean is None and data.single_label
    make_image_folder(tmp_path / "train", {"a": 1})
    make_image_folder(tmp_path / "test", {"a": 1, "b": 1})
    with pytest.raises(DataError, match="class folder.*b have no training folder"):
        sd4.items(str(tmp_path))


def test_folder_layouts(roots):
    items = folder.items(str(roots["folder"]), test_fraction=0.25, seed=0)
    assert items.class_names == ["apple", "pear"] and items.single_label
    test = items.labels[items.split == "test"]
    assert len(test) == 2 and set(test.argmax(1)) == {0, 1}  # stratified
    table = folder.items(str(roots["table"]))
    assert table.class_names == ["blue", "red", "round", "square"] and not table.single_label
    for image, labels in FOLDER_LABELS:
        row = table.labels[table.ids.index(image)]
        got = {table.class_names[c] for c in np.flatnonzero(row)}
        assert got == set(labels.replace(";", " ").replace(",", " ").split())
    data = load("folder", roots["folder"], noise_rate=1.0, seed=1)
    assert data.single_label and data.num_items == 6 and data.corrupted.any()
    given = load("folder", roots["folder"], seed=1)  # the folder's own labels: truth unknown
    assert given.y_train_clean is None and given.corrupted is None
    assert data.y_train_clean is None
    assert np.array_equal(data.corrupted, (data.ann_labels != given.ann_labels).any(1))


def test_corrupt_image_names_the_file(roots, tmp_path):
    root = tmp_path / "folder"
    shutil.copytree(roots["folder"], root, ignore=shutil.ignore_patterns(".pyro_can_cache"))
    bad = corrupt(root / "pear" / "pear_2.jpg")
    with pytest.raises(DataError, match=rf"{bad}: cannot read image"):
        load("folder", root, workers=1)  # the error crosses a DataLoader worker cleanly
    data = (root / "apple" / "apple_1.jpg").read_bytes()
    (root / "pear" / "pear_2.jpg").write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(DataError, match=rf"{bad}: cannot read image"):
        load("folder", root)


# -- options and the backbone --------------------------------------------------------------------
def test_image_options_are_checked_first(roots, tmp_path):
    with pytest.raises(DataError, match="reads images: choose a backbone"):
        load("folder", roots["folder"], arch="mlp")
    with pytest.raises(DataError, match="--test-crops must be 1 or 6"):
        load("voc07", roots["voc07"], test_crops=3)
    with pytest.raises(DataError, match="needs --root"):
        load("sd4", None)
    with pytest.raises(DataError, match="no such folder"):
        load("web", tmp_path / "nope")
    with pytest.raises(DataError, match="image backbones are resnet18, resnet34"):
        load("folder", roots["folder"], arch="vgg16")


def test_backbone_weights(tmp_path):
    with pytest.warns(UserWarning, match="randomly initialized"):
        net = backbones.build_backbone("resnet18")
    assert isinstance(net.fc, torch.nn.Identity)
    state = {k: v + 1.0 if v.is_floating_point() else v for k, v in net.state_dict().items()}
    good = tmp_path / "r18.pth"
    torch.save({"state_dict": {**state, "fc.weight": torch.zeros(1000, 512),
                               "fc.bias": torch.zeros(1000)}}, good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no random-init warning with weights
        loaded = backbones.build_backbone("resnet18", str(good))
    assert torch.equal(loaded.conv1.weight, state["conv1.weight"])
    wrong = dict(state)
    del wrong["layer4.1.bn2.weight"]
    wrong["layer1.0.conv1.weight"] = torch.zeros(3, 3)
    torch.save(wrong, tmp_path / "wrong.pth")
    with pytest.raises(DataError, match=r"keys do not match torchvision's resnet18 \(missing: "
                                        r"layer4\.1\.bn2\.weight; wrong shape: layer1"):
        backbones.build_backbone("resnet18", str(tmp_path / "wrong.pth"))
    with pytest.raises(DataError, match="no such file"):
        backbones.build_backbone("resnet18", str(tmp_path / "missing.pth"))
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(DataError, match="cannot read as a torch state dict"):
        backbones.build_backbone("resnet18", str(tmp_path / "junk.pth"))


def test_weights_change_the_cache_key(roots, tmp_path):
    net = backbones.build_backbone("resnet18", warn=False)
    torch.save(net.state_dict(), tmp_path / "same.pth")
    ex_random = image_mod.Extractor(loader_sections(config("folder", roots["folder"])).images)
    ex_file = image_mod.Extractor(loader_sections(config(
        "folder", roots["folder"], weights=str(tmp_path / "same.pth"))).images)
    paths = folder.items(str(roots["folder"])).paths
    root = str(roots["folder"])
    assert ex_random.key(paths, "centre", root) != ex_file.key(paths, "centre", root)
    assert ex_random.key(paths, "centre", root) != ex_random.key(paths, "six", root)


# -- end to end: two epochs on each fixture ------------------------------------------------------
FITS = {
    "voc07": ("voc07", {}),
    "voc12": ("voc12", {}),
    "web": ("web", {"test": "voc07:{voc07}"}),
    "amt": ("amt", {"arch": "mlp", "feature_cache": False}),  # feature vectors: no backbone
    "sd4": ("sd4", {}),
    "folder": ("table", {"noise_rate": 0.2}),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(FITS))
def test_two_epoch_fit(name, roots, registered, tmp_path):
    key, extra = FITS[name]
    extra = {k: v.format(voc07=roots["voc07"]) if isinstance(v, str) else v
             for k, v in extra.items()}
    result = api.fit(config(name, roots[key], **extra), out=tmp_path / "run")
    m = result.metrics
    assert m["epochs"] == 2 and np.isfinite(m["test_mAP"])
    assert (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_fit_voc07(cli, roots, registered, tmp_path):
    code, out, err = cli("fit", "--data", "voc07", "--root", roots["voc07"], "--arch",
                         "resnet18", "--feature-cache", "--epochs", "2", "--batch-size", "4",
                         "--workers", "0", "--device", "cpu", "--out", tmp_path / "run")
    assert code == 0, err
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["epochs"] == 2 and m["train_items"] == 8
    code, out, err = cli("fit", "--data", "digits", "--arch", "resnet18", "--out",
                         tmp_path / "run2")
    assert code == 2 and "--data digits holds feature vectors, not images" in err
    assert not (tmp_path / "run2").exists()


# -- end to end: the backbone trains with the heads (no --feature-cache) ---------------------------
@pytest.mark.filterwarnings("ignore::UserWarning")
# voc07 runs end to end through the CLI below; voc12 and sd4 take the same path
# (images.image_dataset) as these two
@pytest.mark.parametrize("name", ["web", "folder"])
def test_two_epoch_end_to_end_fit(name, roots, registered, tmp_path):
    key, extra = FITS[name]
    extra = {k: v.format(voc07=roots["voc07"]) if isinstance(v, str) else v
             for k, v in extra.items()}
    cfg = config(name, roots[key], feature_cache=False, **extra)
    result = api.fit(cfg, out=tmp_path / "run")
    m = result.metrics
    assert m["epochs"] == 2 and np.isfinite(m["test_mAP"])
    reloaded = RunFolder(tmp_path / "run").trainer()  # an end-to-end run reloads with its images
    assert m["train_items"] == len(reloaded.data.pixels.train_paths)
    # the backbone itself learned: its first convolution moved away from the initialization
    start = backbones.build_backbone(cfg.arch, warn=False).conv1.weight
    trained = result.model.classifier.backbone.conv1.weight.detach().cpu()
    assert not torch.allclose(start, trained)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_end_to_end_with_workers_and_six_crops(cli, roots, registered, tmp_path):
    code, out, err = cli("fit", "--data", "voc07", "--root", roots["voc07"], "--arch",
                         "resnet18", "--epochs", "2", "--batch-size", "4", "--workers", "1",
                         "--test-crops", "6", "--device", "cpu", "--out", tmp_path / "run")
    assert code == 0, err
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["epochs"] == 2 and m["train_items"] == 8 and np.isfinite(m["test_mAP"])
    code, out, err = cli("evaluate", tmp_path / "run", "--json")
    assert code == 0, err
    assert abs(json.loads(out)["test_mAP"] - m["test_mAP"]) < 1e-5


def test_end_to_end_checks_every_image_first(roots, tmp_path):
    root = tmp_path / "folder"
    shutil.copytree(roots["folder"], root, ignore=shutil.ignore_patterns(".pyro_can_cache"))
    bad = corrupt(root / "apple" / "apple_3.jpg")
    with pytest.raises(DataError, match=rf"{bad}: cannot read image"):
        load("folder", root, feature_cache=False)
