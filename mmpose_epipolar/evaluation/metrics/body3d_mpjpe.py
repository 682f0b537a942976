import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from ...geometry.procrustes import MIN_ALIGN_POINTS, aligned_joint_errors

ALIGNMENTS = {'MPJPE': 'none', 'P-MPJPE': 'procrustes', 'N-MPJPE': 'scale'}


def _joint_errors(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                  alignment: str) -> Tuple[np.ndarray, np.ndarray]:
    """Per-joint errors (N, K) and the entries that count (N, K) bool, with
    the alignment fitted per sample on the joints in ``mask`` only."""
    errors, counted = aligned_joint_errors(
        torch.as_tensor(np.asarray(pred, np.float64)),
        torch.as_tensor(np.asarray(gt, np.float64)),
        torch.as_tensor(np.asarray(mask, bool)), alignment)
    return errors.numpy(), counted.numpy()


def _mean(errors: np.ndarray, counted: np.ndarray) -> float:
    """Mean of the counted entries; NaN when none counts."""
    return float(errors[counted].mean()) if counted.any() else float('nan')


def mpjpe_errors(pred: np.ndarray, gt: np.ndarray,
                 mask: np.ndarray) -> Dict[str, Union[float, int]]:
    """MPJPE, P-MPJPE and N-MPJPE over the joints in ``mask``.

    Each mean runs over the masked joints of all samples, as MMPose's
    ``keypoint_mpjpe``; unlike it, the Procrustes (P-MPJPE) and scale
    (N-MPJPE) alignments are fitted per sample on the joints in ``mask``
    only, so masked joints, whatever their coordinates (NaN included),
    change nothing. A sample with fewer than
    :data:`~mmpose_epipolar.geometry.procrustes.MIN_ALIGN_POINTS` (4)
    finite joints in ``mask`` is left out of P-MPJPE and N-MPJPE (it still
    counts in MPJPE).

    Args:
        pred (np.ndarray): Root-relative predictions (N, K, 3).
        gt (np.ndarray): Root-relative ground truth (N, K, 3).
        mask (np.ndarray): Joints to count (N, K) bool.

    Returns:
        dict: ``MPJPE``, ``P-MPJPE``, ``N-MPJPE`` in the unit of the inputs
        (NaN where nothing counts), ``num_samples`` (N) and
        ``num_samples_unaligned`` (the samples left out of P-MPJPE and
        N-MPJPE).
    """
    metrics: Dict[str, Union[float, int]] = {}
    aligned = np.zeros(len(pred), bool)
    for name, alignment in ALIGNMENTS.items():
        errors, counted = _joint_errors(pred, gt, mask, alignment)
        metrics[name] = _mean(errors, counted)
        if alignment != 'none':
            # Both alignments need the same joints: the same samples pass.
            aligned = counted.any(-1)
    metrics['num_samples'] = int(len(pred))
    metrics['num_samples_unaligned'] = int((~aligned).sum())
    return metrics


def per_joint_errors(pred: np.ndarray,
                     gt: np.ndarray,
                     alignment: str,
                     mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Euclidean error of every joint after the given alignment, fitted per
    sample on the joints in ``mask`` only.

    Args:
        pred (np.ndarray): Root-relative predictions (N, K, 3).
        gt (np.ndarray): Root-relative ground truth (N, K, 3).
        alignment (str): ``'none'``, ``'scale'`` (least-squares scale, as
            N-MPJPE) or ``'procrustes'`` (similarity, as P-MPJPE).
        mask (np.ndarray, optional): Joints that count (N, K) bool.
            Defaults to all.

    Returns:
        np.ndarray: Errors (N, K) in the unit of the inputs; NaN where a
        joint does not count (outside ``mask``, or in a sample with fewer
        than 4 finite joints in ``mask`` under an alignment) or a
        coordinate is not finite.
    """
    if mask is None:
        mask = np.ones(np.shape(pred)[:2], bool)
    errors, counted = _joint_errors(pred, gt, mask, alignment)
    return np.where(counted, errors, np.nan)


@METRICS.register_module()
class Body3DMPJPE(BaseMetric):
    """MPJPE, P-MPJPE and N-MPJPE of monocular 3D poses, in millimetres.

    Predictions and ground truth are made root-relative before comparison
    (MPJPE after root alignment). Absolute depth is not predicted by a
    monocular model: the camera-space prediction uses the ground-truth root
    depth and the intrinsics, as EpipolarPose evaluates; the root-aligned
    error does not depend on it. Reads ``pred_instances.keypoints_3d``
    (N, K, 3), ``gt_instances.keypoints_cam`` (N, K, 3) and, when present,
    ``gt_instances.keypoints_visible`` (N, K).

    Only visible joints count, and the P-MPJPE and N-MPJPE alignments are
    fitted per sample on them alone (:func:`mpjpe_errors`); a sample with
    fewer than 4 visible joints is left out of those two and counted.
    Besides the errors (overall and ``{name}_{action}``), the metrics give
    ``num_samples`` (samples evaluated) and ``num_samples_unaligned`` (left
    out of P-MPJPE and N-MPJPE), also logged.

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
            errors, counted = _joint_errors(pred, gt, mask, alignment)
            per_joint[name] = [
                _mean(errors[:, k], counted[:, k])
                for k in range(errors.shape[1])
            ]
        if self.per_action and len(set(actions)) > 1:
            for action in sorted(set(actions)):
                sel = actions == action
                errors = mpjpe_errors(pred[sel], gt[sel], mask[sel])
                for name in ALIGNMENTS:
                    metrics[f'{name}_{action}'] = errors[name]
        logger.info('Body3DMPJPE: root-aligned errors in the unit of the '
                    'ground truth (mm for Human3.6M); predictions placed with '
                    'the ground-truth root depth and the intrinsics.')
        self._log_counts(logger, metrics)
        logger.info('per-joint MPJPE: ' + ', '.join(
            f'{n}={e:.1f}'
            for n, e in zip(self.joint_names, per_joint['MPJPE'])))
        if self.out_dir:
            self._save_tables(per_joint, metrics)
        return metrics

    @staticmethod
    def _log_counts(logger: MMLogger,
                    metrics: Dict[str, Union[float, int]]) -> None:
        """Say over how many samples the metrics were computed."""
        total = metrics['num_samples']
        left_out = metrics['num_samples_unaligned']
        message = (f'Body3DMPJPE: MPJPE over {total} samples, P-MPJPE and '
                   f'N-MPJPE over {total - left_out}')
        if left_out:
            logger.warning(
                f'{message}: {left_out} samples with fewer than '
                f'{MIN_ALIGN_POINTS} visible joints are left out of the '
                'aligned errors.')
        else:
            logger.info(f'{message}.')

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
