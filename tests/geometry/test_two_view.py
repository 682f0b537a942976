"""Fundamental / essential estimation, pose recovery and triangulation on
real cameras, against OpenCV."""
import cv2
import numpy as np
import pytest
import torch

from mmpose_epipolar.geometry import (
    decompose_essential,
    essential_from_fundamental,
    essential_from_points,
    essential_from_pose,
    fundamental_from_points,
    hartley_normalize,
    optimal_correction,
    recover_pose,
    robust_fundamental,
    sampson_error,
    triangulate_dlt,
    triangulate_optimal_two_view,
    undistort_points,
)
from mmpose_epipolar.geometry.triangulation import projection_matrices

T = torch.from_numpy


def _normalised(kp, k, d):
    """(F, V, J, 3) pixels -> (V, F * J, 2) normalised coordinates."""
    f, v, j, _ = kp.shape
    px = T(kp[..., :2]).permute(1, 0, 2, 3).reshape(v, f * j, 2)
    return undistort_points(px, T(k), T(d))


@pytest.fixture(scope='module')
def pair(h36m):
    """8 jittered real poses seen by S1's cameras 0 and 1 (129 degrees)."""
    rng = np.random.default_rng(0)
    subject, world = h36m.poses[0]
    cams = h36m.camera_ids(subject)[:2]
    frames = h36m.jitter(world, 8, rng)
    kp, k, d, gt, r, t = h36m.render(frames, subject, cams)
    xn = _normalised(kp, k, d)
    return dict(xn=xn, k=k, r=r[1], t=t[1] / np.linalg.norm(t[1]), gt=gt)


def test_hartley_normalize_weighted():
    pts = torch.tensor([[[0., 0.], [2., 0.], [0., 2.], [100., 100.]]],
                       dtype=torch.float64)
    w = torch.tensor([[1., 1., 1., 0.]], dtype=torch.float64)
    n, tr = hartley_normalize(pts, w)
    used = n[0, :3]
    assert torch.allclose(used.mean(0), torch.zeros(2, dtype=torch.float64),
                          atol=1e-12)
    assert torch.isclose(used.norm(dim=-1).mean(),
                         torch.tensor(2**0.5, dtype=torch.float64))
    h = torch.cat([pts, torch.ones(1, 4, 1, dtype=torch.float64)], -1)
    assert torch.allclose((h @ tr[0].T)[..., :2], n)


def test_fundamental_matches_opencv_8point(pair):
    x1, x2 = pair['xn'][0, :34], pair['xn'][1, :34]
    f = fundamental_from_points(x1[None], x2[None])[0].numpy()
    ref, _ = cv2.findFundamentalMat(x1.numpy(), x2.numpy(), cv2.FM_8POINT)
    ref = ref / np.linalg.norm(ref) * np.sign(ref.flat[np.abs(ref).argmax()])
    np.testing.assert_allclose(f, ref, atol=1e-6)
    assert abs(np.linalg.det(f)) < 1e-12  # rank 2


def test_weight_zero_ignores_outliers(pair):
    x1, x2 = pair['xn'][0, :40].clone(), pair['xn'][1, :40].clone()
    clean = fundamental_from_points(x1[None], x2[None])
    x2[:5] += 0.3  # gross outliers ...
    w = torch.ones(1, 40, dtype=torch.float64)
    w[0, :5] = 0  # ... that carry no weight
    f, ok = fundamental_from_points(x1[None], x2[None], w, return_valid=True)
    assert ok.item() and torch.allclose(f, clean, atol=1e-9)


def test_essential_from_fundamental_equals_from_points(h36m):
    rng = np.random.default_rng(1)
    subject, world = h36m.poses[1]
    cams = h36m.camera_ids(subject)[1:3]
    kp, k, d, _, r, t = h36m.render(h36m.jitter(world, 4, rng), subject,
                                    cams)
    xn = _normalised(kp, k, d)
    # F in undistorted pixels, then E = K2^T F K1
    upx = [xn[v] * T(k[v]).diagonal()[:2] + T(k[v])[:2, 2] for v in (0, 1)]
    f = fundamental_from_points(upx[0][None], upx[1][None])
    e1 = essential_from_fundamental(f, T(k[0]), T(k[1]))[0]
    e2 = essential_from_points(xn[0][None], xn[1][None])[0]
    e_true = essential_from_pose(T(r[1]), T(t[1]))
    for e in (e1, e2):
        e = e / e.norm()
        e_t = e_true / e_true.norm()
        assert min((e - e_t).abs().max(), (e + e_t).abs().max()) < 1e-6


def test_decompose_and_recover_pose_match_opencv(pair):
    x1, x2 = pair['xn'][0], pair['xn'][1]
    e = essential_from_points(x1[None], x2[None])
    rots, trans = decompose_essential(e)
    assert torch.allclose(torch.linalg.det(rots),
                          torch.ones(1, 4, dtype=torch.float64))
    r, t, front = recover_pose(e, x1[None], x2[None])
    assert front.item() == 1.0
    np.testing.assert_allclose(r[0].numpy(), pair['r'], atol=1e-8)
    np.testing.assert_allclose(t[0].numpy(), pair['t'], atol=1e-8)
    _, r_cv, t_cv, _ = cv2.recoverPose(e[0].numpy(), x1.numpy(), x2.numpy())
    np.testing.assert_allclose(r[0].numpy(), r_cv, atol=1e-8)
    np.testing.assert_allclose(t[0].numpy(), t_cv[:, 0], atol=1e-8)


def test_mixed_batch_gets_each_pairs_own_pose(h36m):
    """Different camera pairs (and subjects) in one batch: each element must
    get its own R, t (old kornia indexed the batch wrongly here)."""
    rng = np.random.default_rng(2)
    x1s, x2s, rs, ts = [], [], [], []
    for (subject, world), cams in zip(
            h36m.poses, [(0, 1), (0, 2), (1, 3), (2, 3)]):
        ids = [h36m.camera_ids(subject)[c] for c in cams]
        kp, k, d, _, r, t = h36m.render(h36m.jitter(world, 2, rng),
                                        subject, ids)
        xn = _normalised(kp, k, d)
        x1s.append(xn[0])
        x2s.append(xn[1])
        rs.append(r[1])
        ts.append(t[1] / np.linalg.norm(t[1]))
    x1, x2 = torch.stack(x1s), torch.stack(x2s)
    e = essential_from_points(x1, x2)
    r, t, _ = recover_pose(e, x1, x2)
    np.testing.assert_allclose(r.numpy(), np.stack(rs), atol=1e-7)
    np.testing.assert_allclose(t.numpy(), np.stack(ts), atol=1e-7)
    # and the same answer element by element
    for i in range(4):
        ri, ti, _ = recover_pose(e[i:i + 1], x1[i:i + 1], x2[i:i + 1])
        assert torch.equal(ri[0], r[i]) and torch.equal(ti[0], t[i])


def test_triangulate_dlt_matches_opencv_and_truth(pair):
    x1, x2 = pair['xn'][0], pair['xn'][1]
    p0 = np.hstack([np.eye(3), np.zeros((3, 1))])
    p1 = np.hstack([pair['r'], pair['t'][:, None]])
    ref = cv2.triangulatePoints(p0, p1, x1.numpy().T, x2.numpy().T)
    ref = (ref[:3] / ref[3]).T
    proj = torch.stack([T(p0), T(p1)])
    for solver in ('svd', 'linear'):
        x, ok = triangulate_dlt(torch.stack([x1, x2]), proj, solver=solver)
        assert ok.all()
        np.testing.assert_allclose(x.numpy(), ref, atol=1e-8)
    scale = np.linalg.norm(pair['gt'][0, 0]) / np.linalg.norm(ref[0])
    np.testing.assert_allclose(ref * scale, pair['gt'].reshape(-1, 3),
                               atol=1e-6)


def test_triangulate_dlt_weights_views_and_gradients():
    torch.manual_seed(0)
    x = 0.3 * torch.randn(5, 3, dtype=torch.float64) + torch.tensor(
        [0, 0, 6.0], dtype=torch.float64)
    rots = torch.linalg.matrix_exp(
        torch.randn(3, 3, 3, dtype=torch.float64) * 0.2
        - (torch.randn(3, 3, 3, dtype=torch.float64) * 0.2).transpose(1, 2))
    trans = torch.randn(3, 3, dtype=torch.float64)
    proj = projection_matrices(rots, trans)
    cam = x @ rots.transpose(1, 2) + trans[:, None]
    pts = cam[..., :2] / cam[..., 2:]
    bad = pts.clone()
    bad[2] += 1.0  # view 2 corrupted, but weight 0
    w = torch.tensor([1.0, 0.7, 0.0], dtype=torch.float64)[:, None].expand(
        3, 5)
    out, ok = triangulate_dlt(bad, proj, w)
    assert ok.all() and torch.allclose(out, x, atol=1e-9)
    # one view only -> invalid, 0, no NaN
    out, ok = triangulate_dlt(bad, proj, w * torch.tensor(
        [[1.0], [0.0], [0.0]], dtype=torch.float64))
    assert not ok.any() and torch.equal(out, torch.zeros_like(out))
    # differentiable w.r.t. the 2D input (for end-to-end uses)
    pts.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda p: triangulate_dlt(p, proj, solver='linear')[0], (pts, ))


def test_optimal_correction_matches_opencv(pair):
    rng = np.random.default_rng(3)
    k = pair['k']
    f = np.linalg.inv(k[1]).T @ essential_from_pose(
        T(pair['r']), T(pair['t'])).numpy() @ np.linalg.inv(k[0])
    px = [pair['xn'][v].numpy() * np.diag(k[v])[:2] + k[v][:2, 2]
          for v in (0, 1)]
    px = [p + rng.normal(size=p.shape) * 2 for p in px]
    c1, c2 = optimal_correction(T(px[0])[None], T(px[1])[None], T(f)[None])
    r1, r2 = cv2.correctMatches(f, px[0][None], px[1][None])
    # Same minimiser as OpenCV to 0.01 px (root polishing differs), and
    # never a worse one.
    np.testing.assert_allclose(c1[0].numpy(), r1[0], atol=1e-2)
    np.testing.assert_allclose(c2[0].numpy(), r2[0], atol=1e-2)
    ours = ((c1[0].numpy() - px[0])**2 + (c2[0].numpy() - px[1])**2).sum(1)
    ref = ((r1[0] - px[0])**2 + (r2[0] - px[1])**2).sum(1)
    assert (ours <= ref * (1 + 1e-6) + 1e-9).all()
    # corrected points satisfy the epipolar constraint exactly
    h1 = np.concatenate([c1[0].numpy(), np.ones((len(px[0]), 1))], 1)
    h2 = np.concatenate([c2[0].numpy(), np.ones((len(px[0]), 1))], 1)
    resid = np.einsum('ni,ij,nj->n', h2, f / np.linalg.norm(f), h1)
    assert np.abs(resid).max() < 1e-9


def test_optimal_triangulation_beats_dlt_on_reprojection(pair):
    rng = np.random.default_rng(4)
    k = pair['k']
    xn = pair['xn'] + T(rng.normal(size=pair['xn'].shape) * 2 / 1145)
    r, t = T(pair['r'])[None], T(pair['t'])[None]
    x_opt, ok = triangulate_optimal_two_view(xn[0][None], xn[1][None], r, t,
                                             T(k[0])[None], T(k[1])[None])
    proj = torch.stack([projection_matrices(torch.eye(3).double(),
                                            torch.zeros(3).double()),
                        projection_matrices(r[0], t[0])])
    x_dlt, _ = triangulate_dlt(xn, proj)

    def reproj(x):
        err = 0
        for v, (rv, tv) in enumerate([(np.eye(3), np.zeros(3)),
                                      (pair['r'], pair['t'])]):
            c = x.numpy().reshape(-1, 3) @ rv.T + tv
            p = c[:, :2] / c[:, 2:] - xn[v].numpy()
            err = err + ((p * np.diag(k[v])[:2])**2).sum()
        return err

    assert ok.all() and reproj(x_opt[0]) < reproj(x_dlt)


@pytest.mark.parametrize('method', ['lmeds', 'ransac'])
def test_robust_essential_rejects_outliers(pair, method):
    x1, x2 = pair['xn'][0].clone(), pair['xn'][1].clone()
    rng = np.random.default_rng(5)
    out = rng.choice(len(x1), len(x1) * 3 // 10, replace=False)
    x2[out] += T(rng.uniform(-0.1, 0.1, (len(out), 2)))
    e, inl, ok = robust_fundamental(
        x1[None], x2[None], method=method, threshold=1e-4, essential=True,
        generator=torch.Generator().manual_seed(0))
    assert ok.item()
    truth = np.ones(len(x1), bool)
    truth[out] = False
    assert (inl[0].numpy() == truth).mean() > 0.97
    r, t, _ = recover_pose(e, x1[None], x2[None], inl.double())
    np.testing.assert_allclose(r[0].numpy(), pair['r'], atol=1e-6)
    np.testing.assert_allclose(t[0].numpy(), pair['t'], atol=1e-6)
    # plain 8-point is ruined by the same outliers
    e_plain = essential_from_points(x1[None], x2[None])
    r_plain, _, _ = recover_pose(e_plain, x1[None], x2[None])
    assert (r_plain[0].numpy() - pair['r']).__abs__().max() > 1e-3


def test_degenerate_configurations_are_invalid():
    torch.manual_seed(0)
    line = torch.linspace(-1, 1, 17, dtype=torch.float64)[:, None] * \
        torch.tensor([1.0, 0.5], dtype=torch.float64)
    general = torch.rand(17, 2, dtype=torch.float64)
    cases = {
        'collinear': (line, line * 1.1 + 0.2),
        'coincident': (torch.zeros(17, 2).double(),
                       torch.ones(17, 2).double()),
        'identical views': (general, general),
    }
    for name, (a, b) in cases.items():
        f, ok = fundamental_from_points(a[None], b[None], return_valid=True)
        assert not ok.item(), name
        assert torch.isfinite(f).all(), name
    # fewer than 8 weighted points
    w = torch.zeros(1, 17, dtype=torch.float64)
    w[0, :7] = 1
    _, ok = fundamental_from_points(general[None], general[None] + 0.1 *
                                    torch.rand(17, 2).double(), w,
                                    return_valid=True)
    assert not ok.item()
    # NaN input: masked, no NaN out
    a = general.clone()
    a[0] = float('nan')
    f, ok = fundamental_from_points(a[None], torch.rand(1, 17, 2).double(),
                                    return_valid=True)
    assert torch.isfinite(f).all()


def test_sampson_error_zero_on_truth_and_positive_off(pair):
    e = essential_from_pose(T(pair['r']), T(pair['t']))
    x1, x2 = pair['xn'][0], pair['xn'][1]
    assert sampson_error(e, x1, x2).max() < 1e-20
    assert sampson_error(e, x1, x2 + 1e-3).min() > 0
