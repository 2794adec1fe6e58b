"""Training side of zqvl: stage presets, collate (template + label masks), DeepSpeed loop, checkpoints, chat."""
