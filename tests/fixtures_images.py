"""Builders of tiny image data sets in each published layout (a handful of 40×30 JPEGs)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

VOC_XML = """<annotation>
  <folder>VOC{year}</folder>
  <filename>{id}.jpg</filename>
  <size><width>40</width><height>30</height><depth>3</depth></size>
  <segmented>0</segmented>
{objects}</annotation>
"""
VOC_OBJECT = """  <object>
    <name>{name}</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>{difficult}</difficult>
    <bndbox><xmin>2</xmin><ymin>2</ymin><xmax>30</xmax><ymax>25</ymax></bndbox>
  </object>
"""

# a colour per class name, so backbone features differ a little between classes
_PALETTE = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40), (200, 40, 200),
            (40, 200, 200), (120, 120, 120), (250, 150, 50)]


def write_jpeg(path: Path, seed: int = 0, colour=(128, 128, 128), size=(40, 30)) -> Path:
    from PIL import Image

    rng = np.random.default_rng(seed)
    w, h = size
    pixels = rng.integers(0, 60, (h, w, 3)) + np.array(colour)[None, None] // 2
    pixels[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path, "JPEG", quality=85)
    return path


def colour_of(name: str):
    return _PALETTE[sum(map(ord, name)) % len(_PALETTE)]


def corrupt(path: Path) -> Path:
    path.write_bytes(b"this is not a JPEG")
    return path


# -- VOC -----------------------------------------------------------------------------------------
# id -> [(class, difficult)]
VOC07_TRAINVAL = {
    "000005": [("chair", 0), ("chair", 1)],
    "000007": [("car", 0)],
    "000009": [("horse", 0), ("person", 0)],
    "000012": [("car", 0)],
    "000016": [("bicycle", 0)],
    "000017": [("person", 0), ("horse", 0)],
    "000019": [("cat", 0)],
    "000020": [("car", 0), ("person", 1)],
}
VOC07_TEST = {
    "000001": [("dog", 0), ("person", 0)],
    "000002": [("train", 0)],
    "000004": [("car", 0), ("cat", 1)],
    "000006": [("diningtable", 0), ("chair", 0), ("pottedplant", 0)],
}


def make_voc(root: Path, year: str = "2007", sets: dict | None = None,
             objects: dict | None = None) -> Path:
    """``root/VOCdevkit/VOC<year>`` with image sets ``sets`` ({name: [ids]}) and annotations
    ``objects`` ({id: [(class, difficult)]})."""
    if sets is None:
        sets = {"trainval": list(VOC07_TRAINVAL), "test": list(VOC07_TEST)}
        objects = {**VOC07_TRAINVAL, **VOC07_TEST}
    voc = root / "VOCdevkit" / f"VOC{year}"
    (voc / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (voc / "Annotations").mkdir(exist_ok=True)
    for name, ids in sets.items():
        (voc / "ImageSets" / "Main" / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    for k, (image_id, objs) in enumerate(objects.items()):
        body = "".join(VOC_OBJECT.format(name=n, difficult=d) for n, d in objs)
        (voc / "Annotations" / f"{image_id}.xml").write_text(
            VOC_XML.format(year=year, id=image_id, objects=body))
        write_jpeg(voc / "JPEGImages" / f"{image_id}.jpg", seed=k, colour=colour_of(objs[0][0]))
    return root


VOC12_SETS = {"train": ["2008_000001", "2008_000002", "2008_000003", "2008_000004",
                        "2008_000005"],
              "val": ["2008_000006", "2008_000007", "2008_000008"]}
VOC12_OBJECTS = {
    "2008_000001": [("dog", 0)], "2008_000002": [("cat", 0)], "2008_000003": [("dog", 0)],
    "2008_000004": [("bird", 0), ("person", 0)], "2008_000005": [("cat", 0)],
    "2008_000006": [("dog", 0)], "2008_000007": [("cat", 0)], "2008_000008": [("bird", 0)],
}


def make_voc12(root: Path) -> Path:
    sets = dict(VOC12_SETS, trainval=VOC12_SETS["train"] + VOC12_SETS["val"])
    return make_voc(root, "2012", sets, VOC12_OBJECTS)


# -- web -----------------------------------------------------------------------------------------
WEB_ROWS = [  # (image, tags)
    ("a/dog1.jpg", "dog puppy park"),
    ("a/dog2.jpg", "#Puppies,grass"),  # plural and hashtag
    ("a/cat1.jpg", "kitten sofa"),  # two classes
    ("b/cat2.jpg", "cat"),
    ("b/car1.jpg", "automobile, street"),
    ("b/car2.jpg", "cars"),
    ("c/plane.jpg", "airplane sky"),
    ("c/train.jpg", "railway station"),
    ("c/sunset.jpg", "sunset beach holiday"),  # no VOC class: dropped
    ("c/food.jpg", "food yummy"),  # dropped
]


def make_web(root: Path, rows=WEB_ROWS) -> Path:
    for k, (image, tags) in enumerate(rows):
        write_jpeg(root / "images" / image, seed=100 + k, colour=colour_of(tags.split()[0]))
    with open(root / "tags.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "tags"])
        w.writerows(rows)
    return root


# -- AMT -----------------------------------------------------------------------------------------
def make_amt(root: Path, n_train: int = 24, n_test: int = 12, num_classes: int = 3,
             workers: int = 4, seed: int = 0, classes: bool = True) -> Path:
    """Separable features; each training item labelled by 2-3 workers of varying accuracy."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = np.arange(n) % num_classes
    x = rng.normal(size=(n, 6)) + 3.0 * np.eye(num_classes, 6)[y]
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "features.npy", x.astype(np.float32))
    accuracy = np.linspace(0.9, 0.5, workers)
    with open(root / "annotations.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item", "worker", "label"])
        for i in range(n_train):
            for k in rng.choice(workers, size=rng.integers(2, 4), replace=False):
                lab = y[i] if rng.random() < accuracy[k] else rng.integers(num_classes)
                w.writerow([i, f"W{k}", int(lab)])
    with open(root / "truth.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item", "label"])
        w.writerows([i, int(y[i])] for i in range(n_train, n))
    if classes:
        (root / "classes.txt").write_text("".join(f"class{c}\n" for c in range(num_classes)))
    return root


def add_amt_row(root: Path, item: int, worker: str, label) -> int:
    """Append an annotation row; returns its line number in annotations.csv."""
    path = root / "annotations.csv"
    lines = path.read_text().splitlines()
    lines.append(f"{item},{worker},{label}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def write_split(root: Path, train, test) -> None:
    (root / "split.json").write_text(json.dumps({"train": list(train), "test": list(test)}))


# -- SD4 and folder ------------------------------------------------------------------------------
def make_image_folder(root: Path, counts: dict[str, int], seed: int = 0) -> Path:
    """``root/<class>/<k>.jpg`` with ``counts[class]`` images each."""
    k = 0
    for name, count in counts.items():
        for j in range(count):
            write_jpeg(root / name / f"{name}_{j}.jpg", seed=seed + k, colour=colour_of(name))
            k += 1
    return root


def make_sd4(root: Path) -> Path:
    make_image_folder(root / "train", {"jacket": 3, "shirt": 3, "sweater": 2}, seed=200)
    make_image_folder(root / "test", {"jacket": 2, "shirt": 2}, seed=300)
    return root


FOLDER_LABELS = [  # (image, labels): multi-label
    ("img/0.jpg", "red"), ("img/1.jpg", "red,round"), ("img/2.jpg", "blue"),
    ("img/3.jpg", "blue; square"), ("img/4.jpg", "red round"), ("img/5.jpg", "blue"),
    ("img/6.jpg", "square"), ("img/7.jpg", "round"),
]


def make_label_table(root: Path, rows=FOLDER_LABELS) -> Path:
    for k, (image, labels) in enumerate(rows):
        write_jpeg(root / image, seed=400 + k, colour=colour_of(labels.split(",")[0]))
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "labels"])
        w.writerows(rows)
    return root
