"""The scale-free depth encoding of docs/conventions.md on real poses."""
import numpy as np
import torch

from mmpose_epipolar.geometry import (
    decode_relative_depth,
    encode_relative_depth,
)


def _real_depths(h36m):
    """Camera-frame depths (F, V, J) metres of the sample's four poses (one
    frame each of S1, S5, S7, S8) in their subject's four cameras, and each
    camera's mean focal length (F, V)."""
    z, f_mean = [], []
    for subject, world in h36m.poses:
        cams = [h36m.camera(subject, c) for c in h36m.camera_ids(subject)]
        z.append([((world - t) @ r)[:, 2] for _, _, r, t in cams])
        f_mean.append([0.5 * (k[0, 0] + k[1, 1]) for k, _, _, _ in cams])
    return np.asarray(z), np.asarray(f_mean)


def test_encoding_is_root_relative_pixels_and_scale_free(h36m):
    z, f_mean = _real_depths(h36m)
    assert z.shape == (4, 4, 17)
    depth = encode_relative_depth(z, f_mean)
    assert depth.shape == (4, 4, 17)
    np.testing.assert_array_equal(depth[..., 0], 0.0)
    # A person's depth spans a few dozen image pixels at 4-6 m.
    assert 20 < np.abs(depth).max() < 200
    # The right foot of the first frame in the first camera, by hand.
    expected = f_mean[0, 0] * (z[0, 0, 3] - z[0, 0, 0]) / z[0, 0, 0]
    assert depth[0, 0, 3] == expected
    # Unknown scale (a triangulated pose): the same label.
    np.testing.assert_allclose(
        encode_relative_depth(z * 0.0173, f_mean), depth, rtol=1e-12,
        atol=1e-12)
    # One mean focal length per view broadcasts over frames and joints.
    per_view = encode_relative_depth(z, f_mean[0])
    np.testing.assert_array_equal(per_view[0], depth[0])
    # Another root joint (the thorax of H36M-17).
    assert (encode_relative_depth(z, f_mean, root_index=8)[..., 8] == 0).all()


def test_torch_and_numpy_give_the_same_numbers(h36m):
    z, f_mean = _real_depths(h36m)
    depth = encode_relative_depth(torch.from_numpy(z),
                                  torch.from_numpy(f_mean))
    assert isinstance(depth, torch.Tensor) and depth.dtype == torch.float64
    np.testing.assert_array_equal(depth.numpy(),
                                  encode_relative_depth(z, f_mean))
    z_back = decode_relative_depth(depth, torch.from_numpy(f_mean),
                                   torch.from_numpy(z[..., 0]))
    assert isinstance(z_back, torch.Tensor)
    np.testing.assert_array_equal(
        z_back.numpy(),
        decode_relative_depth(depth.numpy(), f_mean, z[..., 0]))


def test_decoding_inverts_the_encoding(h36m):
    z, f_mean = _real_depths(h36m)
    depth = encode_relative_depth(z, f_mean)
    # Depth in mm from the root's metric depth.
    z_mm = decode_relative_depth(depth, f_mean, 1000.0 * z[..., 0])
    np.testing.assert_allclose(z_mm, 1000.0 * z, rtol=1e-12)
    # Plain numbers for one camera and one root depth.
    one = decode_relative_depth(depth[0, 0], float(f_mean[0, 0]),
                                float(z[0, 0, 0]))
    np.testing.assert_allclose(one, z[0, 0], rtol=1e-12)
