"""The 2015 stills' balance between the prior and the network, measured.

``python -m bench.studies.balance [--model efficientnet-lite0]`` builds the 2015
recipe's terms at its start photograph (the canvas it sets, network views
pooled by 3 and 4, the Student-t prior at the stills' scales) and prints the
root-mean-square gradient of each with respect to the pixels, and their
ratio at strength 1000. On VGG-16 (weights in ``models/``) the same command
gives the reference ratio; the strength that keeps the 2015 balance on
another network is 1000 times the ratio of the two networks' gradients.
"""
import argparse
import json
import sys

import numpy as np


def gradients(model, classes=(980,), canvas=None):
    """The RMS pixel gradients of the 2015 recipe's two terms at its start
    photograph (on ``canvas``, (h, w), when given): the network's objective
    (the mean of its RMS over ``classes``) and the prior's at strength 1."""
    from inception_art import recipes
    from inception_art.objectives import ClassObjective
    from inception_art.loop import canvas_size, initial_image, load_prior
    from inception_art.theano_env import T, theano
    from inception_art.views import NetworkViews, mean_loss
    s = recipes.settings('2015', model=model, canvas=canvas)
    size = canvas_size(s)
    views = NetworkViews(model, size, s['views'])
    image = T.tensor4('image')
    objective = ClassObjective('logit', classes=(classes[0],))
    net_term, _ = mean_loss(objective, views.outputs(image))
    prior_term = load_prior('student', 'still').term(image, size=size)
    net = theano.function([image], T.grad(net_term, image))
    prior = theano.function([image], T.grad(prior_term, image))
    start = initial_image(s['init'], size, 0).astype('float32').transpose(2, 0, 1)[None]
    rms = lambda g: float(np.sqrt(np.mean(np.square(g, dtype='float64'))))
    g_prior, nets, wins = prior(start), [], []
    for c in classes:
        objective.set_classes(c)
        g_net = net(start)
        nets.append(rms(g_net))
        wins.append(float(np.mean(np.abs(1000 * g_prior) > np.abs(g_net))))
    return dict(model=model, canvas='%dx%d' % size[::-1], views=list(s['views']),
                classes=list(classes), rms_network=float(np.mean(nets)),
                rms_network_by_class=nets, rms_prior=rms(g_prior),
                ratio_at_1000=1000 * rms(g_prior) / float(np.mean(nets)),
                pixels_where_prior_wins_at_1000=float(np.mean(wins)))


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench.studies.balance',
                                description=__doc__.splitlines()[0])
    p.add_argument('--model', default='efficientnet-lite0')
    args = p.parse_args(argv)
    print(json.dumps(gradients(args.model), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
