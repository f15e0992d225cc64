"""The reconstruction family's part of the exported script: build_model() (the encoder then the
decoder, each its layers and its head, in the engine's order, so the same state_dict keys and the
same initial weights) and the loop of engine/families/ae_step.py (the same noise draws)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..family import ExportParts
from ..layers import fmt
from .ae_step import NOISE_SEED, VAL_NOISE_SEED
from .reconstruction import DECODER, ENCODER

if TYPE_CHECKING:
    from ..shapes import Summary
    from ..spec import ExperimentSpec


def autoencoder_parts(spec: "ExperimentSpec", summary: "Summary") -> ExportParts:
    """build_model() and the autoencoder's training loop."""
    from ..export import stack_code

    shape = tuple(summary.input_shape)
    size = math.prod(shape)
    blocks, helpers = [], []
    for stack in (ENCODER, DECODER):
        rows = summary.stacks[stack.name]
        lines, needs = stack_code(stack.layers(spec.model), rows[:-1], f"model.{stack.path}")
        head = rows[-1]
        units = head.output_shape[0] if stack is ENCODER else size
        core = f"nn.Linear({head.input_shape[0]}, {units})"
        if stack is ENCODER and len(rows) == 1 and len(shape) != 1:  # a linear encoder on images
            core = f"nn.Sequential(nn.Flatten(), {core})"
        if stack is DECODER and len(shape) != 1:
            core = f"nn.Sequential({core}, nn.Unflatten(1, {shape!r}))"
        lines.append(f"        {core},  # the head {fmt(head.input_shape)} -> {fmt(head.output_shape)}")
        blocks.append("nn.Sequential(\n" + "\n".join(lines) + "\n    )")
        helpers += [h for h in needs if h not in helpers]
    model = (AE_NET + "\n\ndef build_model():\n    \"\"\"The encoder, then the decoder: one child per layer and the head "
             "last (the engine's order, so the same initial weights).\"\"\"\n    encoder = " + blocks[0] +
             "\n    decoder = " + blocks[1] + "\n    return AutoencoderNet(encoder, decoder)\n")
    constants = {"DENOISE": float(spec.training.denoise or 0.0), "NOISE_SEED": NOISE_SEED,
                 "VAL_NOISE_SEED": VAL_NOISE_SEED}
    return ExportParts(model=model, train=TRAIN, helpers=helpers, constants=constants)


AE_NET = '''

class AutoencoderNet(nn.Module):
    """Encoder and decoder as one module (Layerlab's state_dict keys); calling it reconstructs."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))
'''

TRAIN = '''

def to_y(y):
    """The labels, as class indices; the autoencoder never trains on them."""
    return torch.as_tensor(np.asarray(y), dtype=torch.long)


EVAL_CHUNK = 8192
EXPLODE_FACTOR = 1e3  # a train loss this many times the mean input's counts as diverged


def resolve_device():
    if DEVICE != "auto":
        return torch.device(DEVICE)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    return torch.device("mps" if mps is not None and mps.is_available() else "cpu")


@torch.no_grad()
def reconstruct(model, x):
    model.eval()
    out = torch.cat([model(x[i:i + EVAL_CHUNK]) for i in range(0, len(x), EVAL_CHUNK)])
    model.train()
    return out


def train(verbose=True):
    """Train as the run did: rebuild each (noisy, when denoising) input against the clean one."""
    torch.set_num_threads(1)
    device = resolve_device()
    x_train, _, x_val, _ = make_split()
    torch.manual_seed(SEED)
    model = build_model().to(device)
    shuffle = torch.Generator().manual_seed(SEED)
    dropout_gen = torch.Generator(device=device).manual_seed(SEED + 1)
    for m in model.modules():
        if hasattr(m, "generator"):  # SeededDropout
            m.generator = dropout_gen
    noise = torch.Generator().manual_seed(SEED + NOISE_SEED)  # the training inputs' noise, batch by batch
    optimizer = make_optimizer(model.parameters(), LR)
    penalized = [p for p in model.parameters() if p.dim() >= 2]  # weight matrices and kernels
    baseline = float(((x_train - x_train.mean(dim=0, keepdim=True)) ** 2).mean())  # predicting the mean input
    val_in, noisy_loss = x_val, None
    if DENOISE > 0:  # the validation inputs' noise, drawn once
        val_noise = DENOISE * torch.randn(*x_val.shape, generator=torch.Generator().manual_seed(SEED + VAL_NOISE_SEED))
        val_in, noisy_loss = x_val + val_noise, float((val_noise ** 2).mean())
    x_train, x_val, val_in = x_train.to(device), x_val.to(device), val_in.to(device)
    history = {key: [] for key in ("epoch", "train_loss", "val_loss", "noisy_loss", "lr")}
    n = len(x_train)
    for epoch in range(EPOCHS):
        lr = LR * lr_factor(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(n, generator=shuffle).to(device)
        xs = x_train[order]
        model.train()
        loss_sum = torch.zeros((), device=device)
        for i in range(0, n, BATCH_SIZE):
            xb = xs[i:i + BATCH_SIZE]
            inp = xb if DENOISE <= 0 else xb + (DENOISE * torch.randn(xb.shape, generator=noise)).to(device)
            loss = nn.functional.mse_loss(model(inp), xb)
            total = loss
            if L2 > 0:
                total = total + L2 * sum((p * p).sum() for p in penalized)
            if L1 > 0:
                total = total + L1 * sum(p.abs().sum() for p in penalized)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(xb)
        train_loss = loss_sum.item() / n
        val_loss = float(nn.functional.mse_loss(reconstruct(model, val_in), x_val))
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "noisy_loss": noisy_loss, "lr": lr}
        for key in history:
            history[key].append(row[key])
        if verbose:
            noisy = "" if noisy_loss is None else f"  noisy input {noisy_loss:.6f}"
            print(f"epoch {epoch + 1:4d}  train_loss {train_loss:.6f}  val_loss {val_loss:.6f}{noisy}", flush=True)
        finite = math.isfinite(train_loss) and math.isfinite(val_loss)
        if not finite or (epoch + 1 >= 3 and train_loss > EXPLODE_FACTOR * max(baseline, 1e-3)):
            print("diverged: the loss became NaN or exploded; lower the learning rate")
            break
    return model, history
'''
