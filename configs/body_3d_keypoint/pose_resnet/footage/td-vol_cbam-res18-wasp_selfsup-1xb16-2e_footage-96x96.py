# Self-supervised training on one's own cameras at a CPU-friendly size: the
# footage dataset, labels and augmentation of the 256 x 256 footage config
# with the network of the quick start (CBAM-ResNet-18 + WASP + volumetric
# head, 96 x 96 input, 24 depth bins: the model of
# ../synthetic/td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py),
# so the quick start's 2D stage-1 checkpoints initialise it. For trying the
# footage pipeline end to end on a laptop (two short epochs), not for a
# good model. The keys the footage pipeline overrides are listed in the
# 256 x 256 config; the pipeline indices (1: EpipolarPseudoLabel,
# 7: SyntheticOcclusion) are the same here.
#
# Synthetic occlusion is on. Its occluder bank (an NPZ of RGBA object
# cut-outs, datasets/occluder_bank.py) is read on the first occluded
# sample, and a missing bank stops training there with a FileNotFoundError
# naming the file. Build one from Pascal VOC 2012 (the paper's):
#   python tools/dataset_converters/extract_voc_occluders.py --voc-root VOCdevkit/VOC2012 --out data/occluders/voc_occluders.npz
# or pass another (`...pipeline.7.bank_file=BANK.npz`; the tests cut a
# small one out of MMPose's COCO test images with
# datasets.occluder_bank.coco_person_occluders). Without any bank,
# occlusion is skipped only when asked for explicitly:
#   --cfg-options train_dataloader.dataset.pipeline.7.prob=0
_base_ = ['./td-vol_cbam-res50-wasp_selfsup-1xb16-20e_footage-256x256.py']

input_size = (96, 96)
codec = dict(type='VolumetricIntegralLabel', input_size=input_size)
# As ../synthetic/td-vol_cbam-res18-wasp_1xb16-2e_synthetic-96x96.py (the
# tests check that the two models are the same).
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=512, out_channels=256, branch_channels=128),
    head=dict(
        in_channels=256,
        depth_bins=24,
        deconv_out_channels=(128, 128, 128),
        heatmap_loss=dict(type='JSDiscretLoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

# What `python tools/quickstart.py` trains in stage 1 (2D, the embedded
# dataset), or any checkpoint of
# ../synthetic/td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py; the
# footage pipeline sets it.
load_from = 'work_dirs/quickstart/stage1_2d/epoch_4.pth'

# Two epochs: a warm-up over the first one (in iterations), then lr 1e-3.
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        begin=0,
        end=1,
        start_factor=0.01,
        by_epoch=True,
        convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=20))
randomness = dict(seed=0)

train_pipeline = [
    dict(type='LoadImageOrSkip'),
    dict(type='EpipolarPseudoLabel',
         label_file={{_base_.pseudo_label_file}}),
    dict(type='GetBBoxCenterScale'),
    dict(type='AttachKeypointDepth'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.9, 1.1),
        rotate_factor=0),
    dict(type='ContiguousTopdownAffine', input_size=input_size),
    dict(type='SyntheticOcclusion', bank_file={{_base_.occluder_bank}},
         prob=0.5),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    num_workers=1,
    dataset=dict(pipeline=train_pipeline))
# Footage has no test split; inference (the demo) uses this pipeline.
test_pipeline = [
    dict(type='LoadImageOrSkip', test_mode=True),
    dict(type='GetBBoxCenterScale'),
    dict(type='ContiguousTopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
