from typing import Optional

import numpy as np
from mmengine.structures import InstanceData
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mmpose.utils.typing import InstanceList, OptSampleList, PixelDataList

from ...geometry import lift_to_camera


def root_depth_of(data_sample: PoseDataSample,
                  root_index: int) -> Optional[np.ndarray]:
    """The metric depth of the root, when the sample knows it.

    Taken from ``metainfo['root_depth']`` (given by a user or a detector of
    distance) or else from the ground-truth ``keypoints_cam`` (evaluation, as
    EpipolarPose evaluates).

    Returns:
        np.ndarray | None: Root depth (N,) in the unit of the source, or None.
    """
    if 'root_depth' in data_sample.metainfo:
        return np.atleast_1d(
            np.asarray(data_sample.metainfo['root_depth'], np.float64))
    gt = data_sample.get('gt_instances')
    if gt is not None and 'keypoints_cam' in gt:
        return np.asarray(gt.keypoints_cam, np.float64)[:, root_index, 2]
    return None


@MODELS.register_module()
class TopdownVolumetricEstimator(TopdownPoseEstimator):
    """Top-down estimator whose predictions carry 2D and 3D keypoints.

    MMPose's :class:`TopdownPoseEstimator` with the volumetric head's
    (x, y, depth) outputs split into fields:

    - ``keypoints`` (N, J, 2): image pixels (what MMPose's 2D metrics,
      visualisers and trackers read);
    - ``keypoints_depth`` (N, J): root-relative depth in image pixels,
      ``f * (Z - Z_root) / Z_root`` (see ``docs/conventions.md``);
    - ``keypoints_3d`` (N, J, 3): camera-space 3D in the unit of the root
      depth (mm for Human3.6M) when the sample's ``camera_param`` has
      ``intrinsics`` and the root depth is known (``root_depth`` metainfo or
      ground truth); otherwise root-relative weak-perspective 3D in image
      pixels (x and y relative to the root, and the depth); the metainfo
      ``keypoints_3d_unit`` of ``pred_instances`` says which.

    Args:
        root_index (int): Index of the root joint. Defaults to 0.
        **kwargs: Arguments of :class:`TopdownPoseEstimator`.
    """

    def __init__(self, *args, root_index: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.root_index = root_index

    def add_pred_to_datasample(self, batch_pred_instances: InstanceList,
                               batch_pred_fields: Optional[PixelDataList],
                               batch_data_samples: OptSampleList) -> list:
        """Convert crop predictions to image space and lift them to 3D.

        Returns:
            list[PoseDataSample]: Samples with ``pred_instances`` filled.
        """
        batch_data_samples = super().add_pred_to_datasample(
            batch_pred_instances, batch_pred_fields, batch_data_samples)
        liftable = []
        for sample in batch_data_samples:
            root_depth = self._split_depth(sample)
            if root_depth is not None:
                liftable.append((sample, root_depth))
        self._lift_to_camera(liftable)
        return batch_data_samples

    def _split_depth(self,
                     data_sample: PoseDataSample) -> Optional[np.ndarray]:
        """Split (x, y, depth) into ``keypoints`` and ``keypoints_depth``;
        where the camera or the root depth is unknown, set root-relative
        weak-perspective ``keypoints_3d``.

        Returns:
            np.ndarray | None: The root depth (N,) when the sample has
            intrinsics too, so :meth:`_lift_to_camera` can lift it; else
            None.
        """
        pred: InstanceData = data_sample.pred_instances
        keypoints = np.asarray(pred.keypoints, np.float64)
        if keypoints.shape[-1] != 3:
            return None
        meta = data_sample.metainfo
        image_px_per_crop_px = (
            np.asarray(meta['input_scale'], np.float64).reshape(-1)[0] /
            meta['input_size'][0])
        depth = keypoints[..., 2] * image_px_per_crop_px
        keypoints_2d = keypoints[..., :2].astype(np.float32)
        pred.keypoints = keypoints_2d
        pred.keypoints_depth = depth.astype(np.float32)

        root_depth = root_depth_of(data_sample, self.root_index)
        if meta.get('camera_param', {}).get('intrinsics') is not None and \
                root_depth is not None:
            return root_depth
        root = keypoints_2d[:, self.root_index:self.root_index + 1]
        rel = np.concatenate([keypoints_2d - root, depth[..., None]], -1)
        pred.keypoints_3d = rel.astype(np.float32)
        pred.set_metainfo(dict(keypoints_3d_unit='image_px_root_relative'))
        return None

    def _lift_to_camera(self, liftable: list) -> None:
        """Camera-space ``keypoints_3d`` of ``(sample, root depth (N,))``
        pairs whose samples have intrinsics, in one batched call (the lens
        model's Newton inversion costs about 1.6 ms a call on one sample's
        joints, most of it per call)."""
        if not liftable:
            return
        counts, keypoints, depth, intrinsics, distortion, root_depth = \
            [], [], [], [], [], []
        for sample, sample_root_depth in liftable:
            pred, camera = sample.pred_instances, \
                sample.metainfo['camera_param']
            num = len(pred.keypoints)
            counts.append(num)
            keypoints.append(pred.keypoints)
            depth.append(pred.keypoints_depth)
            intrinsics.append(np.broadcast_to(
                np.asarray(camera['intrinsics'], np.float64), (num, 3, 3)))
            lens = np.zeros(5) if camera.get('distortion') is None else \
                np.asarray(camera['distortion'], np.float64).reshape(-1)
            if lens.shape != (5, ):
                raise ValueError(
                    f"camera_param['distortion'] of "
                    f"{sample.metainfo.get('img_path', 'a sample')} has "
                    f'{lens.size} coefficients; expected OpenCV\'s five '
                    '[k1, k2, p1, p2, k3]')
            distortion.append(np.broadcast_to(lens, (num, 5)))
            root_depth.append(np.broadcast_to(sample_root_depth, (num, )))
        points = lift_to_camera(
            np.concatenate(keypoints), np.concatenate(depth),
            np.concatenate(intrinsics), np.concatenate(root_depth),
            np.concatenate(distortion)).astype(np.float32)
        parts = np.split(points, np.cumsum(counts)[:-1])
        for (sample, _), part in zip(liftable, parts):
            sample.pred_instances.keypoints_3d = part
            sample.pred_instances.set_metainfo(
                dict(keypoints_3d_unit='camera'))
