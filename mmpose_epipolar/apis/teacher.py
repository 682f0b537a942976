# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""2D predictions of a teacher model on every view of a dataset, the input
of the pseudo-labels.

The work is split into fixed batches of dataset indices and batch ``b`` is
predicted by rank ``b % world_size``: every view is predicted in the same
batch whatever the number of processes, so one process or N give the same
numbers (CPU kernels may round differently for other batch sizes, and for
other thread counts: compare runs with the same threads per process).
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn


def fixed_batches(num_samples: int, batch_size: int) -> List[List[int]]:
    """Dataset indices in consecutive batches of ``batch_size``."""
    return [list(range(s, min(s + batch_size, num_samples)))
            for s in range(0, num_samples, batch_size)]


@torch.no_grad()
def predict_views(model: nn.Module,
                  dataset,
                  batches: Sequence[Sequence[int]],
                  progress: bool = False,
                  amp: bool = False) -> Dict[int, np.ndarray]:
    """The teacher's 2D of the given views, in image pixels.

    Args:
        model (nn.Module): An MMPose top-down model (``test_step`` returns
            ``PoseDataSample`` with ``pred_instances.keypoints`` (N, J, 2)
            and ``keypoint_scores`` (N, J) in image pixels).
        dataset: Yields the teacher's test-time inputs (its pipeline ends
            in ``PackPoseInputs``).
        batches (Sequence[Sequence[int]]): Dataset indices, one list per
            batch.
        progress (bool): Show a progress bar.
        amp (bool): Predict under MMEngine's ``autocast`` (bfloat16 on a
            CPU, float16 on CUDA), as a test loop with ``fp16=True``.

    Returns:
        dict: ``{index: (J, 3) x, y, score}``; the highest-scoring instance
        of each view.
    """
    from mmengine.dataset import pseudo_collate
    from mmengine.runner.amp import autocast
    model.eval()
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(sum(len(b) for b in batches))
    out = {}
    flip_indices = (getattr(model, 'dataset_meta', None) or {}).get(
        'flip_indices')
    for indices in batches:
        data = pseudo_collate([dataset[i] for i in indices])
        if flip_indices is not None:
            # Flip testing swaps the model's output joints, whose layout
            # (e.g. COCO-17) need not be the dataset's.
            for sample in data['data_samples']:
                sample.set_metainfo(dict(flip_indices=list(flip_indices)))
        with autocast(enabled=amp):
            samples = model.test_step(data)
        for index, sample in zip(indices, samples):
            out[index] = best_instance(sample.pred_instances)
        if bar is not None:
            bar.update(len(indices))
    if bar is not None:
        print()
    return out


def best_instance(pred_instances) -> np.ndarray:
    """(J, 3) x, y, score of the instance with the highest mean score."""
    xy = _numpy(pred_instances.keypoints)
    score = _numpy(pred_instances.keypoint_scores)
    best = int(np.argmax(score.mean(-1)))
    return np.concatenate([xy[best, :, :2], score[best][:, None]], -1)


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, np.float64)


def gather_predictions(local: Dict[int, np.ndarray],
                       num_samples: int) -> Optional[np.ndarray]:
    """Collect every rank's predictions on rank 0.

    Args:
        local (dict): This rank's ``{index: (J, 3)}``.
        num_samples (int): Views in the dataset.

    Returns:
        np.ndarray: (N, J, 3) in dataset order on rank 0 (and in a single
        process); None on the other ranks.

    Raises:
        RuntimeError: If some view was predicted by no rank.
    """
    from mmengine.dist import all_gather_object, get_rank
    parts = all_gather_object(local)
    if get_rank() != 0:
        return None
    merged = {}
    for part in parts:
        merged.update(part)
    missing = sorted(set(range(num_samples)) - set(merged))
    if missing:
        raise RuntimeError(f'no rank predicted views {missing[:10]} '
                           f'({len(missing)} of {num_samples})')
    return np.stack([merged[i] for i in range(num_samples)])
