"""Camera-space lifting undoes the lens distortion of real H36M cameras."""
import numpy as np
import torch

from mmpose_epipolar.datasets.h36m_utils import load_h36m_cameras
from mmpose_epipolar.geometry import (
    encode_relative_depth,
    lift_to_camera,
    project_points,
    undistorted_pixels,
)


def h36m_samples(shared_data):
    """Real H36M poses with their cameras' K and distortion, and pixels."""
    root = shared_data / 'mmpose-testdata/h36m'
    data = np.load(root / 'test_h36m_body3d.npz')
    cameras = load_h36m_cameras(str(root / 'cameras.pkl'))
    for name, s in zip(data['imgname'], data['S']):
        subject, folder = str(name).split('/')[:2]
        cam = cameras[(subject, folder.split('.')[-1])]
        k, d = cam['intrinsics'], cam['distortion']
        points = s[:, :3] * 1000.0
        pixels = project_points(torch.from_numpy(points), torch.from_numpy(k),
                                torch.from_numpy(d)).numpy()
        yield k, d, points, pixels


def test_lift_with_undistortion_recovers_real_poses(shared_data):
    for k, d, points, pixels in h36m_samples(shared_data):
        pixels = pixels[None]
        depth = encode_relative_depth(points[None, :, 2],
                                      np.diag(k)[None, :2].mean(-1))
        lifted = lift_to_camera(pixels, depth, k, points[None, 0, 2], d)
        np.testing.assert_allclose(lifted[0], points, atol=0.01)
        naive = lift_to_camera(pixels, depth, k, points[None, 0, 2])
        assert np.abs(naive[0] - points).max() > 0.1
    # No distortion: pixels pass through unchanged.
    assert undistorted_pixels(pixels, k, None) is pixels


def test_estimator_lifts_a_batch_of_cameras_as_each_sample_alone(
        shared_data, repo_root):
    """The estimator lifts all samples of a batch in one call; the result
    is that of lifting each alone, camera by camera (each has its own K and
    lens), and a sample without root depth keeps root-relative 3D."""
    from mmengine.config import Config
    from mmengine.structures import InstanceData
    from mmpose.registry import MODELS
    from mmpose.structures import PoseDataSample
    cfg = Config.fromfile(
        str(repo_root / 'configs/body_3d_keypoint/pose_resnet/synthetic/'
            'td-vol_cbam-res18-w32-wasp_2d-bf16-1xb16-8e_synthetic-96x96.py'))
    estimator = MODELS.build(cfg.model)
    samples, expected = [], []
    for k, d, points, pixels in h36m_samples(shared_data):
        depth = encode_relative_depth(points[None, :, 2],
                                      np.diag(k)[None, :2].mean(-1))
        sample = PoseDataSample(metainfo=dict(
            input_size=(96, 96), input_scale=np.array([96.0, 96.0]),
            camera_param=dict(intrinsics=k, distortion=d),
            root_depth=points[0, 2]))
        sample.pred_instances = InstanceData(keypoints=np.concatenate(
            [pixels, depth[0, :, None]], -1)[None])
        samples.append(sample)
        expected.append(
            lift_to_camera(pixels[None].astype(np.float32), depth, k,
                           points[None, 0, 2], d))
    assert len({tuple(s.camera_param['intrinsics'][0]) for s in samples}) > 1
    unknown_root = PoseDataSample(metainfo=dict(
        input_size=(96, 96), input_scale=np.array([96.0, 96.0])))
    unknown_root.pred_instances = InstanceData(
        keypoints=samples[0].pred_instances.keypoints.copy())

    batch = samples + [unknown_root]
    root_depths = [estimator._split_depth(s) for s in batch]
    assert root_depths[-1] is None
    estimator._lift_to_camera(
        [(s, d) for s, d in zip(batch, root_depths) if d is not None])

    for sample, alone in zip(samples, expected):
        assert sample.pred_instances.keypoints_3d_unit == 'camera'
        np.testing.assert_allclose(sample.pred_instances.keypoints_3d,
                                   alone, atol=1e-3)
    assert unknown_root.pred_instances.keypoints_3d_unit == \
        'image_px_root_relative'
    assert np.all(unknown_root.pred_instances.keypoints_3d[0, 0] == 0)
