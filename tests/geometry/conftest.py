"""Real multi-view data for the geometry tests: the four Human3.6M poses of
the MMPose test sample seen through the real cameras of their subject."""
import itertools
import json
import pickle

import numpy as np
import pytest
import torch

from mmpose_epipolar.geometry import project_points


class H36MRig:
    """Cameras and poses of ``mmpose-testdata/h36m``."""

    def __init__(self, root):
        self.cams = pickle.load(open(root / 'cameras.pkl', 'rb'))
        ann = json.load(open(root / 'h36m_coco.json'))
        names = {i['id']: i['file_name'] for i in ann['images']}
        #: (subject, world joints (17, 3) metres)
        self.poses = [(names[a['image_id']].split('_')[0],
                       np.asarray(a['keypoints_3d']).reshape(17, 4)[:, :3])
                      for a in ann['annotations']]
        #: (subject, image name, 2D annotation (17, 2)) for the lens check
        self.annotations = [
            (names[a['image_id']].split('_')[0], names[a['image_id']],
             np.asarray(a['keypoints']).reshape(17, 3)[:, :2])
            for a in ann['annotations']
        ]

    def camera_ids(self, subject):
        return sorted(c for s, c in self.cams if s == subject)

    def camera(self, subject, cam_id):
        """``K`` (3, 3), distortion (5,), ``R`` (3, 3), ``T`` (3,)."""
        p = self.cams[(subject, cam_id)]
        k = np.array([[p['f'][0, 0], 0, p['c'][0, 0]],
                      [0, p['f'][1, 0], p['c'][1, 0]], [0, 0, 1]])
        d = np.array([p['k'][0, 0], p['k'][1, 0], p['p'][0, 0],
                      p['p'][1, 0], p['k'][2, 0]])
        return k, d, p['R'], p['T'][:, 0]

    def pairs(self, subject):
        return list(itertools.combinations(self.camera_ids(subject), 2))

    def axis_angle(self, subject, c0, c1):
        """Degrees between the optical axes of two cameras."""
        z0 = self.camera(subject, c0)[2][:, 2]
        z1 = self.camera(subject, c1)[2][:, 2]
        return np.degrees(np.arccos(np.clip(z0 @ z1, -1, 1)))

    @staticmethod
    def jitter(world, n, rng, angle=0.3, shift=0.3):
        """``n`` copies of a pose (17, 3) rotated about its centre by random
        small rotations and moved by up to ``shift`` metres: (n, 17, 3)."""
        out = []
        centre = world.mean(0)
        for _ in range(n):
            v = rng.normal(size=3) * angle
            th = np.linalg.norm(v)
            kx = np.cross(np.eye(3), v / th)
            rot = np.eye(3) + np.sin(th) * kx + (1 - np.cos(th)) * kx @ kx
            out.append((world - centre) @ rot.T + centre +
                       rng.uniform(-shift, shift, 3))
        return np.stack(out)

    def render(self, world, subject, cam_ids, noise=0.0, rng=None):
        """Project world joints (F, J, 3) into cameras (with distortion).

        Returns:
            tuple: ``keypoints`` (F, V, J, 3) with confidence 1,
            ``intrinsics`` (V, 3, 3), ``distortion`` (V, 5), ``gt`` (F, J, 3)
            in camera ``cam_ids[0]``'s frame, and the true relative poses
            ``R`` (V, 3, 3), ``t`` (V, 3) (``X_v = R_v X_0 + t_v``).
        """
        kps, ks, ds, rs, ts = [], [], [], [], []
        k0, d0, r0, t0 = self.camera(subject, cam_ids[0])
        for c in cam_ids:
            k, d, r, t = self.camera(subject, c)
            xc = (world - t) @ r
            px = project_points(torch.from_numpy(xc), torch.from_numpy(k),
                                torch.from_numpy(d)).numpy()
            if noise:
                px = px + rng.normal(size=px.shape) * noise
            kps.append(np.concatenate([px, np.ones(px.shape[:-1] + (1, ))],
                                      -1))
            ks.append(k)
            ds.append(d)
            rs.append(r.T @ r0)
            ts.append(r.T @ (t0 - t))
        gt = (world - t0) @ r0
        return (np.stack(kps, 1), np.stack(ks), np.stack(ds), gt,
                np.stack(rs), np.stack(ts))


@pytest.fixture(scope='session')
def h36m(shared_data):
    root = shared_data / 'mmpose-testdata' / 'h36m'
    if not (root / 'cameras.pkl').exists():
        pytest.skip(f'{root}/cameras.pkl is missing')
    return H36MRig(root)


@pytest.fixture(scope='session')
def panoptic(shared_data):
    """The two-view CMU Panoptic frame: ``keypoints`` (1, 2, 19, 3),
    ``intrinsics`` (2, 3, 3), ``distortion`` (2, 5), ``gt`` (1, 19, 3) cm in
    camera 00_00's frame."""
    root = shared_data / 'panoptic-2view'
    if not root.exists():
        pytest.skip(f'{root} is missing')
    calib = json.load(open(root / 'calibration_171026_pose1.json'))
    cams = {c['name']: c for c in calib['cameras']}
    body = json.load(open(root / 'body3DScene_00012200.json'))['bodies'][0]
    joints = np.asarray(body['joints19']).reshape(19, 4)[:, :3]
    kps, ks, ds, gt = [], [], [], None
    for name in ('00_00', '00_24'):
        c = cams[name]
        k, d = np.asarray(c['K']), np.asarray(c['distCoef'])
        xc = joints @ np.asarray(c['R']).T + np.asarray(c['t'])[:, 0]
        gt = xc if gt is None else gt
        px = project_points(torch.from_numpy(xc), torch.from_numpy(k),
                            torch.from_numpy(d)).numpy()
        kps.append(np.concatenate([px, np.ones((19, 1))], -1))
        ks.append(k)
        ds.append(d)
    return dict(keypoints=np.stack(kps)[None], intrinsics=np.stack(ks),
                distortion=np.stack(ds), gt=gt[None])
