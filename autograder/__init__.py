"""Autograder for the convolutional-networks coursework.

Heavy frameworks (TensorFlow, Keras, torch) are imported only inside the
functions that need them, so importing this package is instant.
"""

__version__ = "0.1.0"
