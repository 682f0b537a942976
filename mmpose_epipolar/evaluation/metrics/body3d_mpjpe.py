import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.evaluation.functional import keypoint_mpjpe
from mmpose.evaluation.functional.mesh_eval import compute_similarity_transform
from mmpose.registry import METRICS

ALIGNMENTS = {'MPJPE': 'none', 'P-MPJPE': 'procrustes', 'N-MPJPE': 'scale'}


def mpjpe_errors(pred: np.ndarray, gt: np.ndarray,
                 mask: np.ndarray) -> Dict[str, float]:
    """MPJPE, P-MPJPE and N-MPJPE with MMPose's ``keypoint_mpjpe``.

    Args:
        pred (np.ndarray): Root-relative predictions (N, K, 3).
        gt (np.ndarray): Root-relative ground truth (N, K, 3).
        mask (np.ndarray): Joints to count (N, K) bool.

    Returns:
        dict: ``MPJPE``, ``P-MPJPE``, ``N-MPJPE`` in the unit of the inputs.
    """
    return {
        name: float(keypoint_mpjpe(pred, gt, mask, alignment))
        for name, alignment in ALIGNMENTS.items()
    }


def per_joint_errors(pred: np.ndarray, gt: np.ndarray,
                     alignment: str) -> np.ndarray:
    """Euclidean error of every joint after the given alignment.

    Args:
        pred (np.ndarray): Root-relative predictions (N, K, 3).
        gt (np.ndarray): Root-relative ground truth (N, K, 3).
        alignment (str): ``'none'``, ``'scale'`` (least-squares scale, as
            N-MPJPE) or ``'procrustes'`` (similarity, as P-MPJPE).

    Returns:
        np.ndarray: Errors (N, K) in the unit of the inputs.
    """
    if alignment == 'procrustes':
        pred = np.stack([
            compute_similarity_transform(p, g) for p, g in zip(pred, gt)
        ])
    elif alignment == 'scale':
        scale = (np.einsum('nkc,nkc->n', pred, gt) /
                 np.maximum(np.einsum('nkc,nkc->n', pred, pred), 1e-12))
        pred = pred * scale[:, None, None]
    elif alignment != 'none':
        raise ValueError(f'Unknown alignment {alignment!r}')
    return np.linalg.norm(pred - gt, axis=-1)


@METRICS.register_module()
class Body3DMPJPE(BaseMetric):
    """MPJPE, P-MPJPE and N-MPJPE of monocular 3D poses, in millimetres.

    Predictions and ground truth are made root-relative before comparison
    (MPJPE after root alignment). Absolute depth is not predicted by a
    monocular model: the camera-space prediction uses the ground-truth root
    depth and the intrinsics, as EpipolarPose evaluates; the root-aligned
    error does not depend on it. Reads ``pred_instances.keypoints_3d``
    (N, K, 3) and ``gt_instances.keypoints_cam`` (N, K, 3).

    Args:
        root_index (int): Index of the root joint. Defaults to 0.
        joint_names (Sequence[str], optional): Names for the per-joint table;
            taken from the dataset metainfo when None.
        per_action (bool): Also report errors per action. Defaults to True.
        out_dir (str, optional): Where to write ``per_joint_mpjpe.png``
            (the per-joint bar chart) and ``mpjpe_tables.json``.
        collect_device (str): Device for collecting results across ranks.
        prefix (str, optional): Prefix of the metric names.
    """

    default_prefix = 'h36m'

    def __init__(self,
                 root_index: int = 0,
                 joint_names: Optional[Sequence[str]] = None,
                 per_action: bool = True,
                 out_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.root_index = root_index
        self.joint_names = list(joint_names) if joint_names else None
        self.per_action = per_action
        self.out_dir = out_dir

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Collect root-relative predictions and ground truth per sample."""
        for sample in data_samples:
            pred = sample['pred_instances']
            gt = sample['gt_instances']
            if 'keypoints_cam' not in gt:
                raise KeyError(
                    'Body3DMPJPE needs gt_instances.keypoints_cam (camera-'
                    f"frame ground truth) for {sample.get('img_path', '?')}; "
                    'use a test split and add it to PackPoseInputs.')
            if pred.get('keypoints_3d') is None:
                raise KeyError('Body3DMPJPE needs pred_instances.keypoints_3d'
                               ' (TopdownVolumetricEstimator)')
            pred_3d = np.asarray(pred['keypoints_3d'], np.float64)
            gt_3d = np.asarray(gt['keypoints_cam'], np.float64)
            visible = np.asarray(
                gt.get('keypoints_visible', np.ones(gt_3d.shape[:2])))
            visible = visible.reshape(gt_3d.shape[:2]) > 0
            root = slice(self.root_index, self.root_index + 1)
            self.results.append(
                dict(
                    pred=(pred_3d - pred_3d[:, root])[0],
                    gt=(gt_3d - gt_3d[:, root])[0],
                    mask=visible[0],
                    action=str(sample.get('action', 'all'))))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Mean errors overall and per action; per-joint tables."""
        logger = MMLogger.get_current_instance()
        pred = np.stack([r['pred'] for r in results])
        gt = np.stack([r['gt'] for r in results])
        mask = np.stack([r['mask'] for r in results])
        actions = np.array([r['action'] for r in results])
        if self.joint_names is None:
            names = (self.dataset_meta or {}).get('keypoint_id2name')
            self.joint_names = ([names[i] for i in range(pred.shape[1])]
                                if names else
                                [str(i) for i in range(pred.shape[1])])

        metrics = mpjpe_errors(pred, gt, mask)
        per_joint = {}
        for name, alignment in ALIGNMENTS.items():
            errors = per_joint_errors(pred, gt, alignment)
            per_joint[name] = [
                float(errors[:, k][mask[:, k]].mean())
                if mask[:, k].any() else float('nan')
                for k in range(errors.shape[1])
            ]
        if self.per_action and len(set(actions)) > 1:
            for action in sorted(set(actions)):
                sel = actions == action
                for name, value in mpjpe_errors(pred[sel], gt[sel],
                                                mask[sel]).items():
                    metrics[f'{name}_{action}'] = value
        logger.info('Body3DMPJPE: root-aligned errors in the unit of the '
                    'ground truth (mm for Human3.6M); predictions placed with '
                    'the ground-truth root depth and the intrinsics.')
        logger.info('per-joint MPJPE: ' + ', '.join(
            f'{n}={e:.1f}'
            for n, e in zip(self.joint_names, per_joint['MPJPE'])))
        if self.out_dir:
            self._save_tables(per_joint, metrics)
        return metrics

    def _save_tables(self, per_joint: Dict[str, List[float]],
                     metrics: Dict[str, float]) -> None:
        import json

        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        from mmengine.utils import mkdir_or_exist

        mkdir_or_exist(self.out_dir)
        with open(osp.join(self.out_dir, 'mpjpe_tables.json'), 'w') as f:
            json.dump(
                dict(joints=self.joint_names, per_joint=per_joint,
                     metrics=metrics), f, indent=2)
        fig, ax = plt.subplots(figsize=(10, 4))
        positions = np.arange(len(self.joint_names))
        width = 0.8 / len(per_joint)
        for i, (name, values) in enumerate(per_joint.items()):
            ax.bar(positions + i * width, values, width, label=name)
        ax.set_xticks(positions + 0.4 - width / 2)
        ax.set_xticklabels(self.joint_names, rotation=60, ha='right')
        ax.set_ylabel('error (mm)')
        ax.set_title('Per-joint error')
        ax.legend()
        fig.tight_layout()
        fig.savefig(osp.join(self.out_dir, 'per_joint_mpjpe.png'), dpi=100)
        plt.close(fig)
