import os

import pytest
import torch

SYNTHETIC_CONFIG = ('configs/body_3d_keypoint/pose_resnet/synthetic/'
                    'td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py')
H36M_IMAGE = ('mmpose-testdata/h36m/S1/S1_Directions_1.54138969/'
              'S1_Directions_1.54138969_000001.jpg')


def sharpen_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give a random model image-dependent, spread-out predictions.

    PyTorch's default conv init shrinks activations layer after layer, so a
    fresh model's soft-argmax sits at the crop centre whatever the image;
    He-initialised convs and larger logits make keypoints move with the
    input, which the comparisons below need to mean anything.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                fan = module.weight[0].numel()
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=generator) *
                    (2.0 / fan)**0.5)
        model.head.final_layer.weight.mul_(30.0)
    return model


@pytest.fixture(scope='session')
def sharp_model(repo_root):
    from mmpose_epipolar.apis.inference import init_model
    return sharpen_(init_model(str(repo_root / SYNTHETIC_CONFIG)))


@pytest.fixture(scope='session')
def h36m_image(shared_data):
    return str(shared_data / H36M_IMAGE)


DET_CONFIG = """_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
model = dict(backbone=dict(init_cfg=None), bbox_head=dict(num_classes=1))
"""


@pytest.fixture(scope='session')
def detector_files(tmp_path_factory):
    """An RTMDet-tiny person config and two random-weight checkpoints."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    folder = tmp_path_factory.mktemp('detector')
    config = folder / 'rtmdet_tiny_person.py'
    config.write_text(DET_CONFIG)
    cfg = Config.fromfile(str(config))
    checkpoints = []
    with DefaultScope.overwrite_default_scope('mmdet'):
        for seed in (0, 1):
            torch.manual_seed(seed)
            model = MODELS.build(cfg.model)
            path = folder / f'random_{seed}.pth'
            torch.save(dict(state_dict=model.state_dict(),
                            meta=dict(dataset_meta=dict(
                                classes=('person', )))), path)
            checkpoints.append(str(path))
    return str(config), checkpoints


@pytest.fixture(scope='session')
def demo(shared_data):
    """Pose2Sim's demo: four real cameras, videos, calibration, 2D."""
    folder = shared_data / 'pose2sim-demo'
    if not (folder / 'videos' / 'cam01.mp4').is_file():
        pytest.skip(f'pose2sim-demo not found at {folder}')
    return folder


@pytest.fixture(scope='module')
def recording(demo, tmp_path_factory):
    """Cameras cam01 and cam02 of the demo (symlinked videos)."""
    root = tmp_path_factory.mktemp('recording')
    (root / 'videos').mkdir()
    for cam in ('cam01', 'cam02'):
        os.symlink(demo / 'videos' / f'{cam}.mp4',
                   root / 'videos' / f'{cam}.mp4')
    return root
