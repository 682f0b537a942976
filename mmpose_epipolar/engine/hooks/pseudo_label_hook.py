# Copyright (c) mmpose-epipolar contributors. All rights reserved.
"""Make sure a self-supervised run's pseudo-label file exists and matches
its inputs before training starts."""
import contextlib
import copy
import os.path as osp
import random
from typing import Any, Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from ...apis.pseudo_labels import (
    build_pseudo_labels,
    dataset_camera_sets,
    label_summary,
    labelled_rows,
)
from ...apis.teacher import fixed_batches, gather_predictions, predict_views
from ...datasets.pseudo_label_file import (
    image_key,
    load_pseudo_labels,
    save_pseudo_labels,
)
from ...geometry import EpipolarOptions
from ...utils.hashing import file_sha256, text_sha256

#: Label-file ``meta`` key holding what made the labels.
FINGERPRINT_KEY = 'fingerprint'
_INPUT_NAMES = dict(teacher_checkpoint='teacher checkpoint',
                    teacher_model='teacher model', labels='label options',
                    engine='engine options', dataset='dataset or views')


@HOOKS.register_module()
class PseudoLabelHook(Hook):
    """Build the epipolar pseudo-labels of the training set when they are
    missing or stale (stage 2 of the method), then let training read them.

    Before training, the hook compares the label file's recorded inputs
    (its fingerprint: the teacher checkpoint's SHA-256, the teacher model,
    the label and engine options, the dataset and its views) with this
    run's. A missing file, or one made from other inputs, is rebuilt: the
    2D teacher predicts every training view with the test-time pipeline,
    the views are grouped into synchronised camera sets and the epipolar
    engine labels them (:func:`build_pseudo_labels`); the file is written
    atomically, so an interrupted build never leaves a file that a later
    run would trust. With ``on_mismatch='error'`` a stale file is refused
    instead, naming the input that differs. The training pipeline's
    ``EpipolarPseudoLabel`` transforms are pointed at the file.

    Under torchrun every rank predicts its share of fixed batches, rank 0
    gathers, labels and writes, and the others wait at a barrier: one
    process or N give the same file. The random state is left as it was,
    so a run that builds the labels trains exactly like one that reuses
    them.

    When the config sets no ``load_from`` and does not resume, the model is
    initialised from the teacher checkpoint (the paper's transfer learning)
    if ``init_from_teacher``; the log says which happened.

    The options come from the config's top-level ``pseudo_labels`` dict
    (so that derived configs can change one of them), overridden by the
    hook's own arguments:

    - ``label_file`` (str): the label NPZ;
    - ``teacher_checkpoint`` (str): the 2D teacher's checkpoint;
    - ``teacher_config`` (str | dict, optional): the teacher's config (a
      file, or ``'mmpose::...'`` for one of MMPose's); None (default) means
      this run's own model (our stage-1 network);
    - ``mode`` (str): ``'pooled'`` (static cameras, default) or
      ``'per-frame'``;
    - ``views`` (int): least views a labelled frame has (2);
    - ``reproj_thresh`` (float): pixels; joints reprojecting farther are
      masked (15);
    - ``min_valid_joints`` (int): visible joints a valid sample needs (8);
    - ``engine`` (dict): :class:`EpipolarOptions` by flat name;
    - ``on_mismatch`` (str): ``'rebuild'`` (default) or ``'error'``;
    - ``init_from_teacher`` (bool): initialise the model from the teacher
      when ``load_from`` is unset (True);
    - ``batch_size`` (int): views per teacher batch (32);
    - ``amp`` (bool): the teacher predicts under MMEngine's autocast
      (bfloat16 on a CPU), as a test loop with ``fp16=True`` (False);
    - ``flip_test`` (bool, optional): whether the teacher also predicts
      the mirrored view and averages; None (default) keeps its config's
      ``model.test_cfg.flip_test``;
    - ``teacher_layout`` (str, optional): the teacher's joint layout
      (``'coco17'``, ``'mpii16'``, ``'h36m17'``) when it is not the
      dataset's; None infers it from the teacher's dataset metainfo. Its
      2D is converted to the dataset's H36M-16 (:func:`convert_keypoints`).

    Args:
        cfg_key (str): The config's dict of options.
        **options: Overrides of that dict.
    """

    priority = 'VERY_HIGH'
    DEFAULTS = dict(
        label_file=None, teacher_checkpoint=None, teacher_config=None,
        mode='pooled', views=2, reproj_thresh=15.0, min_valid_joints=8,
        engine=None, on_mismatch='rebuild', init_from_teacher=True,
        batch_size=32, teacher_layout=None, amp=False, flip_test=None)

    def __init__(self, cfg_key: str = 'pseudo_labels', **options) -> None:
        unknown = sorted(set(options) - set(self.DEFAULTS))
        if unknown:
            raise TypeError(f'PseudoLabelHook got unknown options {unknown}; '
                            f'known: {sorted(self.DEFAULTS)}')
        self.cfg_key = cfg_key
        self.overrides = options

    def _resolve(self, runner) -> None:
        """Set the options from the config and the overrides, checked."""
        from_cfg = dict(runner.cfg.get(self.cfg_key) or {})
        unknown = sorted(set(from_cfg) - set(self.DEFAULTS))
        if unknown:
            raise KeyError(f'config key {self.cfg_key!r} has unknown '
                           f'entries {unknown}; known: '
                           f'{sorted(self.DEFAULTS)}')
        opts = {**self.DEFAULTS, **from_cfg, **self.overrides}
        key = self.cfg_key
        for name in ('label_file', 'teacher_checkpoint'):
            if not opts[name]:
                raise KeyError(f'PseudoLabelHook needs {key}.{name} in the '
                               'config')
        if opts['mode'] not in ('pooled', 'per-frame'):
            raise ValueError(f"{key}.mode must be 'pooled' or 'per-frame', "
                             f"got {opts['mode']!r}")
        if opts['on_mismatch'] not in ('rebuild', 'error'):
            raise ValueError(f"{key}.on_mismatch must be 'rebuild' or "
                             f"'error', got {opts['on_mismatch']!r}")
        if int(opts['views']) < 2:
            raise ValueError(f"{key}.views must be >= 2, got "
                             f"{opts['views']}")
        self.label_file = str(opts['label_file'])
        self.teacher_checkpoint = str(opts['teacher_checkpoint'])
        self.teacher_config = opts['teacher_config']
        self.mode = opts['mode']
        self.views = int(opts['views'])
        self.reproj_thresh = float(opts['reproj_thresh'])
        self.min_valid_joints = int(opts['min_valid_joints'])
        try:
            self.options = EpipolarOptions().replace(
                **dict(opts['engine'] or {}))
        except (TypeError, ValueError) as e:
            raise ValueError(f'{key}.engine: {e}') from e
        self.on_mismatch = opts['on_mismatch']
        self.init_from_teacher = bool(opts['init_from_teacher'])
        self.batch_size = int(opts['batch_size'])
        self.amp = bool(opts['amp'])
        self.flip_test = (None if opts['flip_test'] is None else
                          bool(opts['flip_test']))
        self.teacher_layout = opts['teacher_layout']

    # The stages of before_train -------------------------------------------

    def before_train(self, runner) -> None:
        self._resolve(runner)
        self._check_teacher()
        with preserved_random_state():
            self._ensure_labels(runner)
        self._point_transforms_at_labels(runner)
        self._initialise_model(runner)

    def _ensure_labels(self, runner) -> None:
        from mmengine.dist import barrier, get_rank
        teacher_cfg = self._teacher_cfg(runner)
        dataset = self._teacher_dataset(runner, teacher_cfg)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        fingerprint = self._fingerprint(runner, infos, teacher_cfg)
        stale = self._stale_inputs(fingerprint)
        if stale is None:
            runner.logger.info(f'PseudoLabelHook: reusing {self.label_file} '
                               '(made from the same teacher, options and '
                               'views)')
            return
        self._refuse_or_announce(runner, stale)
        # Grouped before the teacher runs: a dataset without multi-view
        # frames fails at once, not after predicting every view.
        camera_sets, skipped = dataset_camera_sets(infos, self.views)
        if not camera_sets:
            raise ValueError(
                'PseudoLabelHook: train_dataloader.dataset has no frame seen '
                f'by at least {self.views} views (views={self.views})')
        predictions = self._predict(dataset, teacher_cfg, _device(runner))
        if get_rank() == 0:
            imgnames = [image_key(i['img_path'],
                                  dataset.data_prefix.get('img'))
                        for i in infos]
            self._write_labels(runner, imgnames, camera_sets, skipped,
                               predictions, fingerprint)
        barrier()

    def _point_transforms_at_labels(self, runner) -> None:
        from ...datasets.transforms import EpipolarPseudoLabel
        dataset = runner.train_dataloader.dataset
        transforms = [t for t in getattr(dataset.pipeline, 'transforms', [])
                      if isinstance(t, EpipolarPseudoLabel)]
        if not transforms:
            raise KeyError('PseudoLabelHook: train_dataloader.dataset.'
                           'pipeline has no EpipolarPseudoLabel transform')
        for transform in transforms:
            if transform.label_file != self.label_file:
                runner.logger.info(
                    f'PseudoLabelHook: EpipolarPseudoLabel reads '
                    f'{self.label_file} (the config named '
                    f'{transform.label_file})')
                transform.label_file = self.label_file
            transform.reset()

    def _check_teacher(self) -> None:
        if not self.teacher_checkpoint or \
                not osp.isfile(self.teacher_checkpoint):
            raise FileNotFoundError(
                f'{self.cfg_key}.teacher_checkpoint '
                f'{self.teacher_checkpoint!r} does not exist (train stage 1 '
                'first, e.g. with tools/selfsup_pipeline.py)')

    def _teacher_cfg(self, runner):
        cfg = self._teacher_base_cfg(runner)
        if self.flip_test is None:
            return cfg
        cfg = copy.deepcopy(cfg)
        cfg.model['test_cfg'] = dict(cfg.model.get('test_cfg') or {},
                                     flip_test=self.flip_test)
        return cfg

    def _teacher_base_cfg(self, runner):
        from mmengine.config import Config
        if self.teacher_config is None:
            return runner.cfg
        if isinstance(self.teacher_config, str) and \
                '::' in self.teacher_config:
            from mmengine.hub import get_config
            return get_config(self.teacher_config)  # e.g. 'mmpose::...'
        if isinstance(self.teacher_config, str):
            if not osp.isfile(self.teacher_config):
                raise FileNotFoundError(
                    f'{self.cfg_key}.teacher_config '
                    f'{self.teacher_config!r} does not exist')
            return Config.fromfile(self.teacher_config)
        return Config(copy.deepcopy(dict(self.teacher_config)))

    def _teacher_dataset(self, runner, teacher_cfg):
        """The training views (label-free) with the teacher's test-time
        pipeline (not test_mode: that would switch to the test split)."""
        from mmpose.registry import DATASETS
        cfg = copy.deepcopy(runner.cfg.train_dataloader.dataset)
        cfg.pipeline = copy.deepcopy(teacher_cfg.test_dataloader.dataset
                                     .pipeline)
        dataset = DATASETS.build(cfg)
        if len(dataset) == 0:
            raise ValueError('PseudoLabelHook: train_dataloader.dataset has '
                             'no views')
        return dataset

    def _fingerprint(self, runner, infos, teacher_cfg) -> Dict[str, Any]:
        names = '\n'.join(str(i['img_path']) for i in infos)
        dataset_cfg = runner.cfg.train_dataloader.dataset
        return dict(
            teacher_checkpoint=file_sha256(self.teacher_checkpoint),
            teacher_model=text_sha256(str(teacher_cfg.model)),
            labels=dict(mode=self.mode, views=self.views,
                        reproj_thresh=self.reproj_thresh,
                        min_valid_joints=self.min_valid_joints,
                        amp=self.amp),
            engine=self.options.to_dict(),
            dataset=dict(type=dataset_cfg.get('type'),
                         data_root=dataset_cfg.get('data_root'),
                         ann_file=dataset_cfg.get('ann_file'),
                         num_views=len(infos),
                         views_sha256=text_sha256(names)))

    def _stale_inputs(self, fingerprint: Dict) -> Optional[str]:
        """None when the file exists and was made from these inputs, else
        which input differs."""
        if not osp.isfile(self.label_file):
            return 'the file does not exist'
        try:
            recorded = load_pseudo_labels(self.label_file)['meta'].get(
                FINGERPRINT_KEY)
        except (KeyError, ValueError) as e:
            return f'the file cannot be read ({e})'
        if recorded is None:
            return 'the file records no fingerprint of its inputs'
        differ = [_INPUT_NAMES[k] for k in fingerprint
                  if recorded.get(k) != fingerprint[k]]
        if differ:
            return 'made from another ' + ', '.join(differ) + \
                " than this run's"
        return None

    def _refuse_or_announce(self, runner, stale: str) -> None:
        message = f'pseudo-label file {self.label_file!r}: {stale}'
        if self.on_mismatch == 'error':
            raise ValueError(message + f" ({self.cfg_key}.on_mismatch="
                             "'error'; delete the file or set 'rebuild')")
        runner.logger.info(f'PseudoLabelHook: building labels: {message}')

    def _predict(self, dataset, teacher_cfg, device: str):
        from mmengine.dist import get_dist_info

        from ...apis.inference import init_model
        rank, world_size = get_dist_info()
        model = init_model(teacher_cfg, self.teacher_checkpoint,
                           device=device)
        batches = fixed_batches(len(dataset), self.batch_size)
        local = predict_views(model, dataset, batches[rank::world_size],
                              progress=rank == 0, amp=self.amp)
        keypoints = gather_predictions(local, len(dataset))
        if keypoints is None:  # not rank 0
            return None
        return self._to_dataset_layout(keypoints, model.dataset_meta,
                                       dataset.metainfo)

    def _to_dataset_layout(self, keypoints, teacher_meta: Dict,
                           dataset_meta: Dict):
        """The teacher's (N, J_t, 3) in the dataset's joint layout."""
        from ...datasets.joint_layouts import (
            KEYPOINT_LAYOUT_SIZES,
            LAYOUT_CONVERSIONS,
            convert_keypoints,
            layout_of_metainfo,
        )
        num = int(dataset_meta.get('num_keypoints', keypoints.shape[1]))
        layout = self.teacher_layout
        if layout is None and keypoints.shape[1] == num:
            return keypoints
        if layout is None:
            layout = layout_of_metainfo(teacher_meta, keypoints.shape[1])
        target = 'h36m16' if num == 16 else None
        if (layout, target) not in LAYOUT_CONVERSIONS or \
                KEYPOINT_LAYOUT_SIZES[layout] != keypoints.shape[1]:
            name = (teacher_meta or {}).get('dataset_name')
            raise ValueError(
                f'the teacher predicts {keypoints.shape[1]} joints (layout '
                f'{layout or name!r}), which cannot be converted to the '
                f"dataset's {num}: set {self.cfg_key}.teacher_layout to one "
                f'of {sorted(src for src, _ in LAYOUT_CONVERSIONS)} or use '
                f'another {self.cfg_key}.teacher_config')
        return convert_keypoints(keypoints, layout, target)

    def _write_labels(self, runner, imgnames, camera_sets, skipped: int,
                      keypoints, fingerprint) -> None:
        labels = build_pseudo_labels(
            keypoints, camera_sets, pooled=self.mode == 'pooled',
            options=self.options, reproj_thresh=self.reproj_thresh,
            min_valid_joints=self.min_valid_joints)
        meta = dict(fingerprint['labels'], engine=fingerprint['engine'],
                    num_joints=int(keypoints.shape[1]),
                    teacher_checkpoint=osp.abspath(self.teacher_checkpoint),
                    **{FINGERPRINT_KEY: fingerprint})
        save_pseudo_labels(self.label_file,
                           labelled_rows(labels, imgnames, keypoints), meta)
        summary = label_summary(labels, sum(len(s.rows)
                                            for s in camera_sets), skipped)
        runner.logger.info(
            f'PseudoLabelHook: wrote {self.label_file}: '
            f"{summary['views']} views of {summary['frames']} frames "
            f"(skipped, < {self.views} views: {skipped}), valid "
            f"{100 * summary['valid_fraction']:.1f} %, reprojection px p50 "
            f"{summary['reproj_p50']:.2f}")

    def _initialise_model(self, runner) -> None:
        if runner.cfg.get('resume', False):
            runner.logger.info('PseudoLabelHook: resumed; weights from the '
                               'resumed checkpoint')
        elif runner.cfg.get('load_from'):
            runner.logger.info('PseudoLabelHook: initialised from load_from '
                               f'= {runner.cfg.load_from}')
        elif self.init_from_teacher:
            from mmengine.runner.checkpoint import load_checkpoint
            load_checkpoint(runner.model, self.teacher_checkpoint,
                            map_location='cpu', strict=False,
                            logger=runner.logger)
            runner.logger.info('PseudoLabelHook: load_from is unset; '
                               'initialised from the teacher checkpoint '
                               f'{self.teacher_checkpoint} (transfer '
                               'learning)')
        else:
            runner.logger.info('PseudoLabelHook: load_from is unset and '
                               'init_from_teacher=False; training from the '
                               "model's own initialisation")


@contextlib.contextmanager
def preserved_random_state():
    """Restore Python's, NumPy's and torch's random state on exit."""
    state = (random.getstate(), np.random.get_state(),
             torch.random.get_rng_state())
    try:
        yield
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.random.set_rng_state(state[2])


def _device(runner) -> str:
    try:
        return str(next(runner.model.parameters()).device)
    except StopIteration:  # pragma: no cover (models have parameters)
        return 'cpu'
