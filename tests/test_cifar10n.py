"""CIFAR-10N (Wei et al., ICLR 2022) on tiny generated trees in both image layouts: the right
items, labels, workers and index mapping; a label file with a foreign object is refused; fits
through the CLI on features and on images; the batch augmentation."""
import hashlib
import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from pyro_can.run_folder import RunFolder
from pyro_can.config import Config
from pyro_can.datasets import cifar10n
from pyro_can.datasets.tensor_images import augment
from pyro_can.errors import DataError
from pyro_can.sections import loader_sections

PER_CLASS_TRAIN, PER_CLASS_TEST = 6, 2
N_TRAIN, N_TEST = 10 * PER_CLASS_TRAIN, 10 * PER_CLASS_TEST


def _image(i: int, test: bool = False) -> np.ndarray:
    """A flat-coloured 32×32 image whose colour encodes its index (survives JPEG)."""
    colour = (4 * i % 256, 255 - 4 * i % 256, 200 if test else 40)
    return np.broadcast_to(np.array(colour, np.uint8), (32, 32, 3)).copy()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Label file, side info, python batches and folder layout of one tiny CIFAR-10N."""
    root = tmp_path_factory.mktemp("cifar10n")
    rng = np.random.default_rng(0)
    clean = rng.permutation(np.repeat(np.arange(10), PER_CLASS_TRAIN))
    answers = [np.where(rng.random(N_TRAIN) < 0.3, rng.integers(0, 10, N_TRAIN), clean)
               for _ in range(3)]
    votes = np.stack(answers, 1)
    aggre = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    worse = np.where((votes != clean[:, None]).any(1), votes[np.arange(N_TRAIN),
                     (votes != clean[:, None]).argmax(1)], clean)
    labels = {"clean_label": clean, "aggre_label": aggre, "worse_label": worse,
              "random_label1": answers[0], "random_label2": answers[1],
              "random_label3": answers[2]}
    torch.save(labels, root / cifar10n.LABEL_FILE)  # numpy arrays pickled, as published
    workers = rng.integers(0, 7, (N_TRAIN // 10, 3))
    with open(root / cifar10n.SIDE_INFO, "w") as fh:
        fh.write("Image-batch,Worker1-id,Work-time-in-seconds-1,Worker2-id,"
                 "Work-time-in-seconds-2,Worker3-id,Work-time-in-seconds-3\n")
        for b, (w1, w2, w3) in enumerate(workers):
            fh.write(f"{10 * b}--{10 * b + 9},{w1},20,{w2},30,{w3},40\n")
    test_labels = np.repeat(np.arange(10), PER_CLASS_TEST)
    # torchvision's python layout: pickled dicts of (N, 3072) uint8 rows and int labels
    py = root / "python" / cifar10n.PYTHON_LAYOUT
    py.mkdir(parents=True)
    train_x = np.stack([_image(i) for i in range(N_TRAIN)])
    test_x = np.stack([_image(i, test=True) for i in range(N_TEST)])
    chunks = np.array_split(np.arange(N_TRAIN), 5)
    for k, rows in enumerate(chunks, 1):
        _pickle(py / f"data_batch_{k}", train_x[rows], clean[rows])
    _pickle(py / "test_batch", test_x, test_labels)
    with open(py / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": cifar10n.CLASS_NAMES}, fh)
    # the shared copy's folder layout: file NNNN of class c = the NNNN-th image of class c
    folder = root / "folder"
    for c, name in enumerate(cifar10n.CLASS_NAMES):
        for split in ("train", "test"):
            (folder / "images" / split / name).mkdir(parents=True)
        for rank, i in enumerate(np.flatnonzero(clean == c)):
            Image.fromarray(train_x[i]).save(folder / "images" / "train" / name / f"{rank:04d}.jpg")
        for rank, i in enumerate(np.flatnonzero(test_labels == c)):
            Image.fromarray(test_x[i]).save(folder / "images" / "test" / name / f"{rank:04d}.jpg")
    for d in (root / "python", folder):
        for f in (cifar10n.LABEL_FILE, cifar10n.SIDE_INFO):
            (d / f).write_bytes((root / f).read_bytes())
    # features in the shared copy's row order: training rows (python order), then test rows
    x = np.concatenate([train_x.reshape(N_TRAIN, -1)[:, :8], test_x.reshape(N_TEST, -1)[:, :8]])
    x = (x + rng.normal(size=x.shape)).astype(np.float16)
    np.savez(root / "features.npz", X=x, y_clean=np.concatenate([clean, test_labels]))
    return {"root": root, "labels": labels, "workers": workers, "train_x": train_x,
            "test_x": test_x, "test_labels": test_labels}


def _pickle(path, x, y):
    with open(path, "wb") as fh:
        pickle.dump({"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1),
                     "labels": [int(v) for v in y]}, fh)


@pytest.fixture
def trusted_md5(tree, monkeypatch):
    """torchvision opens only batch files whose MD5 it knows; teach it the generated ones."""
    from torchvision.datasets import CIFAR10

    py = tree["root"] / "python" / cifar10n.PYTHON_LAYOUT

    def md5(name):
        return hashlib.md5((py / name).read_bytes()).hexdigest()
    monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{k}", md5(f"data_batch_{k}")]
                                                for k in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5("test_batch")]])
    monkeypatch.setattr(CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names",
                                          "md5": md5("batches.meta")})


def _load(root, **kw):
    kw.setdefault("arch", "cifar-resnet18")
    src = loader_sections(Config(data="cifar10n", root=str(root), **kw))
    return cifar10n.load_cifar10n(src.data, src.images, src.runtime)


def _answers(data):
    return data.ann_labels.argmax(1)


@pytest.mark.parametrize("layout", ["python", "folder"])
def test_both_layouts_map_items_to_the_label_file(tree, layout, trusted_md5):
    data = _load(tree["root"] / layout, labels="worst")
    px = data.pixels
    assert px.train.shape == (N_TRAIN, 3, 32, 32) and px.test.shape == (N_TEST, 3, 32, 32)
    # item i is training image i of the python order, whatever the layout
    err = (px.train.permute(0, 2, 3, 1).float() - torch.as_tensor(tree["train_x"]).float()).abs()
    assert err.amax(dim=(1, 2, 3)).max() <= 3  # JPEG of a flat colour: within a few levels
    err = (px.test.permute(0, 2, 3, 1).float() - torch.as_tensor(tree["test_x"]).float()).abs()
    assert err.amax(dim=(1, 2, 3)).max() <= 3
    np.testing.assert_array_equal(_answers(data), tree["labels"]["worse_label"])
    np.testing.assert_array_equal(data.y_train_clean.argmax(1), tree["labels"]["clean_label"])
    np.testing.assert_array_equal(data.y_test.argmax(1), tree["test_labels"])
    assert data.class_names == cifar10n.CLASS_NAMES and not data.has_crowd
    assert (data.ann_worker == -1).all()


def test_crowd_keeps_three_answers_with_their_workers(tree):
    data = _load(tree["root"] / "folder", labels="crowd")
    assert data.num_items == N_TRAIN and data.num_annotations == 3 * N_TRAIN and data.has_crowd
    answers = _answers(data).reshape(N_TRAIN, 3)
    for k in range(3):
        np.testing.assert_array_equal(answers[:, k], tree["labels"][f"random_label{k + 1}"])
    np.testing.assert_array_equal(data.ann_worker.reshape(N_TRAIN, 3),
                                  np.repeat(tree["workers"], 10, axis=0))


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_a_label_file_with_a_foreign_object_is_refused(tree, tmp_path, capsys):
    bad = tmp_path / cifar10n.LABEL_FILE
    torch.save({**tree["labels"], "extra": _Evil()}, bad)
    with pytest.raises(DataError, match="only numpy arrays"):
        cifar10n.read_human_labels(str(bad))
    assert "unpickled!" not in capsys.readouterr().out


def test_features_must_line_up_with_the_label_file(tree, tmp_path):
    f = np.load(tree["root"] / "features.npz")
    shuffled = tmp_path / "f.npz"
    np.savez(shuffled, X=f["X"], y_clean=np.roll(f["y_clean"], 1))
    with pytest.raises(DataError, match="do not line up"):
        _load(tree["root"] / "folder", arch="mlp", features=str(shuffled))
    with pytest.raises(DataError, match="--arch cifar-resnet18"):
        _load(tree["root"] / "folder", arch="mlp")


def test_fit_on_features_through_the_cli(cli, tree, tmp_path):
    run = tmp_path / "feat"
    code, out, err = cli("fit", "--data", "cifar10n", "--root", tree["root"] / "folder",
                         "--labels", "crowd", "--features", tree["root"] / "features.npz",
                         "--epochs", "2", "--warmup-epochs", "1", "--hidden", "16,8",
                         "--batch-size", "20", "--out", run)
    assert code == 0, err
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs"] == 2 and m["train_annotations"] == 3 * N_TRAIN
    assert (run / "workers.csv").exists()


def test_fit_a_cifar_resnet_on_images_through_the_cli(cli, tree, tmp_path):
    run = tmp_path / "img"
    code, out, err = cli("fit", "--data", "cifar10n", "--root", tree["root"] / "folder",
                         "--labels", "aggre", "--arch", "cifar-resnet18", "--method", "can",
                         "--epochs", "2", "--warmup-epochs", "1", "--hidden", "16",
                         "--batch-size", "30", "--out", run)
    assert code == 0, err
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs"] == 2 and 0.0 <= m["test_accuracy"] <= 1.0
    code, out, _ = cli("evaluate", run)
    assert code == 0 and abs(float(out.split()[1]) - m["test_mAP"]) < 1e-6
    # the saved predictor normalizes pixels as training did: the test JPEGs, scored from the
    # files, get the probabilities the run's test images got in memory
    from pyro_can.scoring import class_scores

    test_dir = tree["root"] / "folder" / "images" / "test"
    code, _, err = cli("predict", run, "--input", test_dir, "--out", tmp_path / "p.npz")
    assert code == 0, err
    with np.load(tmp_path / "p.npz") as f:
        got = dict(zip(f["files"], f["probabilities"]))
    trainer = RunFolder(run).trainer()
    expected = class_scores(trainer.cfg, trainer.predict_logits(trainer.data.x_test, "test"))
    in_order = [f"{name}/{f}" for name in cifar10n.CLASS_NAMES
                for f in sorted(p.name for p in (test_dir / name).glob("*.jpg"))]
    assert len(in_order) == len(expected)
    for name, row in zip(in_order, expected):
        np.testing.assert_allclose(got[name], row, atol=1e-5)
    code, _, err = cli("export", run, "--format", "torchscript", "--out", tmp_path / "m.pt")
    assert code == 0, err


def test_cifar_resnet_keeps_a_32x32_map_in_its_first_stage():
    from pyro_can.backbones import build_backbone

    net = build_backbone("cifar-resnet18")
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, torch.nn.Identity)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 512)


def test_batch_augmentation_is_a_seeded_crop_and_flip():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    a = augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, augment(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(a, augment(x, torch.Generator().manual_seed(1)))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(len(x)):  # each output is one crop of the padded image, flipped or not
        crops = [v for dy in range(9) for dx in range(9)
                 for v in (padded[i, :, dy:dy + 32, dx:dx + 32],
                           padded[i, :, dy:dy + 32, dx:dx + 32].flip(2))]
        assert any(torch.equal(a[i], c) for c in crops)
