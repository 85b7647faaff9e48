"""Querying pushed models: `predict` (images in, class names out) and the TF Serving client
(REST bodies, gRPC). The model-side pieces they share (version lookup, tf.Examples, class
names, the TFLite file) are in `trainer_module.serving` and `trainer_module.tflite`.
"""
