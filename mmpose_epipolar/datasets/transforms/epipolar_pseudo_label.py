# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Load epipolar pseudo-labels (``tools/make_pseudo_labels.py``) into
training samples."""
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS

from ..pseudo_label_file import ImageNameIndex, load_pseudo_labels


@TRANSFORMS.register_module()
class EpipolarPseudoLabel(BaseTransform):
    """Replace a sample's 2D/depth targets by its epipolar pseudo-label.

    The label file is the NPZ of ``docs/conventions.md`` (keys ``imgname``,
    ``keypoints`` (N, J, 2), ``keypoints_depth`` (N, J),
    ``keypoints_visible`` (N, J), ``reproj_error`` (N, J), ``valid`` (N,)).
    It is loaded once, on first use.

    A sample is found by its ``img_path`` (:class:`ImageNameIndex`: the
    longest path suffix that is an ``imgname`` of the file), so
    ``data/h36m/images/S1/S1_Directions_1.54138969/x.jpg`` matches
    ``S1/S1_Directions_1.54138969/x.jpg`` whatever the image root.

    Required keys: ``img_path``. Modified keys: ``keypoints`` (1, J, 2),
    ``keypoints_visible`` (1, J). Added keys: ``keypoints_depth`` (1, J),
    ``pseudo_label_valid`` (bool), ``reproj_error`` (1, J).

    Joints that are invalid, and all joints of an invalid sample or of a
    sample with fewer than ``min_valid_joints`` visible joints, get
    visibility 0 so that the losses ignore them.

    Args:
        label_file (str): Path of the pseudo-label NPZ.
        min_valid_joints (int): Visible joints a sample needs to be used.
            Defaults to 8.
        max_reproj_error (float, optional): Additionally mask joints whose
            reprojection error (pixels) exceeds this. Defaults to None.
    """

    def __init__(self,
                 label_file: str,
                 min_valid_joints: int = 8,
                 max_reproj_error: Optional[float] = None) -> None:
        super().__init__()
        self.label_file = label_file
        self.min_valid_joints = min_valid_joints
        self.max_reproj_error = max_reproj_error
        self._data: Optional[Dict[str, np.ndarray]] = None
        self._index: Optional[ImageNameIndex] = None

    def reset(self) -> None:
        """Forget the loaded labels: the next sample reads the file again
        (after it was rebuilt, or ``label_file`` changed)."""
        self._data, self._index = None, None

    def _load(self) -> None:
        self._data = load_pseudo_labels(self.label_file)
        self._index = ImageNameIndex(self._data['imgname'])

    def _lookup(self, img_path: str) -> int:
        row = self._index.find(img_path)
        if row is None:
            raise KeyError(f'image {img_path!r} has no pseudo-label in '
                           f'{self.label_file!r}')
        return row

    def transform(self, results: Dict) -> Dict:
        if self._data is None:
            self._load()
        idx = self._lookup(results['img_path'])
        data = self._data
        num_joints = data['keypoints'].shape[1]
        expected = results.get('num_keypoints')
        if expected is None:
            expected = results.get('dataset_meta', {}).get('num_keypoints')
        if expected is not None and int(expected) != num_joints:
            raise ValueError(
                f'pseudo-label file {self.label_file!r} has {num_joints} '
                f'joints but the dataset has {expected}')
        visible = data['keypoints_visible'][idx].astype(np.float32)
        error = data['reproj_error'][idx].astype(np.float32)
        if self.max_reproj_error is not None:
            visible = visible * (error <= self.max_reproj_error)
        valid = bool(data['valid'][idx]) and \
            int((visible > 0).sum()) >= self.min_valid_joints
        if not valid:
            visible = np.zeros_like(visible)
        results['keypoints'] = data['keypoints'][idx][None].astype(
            np.float32)
        results['keypoints_depth'] = (data['keypoints_depth'][idx] *
                                      (visible > 0))[None].astype(np.float32)
        results['keypoints_visible'] = visible[None]
        results['reproj_error'] = error[None]
        results['pseudo_label_valid'] = valid
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(label_file={self.label_file!r}, '
                f'min_valid_joints={self.min_valid_joints}, '
                f'max_reproj_error={self.max_reproj_error})')
