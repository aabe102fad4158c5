"""PASCAL VOC 2007 / 2012 as 20-class multi-label classification.

Layout (as the VOC tarballs unpack): ``ROOT/VOCdevkit/VOC2007/{ImageSets/Main/<set>.txt,
Annotations/<id>.xml, JPEGImages/<id>.jpg}`` (``VOC2012`` likewise). torchvision's
``VOCDetection`` (``download=False``) lists the image set and its ``parse_voc_xml`` reads each
annotation into a dict; a class is on for an image when any object of it is annotated there,
*difficult objects included* (they are objects of that class; leaving them out would make some
images all-negative).

Splits: testing uses ``test`` for VOC2007 and ``val`` for VOC2012 (``--split`` picks another
image set); training uses ``trainval`` minus the test images, which for VOC2007 is all of
``trainval`` and for VOC2012 (where ``val`` is inside ``trainval``) is ``train``.
"""
from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from ..errors import DataError
from .images import ImageItems, image_root, image_dataset

VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
]
YEARS = {"voc07": "2007", "voc12": "2012"}
DEFAULT_TEST = {"2007": "test", "2012": "val"}
TRAIN_SET = "trainval"
LAYOUT = "the folder holding VOCdevkit/VOC{year}/ (ImageSets/Main, Annotations, JPEGImages)"


def find_root(root: str, year: str) -> str:
    """The folder that holds ``VOCdevkit/VOC<year>``; ``root`` may also be ``VOCdevkit`` itself or
    the ``VOC<year>`` folder."""
    base = os.path.normpath(root)
    for cand in (base, os.path.dirname(base), os.path.dirname(os.path.dirname(base))):
        if os.path.isdir(os.path.join(cand, "VOCdevkit", f"VOC{year}")):
            return cand
    raise DataError(f"{root}: no VOCdevkit/VOC{year} folder in it (expected "
                    f"{os.path.join(root, 'VOCdevkit', f'VOC{year}', 'ImageSets', 'Main')} ...)")


def valid_sets(year: str) -> tuple[str, ...]:
    return ("train", "trainval", "val", "test") if year == "2007" else ("train", "trainval", "val")


def read_image_set(root: str, year: str, image_set: str, include_difficult: bool = True):
    """``(ids, image paths, labels)`` of one VOC image set."""
    from torchvision.datasets import VOCDetection
    from torchvision.datasets import voc as tv_voc

    if image_set not in valid_sets(year):
        raise DataError(f"--split {image_set!r}: VOC{year} image sets are "
                        f"{', '.join(valid_sets(year))}")
    base = find_root(root, year)
    voc_dir = os.path.join(base, "VOCdevkit", f"VOC{year}")
    split_file = os.path.join(voc_dir, "ImageSets", "Main", f"{image_set}.txt")
    if not os.path.isfile(split_file):
        hint = (" (the VOC2007 test images and lists come in VOCtest_06-Nov-2007.tar; or choose "
                "another set with --split)" if image_set == "test" else "")
        raise DataError(f"{split_file}: missing VOC{year} image set '{image_set}'{hint}")
    try:
        ds = VOCDetection(base, year=year, image_set=image_set, download=False)
    except (OSError, RuntimeError, ValueError) as e:
        raise DataError(f"{voc_dir}: cannot read VOC{year} {image_set} ({e})") from None
    parse = getattr(tv_voc, "ET_parse", None)
    if parse is None:  # torchvision's own choice of parser (defusedxml when installed)
        from xml.etree.ElementTree import parse
    index = {c: i for i, c in enumerate(VOC_CLASSES)}
    ids = [os.path.splitext(os.path.basename(p))[0] for p in ds.images]
    labels = np.zeros((len(ids), len(VOC_CLASSES)), dtype=np.float32)
    for row, (image, xml) in enumerate(zip(ds.images, ds.annotations)):
        if not os.path.isfile(xml):
            raise DataError(f"{xml}: annotation of '{ids[row]}' ({split_file}) is missing")
        if not os.path.isfile(image):
            raise DataError(f"{image}: image of '{ids[row]}' ({split_file}) is missing")
        try:
            target = VOCDetection.parse_voc_xml(parse(xml).getroot())
        except Exception as e:  # ParseError, defusedxml's refusals
            raise DataError(f"{xml}: cannot parse ({type(e).__name__}: {e})") from None
        objects = target.get("annotation", {}).get("object", [])
        if isinstance(objects, dict):
            objects = [objects]
        for obj in objects:
            name = str(obj.get("name", "")).strip()
            if name not in index:
                raise DataError(f"{xml}: object class {name!r} is not one of the 20 VOC classes")
            if not include_difficult and str(obj.get("difficult", "0")).strip() == "1":
                continue
            labels[row, index[name]] = 1.0
    return ids, list(ds.images), labels


def image_set_items(root: str, year: str, image_set: str, split: str = "test",
                    include_difficult: bool = True) -> ImageItems:
    """One VOC image set as items, all in split ``split``."""
    ids, paths, labels = read_image_set(root, year, image_set, include_difficult)
    return ImageItems(root=find_root(root, year), paths=paths, labels=labels,
                      split=np.full(len(ids), split), class_names=list(VOC_CLASSES),
                      single_label=False, ids=ids)


def items(root: str, year: str = "2007", test_set: str | None = None,
          include_difficult: bool = True) -> ImageItems:
    """The raw item list: ``trainval`` minus the test images as ``train``, then ``test_set``
    (``test`` for 2007, ``val`` for 2012) as ``test``."""
    test_set = test_set or DEFAULT_TEST[year]
    if test_set == TRAIN_SET:
        raise DataError(f"--split {test_set}: the test image set cannot be the training set "
                        f"({TRAIN_SET})")
    test = image_set_items(root, year, test_set, "test", include_difficult)
    ids, paths, labels = read_image_set(root, year, TRAIN_SET, include_difficult)
    held_out = set(test.ids)
    keep = [i for i, x in enumerate(ids) if x not in held_out]
    return ImageItems(
        root=test.root, paths=[paths[i] for i in keep] + test.paths,
        labels=np.concatenate([labels[keep], test.labels]),
        split=np.array(["train"] * len(keep) + ["test"] * len(test)),
        class_names=list(VOC_CLASSES), single_label=False, ids=[ids[i] for i in keep] + test.ids,
        notes=[f"{len(ids) - len(keep)} {TRAIN_SET} images are in '{test_set}' and were kept "
               "out of training"] if len(keep) < len(ids) else [])


# -- a VOC image set as another data set's test set (--test voc07:DIR) -----------------------------
def parse_test(data) -> tuple[str, str] | None:
    """``(name, DIR)`` of ``--test NAME:DIR``, checked; None without ``--test``."""
    if not data.test:
        return None
    kind, sep, where = str(data.test).partition(":")
    if not sep or not where:
        raise DataError(f"--test {data.test!r}: expected NAME:DIR, e.g. voc07:/data/voc")
    if kind not in YEARS:
        raise DataError(f"--test {kind!r}: supported test sets are "
                        f"{', '.join(f'{k}:DIR' for k in YEARS)}")
    return kind, where


def external_test(data, class_names: list[str]) -> ImageItems | None:
    """``--test voc07:DIR`` (or ``voc12:DIR``): a clean VOC test image set whose label columns
    follow ``class_names``; None without ``--test``."""
    spec = parse_test(data)
    if spec is None:
        return None
    kind, where = spec
    year = YEARS[kind]
    test = image_set_items(where, year, data.split or DEFAULT_TEST[year], split="test")
    if sorted(class_names) != sorted(test.class_names):
        raise DataError(f"--test {kind}: the training classes ({', '.join(class_names)}) are not "
                        f"the 20 VOC classes ({', '.join(test.class_names)})")
    order = [test.class_names.index(c) for c in class_names]
    return replace(test, labels=test.labels[:, order], class_names=list(class_names))


def _loader(name: str):
    year = YEARS[name]

    def load(data, images, runtime):
        root = image_root(data, images, name, LAYOUT.format(year=year))
        if data.test:
            raise DataError(f"--test {data.test}: --data {name} tests on its own image set; "
                            "choose it with --split")
        return image_dataset(name, items(root, year, data.split), images, runtime,
                             data.noise_rate, clean_labels=True)

    load.__name__ = load.__qualname__ = f"load_{name}"
    load.__doc__ = (f"PASCAL VOC{year}, 20-class multi-label, from --root in the VOCdevkit "
                    f"layout; test set '{DEFAULT_TEST[year]}' unless --split.")
    return load


load_voc07 = _loader("voc07")
load_voc12 = _loader("voc12")
