"""inception_art: a convolutional network that dreams ImageNet classes.

Theano-using modules import Theano through :mod:`inception_art.theano_env`,
which configures it; importing the package itself stays light.
"""
__version__ = '0.1.0'
