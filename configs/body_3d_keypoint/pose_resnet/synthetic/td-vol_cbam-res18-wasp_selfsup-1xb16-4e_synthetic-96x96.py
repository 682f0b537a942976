# The longer synthetic schedule: the quick start's self-supervised run with
# twice the iterations in every stage (2D 2400, 3D 1200), about twice its
# time. Run all stages with
#   python tools/selfsup_pipeline.py THIS_CONFIG --work-dir work_dirs/selfsup_synthetic_4e
_base_ = ['./td-vol_cbam-res18-wasp_selfsup-1xb16-2e_synthetic-96x96.py']

selfsup_pipeline = dict(
    pretrain_config='td-vol_cbam-res18-wasp_2d-1xb16-8e_synthetic-96x96.py')
pseudo_label_file = 'work_dirs/selfsup_synthetic_4e/pseudo_labels.npz'
pseudo_labels = dict(
    label_file=pseudo_label_file,
    teacher_checkpoint='work_dirs/selfsup_synthetic_4e/stage1_2d/epoch_8.pth')

# 4800 training views: 300 iterations an epoch; the learning rate drops
# tenfold for the last quarter of the 1200 iterations.
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=100, start_factor=0.01,
        by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=1200,
        milestones=[900],
        gamma=0.1,
        by_epoch=False)
]
