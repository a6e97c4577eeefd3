"""The Keras models: LeNet-5 and its variants, a forward pass on any backend, and what a
trained model holds inside.
"""
