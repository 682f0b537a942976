from typing import Optional, Tuple

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class VolumetricIntegralLabel(BaseKeypointCodec):
    r"""Normalised (x, y, depth) targets for integral (soft-argmax) regression
    on a volumetric heatmap.

    Coordinates and depth are both expressed in the input crop's pixels, so
    the label is defined without metric scale: depth is the root-relative,
    weak-perspective depth ``f * (Z - Z_root) / Z_root`` (image pixels,
    :func:`mmpose_epipolar.geometry.encode_relative_depth`), which an unknown
    global scale of a self-supervised (triangulated) pose leaves unchanged.
    Inside the crop it is scaled like x and y, by ``input_w / bbox_w``.

    Normalised coordinates lie in about ``[-0.5, 0.5]``:

    - ``x_n = x / input_w - 0.5`` and ``y_n = y / input_h - 0.5``
      (``x, y`` in crop pixels, MMPose's pixel-centre convention)
    - ``z_n = depth_crop / depth_extent`` (crop pixels; the volume's depth
      axis covers ``[-depth_extent / 2, depth_extent / 2]``)

    Keypoints without depth (2D data such as MPII) get zero z weight, which is
    how the 2D pre-training stage masks the depth loss.

    Metric camera-space 3D is recovered by :meth:`decode` in crop pixels,
    then by :func:`mmpose_epipolar.geometry.lift_to_camera` given the view's
    intrinsics and the metric depth of the root (EpipolarPose evaluates with
    the ground-truth root depth).

    Args:
        input_size (tuple[int, int]): Input crop size (w, h).
        depth_extent (float, optional): Depth range covered by the volume, in
            crop pixels. Defaults to ``input_w``.
        root_index (int): Index of the root joint. Defaults to 0 (pelvis).
    """

    auxiliary_encode_keys = {'bbox_scale'}
    label_mapping_table = dict(
        keypoint_labels='keypoint_labels',
        keypoint_weights='keypoint_weights',
    )

    def __init__(self,
                 input_size: Tuple[int, int],
                 depth_extent: Optional[float] = None,
                 root_index: int = 0) -> None:
        super().__init__()
        self.input_size = tuple(input_size)
        self.depth_extent = float(depth_extent or input_size[0])
        self.root_index = root_index

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               bbox_scale: Optional[np.ndarray] = None) -> dict:
        """Encode crop keypoints (with optional image-pixel depth).

        Args:
            keypoints (np.ndarray): Keypoints of shape (N, K, 2) or (N, K, 3):
                x, y in crop pixels and, in the third column, root-relative
                depth in IMAGE pixels (as datasets and pseudo-labels store
                it). Non-finite values are treated as missing.
            keypoints_visible (np.ndarray, optional): Visibility of shape
                (N, K). Defaults to all visible.
            bbox_scale (np.ndarray, optional): Box size (N, 2) in image
                pixels, needed to bring depth into crop pixels. Required when
                keypoints carry depth.

        Returns:
            dict:
            - keypoint_labels (np.ndarray): Normalised targets (N, K, 3).
            - keypoint_weights (np.ndarray): Per-axis weights (N, K, 3); zero
              for invisible or non-finite entries, and zero depth weight when
              no depth is given.
        """
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[-1] not in (2, 3):
            raise ValueError('keypoints must have shape (N, K, 2) or '
                             f'(N, K, 3), got {keypoints.shape}')
        num_instances, num_keypoints = keypoints.shape[:2]
        if keypoints_visible is None:
            keypoints_visible = np.ones((num_instances, num_keypoints))
        visible = np.asarray(keypoints_visible, np.float32).reshape(
            num_instances, num_keypoints)

        labels = np.zeros((num_instances, num_keypoints, 3), np.float32)
        weights = np.zeros_like(labels)
        w, h = self.input_size
        labels[..., 0] = keypoints[..., 0] / w - 0.5
        labels[..., 1] = keypoints[..., 1] / h - 0.5
        weights[..., :2] = visible[..., None]
        if keypoints.shape[-1] == 3:
            if bbox_scale is None:
                raise ValueError('VolumetricIntegralLabel needs `bbox_scale` '
                                 'to encode keypoint depth')
            crop_per_image_px = w / np.asarray(
                bbox_scale, np.float32).reshape(num_instances, 2)[:, :1]
            labels[..., 2] = (keypoints[..., 2] * crop_per_image_px /
                              self.depth_extent)
            weights[..., 2] = visible

        finite = np.isfinite(labels)
        weights = np.where(finite, weights, 0.0).astype(np.float32)
        labels = np.where(finite, labels, 0.0).astype(np.float32)
        return dict(keypoint_labels=labels, keypoint_weights=weights)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Decode normalised coordinates to crop pixels.

        Args:
            encoded (np.ndarray): Normalised coordinates (N, K, 3) or
                (N, K, 2).

        Returns:
            tuple:
            - keypoints (np.ndarray): (N, K, 3) or (N, K, 2): x, y and depth
              in crop pixels.
            - scores (np.ndarray): (N, K) ones; the head supplies its own
              confidence.
        """
        encoded = np.asarray(encoded, dtype=np.float32)
        w, h = self.input_size
        keypoints = np.empty_like(encoded)
        keypoints[..., 0] = (encoded[..., 0] + 0.5) * w
        keypoints[..., 1] = (encoded[..., 1] + 0.5) * h
        if encoded.shape[-1] == 3:
            keypoints[..., 2] = encoded[..., 2] * self.depth_extent
        scores = np.ones(encoded.shape[:-1], dtype=np.float32)
        return keypoints, scores
