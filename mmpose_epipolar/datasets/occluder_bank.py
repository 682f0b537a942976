# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Occluder banks: RGBA object cut-outs pasted by ``SyntheticOcclusion``.

A bank is one ``.npz`` file (no pickled objects) holding ``N`` RGBA patches
of different sizes: ``rgba`` (sum(h * w), 4) uint8 with the patches' pixels
concatenated row-major, ``shapes`` (N, 2) int32 ``(h, w)`` per patch and
``meta`` (a JSON string: source, counts, parameters). A ``.pkl`` holding a
list of (h, w, 4) uint8 arrays is also accepted.
"""
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np

from ..utils.safe_pickle import load_pickle

VOC_EXTRACT_HINT = ('python tools/dataset_converters/extract_voc_occluders.py '
                    '--voc-root VOCdevkit/VOC2012 --out {}')


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int,
                     width: int) -> np.ndarray:
    """Rasterise COCO-style polygons ``[[x1, y1, x2, y2, ...], ...]``.

    Args:
        polygons (Sequence[Sequence[float]]): Flat xy lists, one per part.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: Boolean mask, shape (height, width).
    """
    mask = np.zeros((height, width), np.uint8)
    pts = [
        np.round(np.asarray(p, np.float64).reshape(-1, 2)).astype(np.int32)
        for p in polygons if len(p) >= 6
    ]
    if pts:
        cv2.fillPoly(mask, pts, 1)
    return mask.astype(bool)


def mask_to_rgba(image: np.ndarray,
                 mask: np.ndarray,
                 erode_px: int = 1,
                 blur_sigma: float = 1.0,
                 margin: int = 2,
                 max_size: Optional[int] = None) -> Optional[np.ndarray]:
    """Cut one object out of an image as an RGBA patch with a soft border.

    The mask is eroded (segmentation borders often hold background pixels)
    and blurred, so a pasted object blends in without a hard halo.

    Args:
        image (np.ndarray): RGB image, shape (H, W, 3), uint8.
        mask (np.ndarray): Object mask, shape (H, W), bool.
        erode_px (int): Erosion radius in pixels. Default: 1.
        blur_sigma (float): Gaussian sigma of the alpha border. 0 keeps a
            hard 0/255 alpha. Default: 1.0.
        margin (int): Pixels kept around the mask's box. Default: 2.
        max_size (int, optional): Downscale so the longer side is at most
            this.

    Returns:
        np.ndarray | None: RGBA patch, shape (h, w, 4), uint8, or ``None``
        when nothing is left of the mask after erosion.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'image must be (H, W, 3), got {image.shape}')
    if mask.shape != image.shape[:2]:
        raise ValueError(f'mask shape {mask.shape} does not match image '
                         f'shape {image.shape[:2]}')
    alpha = mask.astype(np.uint8) * 255
    if erode_px > 0:
        side = 2 * erode_px + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
        alpha = cv2.erode(alpha, kernel)
    ys, xs = np.nonzero(alpha)
    if len(ys) == 0:
        return None
    h, w = alpha.shape
    pad = margin + int(np.ceil(3 * blur_sigma))
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, h)
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, w)
    alpha = alpha[y0:y1, x0:x1]
    if blur_sigma > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), blur_sigma)
    rgba = np.concatenate([image[y0:y1, x0:x1], alpha[..., None]], axis=2)
    if max_size is not None and max(rgba.shape[:2]) > max_size:
        s = max_size / max(rgba.shape[:2])
        size = (max(1, round(rgba.shape[1] * s)),
                max(1, round(rgba.shape[0] * s)))
        rgba = cv2.resize(rgba, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgba, dtype=np.uint8)


def coco_person_occluders(coco_root: str,
                          ann_file: str = 'test_coco.json',
                          **rgba_kwargs) -> List[np.ndarray]:
    """RGBA cut-outs of the people of a COCO-format folder.

    Rasterises every non-crowd polygon annotation with
    :func:`polygons_to_mask` and cuts it out with :func:`mask_to_rgba`: a
    bank of real object masks where Pascal VOC is not at hand (tests,
    benchmarks).

    Args:
        coco_root (str): Folder with ``ann_file`` and the images it names.
        ann_file (str): COCO annotation file name inside ``coco_root``.
        **rgba_kwargs: Passed to :func:`mask_to_rgba`.

    Returns:
        list[np.ndarray]: RGBA patches (h, w, 4) uint8.
    """
    path = osp.join(coco_root, ann_file)
    if not osp.isfile(path):
        raise FileNotFoundError(f'COCO annotation file {path} not found')
    with open(path) as f:
        data = json.load(f)
    images = {im['id']: im for im in data['images']}
    patches = []
    for ann in data['annotations']:
        if ann.get('iscrowd') or not isinstance(ann['segmentation'], list):
            continue
        im = images[ann['image_id']]
        img = cv2.imread(osp.join(coco_root, im['file_name']))
        if img is None:
            raise FileNotFoundError(
                f"image {osp.join(coco_root, im['file_name'])} of {path} "
                'cannot be read')
        mask = polygons_to_mask(ann['segmentation'], im['height'],
                                im['width'])
        patch = mask_to_rgba(
            np.ascontiguousarray(img[..., ::-1]), mask, **rgba_kwargs)
        if patch is not None:
            patches.append(patch)
    return patches


def save_occluder_bank(path: str,
                       patches: Sequence[np.ndarray],
                       meta: Optional[dict] = None) -> None:
    """Write RGBA patches into one ``.npz`` bank (see module docstring).

    Args:
        path (str): Output file (``.npz``).
        patches (Sequence[np.ndarray]): RGBA patches, each (h, w, 4) uint8.
        meta (dict, optional): JSON-serialisable description.
    """
    for i, p in enumerate(patches):
        _check_patch(p, f'patch {i}')
    if not patches:
        raise ValueError(f'No occluders to write to {path}')
    shapes = np.array([p.shape[:2] for p in patches], dtype=np.int32)
    rgba = np.concatenate([p.reshape(-1, 4) for p in patches], axis=0)
    meta = dict(meta or {}, num_occluders=len(patches))
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(path, 'wb') as f:
        np.savez_compressed(
            f, rgba=rgba, shapes=shapes, meta=np.array(json.dumps(meta)))


def load_occluder_bank(path: str) -> List[np.ndarray]:
    """Read a bank written by :func:`save_occluder_bank` (or a ``.pkl``).

    Args:
        path (str): Bank file.

    Returns:
        list[np.ndarray]: RGBA patches, each (h, w, 4) uint8.

    Raises:
        FileNotFoundError: If the file does not exist; the message says how
            to build one from Pascal VOC.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Occluder bank {path} does not exist. Build it from Pascal VOC '
            f'2012 with: ' + VOC_EXTRACT_HINT.format(path))
    if path.endswith('.pkl'):
        # Banks are shared around: read them without running code.
        patches = load_pickle(path, what='occluder bank')
        if not isinstance(patches, (list, tuple)):
            raise ValueError(f'Occluder bank {path} must hold a list of '
                             f'patches, got {type(patches).__name__}')
        patches = list(patches)
    else:
        with np.load(path, allow_pickle=False) as npz:
            for key in ('rgba', 'shapes'):
                if key not in npz.files:
                    raise KeyError(f'Occluder bank {path} has no key {key!r}')
            rgba, shapes = npz['rgba'], npz['shapes']
        sizes = shapes[:, 0].astype(np.int64) * shapes[:, 1]
        if sizes.sum() != len(rgba):
            raise ValueError(f'Occluder bank {path}: "shapes" describe '
                             f'{sizes.sum()} pixels but "rgba" has '
                             f'{len(rgba)}')
        ends = np.cumsum(sizes)
        patches = [
            rgba[e - s:e].reshape(h, w, 4)
            for e, s, (h, w) in zip(ends, sizes, shapes)
        ]
    for i, p in enumerate(patches):
        _check_patch(p, f'{path}: patch {i}')
    if not patches:
        raise ValueError(f'Occluder bank {path} is empty')
    return patches


def _check_patch(patch: np.ndarray, name: str) -> None:
    if (not isinstance(patch, np.ndarray) or patch.ndim != 3
            or patch.shape[2] != 4 or patch.dtype != np.uint8):
        raise ValueError(f'{name} must be an (h, w, 4) uint8 RGBA array, got '
                         f'{getattr(patch, "shape", type(patch))} '
                         f'{getattr(patch, "dtype", "")}')
