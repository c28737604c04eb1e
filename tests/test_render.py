"""The render loop with the real Lite0: the default recipe paints the
requested class, recipes and octaves do what they say."""
import numpy as np
import pytest

from inception_art import recipes
from inception_art.nets.classifier import Classifier
from inception_art.loop import Renderer, render

VOLCANO, JELLYFISH = 980, 107


@pytest.fixture(scope='module')
def renderer():
    return Renderer()


@pytest.mark.full_network
def test_the_default_recipe_paints_the_requested_class(renderer):
    """A short default render (small canvas, few steps): Lite0 names the
    class first, and Lite2, which did not make it, has it in its top 5, at
    full size and in the thumbnail test."""
    picture, logit = render((VOLCANO,), renderer=renderer, canvas=(192, 192), steps=48,
                            progress=False)
    assert picture.shape == (192, 192, 3) and picture.dtype == np.uint8
    from inception_art import look
    from inception_art.research.evaluate import judge
    lite0 = Classifier('efficientnet-lite0').logits([picture])[0]
    assert int(np.argmax(lite0)) == VOLCANO
    ranks = judge([picture], [VOLCANO], judges=('efficientnet-lite2',))['efficientnet-lite2']
    assert ranks['ranks'][0] <= 5 and ranks['thumb_ranks'][0] <= 5
    assert look.contrast(picture) > 25          # not a grey texture


@pytest.mark.full_network
def test_a_second_class_takes_the_upper_half(renderer):
    """``--class2``: each half of the picture, cut out and shown to Lite0
    alone, has its own class in the top 5 and above the other class. (A
    canvas this small needs views (1, 2): with the default views it pools to
    maps of 2-3 rows, and the halves blend.)"""
    picture, _ = render((VOLCANO, JELLYFISH), renderer=renderer, canvas=(192, 192), steps=48,
                        views=(1, 2), seed=0, progress=False)
    lower, upper = Classifier('efficientnet-lite0').logits([picture[96:], picture[:96]])

    def rank(logits, k):
        return int((logits > logits[k]).sum()) + 1
    assert rank(lower, VOLCANO) <= 5 and lower[VOLCANO] > lower[JELLYFISH]
    assert rank(upper, JELLYFISH) <= 5 and upper[JELLYFISH] > upper[VOLCANO]


@pytest.mark.full_network
def test_octaves_share_the_steps_and_end_at_the_canvas(renderer):
    seen = []
    picture, _ = render((VOLCANO,), renderer=renderer, canvas=(160, 128), steps=7, octaves=2,
                        octave_scale=1.25, views=(2,), progress=False,
                        callback=lambda i, loss, logit: seen.append(i))
    assert seen == list(range(7))
    assert picture.shape == (160, 128, 3)
    sizes = sorted(k[1] for k in renderer._steps)
    assert (128, 102) in sizes and (160, 128) in sizes


@pytest.mark.full_network
def test_the_2015_recipe_starts_from_the_photograph_at_its_size(renderer):
    from inception_art.images import load_rgb
    photo = load_rgb(recipes.PHOTO).astype(float)
    picture, _ = render((VOLCANO,), '2015', renderer=renderer, steps=1, progress=False)
    assert picture.shape == photo.shape
    change = np.abs(picture - photo)
    # The 2015 Adam's first step is lr times the sign of the gradient: every
    # pixel moves by exactly 5 grey levels (less only where the clip to
    # [0, 255] stops it).
    assert change.max() <= 5 and np.mean(change == 5) > 0.9

