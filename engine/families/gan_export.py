"""The generation family's part of the exported script: build_model() (G then D, each its layers and
its head, in the engine's order), the energy distance and mode count, and the GAN loop that
engine/families/gan_step.py runs (the same seeds and draws, so the same history)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..data import find
from ..family import ExportParts
from ..layers import fmt
from .gan_metrics import COVER_RADIUS, COVER_SHARE
from .gan_step import EVAL_POINTS, GP_WEIGHT
from .generation import DISCRIMINATOR, GENERATOR

if TYPE_CHECKING:
    from ..shapes import Summary
    from ..spec import ExperimentSpec


def gan_parts(spec: "ExperimentSpec", summary: "Summary") -> ExportParts:
    """build_model() and the GAN training loop."""
    from ..export import stack_code

    blocks, helpers = [], []
    for stack in (GENERATOR, DISCRIMINATOR):
        rows = summary.stacks[stack.name]
        lines, needs = stack_code(stack.layers(spec.model), rows[:-1], f"model.{stack.path}")
        head = rows[-1]
        units = head.output_shape[0]
        lines.append(f"        nn.Linear({head.input_shape[0]}, {units}),  # the head {fmt(head.input_shape)} -> ({units},)")
        if stack is DISCRIMINATOR and spec.model.minibatch_std:
            lines.insert(0, "        MinibatchStd(),  # each point with its batch's std: (B, 2) -> (B, 3)")
        blocks.append("nn.Sequential(\n" + "\n".join(lines) + "\n    )")
        helpers += [h for h in needs if h not in helpers]
    model = (GAN_NET + "\n\ndef build_model():\n    \"\"\"G, then D: one child per layer and the head last (the engine's "
             "order, so the same initial weights).\"\"\"\n    generator = " + blocks[0] +
             "\n    discriminator = " + blocks[1] + "\n    return GanNet(generator, discriminator)\n")
    t = spec.training
    ds = find(spec.data.dataset)
    modes = ds.modes() if hasattr(ds, "modes") else None
    constants = {"LATENT_DIM": spec.model.latent_dim, "D_LR": float(t.d_lr if t.d_lr is not None else t.lr),
                 "D_STEPS": t.d_steps or 1, "LOSS": t.loss or "standard", "GP_WEIGHT": GP_WEIGHT,
                 "EVAL_POINTS": EVAL_POINTS,
                 "MODES": None if modes is None else modes[0].tolist(),
                 "SIGMA": None if modes is None else float(modes[1]),
                 "COVER_SHARE": COVER_SHARE, "COVER_RADIUS": COVER_RADIUS}
    return ExportParts(model=model, train=TRAIN, helpers=helpers, constants=constants)


GAN_NET = '''

class MinibatchStd(nn.Module):
    """(B, F) -> (B, F + 1): each row with the batch's standard deviation averaged over the features."""

    def forward(self, x):
        return torch.cat([x, x.std(dim=0, unbiased=False).mean().expand(len(x), 1)], dim=1)

class GanNet(nn.Module):
    """G and D as one module (Layerlab's state_dict keys); calling it runs G."""

    def __init__(self, generator, discriminator):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def forward(self, z):
        return self.generator(z)
'''

TRAIN = '''

def to_y(y):
    """The labels (which Gaussian a point came from) as class indices; the GAN does not train on them."""
    return torch.as_tensor(np.asarray(y), dtype=torch.long)


def resolve_device():
    if DEVICE != "auto":
        return torch.device(DEVICE)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    return torch.device("mps" if mps is not None and mps.is_available() else "cpu")


def energy_distance(x, y):
    """2 E|X - Y| - E|X - X'| - E|Y - Y'| over all pairs (the V-statistic)."""
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())


def modes_covered(points):
    """Modes with at least COVER_SHARE / K of the points within COVER_RADIUS sigma; None without modes."""
    if MODES is None:
        return None
    centres = torch.tensor(MODES, dtype=torch.float32, device=points.device)
    shares = (torch.cdist(points, centres) <= COVER_RADIUS * SIGMA).float().mean(dim=0)
    return float((shares >= COVER_SHARE / len(MODES)).sum())


def train(verbose=True):
    """Train as the run did: per batch of real points, D_STEPS updates of D, then one of G."""
    torch.set_num_threads(1)
    device = resolve_device()
    x_train, _, x_val, _ = make_split()
    torch.manual_seed(SEED)
    model = build_model().to(device)
    shuffle = torch.Generator().manual_seed(SEED)
    dropout_gen = torch.Generator(device=device).manual_seed(SEED + 1)
    for m in model.modules():
        if isinstance(m, nn.Dropout) and hasattr(m, "generator"):  # SeededDropout (not GanNet's .generator, G)
            m.generator = dropout_gen
    noise = torch.Generator().manual_seed(SEED + 2)  # training's latent draws
    z_eval = torch.randn(EVAL_POINTS, LATENT_DIM, generator=torch.Generator().manual_seed(SEED + 3)).to(device)
    g_opt = make_optimizer(model.generator.parameters(), LR)
    d_opt = make_optimizer(model.discriminator.parameters(), D_LR)
    x_train, x_val = x_train.to(device), x_val.to(device)
    history = {key: [] for key in ("epoch", "g_loss", "d_loss", "d_real", "d_fake", "w_distance", "distance",
                                   "modes_covered", "lr")}
    critic = LOSS == "wasserstein_gp"
    softplus = nn.functional.softplus
    n = len(x_train)
    for epoch in range(EPOCHS):
        lr = LR * lr_factor(epoch)
        for group in g_opt.param_groups:
            group["lr"] = lr
        for group in d_opt.param_groups:
            group["lr"] = lr * (D_LR / LR)
        order = torch.randperm(n, generator=shuffle).to(device)
        xs = x_train[order]
        model.train()
        sums = torch.zeros(4, device=device)  # d_loss, D on real, D on fake per D step; g_loss per G step
        d_count = g_count = 0
        for i in range(0, n, BATCH_SIZE):
            real = xs[i:i + BATCH_SIZE]
            b = len(real)
            for _ in range(D_STEPS):
                with torch.no_grad():
                    fake = model.generator(torch.randn(b, LATENT_DIM, generator=noise).to(device))
                real_out, fake_out = model.discriminator(real), model.discriminator(fake)
                if critic:  # WGAN-GP: D scores points, its gradient held near norm 1 between real and fake
                    eps = torch.rand(b, 1, generator=noise).to(device)
                    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
                    grad, = torch.autograd.grad(model.discriminator(x_hat).sum(), x_hat, create_graph=True)
                    penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
                    d_loss = fake_out.mean() - real_out.mean() + GP_WEIGHT * penalty
                    seen = (real_out.mean(), fake_out.mean())
                else:  # the non-saturating GAN: D is a classifier of real (1) against fake (0)
                    d_loss = softplus(-real_out).mean() + softplus(fake_out).mean()
                    seen = (torch.sigmoid(real_out).mean(), torch.sigmoid(fake_out).mean())
                d_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                d_opt.step()
                with torch.no_grad():
                    sums[:3] += torch.stack([d_loss.detach(), *seen])
                d_count += 1
            z = torch.randn(b, LATENT_DIM, generator=noise).to(device)
            out = model.discriminator(model.generator(z))
            g_loss = -out.mean() if critic else softplus(-out).mean()  # standard: -log D(G(z))
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            sums[3] += g_loss.detach()
            g_count += 1
        s = sums.tolist()
        model.eval()
        with torch.no_grad():
            fake = model.generator(z_eval)
        model.train()
        row = {"epoch": epoch + 1, "g_loss": s[3] / g_count, "d_loss": s[0] / d_count,
               "d_real": None if critic else s[1] / d_count, "d_fake": None if critic else s[2] / d_count,
               "w_distance": (s[1] - s[2]) / d_count if critic else None,
               "distance": energy_distance(fake, x_val), "modes_covered": modes_covered(fake), "lr": lr}
        for key in history:
            history[key].append(row[key])
        if verbose:
            modes = "" if row["modes_covered"] is None else f"  modes {row['modes_covered']:.0f}"
            seen = (f"critic's estimate {row['w_distance']:.4f}" if critic
                    else f"d_real {row['d_real']:.3f}  d_fake {row['d_fake']:.3f}")
            print(f"epoch {epoch + 1:4d}  g_loss {row['g_loss']:.4f}  d_loss {row['d_loss']:.4f}  "
                  f"{seen}  distance {row['distance']:.5f}{modes}", flush=True)
        if not all(math.isfinite(row[k]) for k in ("g_loss", "d_loss")):
            print("diverged: a loss became NaN or infinite; lower the learning rates")
            break
    return model, history
'''
