"""Fixtures of the dataset tests: real sample paths and a small generated
folder in MMPose's Human3.6M layout (geometrically consistent views)."""
import os.path as osp
import pickle
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

import cv2
import numpy as np
import pytest

SHARED_DATA = Path(__file__).parents[2] / '..' / 'shared' / 'data'
H36M_SAMPLE = SHARED_DATA / 'mmpose-testdata' / 'h36m'
MPII_SAMPLE = SHARED_DATA / 'mmpose-testdata' / 'mpii'
COCO_SAMPLE = SHARED_DATA / 'mmpose-testdata' / 'coco'

CAMERA_IDS = ('54138969', '55011271', '58860488', '60457274')


@pytest.fixture(scope='session', autouse=True)
def _mmpose_scope():
    """Build components from MMPose's registries, as MMPose's tools do."""
    from mmengine.registry import init_default_scope

    import mmpose_epipolar.datasets  # noqa: F401  (register components)
    init_default_scope('mmpose')


@pytest.fixture
def h36m_sample() -> Path:
    if not (H36M_SAMPLE / 'test_h36m_body3d.npz').is_file():
        pytest.skip(f'real H36M sample not found at {H36M_SAMPLE}')
    return H36M_SAMPLE


@pytest.fixture
def mpii_sample() -> Path:
    if not (MPII_SAMPLE / 'test_mpii.json').is_file():
        pytest.skip(f'MPII sample not found at {MPII_SAMPLE}')
    return MPII_SAMPLE


@pytest.fixture
def coco_sample() -> Path:
    if not (COCO_SAMPLE / 'test_coco.json').is_file():
        pytest.skip(f'COCO sample not found at {COCO_SAMPLE}')
    return COCO_SAMPLE


def look_at_camera(position: np.ndarray, f: float, c: Tuple[float, float],
                   size: int) -> dict:
    """A ``cameras.pkl`` record of a camera at ``position`` (metres) looking
    at the world point (0, 0, 1), z up."""
    z_axis = np.array([0., 0., 1.]) - position
    z_axis /= np.linalg.norm(z_axis)
    x_axis = np.cross(z_axis, [0., 0., 1.])
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    # X_cam = R.T @ (X_world - T): R's columns are the camera axes.
    R = np.stack([x_axis, y_axis, z_axis], axis=1)
    return dict(
        R=R,
        T=position.reshape(3, 1),
        f=np.array([[f], [f * 1.01]]),
        c=np.array([[c[0]], [c[1]]]),
        k=np.zeros((3, 1)),
        p=np.zeros((2, 1)),
        w=size,
        h=size)


def write_h36m_layout(root: Path,
                      subjects: Sequence[str] = ('S1', 'S9'),
                      sequences: Sequence[Tuple[str, int]] = (('Directions',
                                                               1),
                                                              ('Walking', 0)),
                      frames: Sequence[int] = (1, 6, 11),
                      missing: Iterable[Tuple] = (),
                      split_subjects: Optional[Dict[str,
                                                    Sequence[str]]] = None,
                      drop_keys: Sequence[str] = (),
                      image_size: int = 64,
                      write_images: bool = True,
                      seed: int = 0) -> dict:
    """Write a tiny H36M-layout folder (npz, cameras.pkl, JPEGs).

    Every instant is one random world pose seen by the 4 cameras of its
    subject, projected exactly (pinhole, no distortion).

    Args:
        missing: ``(subject, action, subaction, camera_id, frame)`` views to
            leave out.
        split_subjects: ``{'train': [...], 'test': [...]}``; default one
            ``train`` file with all subjects.

    Returns:
        dict: ``root``, ``ann_file`` per split, ``camera_file``, ``img_dir``,
        ``views`` (list of view keys written, in file order) and ``world``
        (view key -> (17, 3) world pose).
    """
    rng = np.random.default_rng(seed)
    missing = set(missing)
    ann_dir = root / 'annotation_body3d'
    (ann_dir / 'fps50').mkdir(parents=True, exist_ok=True)
    img_dir = root / 'images'
    img_dir.mkdir(parents=True, exist_ok=True)

    cameras = {}
    for s_i, subject in enumerate(subjects):
        for c_i, cam_id in enumerate(CAMERA_IDS):
            angle = np.pi / 2 * c_i + 0.3 + 0.05 * s_i
            pos = np.array([4. * np.cos(angle), 4. * np.sin(angle), 1.6])
            cameras[(subject, cam_id)] = look_at_camera(
                pos, f=image_size * 1.6, c=(image_size / 2, image_size / 2),
                size=image_size)
    with open(ann_dir / 'cameras.pkl', 'wb') as f:
        pickle.dump(cameras, f)

    if split_subjects is None:
        split_subjects = {'train': list(subjects)}
    out = dict(root=root, camera_file=ann_dir / 'cameras.pkl',
               img_dir=img_dir, views=[], world={}, ann_file={},
               subjects=tuple(subjects))
    pixels = (rng.random((image_size, image_size, 3)) * 255).astype(np.uint8)
    for split, split_subj in split_subjects.items():
        rows = dict(imgname=[], center=[], scale=[], part=[], S=[])
        for subject in split_subj:
            for action, sub in sequences:
                seq = f'{action}_{sub}' if sub else action
                poses = {
                    fr: rng.normal(0, 0.3, (17, 3)) + [0, 0, 1.]
                    for fr in frames
                }
                for cam_id in CAMERA_IDS:
                    cam = cameras[(subject, cam_id)]
                    folder = f'{subject}/{subject}_{seq}.{cam_id}'
                    for fr in frames:
                        key = (subject, action, sub, cam_id, fr)
                        if key in missing:
                            continue
                        name = (f'{folder}/{subject}_{seq}.{cam_id}_'
                                f'{fr:06d}.jpg')
                        x_cam = (cam['R'].T @ (poses[fr] - cam['T'].T).T).T
                        uv = x_cam[:, :2] / x_cam[:, 2:]
                        uv = uv * cam['f'].T + cam['c'].T
                        lo, hi = uv.min(0), uv.max(0)
                        rows['imgname'].append(name)
                        rows['center'].append((lo + hi) / 2)
                        rows['scale'].append((hi - lo).max() * 1.2 / 200)
                        rows['part'].append(
                            np.concatenate([uv, np.ones((17, 1))], 1))
                        rows['S'].append(
                            np.concatenate([x_cam, np.ones((17, 1))], 1))
                        out['views'].append(key)
                        out['world'][key] = poses[fr]
                        if write_images:
                            (img_dir / folder).mkdir(parents=True,
                                                     exist_ok=True)
                            cv2.imwrite(str(img_dir / name), pixels)
        arrays = dict(
            imgname=np.array(rows['imgname']),
            center=np.array(rows['center']).reshape(-1, 2),
            scale=np.array(rows['scale']),
            part=np.array(rows['part']).reshape(-1, 17, 3),
            S=np.array(rows['S']).reshape(-1, 17, 4))
        for k in drop_keys:
            arrays.pop(k)
        path = ann_dir / 'fps50' / f'h36m_{split}.npz'
        np.savez(path, **arrays)
        out['ann_file'][split] = path
    return out


@pytest.fixture
def write_layout():
    """``write_layout(root, **kwargs)``: :func:`write_h36m_layout`."""
    return write_h36m_layout


@pytest.fixture
def h36m_layout(tmp_path):
    """Factory: ``h36m_layout(**kwargs)`` writes a folder under tmp_path."""
    counter = [0]

    def make(**kwargs):
        counter[0] += 1
        return write_h36m_layout(tmp_path / f'h36m_{counter[0]}', **kwargs)

    return make


def _dataset_cfg(layout: dict, split: str = 'train', **kwargs) -> dict:
    """Config of an ``H36MMultiViewDataset`` reading a generated folder
    (all its subjects, all frames unless overridden)."""
    cfg = dict(
        type='H36MMultiViewDataset',
        data_root=str(layout['root']),
        ann_file=osp.relpath(layout['ann_file'][split], layout['root']),
        camera_param_file='annotation_body3d/cameras.pkl',
        data_prefix=dict(img='images/'),
        subjects=layout['subjects'],
        frame_interval=1)
    cfg.update(kwargs)
    return cfg


@pytest.fixture
def dataset_cfg():
    """``dataset_cfg(layout, split='train', **overrides) -> dict``."""
    return _dataset_cfg
