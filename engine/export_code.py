"""The code that engine/export.py writes into a script for each registered dataset, helper module
and learning-rate schedule. Each piece re-expresses its engine counterpart line for line (the
dataset generators of engine/datasets.py, the modules of engine/layers.py, lr_factor of
engine/trainer.py); tests/engine/test_export.py checks that the script's data and losses are the
engine's, for every registered name."""

from __future__ import annotations

import math
from typing import Any, Callable

from .registry import Registry


def lit(value: Any) -> str:
    """A Python literal for JSON-like data; strings through repr, so they cannot break out."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({repr(str(value))})"
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{lit(str(k))}: {lit(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} into a script")

MAKE_SPLIT = '''

def split_indices(n, val_fraction, train_fraction, seed):
    """Seeded shuffle, then validation first; only train_fraction of the rest is kept for training."""
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    val, train = order[:n_val], order[n_val:]
    keep = max(1, math.ceil(len(train) * train_fraction))
    return train[:keep], val


def make_split():
    """(x_train, y_train, x_val, y_val) tensors."""
    x, y = generate(N_SAMPLES, NOISE, np.random.default_rng(DATA_SEED))
    train, val = split_indices(len(y), VAL_FRACTION, TRAIN_FRACTION, DATA_SEED)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    yt = to_y(y)
    idx_t, idx_v = torch.as_tensor(train), torch.as_tensor(val)
    return xt[idx_t], yt[idx_t], xt[idx_v], yt[idx_v]

'''


# generate(n, noise, rng) -> (x, y) for each dataset, as engine/datasets.py draws it.
DATA_CODE: Registry[str] = Registry("dataset")

_TOY = {
    "circle": '''
def generate(n, noise, rng):
    """A disc inside a ring."""
    y = _balanced(n)
    radius = np.where(y == 0, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0.0, 2 * math.pi, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return _jitter(x, noise, rng), y
''',
    "xor": '''
def generate(n, noise, rng):
    """Opposite quadrants share a class."""
    x = rng.uniform(-1.0, 1.0, (n, 2))
    x += np.sign(x) * 0.05  # keep a margin off the axes
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return _jitter(x, noise, rng), y
''',
    "gaussians": '''
def generate(n, noise, rng):
    """Two Gaussian blobs."""
    y = _balanced(n)
    centre = np.where(y[:, None] == 0, -0.5, 0.5)
    x = centre + rng.normal(0.0, 0.25, (n, 2))
    return _jitter(x, noise, rng), y
''',
    "spiral": '''
def generate(n, noise, rng):
    """Two interleaved spiral arms."""
    y = _balanced(n)
    t = rng.uniform(0.05, 1.0, n)
    angle = t * 3 * math.pi + y * math.pi
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return _jitter(x, noise, rng), y
''',
    "moons": '''
def generate(n, noise, rng):
    """Two interleaving half circles (scikit-learn's make_moons), centred on the origin."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=0.0, random_state=int(rng.integers(2**31 - 1)))
    x = (x - np.array([0.5, 0.25])) * np.array([0.65, 1.0])
    return _jitter(x, noise, rng), y.astype(np.int64)
''',
    "sine": '''
def generate(n, noise, rng):
    """y = sin(3x) plus noise."""
    x = rng.uniform(-1.0, 1.0, (n, 1))
    y = np.sin(3.0 * x[:, 0]) + rng.normal(0.0, noise, n)
    return x, y
''',
    "plane": '''
def generate(n, noise, rng):
    """y = 0.6 x1 - 0.4 x2 plus noise."""
    x = rng.uniform(-1.0, 1.0, (n, 2))
    y = 0.6 * x[:, 0] - 0.4 * x[:, 1] + rng.normal(0.0, noise, n)
    return x, y
''',
    "bumps": '''
def generate(n, noise, rng):
    """Two Gaussian bumps of opposite sign plus noise."""
    x = rng.uniform(-1.0, 1.0, (n, 2))
    d1 = np.sum((x - 0.4) ** 2, axis=1)
    d2 = np.sum((x + 0.4) ** 2, axis=1)
    y = np.exp(-d1 / 0.1) - np.exp(-d2 / 0.1) + rng.normal(0.0, noise, n)
    return x, y
''',
    "digits": '''
def generate(n, noise, rng):
    """Handwritten 8x8 digits (scikit-learn's bundled copy): (N, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = rng.permutation(len(bunch.target))[:n]
    x = bunch.images[order].reshape(-1, 1, 8, 8) / 16.0
    return x, bunch.target[order].astype(np.int64)
''',
    "csv": '''
def generate(n, noise, rng):
    """The uploaded table's chosen columns, in file order: x (N, len(FEATURES)), y (N,)."""
    x = np.asarray(_TABLE["x"], dtype=np.float64).reshape(-1, len(FEATURES))
    y = np.asarray(_TABLE["y"])
    return x, y
''',
}
for _name, _code in _TOY.items():
    DATA_CODE.register(_name, _code)

# Module classes the engine defines itself; a script includes those its model uses.
HELPERS: dict[str, str] = {
    "SeededDropout": '''

class SeededDropout(nn.Dropout):
    """Inverted dropout drawing its masks from the run's own generator (seeded SEED + 1)."""

    generator = None  # set by train()

    def forward(self, x):
        if not self.training or self.p == 0.0 or self.generator is None:
            return super().forward(x)
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep / (1.0 - self.p)
''',
    "SeqBatchNorm": '''

class SeqBatchNorm(nn.Module):
    """BatchNorm over the feature axis of a sequence: (B, T, F) -> (B, T, F)."""

    def __init__(self, features):
        super().__init__()
        self.bn = nn.BatchNorm1d(features)

    def forward(self, x):
        return self.bn(x.transpose(1, 2)).transpose(1, 2)
''',
    "Recurrent": '''

class Recurrent(nn.Module):
    """Runs a batch-first recurrent cell: (B, T, F) -> (B, T, H), or (B, H) for the last step."""

    def __init__(self, cell, return_sequences):
        super().__init__()
        self.cell = cell
        self.return_sequences = return_sequences

    def forward(self, x):
        out, _ = self.cell(x)
        return out if self.return_sequences else out[:, -1]
''',
}

# lr_factor(epoch) for each schedule type, as engine.trainer.lr_factor computes it.
SCHEDULE_CODE: Registry[Callable[[Any, Any], str]] = Registry("lr schedule")


SCHEDULE_CODE.register("none", lambda s, t: '''

def lr_factor(epoch):
    return 1.0
''')
SCHEDULE_CODE.register("step", lambda s, t: f'''

def lr_factor(epoch):
    """Multiply the lr by gamma every step_size epochs."""
    return {lit(float(s.gamma))} ** (epoch // {lit(s.step_size)})
''')
SCHEDULE_CODE.register("exponential", lambda s, t: f'''

def lr_factor(epoch):
    """Multiply the lr by gamma every epoch."""
    return {lit(float(s.gamma))} ** epoch
''')
SCHEDULE_CODE.register("cosine", lambda s, t: f'''

MIN_LR = {lit(float(s.min_lr))}


def lr_factor(epoch):
    """Cosine decay from LR to MIN_LR over the run's epochs."""
    total = max(1, EPOCHS - 1)
    floor = min(MIN_LR / LR, 1.0) if LR > 0 else 0.0
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(epoch, total) / total))
''')


# Sequence data: its own make_split, since each split is cut from its own series (engine/sequences.py).
_SEQUENCE_SPLIT = '''

WINDOW = {window}
HORIZON = {horizon}
SERIES_LENGTH = max(120, WINDOW + HORIZON + 10)


def windows(n, noise, rng):
    """n windows (n, WINDOW, 1) and the HORIZON values after each (n, HORIZON)."""
    per = SERIES_LENGTH - WINDOW - HORIZON + 1
    xs, ys = [], []
    for _ in range(math.ceil(n / per)):
        s = series(SERIES_LENGTH, rng)
        if noise > 0:
            s = s + rng.normal(0.0, 0.5 * noise, size=s.shape)
        idx = np.arange(per)[:, None]
        xs.append(s[idx + np.arange(WINDOW)])
        ys.append(s[idx + WINDOW + np.arange(HORIZON)])
    return np.concatenate(xs)[:n, :, None], np.concatenate(ys)[:n]


def make_split():
    """(x_train, y_train, x_val, y_val): the validation windows come from other series."""
    n_val = min(max(1, round(N_SAMPLES * VAL_FRACTION)), N_SAMPLES - 1)
    n_train = max(1, math.ceil((N_SAMPLES - n_val) * TRAIN_FRACTION))
    xt, yt = windows(n_train, NOISE, np.random.default_rng([DATA_SEED, 0]))
    xv, yv = windows(n_val, NOISE, np.random.default_rng([DATA_SEED, 1]))
    as_x = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
    return as_x(xt), to_y(yt), as_x(xv), to_y(yv)
'''

_SERIES = {
    "sequences": '''

def series(length, rng):
    """A sum of two or three sines of random frequency and phase, amplitude about 1."""
    t = np.arange(length)
    k = int(rng.integers(2, 4))
    freq = rng.uniform(0.02, 0.1, k)
    phase = rng.uniform(0.0, 2 * math.pi, k)
    amp = rng.uniform(0.5, 1.0, k)
    s = (amp[:, None] * np.sin(2 * math.pi * freq[:, None] * t + phase[:, None])).sum(0)
    return s / amp.sum()
''',
    "square": '''

def series(length, rng):
    """A square wave of random period and phase."""
    t = np.arange(length)
    period = int(rng.integers(10, 25))
    phase = int(rng.integers(0, period))
    return np.where(((t + phase) % period) < period // 2, 1.0, -1.0)
''',
}


class SequenceCode(str):
    """A sequence dataset's code: its series() and, once the window is known, its make_split()."""

    def with_shape(self, window: int, horizon: int) -> str:
        return self + _SEQUENCE_SPLIT.replace("{window}", str(int(window))).replace("{horizon}", str(int(horizon)))


for _name, _code in _SERIES.items():
    DATA_CODE.register(_name, SequenceCode(_code))
