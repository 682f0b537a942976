"""The online self-supervised estimator equals the offline (cached) path."""
import importlib.util
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS, MODELS

from mmpose_epipolar.models import crop_to_image, image_to_crop

CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
          'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'input_size',
             'input_center', 'input_scale', 'flip', 'flip_indices',
             'bbox_rotation', 'camera_param', 'view_group')


def load_tool(repo_root):
    spec = importlib.util.spec_from_file_location(
        'make_pseudo_labels', repo_root / 'tools/make_pseudo_labels.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(scope='module')
def setup(repo_root, tmp_path_factory):
    cfg = Config.fromfile(str(repo_root / CONFIG))
    data_root = tmp_path_factory.mktemp('online') / 'synthetic'
    dataset = dict(
        type='SyntheticMultiViewDataset',
        data_root=str(data_root),
        image_size=128,
        generator_cfg=dict(
            train_subjects=('S1', ),
            test_subjects=('S9', ),
            actions=('Walking', ),
            frames_per_sequence=2),
        mode='self_supervised')
    torch.manual_seed(0)
    model_cfg = cfg.model.copy()
    model_cfg.type = 'EpipolarSelfSupEstimator'
    model_cfg.pseudo_label_cfg = dict(
        pooled=False, reproj_thresh=1e6, min_valid_joints=8)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return cfg, dataset, model, data_root


def teacher_sees_ground_truth(model, dataset_cfg, samples, noise_px=0.5):
    """Make the frozen 2D branch output the true 2D (plus noise).

    A random-weight branch predicts no usable pose, and training one is too
    slow for a test; the comparison is about the geometry and plumbing,
    which see only the branch's outputs.
    """
    supervised = DATASETS.build(dict(dataset_cfg, mode='test', pipeline=[]))
    rng = np.random.default_rng(0)
    coords = []
    for i, sample in enumerate(samples):
        image = supervised[i]['keypoints'][0]
        crop = image_to_crop(image, sample.metainfo)
        crop = crop + rng.normal(0, noise_px, crop.shape)
        coords.append(crop / np.asarray(sample.metainfo['input_size']) - 0.5)
    coords = torch.tensor(np.stack(coords), dtype=torch.float32)
    coords = torch.cat([coords, torch.zeros_like(coords[..., :1])], dim=-1)
    heatmaps = torch.zeros(*coords.shape[:2], 32, 32)
    heatmaps[..., 16, 16] = 1.0  # score (peak mass) 1

    teacher = model.teacher
    teacher.test_cfg = dict(flip_test=False)
    teacher.head.forward = lambda feats: (coords[:feats[-1].shape[0]],
                                          heatmaps[:feats[-1].shape[0]])


def crops(dataset_cfg, pipeline):
    cfg = dict(dataset_cfg, pipeline=pipeline)
    return DATASETS.build(cfg)


def test_crop_image_round_trip_with_flip_and_rotation():
    rng = np.random.default_rng(0)
    meta = dict(
        input_center=np.array([300.0, 200.0]),
        input_scale=np.array([180.0, 180.0]),
        input_size=(128, 128),
        bbox_rotation=np.array([25.0]),
        flip=True,
        flip_indices=[0, 2, 1, 3],
        ori_shape=(480, 640))
    image = rng.uniform(100, 400, (4, 2))
    np.testing.assert_allclose(
        crop_to_image(image_to_crop(image, meta), meta), image, atol=1e-6)


def test_online_loss_equals_offline_loss(setup, repo_root, tmp_path):
    cfg, dataset_cfg, model, data_root = setup
    test_pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(96, 96)),
        dict(type='PackPoseInputs', meta_keys=META_KEYS)
    ]
    plain = crops(dataset_cfg, test_pipeline)
    batch = pseudo_collate([plain[i] for i in range(len(plain))])
    assert len(plain) == 8 and len({d.metainfo['view_group']
                                    for d in batch['data_samples']}) == 2
    model.eval()
    online_batch = model.data_preprocessor(batch, training=False)
    teacher_sees_ground_truth(model, dataset_cfg, batch['data_samples'])

    # Offline: the frozen branch's predictions, dumped as tools/test.py
    # does, triangulated per frame by the tool, read back by the dataset.
    teacher = model.teacher
    with torch.no_grad():
        preds = teacher.predict(**online_batch)
    dump = [
        dict(
            img_path=p.metainfo['img_path'],
            pred_instances=dict(
                keypoints=p.pred_instances.keypoints,
                keypoint_scores=p.pred_instances.keypoint_scores))
        for p in preds
    ]
    dump_file = tmp_path / 'preds.pkl'
    dump_file.write_bytes(pickle.dumps(dump))
    label_file = tmp_path / 'labels.npz'
    load_tool(repo_root).main([
        str(dump_file),
        str(data_root / 'annotation_body3d/cameras.pkl'), '--out',
        str(label_file), '--mode', 'per-frame', '--reproj-thresh', '1e6'
    ])
    codec = cfg.codec.copy()
    labelled = crops(dataset_cfg, [
        dict(type='LoadImage'),
        dict(type='EpipolarPseudoLabel', label_file=str(label_file)),
        dict(type='GetBBoxCenterScale'),
        dict(type='AttachKeypointDepth'),
        dict(type='TopdownAffine', input_size=(96, 96)),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs', meta_keys=META_KEYS)
    ])
    offline_batch = model.data_preprocessor(
        pseudo_collate([labelled[i] for i in range(len(labelled))]),
        training=False)
    offline_labels, offline_weights = model.head.collect_labels(
        offline_batch['data_samples'])
    assert offline_weights.sum() > 0, 'no valid offline pseudo-label'

    online_labels, online_weights = model.online_targets(
        online_batch['inputs'], online_batch['data_samples'])
    torch.testing.assert_close(online_weights, offline_weights)
    mask = offline_weights > 0
    # The offline path stores float32 labels and warps them with OpenCV in
    # float32; 2e-3 is 0.2 px of the 96-pixel crop.
    torch.testing.assert_close(
        online_labels[mask], offline_labels[mask], atol=2e-3, rtol=0)
    assert (online_labels[mask] - offline_labels[mask]).abs().median() < 1e-5

    with torch.no_grad():
        online = model.loss(online_batch['inputs'],
                            online_batch['data_samples'])
        offline = super(type(model), model).loss(
            offline_batch['inputs'], offline_batch['data_samples'])
    assert online['loss_kpt'].item() == pytest.approx(
        offline['loss_kpt'].item(), rel=1e-3)
    assert online['pseudo_valid'].item() > 0


def test_online_batch_without_valid_labels_gives_zero_loss(setup):
    cfg, dataset_cfg, model, _ = setup
    plain = crops(dataset_cfg, [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=(96, 96)),
        dict(type='PackPoseInputs', meta_keys=META_KEYS)
    ])
    # One view per group: nothing can be triangulated.
    first_of_group = {}
    for i in range(len(plain)):
        group = plain[i]['data_samples'].metainfo['view_group']
        first_of_group.setdefault(group, plain[i])
    samples = list(first_of_group.values())
    assert len(samples) == 2
    teacher_sees_ground_truth(model, dataset_cfg,
                              [s['data_samples'] for s in samples])
    batch = model.data_preprocessor(pseudo_collate(samples), training=True)
    model.train()
    losses = model.loss(batch['inputs'], batch['data_samples'])
    assert losses['loss_kpt'].item() == 0.0
    assert losses['pseudo_valid'].item() == 0.0
    losses['loss_kpt'].backward()
