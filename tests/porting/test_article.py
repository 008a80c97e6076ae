"""Every code snippet of the article behind the API
(``shared/reference/saliency-article-ja.txt``), ported by changing its
imports only, one test per snippet, on offline data.

Where the article loads something that needs a download (VGG16's weights,
MoleculeNet's ESOL, ImageNet's class names) or Chainer Chemistry's models,
a small stand-in with the same call shape takes its place: the article
allows model definitions and data loading to differ. Every call into the
saliency API is the article's, positional arguments included.
"""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
import pytest
from chainer import cuda
from PIL import Image, ImageDraw
from sklearn import datasets

# The article's imports, changed to saliency_ext:
# from chainer_chemistry.saliency.calculator.gradient_calculator import GradientCalculator
# from chainer_chemistry.saliency.calculator.integrated_gradients_calculator import ...
# from chainer_chemistry.saliency.calculator.common import GaussianNoiseSampler
# from chainer_chemistry.link_hooks.variable_monitor_link_hook import VariableMonitorLinkHook
# from chainer_chemistry.saliency.visualizer.table_visualizer import TableVisualizer
# from chainer_chemistry.saliency.visualizer.common import normalize_scaler, abs_max_scaler
# from chainer_saliency.visualizer.image_visualizer import ImageVisualizer
# from chainer_chemistry.saliency.visualizer.mol_visualizer import SmilesVisualizer
from saliency_ext import (GaussianNoiseSampler, GradientCalculator,  # NOQA: F401
                          ImageVisualizer, IntegratedGradientsCalculator,
                          SmilesVisualizer, TableVisualizer,
                          VariableMonitorLinkHook, abs_max_scaler,
                          normalize_scaler)
from saliency_ext.datasets import concat_mols, load_esol
from saliency_ext.models import GGNN
from tests.pixels import blue_mask, red_mask

device = -1  # the article's GPU id; -1 is the CPU


def _input_grad(fn, x):
    """d fn(x) / dx by plain Chainer, the article's definition of VanillaGrad."""
    x = chainer.Variable(x)
    y = fn(x)
    y.grad = np.ones_like(y.array)
    y.backward()
    return x.grad


# -- the introduction and the Calculator / Visualizer sections ----------------

class DigitScorer(chainer.Chain):
    """A chainer.Chain explaining 8 x 8 digit images: each item's top score."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(64, 10)

    def forward(self, x):
        return F.max(self.l1(F.reshape(x, (len(x), 64))), axis=1)


def _digits(n):
    digits = datasets.load_digits()
    return (digits.images[:n] / 16.).astype(np.float32)


def test_vanilla_grad_is_dy_dx():
    # y = model(x); y.backward(); s = x.grad
    np.random.seed(0)
    model, x = DigitScorer(), _digits(5)
    x_var = chainer.Variable(x)
    y = F.sum(model(x_var))  # one value per item, summed: backward needs a scalar
    y.backward()
    s = x_var.grad
    calculator = GradientCalculator(model)
    np.testing.assert_allclose(calculator.compute(x)[0], s, rtol=1e-5, atol=1e-7)


def test_introduction_compute_aggregate_visualize():
    # model is chainer.Chain, x is dataset
    np.random.seed(0)
    model, x = DigitScorer(), _digits(1)
    calculator = GradientCalculator(model)
    saliency_samples = calculator.compute(x)
    saliency = calculator.aggregate(saliency_samples)

    visualizer = ImageVisualizer()
    rgb = visualizer.visualize(saliency)
    assert saliency_samples.shape == (1, 1, 8, 8) and saliency.shape == (1, 8, 8)
    np.testing.assert_allclose(saliency[0], _input_grad(model, x)[0], rtol=1e-5)
    assert rgb.shape == (8, 8, 3)
    top = np.unravel_index(np.abs(saliency[0]).argmax(), (8, 8))
    assert red_mask(rgb[top]) or blue_mask(rgb[top])  # the strongest pixel is coloured


def test_calculator_section_instantiation_and_compute():
    np.random.seed(0)
    model, x = DigitScorer(), _digits(6).reshape(6, 64)  # (bs, num_feature)
    calculator = GradientCalculator(model)
    # x (bs, num_feature) -> saliency_samples (M, bs, num_feature)
    saliency_samples = calculator.compute(x, M=1)
    assert saliency_samples.shape == (1, 6, 64)
    np.testing.assert_allclose(saliency_samples[0], _input_grad(model, x), rtol=1e-5)


def test_calculator_section_aggregate_raw_abs_and_square():
    np.random.seed(0)
    model, x = DigitScorer(), _digits(6).reshape(6, 64)
    calculator = GradientCalculator(model)
    saliency_samples = calculator.compute(x, M=1)
    # saliency_samples (M, bs, num_feature) -> saliency (bs, num_feature)
    saliency = calculator.aggregate(saliency_samples, method='raw')
    assert saliency.shape == (6, 64)

    samples = calculator.compute(x, M=4, noise_sampler=GaussianNoiseSampler())
    assert not np.allclose(samples[0], samples[1])  # each sample has its own noise
    np.testing.assert_allclose(calculator.aggregate(samples, method='raw'),
                               samples.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(calculator.aggregate(samples, method='abs'),
                               np.abs(samples).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(calculator.aggregate(samples, method='square'),
                               (samples ** 2).mean(axis=0), rtol=1e-6)


def _digit_saliency():
    np.random.seed(0)
    model, x = DigitScorer(), _digits(3)
    calculator = GradientCalculator(model)
    return calculator.aggregate(calculator.compute(x))


def test_visualizer_section_visualize_the_ith_item():
    saliency = _digit_saliency()
    # Instantiation
    visualizer = ImageVisualizer()

    # Visualize `i`-th data
    i = 0
    shown = visualizer.visualize(saliency[i])
    assert shown.shape == (8, 8, 3)
    strongest = np.unravel_index(np.abs(saliency[i]).argmax(), (8, 8))
    assert red_mask(shown[strongest]) or blue_mask(shown[strongest])


def test_visualizer_section_save_filepath(tmp_path, monkeypatch):
    saliency = _digit_saliency()
    visualizer = ImageVisualizer()
    i = 0
    monkeypatch.chdir(tmp_path)
    # Save saliency map
    saved = visualizer.visualize(saliency[i], save_filepath='saliency.png')
    with Image.open(tmp_path / 'saliency.png') as image:
        np.testing.assert_array_equal(np.asarray(image.convert('RGB')), saved)
    np.testing.assert_array_equal(visualizer.visualize(saliency[i]), saved)


# -- tables: iris -------------------------------------------------------------

class MLP(chainer.Chain):
    """Chainer Chemistry's MLP(out_dim, hidden_dim, n_layers, activation)."""

    def __init__(self, out_dim, hidden_dim=16, n_layers=2, activation=F.relu):
        super().__init__()
        self.activation = activation
        with self.init_scope():
            self.layers = chainer.ChainList(*[
                L.Linear(None, hidden_dim) for _ in range(n_layers - 1)])
            self.out = L.Linear(None, out_dim)

    def forward(self, h):
        for layer in self.layers:
            h = self.activation(layer(h))
        return self.out(h)


@pytest.fixture(scope='module')
def iris_run():
    # model
    from chainer.functions import relu, dropout
    iris = datasets.load_iris()

    def activation_relu_dropout(h):
        return dropout(relu(h), ratio=0.5)

    out_dim = len(iris.target_names)
    np.random.seed(0)
    predictor = MLP(out_dim=out_dim, hidden_dim=48, n_layers=2,
                    activation=activation_relu_dropout)
    classifier = L.Classifier(predictor)

    # dataset (NumpyTupleDataset is Chainer's TupleDataset here)
    dataset = chainer.datasets.TupleDataset(iris.data.astype(np.float32),
                                            iris.target.astype(np.int32))
    train = dataset

    # the training the article leaves out: full-batch Adam
    optimizer = chainer.optimizers.Adam(0.01)
    optimizer.setup(classifier)
    x, t = chainer.dataset.concat_examples(train)
    for _ in range(300):
        optimizer.update(classifier, x, t)
    return iris, classifier, train


def test_iris_model_and_dataset(iris_run):
    iris, classifier, train = iris_run
    x, t = chainer.dataset.concat_examples(train)
    with chainer.using_config('train', False):
        accuracy = float(F.accuracy(classifier.predictor(x), t).array)
    assert len(train) == 150 and accuracy > 0.9


@pytest.fixture(scope='module')
def iris_vanilla(iris_run):
    _, classifier, train = iris_run
    # 1. instantiation
    gradient_calculator = GradientCalculator(classifier)
    # 2. compute
    saliency_samples_vanilla = gradient_calculator.compute(train, M=1)
    # 3. aggregate
    saliency_vanilla = gradient_calculator.aggregate(
        saliency_samples_vanilla, ch_axis=None, method='square')
    return saliency_samples_vanilla, saliency_vanilla


def test_iris_vanilla_grad_of_the_classifier_loss(iris_run, iris_vanilla):
    _, classifier, train = iris_run
    samples, saliency = iris_vanilla
    # As in Chainer Chemistry: the gradient of the Classifier's mean loss over each batch
    # of 16 (compute's batchsize), squared.
    x, t = chainer.dataset.concat_examples(train)
    expected = []
    with chainer.using_config('train', False):
        for start in range(0, 150, 16):
            xs = chainer.Variable(x[start:start + 16])
            grad, = chainer.grad([classifier(xs, t[start:start + 16])], [xs])
            expected.append(grad.array)
    np.testing.assert_allclose(samples[0], np.concatenate(expected), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(saliency, samples[0] ** 2, rtol=1e-6)


def test_iris_visualize_one_flower(iris_run, iris_vanilla, tmp_path):
    iris, _, _ = iris_run
    saliency_vanilla = iris_vanilla[1]
    visualizer = TableVisualizer()
    # Visualize saliency of `i`-th data
    i = 0
    visualizer.visualize(saliency_vanilla[i], feature_names=iris.feature_names,
                         scaler=normalize_scaler)
    svg = tmp_path / 'iris0.svg'
    visualizer.visualize(saliency_vanilla[i], feature_names=iris.feature_names,
                         save_filepath=str(svg), scaler=normalize_scaler)
    text = svg.read_text()
    order = np.argsort(-saliency_vanilla[i], kind='stable')
    positions = [text.index('>{}<'.format(iris.feature_names[k])) for k in order]
    assert positions == sorted(positions)  # largest bar first


def test_iris_feature_importance(iris_run, iris_vanilla):
    iris, _, _ = iris_run
    saliency_vanilla = iris_vanilla[1]
    visualizer = TableVisualizer()
    saliency_mean = np.mean(saliency_vanilla, axis=0)
    rgb = visualizer.visualize(saliency_mean, feature_names=iris.feature_names,
                               num_visualize=-1, scaler=normalize_scaler)
    assert rgb.ndim == 3
    # the article's finding: petal length or width matters most
    assert iris.feature_names[int(np.argmax(saliency_mean))].startswith('petal')


# -- images: VGG16 ------------------------------------------------------------

CLASSES = np.array(['basketball', 'school bus', 'basenji'])


class VGGStandIn(chainer.Chain):
    """Stands in for VGG16Layers, whose weights are a download: the same
    ``forward(x, layers=[...])`` returning a dict with ``'fc8'`` and ``'prob'``,
    dropout before fc8 for BayesGrad."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.conv = L.Convolution2D(3, 4, ksize=8, stride=8)
            self.fc8 = L.Linear(4 * 28 * 28, len(CLASSES))

    def forward(self, x, layers=('prob',)):
        h = F.dropout(F.relu(self.conv(x / 128.)), 0.5)  # prepare() leaves -124..152
        fc8 = self.fc8(h)
        out = {'fc8': fc8, 'prob': F.softmax(fc8)}
        return {name: out[name] for name in layers}


def _pictures():
    """A ball (RGB), a bus (grayscale) and a dog (RGBA with a transparent
    background), drawn here instead of the article's photographs."""
    ball = Image.new('RGB', (300, 240), 'white')
    ImageDraw.Draw(ball).ellipse((90, 60, 210, 180), fill=(230, 120, 20))
    bus = Image.new('L', (320, 200), 230)
    ImageDraw.Draw(bus).rectangle((40, 60, 280, 150), fill=60)
    dog = Image.new('RGBA', (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(dog).ellipse((50, 70, 150, 150), fill=(140, 90, 40, 255))
    return [ball, bus, dog]


@pytest.fixture(scope='module')
def images():
    np.random.seed(0)
    predictor = VGGStandIn()
    xp = np
    imgs = _pictures()
    x = xp.asarray([chainer.links.model.vision.vgg.prepare(img) for img in imgs])
    return predictor, imgs, x


def _eval_fun(predictor):
    def eval_fun(x):
        result = predictor(x, layers=['fc8'])
        out = result['fc8']
        xp = cuda.get_array_module(out.array)
        labels_pred = xp.argmax(out.array, axis=1).astype(xp.int32)
        loss = F.softmax_cross_entropy(out, labels_pred)
        return loss
    return eval_fun


def test_images_class_names_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'imagenet1000_clsid_to_human.txt').write_text(
        "{0: 'tench, Tinca tinca',\n 1: 'goldfish, Carassius auratus',\n"
        " 2: \"great white shark, white shark, man-eater\",\n")
    import numpy as np

    with open('imagenet1000_clsid_to_human.txt') as f:
        lines = f.readlines()

    def extract_value(s):
        quote_str = s[s.index(':') + 2]
        return s[s.find(quote_str)+1:s.rfind(quote_str)]

    classes = np.array([extract_value(line) for line in lines])
    assert classes.tolist() == ['tench, Tinca tinca', 'goldfish, Carassius auratus',
                                'great white shark, white shark, man-eater']


def test_images_predict_the_top_classes(images):
    predictor, imgs, x = images
    with chainer.using_config('train', False):
        result = predictor.forward(x, layers=['prob'])
    prob = result['prob']

    lables_pred = np.argsort(cuda.to_cpu(prob.array), axis=1)[:, ::-1]
    assert x.shape == (3, 3, 224, 224)
    assert lables_pred.shape == (3, 3) and CLASSES[lables_pred[:, :1]].shape == (3, 1)
    np.testing.assert_allclose(prob.array.sum(axis=1), 1, rtol=1e-5)


@pytest.fixture(scope='module')
def vanilla_images(images):
    predictor, _, x = images
    # 1. instantiation
    gradient_calculator = GradientCalculator(predictor, eval_fun=_eval_fun(predictor),
                                             device=device)
    # --- VanillaGrad ---
    # 2. compute
    saliency_samples_vanilla = gradient_calculator.compute(x)

    # 3. aggregate
    saliency_vanilla = gradient_calculator.aggregate(
        saliency_samples_vanilla, ch_axis=2, method='abs')
    return gradient_calculator, saliency_samples_vanilla, saliency_vanilla


def test_images_vanilla_grad_of_the_top_prediction_loss(images, vanilla_images):
    predictor, _, x = images
    _, saliency_samples_vanilla, saliency_vanilla = vanilla_images
    # saliency_samples (1, 3, 3, 224, 224) -> M, minibatch, ch, h, w
    assert saliency_samples_vanilla.shape == (1, 3, 3, 224, 224)
    # saliency (3, 224, 224) -> minibatch, h, w
    assert saliency_vanilla.shape == (3, 224, 224)
    with chainer.using_config('train', False):
        expected = _input_grad(_eval_fun(predictor), x)
    np.testing.assert_allclose(saliency_vanilla, np.abs(expected).sum(axis=1),
                               rtol=1e-4, atol=1e-10)


def _draw_each(saliency, imgs):
    visualizer = ImageVisualizer()
    pictures = []
    for index in range(len(saliency)):
        image = imgs[index].resize(saliency[index].shape)
        pictures.append(visualizer.visualize(saliency[index], image,
                                             show_colorbar=False))
    return pictures


def test_images_visualize_over_pil_images(images, vanilla_images):
    _, imgs, _ = images
    saliency_vanilla = vanilla_images[2]
    pictures = _draw_each(saliency_vanilla, imgs)
    assert [p.shape for p in pictures] == [(224, 224, 3)] * 3
    # the dog's transparent background is composited over white: with the map at half
    # opacity no background pixel is darker than half white
    corner = pictures[2][:20, :20].astype(int)
    assert corner.min() >= 120


def test_images_smooth_grad(images, vanilla_images):
    _, imgs, x = images
    gradient_calculator = vanilla_images[0]
    M = 30

    # --- SmoothGrad ---
    # 2. compute
    saliency_samples_smooth = gradient_calculator.compute(
        x, M=M, noise_sampler=GaussianNoiseSampler())

    # 3. aggregate
    saliency_smooth = gradient_calculator.aggregate(
        saliency_samples_smooth, ch_axis=2, method='abs')
    pictures = _draw_each(saliency_smooth, imgs)
    assert saliency_samples_smooth.shape == (30, 3, 3, 224, 224)
    assert not np.allclose(saliency_smooth, vanilla_images[2])
    assert len(pictures) == 3


def test_images_bayes_grad(images, vanilla_images):
    _, imgs, x = images
    gradient_calculator = vanilla_images[0]
    M = 30
    # --- BayesGrad ---
    # 2. compute
    saliency_samples_bayes = gradient_calculator.compute(x, M=M, train=True)
    saliency_bayes = gradient_calculator.aggregate(
        saliency_samples_bayes, ch_axis=2, method='abs')
    assert saliency_samples_bayes.shape == (30, 3, 3, 224, 224)
    # every sample draws its own dropout mask
    assert not np.allclose(saliency_samples_bayes[0], saliency_samples_bayes[1])
    assert len(_draw_each(saliency_bayes, imgs)) == 3


# -- molecules: ESOL ----------------------------------------------------------

class GraphConvPredictor(chainer.Chain):
    def __init__(self, graph_conv, mlp=None):
        """The article's predictor, as it wrote it."""
        super(GraphConvPredictor, self).__init__()
        with self.init_scope():
            self.graph_conv = graph_conv
            if isinstance(mlp, chainer.Link):
                self.mlp = mlp
        if not isinstance(mlp, chainer.Link):
            self.mlp = mlp

    def __call__(self, atoms, adjs):
        x = self.graph_conv(atoms, adjs)
        if self.mlp:
            x = self.mlp(x)
        return x


@pytest.fixture(scope='module')
def esol():
    from chainer.functions import relu, dropout

    # Model
    def activation_relu_dropout(h):
        return dropout(relu(h), ratio=0.25)

    n_unit = 32
    conv_layers = 4
    class_num = 1

    np.random.seed(0)
    ggnn = GGNN(out_dim=n_unit, hidden_dim=n_unit, n_layers=conv_layers)
    mlp = MLP(out_dim=class_num, hidden_dim=n_unit, activation=activation_relu_dropout)
    predictor = GraphConvPredictor(ggnn, mlp)
    regressor = L.Classifier(predictor, lossfun=F.mean_squared_error)  # Regressor
    regressor.compute_accuracy = False

    # Dataset: the packaged ESOL (MoleculeNet's delaney), its first 160 molecules
    result = load_esol()
    train = result.dataset[:160]
    smiles = result.smiles[:160]
    return ggnn, predictor, train, smiles


def test_esol_model_and_dataset(esol):
    ggnn, predictor, train, smiles = esol
    atoms, adjs, labels = concat_mols(train[:4])
    with chainer.using_config('train', False):
        prediction = predictor(atoms, adjs)
    assert prediction.shape == (4, 1) and labels.shape == (4, 1)
    assert len(train) == len(smiles) == 160 and isinstance(ggnn.embed, L.EmbedID)


@pytest.fixture(scope='module')
def esol_ig(esol):
    ggnn, predictor, train, _ = esol

    def eval_fun(x, adj, t):
        pred = predictor(x, adj)
        pred_summed = F.sum(pred)
        return pred_summed

    # 1. instantiation
    calculator = IntegratedGradientsCalculator(
        predictor, steps=5, eval_fun=eval_fun,
        target_extractor=VariableMonitorLinkHook(ggnn.embed, timing='post'),
        device=device)
    # 2. compute
    saliency_samples_vanilla = calculator.compute(
        train, M=1, converter=concat_mols)
    method = 'raw'
    saliency_vanilla = calculator.aggregate(
        saliency_samples_vanilla, ch_axis=3, method=method)
    return saliency_samples_vanilla, saliency_vanilla


def test_esol_integrated_gradients_at_the_embedding(esol, esol_ig):
    ggnn, predictor, train, _ = esol
    samples, saliency = esol_ig
    assert samples.shape[:2] == (1, 160) and samples.shape[3] == 32
    assert saliency.shape == samples.shape[1:3]
    assert not ggnn.embed.local_link_hooks  # the hook was removed
    # completeness: each molecule's attributions add up to f(x) - f(zero embedding), to
    # within what a midpoint rule of 5 steps allows
    zero = VariableMonitorLinkHook(ggnn.embed)
    zero.add_process('zero', lambda hook, args, variable: variable.array.fill(0))
    atoms, adjs, _ = concat_mols(train[:16])
    with chainer.using_config('train', False):
        full = predictor(atoms, adjs).array[:, 0]
        with zero:
            empty = predictor(atoms, adjs).array[:, 0]
    np.testing.assert_allclose(saliency[:16].sum(axis=1), full - empty,
                               atol=0.1 * np.abs(full - empty).max())


def test_esol_smiles_visualizer(esol, esol_ig):
    from rdkit import Chem
    _, _, _, smiles = esol
    saliency_vanilla = esol_ig[1]
    visualizer = SmilesVisualizer()
    i = 153
    rgb = visualizer.visualize(saliency_vanilla[i], smiles[i])
    atoms = Chem.MolFromSmiles(smiles[i]).GetNumAtoms()
    assert np.all(saliency_vanilla[i][atoms:] == 0)  # padding beyond the molecule
    values = saliency_vanilla[i][:atoms]
    top = np.abs(values).max()  # abs_max_scaler: red for positive, blue for negative
    assert red_mask(rgb).any() == (values.max() > 0.5 * top)
    if values.min() < -0.5 * top:
        assert blue_mask(rgb).any()
    if values.min() >= 0:
        assert not blue_mask(rgb).any()
