# Stage 1 of the quick start (tools/quickstart.py): the 2D pre-training of
# td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96.py (2400 iterations,
# the learning rate tenfold lower for the last quarter) on a ResNet-18 of
# half the width (w32: 32 to 256 channels instead of 64 to 512), with
# - the forward pass in bfloat16 (BF16OptimWrapper; the test PCK too),
#   Adam's fused kernel and the data loaded in the training process;
# - the heatmap regulariser weighing 4x: a joint put between its left and
#   right candidates costs the Jensen-Shannon term far more than the
#   coordinate loss, which only sees half their distance, so the network
#   is pushed sooner to tell front from back (full width, 1200
#   iterations, seed 0: test PCK 0.606 against 0.511 at weight 1, labels
#   94.4 against 123.3 mm, self-supervised 165.5 against 183.5 mm);
# - a volume of 12 x 12 x 12 bins, not 24 x 24 x 24: two deconvolutions
#   (stride 8) instead of three, and the regulariser's Gaussians at half a
#   bin, the same width in the crop as one bin of the finer volume. The
#   finer volume's last deconvolution and its 1x1 layer to 16 x 24
#   channels at 24 x 24 were a third of a training step: 0.096 against
#   0.149 s in bfloat16 (AVX-512 BF16 kernels, 2 Xeon cores, 2026-12-04),
#   and the soft-argmax keeps sub-bin coordinates (seed 0 with oneDNN
#   capped at AVX-512 BF16: test PCK 0.741 against 0.739, labels 46.2
#   against 48.4 mm, self-supervised 124.8 against 125.4, fully
#   supervised 123.5 against 121.0);
# - decoded images cached in the process (LoadImageOrSkip's cache_mb: the
#   quick start's 6720 images take 1.3 GB; the 3D trainings, the teacher
#   and the tests of the same process reuse them) and MMPose's
#   RandomBBoxTransform drawing its truncated normal in NumPy
#   (FastRandomBBoxTransform: the same distribution, other draws): 0.4
#   and 0.2 ms a view;
# - Adam at 2e-3 (with all of the above, AVX-512 BF16 kernels, seed 0:
#   self-supervised 127.2 against 132.3 mm at 1e-3, fully supervised
#   123.0 against 127.6, the test PCK 0.720 and 0.719).
# Why half the width for twice the iterations: the labels follow the 2D
# model's accuracy closely, and the 2D model its iterations (full width:
# test PCK 0.61 after 1200, 0.75 after 2400; 900 with a shorter or cosine
# schedule only 0.39-0.42, whose labels were 181 mm off), while on a CPU a
# step costs the convolutions' work, which scales with the square of the
# width (each full-width ResNet-18 convolution is about 340M
# multiply-adds at 96 x 96): a half-width step costs 0.47x in bfloat16
# (benchmarks/quickstart_step.py, 'bf16+fused+w32' against 'bf16+fused':
# 0.133 against 0.285 s on 2 AVX-512 BF16 cores, 2026-12-03).
_base_ = [
    './td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96.py',
    '../../../_base_/quickstart_w32.py'
]

width = 32
model = dict(
    backbone=dict(base_channels=width, stem_channels=width),
    neck=dict(in_channels=8 * width),
    head={{_base_.coarse_head}})
optim_wrapper = dict(
    type='BF16OptimWrapper',
    optimizer=dict(type='Adam', lr=2e-3, fused=True))
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)
train_pipeline = [
    dict(type='LoadImageOrSkip', cache_mb={{_base_.image_cache_mb}}),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='FastRandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.9, 1.1),
        rotate_factor=0),
    dict(type='ContiguousTopdownAffine', input_size={{_base_.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
test_pipeline = [
    dict(
        type='LoadImageOrSkip',
        test_mode=True,
        cache_mb={{_base_.image_cache_mb}}),
    dict(type='GetBBoxCenterScale'),
    dict(type='ContiguousTopdownAffine', input_size={{_base_.input_size}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})
]
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
