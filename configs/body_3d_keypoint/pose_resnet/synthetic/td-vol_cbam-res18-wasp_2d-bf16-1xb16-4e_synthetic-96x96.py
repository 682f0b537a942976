# Stage 1 of the quick start (tools/quickstart.py): the 2D pre-training of
# td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py (1200 iterations,
# Adam 1e-3, tenfold lower for the last epoch) with the quick start's
# bfloat16 forward pass (training and test PCK), fused Adam and in-process
# data loading. Stage 1
# keeps the full schedule: the labels follow the 2D model's accuracy
# closely. 900 iterations reached test PCK 0.42 (Adam 2e-3, step at 675)
# and 0.39 (1e-3, cosine decay) against this schedule's 0.62, and a
# 0.38-PCK teacher's labels were 181 mm off; this one's 76-124 mm
# (PCK 0.62-0.51, by seed and thread count).
_base_ = ['./td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py']

optim_wrapper = dict(
    type='BF16OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, fused=True))
val_cfg = dict(fp16=True)
test_cfg = dict(fp16=True)
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
