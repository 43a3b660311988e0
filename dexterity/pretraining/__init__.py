"""Visual pretraining: rendered Shadow Hand scenes (TF-free generation) and encoder training tasks.

`scenes` and `data` never import TensorFlow (they render); `tasks` and `training` do.
"""
