# Copyright (c) mmpose-epipolar contributors. All rights reserved.
from typing import Optional, Sequence

from mmengine.dist import barrier, get_dist_info
from mmpose.registry import DATASETS

from .h36m_multiview_dataset import H36MMultiViewDataset


@DATASETS.register_module()
class SyntheticMultiViewDataset(H36MMultiViewDataset):
    """The embedded synthetic multi-view dataset (no download needed).

    On construction it makes sure the synthetic Human3.6M look-alike exists
    in ``data_root`` by calling
    :func:`mmpose_epipolar.datasets.synthetic.generate_synthetic_h36m`
    (idempotent: a folder whose ``meta.json`` matches the parameters is
    reused), then reads it exactly like :class:`H36MMultiViewDataset`
    (same layout, fields, modes and view groups).

    The generated set is already subsampled, so ``frame_interval``
    defaults to 1 for both splits; the subjects default to the generator's
    (by default train S1, S5, S6, S7, S8; test S9, S11).

    Args:
        data_root (str): Cache folder of the generated data.
            Default: ``'data/synthetic_h36m'``.
        seed (int): Generation seed. Default: 0.
        image_size (int): Side of the square images. Default: 256.
        generator_cfg (dict, optional): Further keyword arguments of
            ``generate_synthetic_h36m`` (e.g. ``frames_per_sequence``).
        ann_file (str, optional): Defaults to the train or test file of the
            generated layout (as the generator reports it) depending on
            ``test_mode``.
        subjects (Sequence[str], optional): Defaults to the generator's
            subjects of the split.
        frame_interval (int): Default: 1.
        **kwargs: Other arguments of :class:`H36MMultiViewDataset`.
    """

    TRAIN_FRAME_INTERVAL: int = 1
    TEST_FRAME_INTERVAL: int = 1

    def __init__(self,
                 data_root: str = 'data/synthetic_h36m',
                 seed: int = 0,
                 image_size: int = 256,
                 generator_cfg: Optional[dict] = None,
                 ann_file: Optional[str] = None,
                 subjects: Optional[Sequence[str]] = None,
                 frame_interval: int = 1,
                 test_mode: bool = False,
                 **kwargs):
        self.generator_cfg = dict(
            seed=seed, image_size=image_size, **(generator_cfg or {}))
        self.generated = self._generate(data_root, self.generator_cfg)
        split = 'test' if test_mode else 'train'
        if ann_file is None:
            ann_file = self.generated.get('ann_file_rel', {}).get(
                split, f'annotation_body3d/fps25/h36m_{split}.npz')
        if subjects is None:
            # Follow the generator, which may have been given other subjects.
            subjects = self.generated.get('params', {}).get(
                f'{split}_subjects')
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            subjects=subjects,
            frame_interval=frame_interval,
            test_mode=test_mode,
            **kwargs)

    @staticmethod
    def _generate(data_root: str, generator_cfg: dict) -> dict:
        """Generate (or reuse) the data, rank 0 first in distributed runs."""
        from .synthetic import generate_synthetic_h36m
        rank, world_size = get_dist_info()
        result = None
        if rank == 0:
            result = generate_synthetic_h36m(data_root, **generator_cfg)
        if world_size > 1:
            barrier()
        if rank != 0:
            result = generate_synthetic_h36m(data_root, **generator_cfg)
        return result or {}
