# Stage 1 of the quick start (tools/quickstart.py): the 2D pre-training of
# td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96.py (2400 iterations,
# Adam 1e-3, tenfold lower for the last quarter) on a ResNet-18 of half the
# width (w32: 32 to 256 channels instead of 64 to 512), with
# - the forward pass in bfloat16 (BF16OptimWrapper; the test PCK too),
#   Adam's fused kernel and the data loaded in the training process;
# - the heatmap regulariser weighing 4x: a joint put between its left and
#   right candidates costs the Jensen-Shannon term far more than the
#   coordinate loss, which only sees half their distance, so the network
#   is pushed sooner to tell front from back (full width, 1200
#   iterations, seed 0: test PCK 0.606 against 0.511 at weight 1, labels
#   94.4 against 123.3 mm, self-supervised 165.5 against 183.5 mm).
# Why half the width for twice the iterations: the labels follow the 2D
# model's accuracy closely, and the 2D model its iterations (full width:
# test PCK 0.61 after 1200, 0.75 after 2400; 900 with a shorter or cosine
# schedule only 0.39-0.42, whose labels were 181 mm off), while on a CPU a
# step costs the convolutions' work, which scales with the square of the
# width (each full-width ResNet-18 convolution is about 340M
# multiply-adds at 96 x 96): a half-width step costs 0.47x in bfloat16
# (benchmarks/quickstart_step.py, 'bf16+fused+w32' against 'bf16+fused':
# 0.133 against 0.285 s on 2 AVX-512 BF16 cores, 2026-12-03).
_base_ = ['./td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96.py']

width = 32
model = dict(
    backbone=dict(base_channels=width, stem_channels=width),
    neck=dict(in_channels=8 * width),
    head=dict(heatmap_loss_weight=4.0))
optim_wrapper = dict(
    type='BF16OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, fused=True))
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
