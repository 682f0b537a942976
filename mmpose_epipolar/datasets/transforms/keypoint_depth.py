import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class AttachKeypointDepth(BaseTransform):
    """Append ``keypoints_depth`` to ``keypoints`` as a third column.

    MMPose's geometric transforms (``RandomFlip`` with its left/right swap,
    ``RandomBBoxTransform``, ``TopdownAffine``) move ``keypoints[..., :2]``
    and carry the remaining columns along, so depth stays attached to its
    joint through augmentation; ``VolumetricIntegralLabel`` then reads it.
    A horizontal flip leaves depth unchanged, and in-plane rotation and
    scaling do not change root-relative depth either.

    Required keys: ``keypoints`` (N, K, 2).
    Optional keys: ``keypoints_depth`` (N, K) in image pixels (absent for 2D
    data: nothing is done).
    Modified keys: ``keypoints`` becomes (N, K, 3).
    """

    def transform(self, results: dict) -> dict:
        depth = results.get('keypoints_depth')
        if depth is None:
            return results
        keypoints = np.asarray(results['keypoints'], dtype=np.float32)
        depth = np.asarray(depth, dtype=np.float32)
        if depth.shape != keypoints.shape[:2]:
            raise ValueError(
                f'keypoints_depth of shape {depth.shape} does not match '
                f'keypoints of shape {keypoints.shape} '
                f"(sample {results.get('img_path', '?')})")
        results['keypoints'] = np.concatenate(
            [keypoints[..., :2], depth[..., None]], axis=-1)
        return results
