# Stage 1 of the longer synthetic schedule: the quick start's 2D
# pre-training for twice as many iterations (2400; learning rate down
# tenfold for the last quarter).
_base_ = ['./td-vol_cbam-res18-wasp_2d-1xb16-4e_synthetic-96x96.py']

max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=100, start_factor=0.01,
        by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        milestones=[6],
        gamma=0.1,
        by_epoch=True)
]
