"""The data-pipeline replacements draw and warp as MMPose's own do."""
import numpy as np
import pytest
from mmpose.datasets.transforms import (
    GetBBoxCenterScale,
    RandomBBoxTransform,
    RandomFlip,
    TopdownAffine,
)
from scipy import stats

from mmpose_epipolar.datasets.transforms import (
    ContiguousTopdownAffine,
    FastRandomBBoxTransform,
    contiguous_image,
    truncated_standard_normal,
)


def test_truncated_normal_has_scipys_distribution():
    np.random.seed(0)
    samples = truncated_standard_normal(-1.0, 1.0, (20000, 4))
    assert samples.shape == (20000, 4) and samples.dtype == np.float32
    assert samples.min() >= -1.0 and samples.max() <= 1.0
    reference = stats.truncnorm(-1.0, 1.0)
    # Kolmogorov-Smirnov against SciPy's truncated normal: a sampler
    # clipping to [-1, 1] instead of rejecting (its mass at the bounds)
    # or an untruncated one fails this by far.
    assert stats.kstest(samples.ravel(), reference.cdf).pvalue > 0.01
    clipped = np.clip(np.random.standard_normal(20000), -1, 1)
    assert stats.kstest(clipped, reference.cdf).pvalue < 1e-6
    np.testing.assert_allclose(samples.std(), reference.std(), atol=0.01)
    with pytest.raises(ValueError, match='empty'):
        truncated_standard_normal(1.0, -1.0, (3, ))


def bbox_item():
    img = np.random.RandomState(0).randint(0, 255, (256, 256, 3), np.uint8)
    return dict(img=img, img_shape=img.shape[:2],
                bbox=np.array([[60.0, 40.0, 190.0, 230.0]], np.float32),
                keypoints=np.array([[[100.0, 80.0], [150.0, 200.0]]],
                                   np.float32),
                keypoints_visible=np.ones((1, 2), np.float32),
                flip_indices=[1, 0])


def test_fast_bbox_transform_draws_mmposes_scales():
    """Same arguments, same distribution of the bbox scale factor."""
    def scales(transform, n=4000):
        out = []
        for _ in range(n):
            item = GetBBoxCenterScale()(bbox_item())
            before = item['bbox_scale'].copy()
            out.append(transform(item)['bbox_scale'][0, 0] / before[0, 0])
        return np.array(out)

    kwargs = dict(shift_prob=0, scale_factor=(0.9, 1.1), rotate_factor=0)
    np.random.seed(1)
    fast = scales(FastRandomBBoxTransform(**kwargs))
    np.random.seed(2)
    mmpose = scales(RandomBBoxTransform(**kwargs))
    assert 0.9 <= fast.min() and fast.max() <= 1.1
    assert stats.ks_2samp(fast, mmpose).pvalue > 0.01


def test_contiguous_affine_warps_a_flipped_view_like_mmpose():
    def flipped():
        item = GetBBoxCenterScale()(bbox_item())
        return RandomFlip(prob=1.0, direction='horizontal')(item)

    view = flipped()
    assert not view['img'].flags['C_CONTIGUOUS']  # mmcv.imflip's view
    ours = ContiguousTopdownAffine(input_size=(96, 96))(view)
    theirs = TopdownAffine(input_size=(96, 96))(flipped())
    assert ours['img'].shape == (96, 96, 3)
    np.testing.assert_array_equal(ours['img'], theirs['img'])
    np.testing.assert_array_equal(ours['transformed_keypoints'],
                                  theirs['transformed_keypoints'])


@pytest.mark.parametrize('shape', [(37, 53, 3), (37, 53), (37, 53, 1),
                                   (37, 53, 4)])
@pytest.mark.parametrize('flip', ['h', 'v', 'both', 'stepped'])
def test_contiguous_image_copies_every_view_exactly(shape, flip):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    view = dict(h=img[:, ::-1], v=img[::-1], both=img[::-1, ::-1],
                stepped=img[:, ::2])[flip]
    out = contiguous_image(view)
    assert out.flags['C_CONTIGUOUS'] and out.shape == view.shape
    np.testing.assert_array_equal(out, view)
    assert not np.shares_memory(out, img)
    # A flipped view of a strided image falls back to NumPy's copy.
    np.testing.assert_array_equal(contiguous_image(img[::2, ::-1]),
                                  img[::2, ::-1])
