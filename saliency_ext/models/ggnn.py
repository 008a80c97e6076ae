"""A gated graph neural network (Li et al., "Gated Graph Sequence Neural Networks", ICLR 2016).

Molecules come as padded batches from :func:`saliency_ext.datasets.concat_mols`:
``atoms`` int ``(B, N)`` with id 0 for padding and ``adjs`` float ``(B, E, N, N)``, one
adjacency matrix per bond type. Every output row depends on its own molecule only, and
padding never changes it.
"""

import numbers

import chainer
import chainer.functions as F
import chainer.links as L

from saliency_ext.datasets.molecules import N_ATOM_TYPES, N_EDGE_TYPES, PAD_ID


def _check_graph_batch(atoms, adjs, n_edge_types):
    if atoms.ndim != 2:
        raise ValueError(f'atoms must have shape (batch, n_atoms), got {atoms.shape}')
    b, n = atoms.shape
    if adjs.shape != (b, n_edge_types, n, n):
        raise ValueError(f'adjs must have shape {(b, n_edge_types, n, n)} to match atoms '
                         f'{atoms.shape} and {n_edge_types} edge types, got {adjs.shape}')


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{name} must be an int, got {type(value).__name__}: {value!r}')
    if value < 1:
        raise ValueError(f'{name} must be positive, got {value!r}')


def _check_dropout_ratio(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'dropout_ratio must be a float, got {type(value).__name__}: {value!r}')
    if not 0 <= value < 1:
        raise ValueError(f'dropout_ratio must be in [0, 1), got {value!r}')


class _GRUCell(chainer.Chain):
    """GRU update (Cho et al. 2014) with the gates of each input computed by one matrix.

    Same function as ``L.StatelessGRU``, in 4 linear maps instead of 6: the update runs
    ``n_layers`` times per forward, and on the CPU the cost is per function call.
    """

    def __init__(self, size):
        super().__init__()
        self.size = size
        with self.init_scope():
            self.input_gates = L.Linear(size, 3 * size)  # reset, update, candidate
            self.state_gates = L.Linear(size, 2 * size, nobias=True)  # reset, update
            self.state_candidate = L.Linear(size, size, nobias=True)

    def forward(self, h, x):
        """Return the new state ``(rows, size)`` from state ``h`` and input ``x``."""
        x_gates, x_candidate = F.split_axis(self.input_gates(x), [2 * self.size], axis=1)
        reset, update = F.split_axis(F.sigmoid(x_gates + self.state_gates(h)), 2, axis=1)
        candidate = F.tanh(x_candidate + self.state_candidate(reset * h))
        return F.linear_interpolate(update, candidate, h)


class GGNN(chainer.Chain):
    """Gated graph neural network that maps each molecule to a vector.

    Atoms are embedded by ``self.embed``, called once per forward: its output is the only
    path from the atom ids to the result, so a ``VariableMonitorLinkHook`` on it explains the
    model per atom. ``n_layers`` rounds of message passing follow, each summing per-bond-type
    linear messages from neighbours and updating every atom with one GRU shared by all
    rounds. A gated sum over the (non-padding) atoms reads the molecule out.

    Args:
        hidden_dim (int): size of the atom states.
        out_dim (int): size of the molecule vector returned.
        n_layers (int): rounds of message passing.
        n_atom_types (int): size of the atom vocabulary (ids ``0..n_atom_types-1``).
        n_edge_types (int): number of adjacency matrices per molecule (bond types).
    """

    def __init__(self, *, hidden_dim=24, out_dim=24, n_layers=3,
                 n_atom_types=N_ATOM_TYPES, n_edge_types=N_EDGE_TYPES):
        for name, value in [('hidden_dim', hidden_dim), ('out_dim', out_dim),
                            ('n_layers', n_layers), ('n_atom_types', n_atom_types),
                            ('n_edge_types', n_edge_types)]:
            _check_positive_int(name, value)
        super().__init__()
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.n_edge_types = n_edge_types
        with self.init_scope():
            self.embed = L.EmbedID(n_atom_types, hidden_dim)
            # One linear map per bond type, computed together as one wide layer.
            self.message = L.Linear(hidden_dim, n_edge_types * hidden_dim)
            self.update = _GRUCell(hidden_dim)
            self.gate = L.Linear(2 * hidden_dim, out_dim)
            self.value = L.Linear(hidden_dim, out_dim)

    def forward(self, atoms, adjs):
        """Compute one vector per molecule.

        Args:
            atoms (array): int ids ``(B, N)``, :data:`PAD_ID` for padding atoms.
            adjs (array or chainer.Variable): float adjacency matrices
                ``(B, n_edge_types, N, N)``.

        Returns:
            chainer.Variable: float32 ``(B, out_dim)``.
        """
        atoms = chainer.as_array(atoms)
        _check_graph_batch(atoms, adjs, self.n_edge_types)
        b, n = atoms.shape
        h0 = F.reshape(self.embed(atoms), (b * n, self.hidden_dim))
        # adjs[b, e, u, v] -> incoming[b, u, v * E + e], matching the message layout below.
        # Through chainer.functions so that a Variable adjs can be explained per bond.
        incoming = F.reshape(F.transpose(adjs, (0, 2, 3, 1)), (b, n, n * self.n_edge_types))
        h = h0
        for _ in range(self.n_layers):
            h = self._step(h, incoming, b, n)
        return self._readout(h, h0, atoms)

    def _step(self, h, incoming, b, n):
        # Messages (b * n, E * H) viewed as (b, n * E, H): row v * E + e is atom v's
        # message along bond type e, so one batched matmul sums all types and neighbours.
        messages = F.reshape(self.message(h), (b, n * self.n_edge_types, self.hidden_dim))
        received = F.reshape(F.matmul(incoming, messages), (b * n, self.hidden_dim))
        return self.update(h, received)

    def _readout(self, h, h0, atoms):
        b, n = atoms.shape
        gated = F.sigmoid(self.gate(F.concat((h, h0)))) * self.value(h)
        # Padding atoms have states too (from the padding embedding): a (b, 1, n) mask
        # drops them while one batched product sums each molecule's atoms.
        mask = (atoms != PAD_ID).astype(gated.dtype)[:, None, :]
        return F.reshape(F.matmul(mask, F.reshape(gated, (b, n, -1))), (b, -1))


class GraphRegressor(chainer.Chain):
    """GGNN followed by a small MLP head: one regression target per molecule.

    Dropout in the head makes the model stochastic in train mode, which BayesGrad samples.
    The default sizes keep one training epoch over ESOL (1,128 molecules, batch 32) around
    a second on one CPU core.

    Args:
        hidden_dim (int): size of the GGNN atom states, molecule vector and MLP layer.
        n_layers (int): rounds of GGNN message passing.
        dropout_ratio (float): dropout probability in the head, in ``[0, 1)``.
        n_atom_types (int): size of the atom vocabulary.
        n_edge_types (int): number of adjacency matrices per molecule.
    """

    def __init__(self, *, hidden_dim=24, n_layers=3, dropout_ratio=0.2,
                 n_atom_types=N_ATOM_TYPES, n_edge_types=N_EDGE_TYPES):
        _check_dropout_ratio(dropout_ratio)
        super().__init__()
        self.dropout_ratio = dropout_ratio
        with self.init_scope():
            self.graph = GGNN(hidden_dim=hidden_dim, out_dim=hidden_dim, n_layers=n_layers,
                              n_atom_types=n_atom_types, n_edge_types=n_edge_types)
            self.hidden = L.Linear(hidden_dim, hidden_dim)
            self.output = L.Linear(hidden_dim, 1)

    def forward(self, atoms, adjs):
        """Predict one value per molecule.

        Args:
            atoms (array): int ids ``(B, N)``, 0 for padding atoms.
            adjs (array): float adjacency matrices ``(B, n_edge_types, N, N)``.

        Returns:
            chainer.Variable: float32 ``(B, 1)``.
        """
        x = F.dropout(self.graph(atoms, adjs), self.dropout_ratio)
        x = F.dropout(F.relu(self.hidden(x)), self.dropout_ratio)
        return self.output(x)
