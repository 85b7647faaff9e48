"""The data layer: the data contract, IDX reading, tf.Example encoding, TFRecord writing,
dataset sources and fetching, and `prepare-data`.

It imports nothing else of this project; the components, the trainer and the
pipeline build on it. Nothing in it imports TensorFlow.
"""
