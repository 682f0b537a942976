# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from typing import List, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from ..occluder_bank import load_occluder_bank


@TRANSFORMS.register_module()
class SyntheticOcclusion(BaseTransform):
    """Paste random objects over the training crop (synthetic occlusion).

    Training augmentation; put it after ``TopdownAffine``, so occluders are
    sized relative to the person crop. With probability ``prob`` it draws a
    target coverage ``t ~ U(min_coverage, max_coverage)`` and a count
    ``n ~ U{num_occluders}``; each of the ``n`` occluders, drawn from the
    bank, is scaled so its opaque area is ``t / n`` of the crop and placed
    at a uniformly random position inside the crop; each occluder aims at
    an equal share of what is still missing from ``t`` (so overlaps do not
    bias the coverage low). An occluder that would push the covered
    fraction of the crop (pixels whose composite occluder opacity is at
    least 0.5) above ``max_coverage`` is skipped, so the coverage never
    exceeds it. Keypoint labels are never changed: the network must still
    predict occluded joints.

    Random numbers come from NumPy's global generator (like MMPose's
    transforms), so seeding NumPy makes it deterministic.

    Required Keys:

        - img

    Modified Keys:

        - img

    Added Keys:

        - occluded_fraction (only when occluders were pasted)

    Args:
        bank_file (str): Occluder bank (see
            :mod:`mmpose_epipolar.datasets.occluder_bank`), loaded lazily on
            first use.
        prob (float): Probability to occlude a sample. Default: 0.5.
        num_occluders (tuple[int, int]): Inclusive range of the count.
            Default: (1, 8).
        min_coverage (float): Lower end of the target coverage. Default: 0.
        max_coverage (float): Upper end and hard cap of the covered fraction
            of the crop. Default: 0.7.
        channel_order (str): Channel order of ``img``; the bank is RGB(A).
            Default: ``'bgr'`` (MMCV's image loading).
    """

    MAX_FIT_STEPS = 4

    def __init__(self,
                 bank_file: str,
                 prob: float = 0.5,
                 num_occluders: Tuple[int, int] = (1, 8),
                 min_coverage: float = 0.0,
                 max_coverage: float = 0.7,
                 channel_order: str = 'bgr') -> None:
        super().__init__()
        if not 0. <= prob <= 1.:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if not 0. <= min_coverage <= max_coverage <= 1.:
            raise ValueError(
                'need 0 <= min_coverage <= max_coverage <= 1, got '
                f'{min_coverage}, {max_coverage}')
        lo, hi = num_occluders
        if not 1 <= lo <= hi:
            raise ValueError(f'num_occluders must be (lo, hi) with '
                             f'1 <= lo <= hi, got {num_occluders}')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f'channel_order must be "bgr" or "rgb", got '
                             f'{channel_order!r}')
        self.bank_file = bank_file
        self.prob = prob
        self.num_occluders = (int(lo), int(hi))
        self.min_coverage = min_coverage
        self.max_coverage = max_coverage
        self.channel_order = channel_order
        self._bank: Optional[List[np.ndarray]] = None
        self._opaque_area: Optional[np.ndarray] = None

    def _load_bank(self) -> List[np.ndarray]:
        if self._bank is None:
            bank = load_occluder_bank(self.bank_file)
            if self.channel_order == 'bgr':
                bank = [p[..., [2, 1, 0, 3]].copy() for p in bank]
            area = np.array([(p[..., 3] >= 128).sum() for p in bank], float)
            keep = area > 0
            if not keep.any():
                raise ValueError(f'Occluder bank {self.bank_file} has no '
                                 'patch with an opaque pixel')
            self._bank = [p for p, k in zip(bank, keep) if k]
            self._opaque_area = area[keep]
        return self._bank

    def _scaled_patch(self, idx: int, opaque_area: float,
                      img_hw: Tuple[int, int]) -> Optional[np.ndarray]:
        """Bank patch ``idx`` resized to about ``opaque_area`` opaque pixels
        (sides at most 3 times the crop's, so one elongated object can still
        cover a large part of the crop)."""
        patch = self._bank[idx]
        ph, pw = patch.shape[:2]
        scale = np.sqrt(opaque_area / self._opaque_area[idx])
        scale = min(scale, 3 * img_hw[0] / ph, 3 * img_hw[1] / pw)
        size = (int(round(pw * scale)), int(round(ph * scale)))
        if min(size) < 1:
            return None
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        return cv2.resize(patch, size, interpolation=interp)

    def _fit(self, idx: int, share: float, pos: np.ndarray,
             transparency: np.ndarray, coverage: float):
        """Size occluder ``idx`` so it adds about ``share`` of coverage.

        Parts outside the crop and overlaps make the gain smaller than the
        pasted area, so the size is refined a few times (no random draws):
        grown while the gain falls short, shrunk when the total would pass
        ``max_coverage``.

        Returns:
            tuple | None: Best placement of :meth:`_place` within the cap.
        """
        h, w = transparency.shape
        area = share * h * w
        best, best_err = None, np.inf
        for _ in range(self.MAX_FIT_STEPS):
            placed = self._place(idx, area, pos, transparency)
            if placed is None:
                break
            gain = placed[1] - coverage
            if placed[1] > self.max_coverage:
                area *= 0.6
                continue
            if abs(gain - share) < best_err:
                best, best_err = placed, abs(gain - share)
            if gain >= 0.8 * share or gain <= 0:
                break
            area *= min(share / gain, 4.)
        return best

    def _place(self, idx: int, opaque_area: float, pos: np.ndarray,
               transparency: np.ndarray):
        """Scale and position occluder ``idx``; nothing is drawn yet.

        Returns:
            tuple | None: The new transparency map (H, W), the new covered
            fraction and the ``(slices, patch_part)`` to blend, or ``None``
            if the occluder vanishes.
        """
        h, w = transparency.shape
        patch = self._scaled_patch(idx, opaque_area, (h, w))
        if patch is None:
            return None
        ph, pw = patch.shape[:2]
        # Keep the patch inside the crop where it fits, else centre it in
        # the crop.
        x0 = (
            int(round(pos[0] * (w - pw)))
            if pw <= w else int(round(pos[0] * w - pw / 2)))
        y0 = (
            int(round(pos[1] * (h - ph)))
            if ph <= h else int(round(pos[1] * h - ph / 2)))
        box = _paste_box((x0, y0), (ph, pw), (h, w))
        if box is None:
            return None
        (y0, y1, x0, x1), (py0, py1, px0, px1) = box
        part = patch[py0:py1, px0:px1]
        new_transparency = transparency.copy()
        new_transparency[y0:y1, x0:x1] *= 1. - part[..., 3] / np.float32(255)
        coverage = float((new_transparency <= 0.5).mean())
        return new_transparency, coverage, ((slice(y0, y1), slice(x0,
                                                                  x1)), part)

    def transform(self, results: dict) -> dict:
        """Occlude ``results['img']`` (H, W, C) in place of the original."""
        if self.prob == 0 or np.random.rand() >= self.prob:
            return results
        bank = self._load_bank()
        img = results['img']
        h, w = img.shape[:2]
        target = np.random.uniform(self.min_coverage, self.max_coverage)
        count = np.random.randint(self.num_occluders[0],
                                  self.num_occluders[1] + 1)
        out = img.astype(np.float32)
        # Transparency left by the occluders pasted so far; a pixel counts
        # as covered once the composite opacity reaches 0.5.
        transparency = np.ones((h, w), np.float32)
        coverage = 0.
        for k in range(count):
            idx = np.random.randint(len(bank))
            pos = np.random.uniform(size=2)
            # Share what is left of the target among the remaining occluders,
            # so overlaps and parts outside the crop do not bias it low.
            share = (target - coverage) / (count - k)
            if share <= 0:
                continue
            placed = self._fit(idx, share, pos, transparency, coverage)
            if placed is not None:
                transparency, coverage, paste = placed
                _blend(out, *paste)
        if np.issubdtype(img.dtype, np.integer):
            info = np.iinfo(img.dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        results['img'] = out.astype(img.dtype)
        results['occluded_fraction'] = coverage
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(bank_file={self.bank_file!r}, '
                f'prob={self.prob}, num_occluders={self.num_occluders}, '
                f'min_coverage={self.min_coverage}, '
                f'max_coverage={self.max_coverage}, '
                f'channel_order={self.channel_order!r})')


def _blend(img: np.ndarray, slices: Tuple[slice, slice],
           patch: np.ndarray) -> None:
    """Alpha-blend an RGBA ``patch`` (h, w, 4) into ``img[slices]`` (float)."""
    alpha = patch[..., 3:].astype(np.float32) / 255.
    region = img[slices][..., :3]
    img[slices[0], slices[1], :3] = region + alpha * (
        patch[..., :3].astype(np.float32) - region)


def _paste_box(top_left: Tuple[int, int], patch_hw: Tuple[int, int],
               img_hw: Tuple[int, int]):
    """Image and patch slices of a patch whose corner is at ``(x0, y0)``."""
    x0, y0 = top_left
    ph, pw = patch_hw
    h, w = img_hw
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + pw, w), min(y0 + ph, h)
    if ix1 <= ix0 or iy1 <= iy0:
        return None
    return (iy0, iy1, ix0, ix1), (iy0 - y0, iy1 - y0, ix0 - x0, ix1 - x0)
