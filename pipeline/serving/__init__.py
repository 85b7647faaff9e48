"""Querying pushed models: version lookup, image inputs, `predict`, TF Serving request
bodies and clients, and the TFLite conversion pushed beside each version.

Nothing here imports TensorFlow at import time; the functions that need it load it.
"""
