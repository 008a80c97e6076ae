import chainer
import chainer.functions as F
import numpy
import pytest
from chainer import optimizers

from saliency_ext.datasets import concat_mols, graphs_from_smiles, load_esol
from saliency_ext.models import GGNN, GraphRegressor

# Small, a ring and the largest ESOL molecule (55 heavy atoms): real padding in a batch.
SMILES = ['CCO', 'c1ccccc1O',
          'CC1OC(CC(O)C1O)OC2C(O)CC(OC2C)OC8C(O)CC(OC7CCC3(C)C(CCC4C3CC(O)C5(C)C(CCC45O)'
          'C6=CC(=O)OC6)C7)OC8C']


@pytest.fixture(autouse=True)
def seed():
    numpy.random.seed(0)


def predict(model, examples):
    atoms, adjs = concat_mols(examples)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return model(atoms, adjs).array


@pytest.mark.parametrize('model, width', [(GGNN(out_dim=7), 7), (GraphRegressor(), 1)])
def test_output_shape(model, width):
    assert predict(model, graphs_from_smiles(SMILES)).shape == (3, width)


@pytest.mark.parametrize('model', [GGNN(), GraphRegressor()])
def test_padding_and_batch_mates_never_change_an_output(model):
    graphs = graphs_from_smiles(SMILES)
    assert len(graphs[2][0]) == 55
    batched = predict(model, graphs)
    for i, graph in enumerate(graphs):
        numpy.testing.assert_allclose(predict(model, [graph]), batched[i:i + 1], atol=1e-5)


def test_embedding_is_called_once_per_forward():
    class CountCalls(chainer.LinkHook):
        calls = 0

        def forward_postprocess(self, args):
            self.calls += 1

    model = GraphRegressor(n_layers=4)
    hook = CountCalls()
    model.graph.embed.add_hook(hook)
    predict(model, graphs_from_smiles(SMILES))
    assert hook.calls == 1


def test_dropout_is_random_in_train_mode_only():
    model = GraphRegressor(dropout_ratio=0.5)
    atoms, adjs = concat_mols(graphs_from_smiles(SMILES))
    with chainer.using_config('train', True):
        assert not numpy.allclose(model(atoms, adjs).array, model(atoms, adjs).array)
    numpy.testing.assert_array_equal(predict(model, graphs_from_smiles(SMILES)),
                                     predict(model, graphs_from_smiles(SMILES)))


def test_bad_options_and_shapes_are_quoted():
    with pytest.raises(ValueError, match='1.5'):
        GraphRegressor(dropout_ratio=1.5)
    with pytest.raises(TypeError, match="'0.2'"):
        GraphRegressor(dropout_ratio='0.2')
    with pytest.raises(ValueError, match='n_layers.*0'):
        GGNN(n_layers=0)
    with pytest.raises(TypeError, match='hidden_dim.*32.0'):
        GGNN(hidden_dim=32.0)
    atoms, adjs = concat_mols(graphs_from_smiles(SMILES))
    with pytest.raises(ValueError, match=r'\(3, 4, 55, 55\)'):
        GGNN()(atoms, adjs[:, :, :-1])


def test_adam_reduces_training_error_on_esol():
    esol = load_esol()
    rng = numpy.random.RandomState(0)
    train = [esol.dataset[i] for i in rng.permutation(len(esol.dataset))[:200]]
    atoms, adjs, labels = concat_mols(train)
    model = GraphRegressor(hidden_dim=16)
    optimizer = optimizers.Adam(alpha=0.01)
    optimizer.setup(model)

    def mse():
        with chainer.using_config('train', False), chainer.no_backprop_mode():
            return float(F.mean_squared_error(model(atoms, adjs), labels).array)

    initial = mse()
    for _ in range(200):
        batch = concat_mols([train[i] for i in rng.choice(len(train), 16, replace=False)])
        optimizer.update(lambda a, b, y: F.mean_squared_error(model(a, b), y), *batch)
    # Better than predicting the mean: the model learns from the structures.
    assert mse() < min(0.25 * initial, 0.5 * labels.var())
