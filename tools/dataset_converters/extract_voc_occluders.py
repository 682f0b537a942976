# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Build the occluder bank of ``SyntheticOcclusion`` from Pascal VOC 2012.

Every segmented object of VOC 2012 (``SegmentationObject/*.png``) that is
not a person, not marked difficult or truncated in ``Annotations/*.xml`` and
not tiny is cut out of its image with a softened alpha border and written
into one ``.npz`` bank::

    python tools/dataset_converters/extract_voc_occluders.py \\
        --voc-root VOCdevkit/VOC2012 --out data/occluders/voc_occluders.npz

Instance ``i`` of ``SegmentationObject/<id>.png`` (pixel value ``i``, 255
marks borders) is the ``i``-th ``<object>`` of ``Annotations/<id>.xml``;
``SegmentationClass/<id>.png`` gives the class of each pixel, which must
agree with the XML class.
"""
import argparse
import os
import os.path as osp
import sys
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

try:
    from mmpose_epipolar.datasets.occluder_bank import (
        mask_to_rgba,
        save_occluder_bank,
    )
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..'))
    from mmpose_epipolar.datasets.occluder_bank import (
        mask_to_rgba,
        save_occluder_bank,
    )

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat',
               'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
               'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep',
               'sofa', 'train', 'tvmonitor')


def parse_voc_objects(xml_path: str) -> List[Dict]:
    """Objects of one VOC annotation, in file order.

    Returns:
        list[dict]: ``name``, ``difficult`` (bool), ``truncated`` (bool).
    """
    root = ET.parse(xml_path).getroot()
    objects = []
    for obj in root.findall('object'):
        objects.append(
            dict(
                name=obj.findtext('name', '').strip(),
                difficult=obj.findtext('difficult', '0').strip() == '1',
                truncated=obj.findtext('truncated', '0').strip() == '1'))
    return objects


def read_index_png(path: str) -> np.ndarray:
    """Palette indices of a VOC segmentation PNG, shape (H, W), uint8."""
    with Image.open(path) as im:
        if im.mode not in ('P', 'L'):
            raise ValueError(f'{path}: expected a palette PNG, got mode '
                             f'{im.mode}')
        return np.asarray(im, dtype=np.uint8).copy()


def extract_image_occluders(
        voc_root: str,
        image_id: str,
        min_area: int = 500,
        erode_px: int = 1,
        blur_sigma: float = 1.0,
        max_size: Optional[int] = None) -> Tuple[List[np.ndarray], Dict]:
    """Cut the usable objects of one VOC image.

    Args:
        voc_root (str): The ``VOC2012`` folder.
        image_id (str): e.g. ``'2007_000032'``.
        min_area (int): Minimum mask area in pixels. Default: 500.
        erode_px, blur_sigma, max_size: See :func:`mask_to_rgba`.

    Returns:
        tuple[list[np.ndarray], dict]: RGBA patches and counts of the
        dropped objects per reason.
    """
    objects = parse_voc_objects(
        osp.join(voc_root, 'Annotations', f'{image_id}.xml'))
    instances = read_index_png(
        osp.join(voc_root, 'SegmentationObject', f'{image_id}.png'))
    classes = read_index_png(
        osp.join(voc_root, 'SegmentationClass', f'{image_id}.png'))
    with Image.open(osp.join(voc_root, 'JPEGImages',
                             f'{image_id}.jpg')) as im:
        image = np.asarray(im.convert('RGB'))
    dropped = dict(person=0, difficult=0, truncated=0, tiny=0, mismatch=0)
    patches = []
    for i, obj in enumerate(objects, start=1):
        mask = instances == i
        if obj['name'] == 'person':
            dropped['person'] += 1
            continue
        if obj['difficult']:
            dropped['difficult'] += 1
            continue
        if obj['truncated']:
            dropped['truncated'] += 1
            continue
        if mask.sum() < min_area:
            dropped['tiny'] += 1
            continue
        # Trust only instances whose class mask agrees with the XML.
        labels = np.bincount(classes[mask], minlength=256)
        if (obj['name'] not in VOC_CLASSES or
                VOC_CLASSES[int(labels.argmax())] != obj['name']):
            dropped['mismatch'] += 1
            continue
        patch = mask_to_rgba(
            image, mask, erode_px=erode_px, blur_sigma=blur_sigma,
            max_size=max_size)
        if patch is None:
            dropped['tiny'] += 1
            continue
        patches.append(patch)
    return patches, dropped


def extract_voc_occluders(voc_root: str, **kwargs) -> Tuple[List, Dict]:
    """Run :func:`extract_image_occluders` over all segmented VOC images."""
    seg_dir = osp.join(voc_root, 'SegmentationObject')
    if not osp.isdir(seg_dir):
        raise FileNotFoundError(
            f'{seg_dir} does not exist: --voc-root must be the VOC2012 '
            'folder (with Annotations/, JPEGImages/, SegmentationClass/, '
            'SegmentationObject/)')
    ids = sorted(
        osp.splitext(f)[0] for f in os.listdir(seg_dir)
        if f.endswith('.png'))
    try:
        from tqdm import tqdm
        ids_iter = tqdm(ids, desc='VOC images')
    except ImportError:
        ids_iter = ids
    patches, totals = [], {}
    for image_id in ids_iter:
        p, dropped = extract_image_occluders(voc_root, image_id, **kwargs)
        patches.extend(p)
        for k, v in dropped.items():
            totals[k] = totals.get(k, 0) + v
    return patches, dict(images=len(ids), dropped=totals)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--voc-root', required=True,
                        help='the VOCdevkit/VOC2012 folder')
    parser.add_argument('--out', required=True, help='output .npz bank')
    parser.add_argument('--min-area', type=int, default=500,
                        help='drop objects with fewer mask pixels')
    parser.add_argument('--erode', type=int, default=1,
                        help='alpha erosion radius in pixels')
    parser.add_argument('--blur-sigma', type=float, default=1.0,
                        help='Gaussian sigma softening the alpha border')
    parser.add_argument('--max-size', type=int, default=None,
                        help='downscale patches to at most this side')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    patches, stats = extract_voc_occluders(
        args.voc_root,
        min_area=args.min_area,
        erode_px=args.erode,
        blur_sigma=args.blur_sigma,
        max_size=args.max_size)
    if not patches:
        print(f'No usable occluder found in {args.voc_root}', file=sys.stderr)
        return 1
    meta = dict(
        source='Pascal VOC 2012',
        voc_root=osp.abspath(args.voc_root),
        min_area=args.min_area,
        erode_px=args.erode,
        blur_sigma=args.blur_sigma,
        max_size=args.max_size,
        **stats)
    save_occluder_bank(args.out, patches, meta)
    print(f'Wrote {len(patches)} occluders from {stats["images"]} images '
          f'to {args.out} (dropped: {stats["dropped"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
