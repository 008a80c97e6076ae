"""Small models shared by the calculator tests."""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy


class MLP(chainer.Chain):
    """A smooth nonlinear classifier; with ``dropout`` it is stochastic."""

    def __init__(self, n_in=4, n_hidden=16, n_out=3, dropout=0.):
        super(MLP, self).__init__()
        self.dropout = dropout
        with self.init_scope():
            self.l1 = L.Linear(n_in, n_hidden)
            self.l2 = L.Linear(n_hidden, n_out)

    def forward(self, x):
        h = F.tanh(self.l1(x))
        if self.dropout:
            h = F.dropout(h, self.dropout)
        return self.l2(h)


class BNModel(chainer.Chain):
    def __init__(self):
        super(BNModel, self).__init__()
        with self.init_scope():
            self.l1 = L.Linear(4, 8)
            self.bn = L.BatchNormalization(8)
            self.l2 = L.Linear(8, 1)

    def forward(self, x):
        return self.l2(F.relu(self.bn(self.l1(x))))


class EmbedModel(chainer.Chain):
    """Integer tokens -> embedding -> per-item score; explained at embed."""

    def __init__(self, n_vocab=6, n_units=5):
        super(EmbedModel, self).__init__()
        with self.init_scope():
            self.embed = L.EmbedID(n_vocab, n_units)
            self.out = L.Linear(n_units, 1)

    def forward(self, tokens):
        h = F.tanh(self.embed(tokens))          # (N, T, U)
        return F.sum(self.out(h, n_batch_axes=2), axis=(1, 2))


def data(n=6, n_in=4, seed=0):
    rng = numpy.random.RandomState(seed)
    return rng.randn(n, n_in).astype(numpy.float32)
