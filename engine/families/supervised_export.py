"""The supervised families' part of the exported script: build_model() (the stack, then the
head), the labels' dtype, and the textbook training loop that the engine's stepper replays."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..family import ExportParts
from ..layers import fmt

if TYPE_CHECKING:
    from ..shapes import Summary
    from ..spec import ExperimentSpec
    from .supervised import Supervised

Y_CLASS = "torch.as_tensor(np.asarray(y), dtype=torch.long)"
Y_VALUE = "torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=torch.float32).reshape(len(y), -1)"


def supervised_parts(family: "Supervised", spec: "ExperimentSpec", summary: "Summary") -> ExportParts:
    """build_model() and the training loop of a one-stack family with a Dense head."""
    from ..export import stack_code

    stack = family.stacks[0]
    lines, helpers = stack_code(stack.layers(spec.model), summary.rows[:-1], f"model.{stack.path}")
    head = summary.rows[-1]
    units = head.output_shape[0]
    if len(summary.rows) == 1 and len(summary.input_shape) != 1:  # a linear model on images
        lines.append(f"        nn.Flatten(),  # {fmt(summary.input_shape)} -> {fmt(head.input_shape)}")
    lines.append(f"        nn.Linear({head.input_shape[0]}, {units}),  # the head {fmt(head.input_shape)} -> ({units},)")
    model = ("\n\ndef build_model():\n    \"\"\"One child per layer, then the head (the engine's order, so the same "
             "initial weights).\"\"\"\n    return nn.Sequential(\n" + "\n".join(lines) + "\n    )\n")
    classes = family.target == "class"
    columns = [c for c in family.columns() if c != "step_time"]
    train = TRAIN.replace("@LOSS@", family.loss_code).replace("@Y@", Y_CLASS if classes else Y_VALUE)
    return ExportParts(model=model, train=train, helpers=helpers,
                       constants={"HAS_ACCURACY": classes, "NAIVE": "naive_val_loss" in columns,
                                  "COLUMNS": columns})


TRAIN = '''

def make_loss():
    return @LOSS@


def to_y(y):
    """Labels as the engine holds them: class indices (N,), or float targets (N, H)."""
    return @Y@


EVAL_CHUNK = 8192
EXPLODE_FACTOR = 1e3  # a train loss this many times the constant predictor's counts as diverged


def resolve_device():
    if DEVICE != "auto":
        return torch.device(DEVICE)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    return torch.device("mps" if mps is not None and mps.is_available() else "cpu")


def baseline_loss(y_train):
    """The loss of the best constant prediction."""
    if HAS_ACCURACY:
        p = torch.bincount(y_train).float() / len(y_train)
        p = p[p > 0]
        return float(-(p * p.log()).sum())
    return float(y_train.float().var(unbiased=False))


@torch.no_grad()
def evaluate(model, loss_fn, x, y, device):
    """(mean loss, accuracy or None) in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for i in range(0, len(x), EVAL_CHUNK):
        xb, yb = x[i:i + EVAL_CHUNK], y[i:i + EVAL_CHUNK]
        out = model(xb)
        loss_sum += loss_fn(out, yb) * len(xb)
        if HAS_ACCURACY:
            correct += (out.argmax(dim=1) == yb).sum()
    model.train()
    return loss_sum.item() / len(x), (correct.item() / len(x) if HAS_ACCURACY else None)


def train(verbose=True):
    """Train as the run did; return (model, history)."""
    torch.set_num_threads(1)
    device = resolve_device()
    x_train, y_train, x_val, y_val = make_split()
    torch.manual_seed(SEED)
    model = build_model().to(device)
    shuffle = torch.Generator().manual_seed(SEED)
    dropout_gen = torch.Generator(device=device).manual_seed(SEED + 1)
    for m in model.modules():
        if hasattr(m, "generator"):
            m.generator = dropout_gen
    optimizer = make_optimizer(model.parameters(), LR)
    loss_fn = make_loss()
    penalized = [p for p in model.parameters() if p.dim() >= 2]  # weight matrices and kernels
    baseline = baseline_loss(y_train)
    x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
    # The naive forecast repeats each window's last value: x (N, T, 1) -> (N, 1), over the horizon.
    naive = float(((y_val - x_val[:, -1, :1]) ** 2).mean()) if NAIVE else None
    history = {key: [] for key in COLUMNS}
    best_val, es_best, es_wait, es_state = math.inf, math.inf, 0, None
    n = len(x_train)
    for epoch in range(EPOCHS):
        lr = LR * lr_factor(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(n, generator=shuffle).to(device)
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for i in range(0, n, BATCH_SIZE):
            idx = order[i:i + BATCH_SIZE]
            xb, yb = x_train[idx], y_train[idx]
            out = model(xb)
            loss = loss_fn(out, yb)
            if L1 or L2:
                penalty = 0.0
                if L2 > 0:
                    penalty = penalty + L2 * sum((p * p).sum() for p in penalized)
                if L1 > 0:
                    penalty = penalty + L1 * sum(p.abs().sum() for p in penalized)
                total = loss + penalty
            else:
                total = loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(idx)
            if HAS_ACCURACY:
                correct += (out.detach().argmax(dim=1) == yb).sum()
        train_loss = loss_sum.item() / n
        train_acc = correct.item() / n if HAS_ACCURACY else None
        val_loss, val_acc = evaluate(model, loss_fn, x_val, y_val, device)
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "train_acc": train_acc,
               "val_acc": val_acc, "naive_val_loss": naive, "lr": lr}
        for key in COLUMNS:
            history[key].append(row[key])
        if verbose:
            accs = f"  train_acc {train_acc:.4f}  val_acc {val_acc:.4f}" if HAS_ACCURACY else ""
            print(f"epoch {epoch + 1:4d}  train_loss {train_loss:.6f}  val_loss {val_loss:.6f}{accs}", flush=True)
        finite = math.isfinite(train_loss) and math.isfinite(val_loss)
        if not finite or (epoch + 1 >= 3 and train_loss > EXPLODE_FACTOR * max(baseline, 1e-3)):
            print("diverged: the loss became NaN or exploded; lower the learning rate")
            break
        best_val = min(best_val, val_loss)
        if EARLY_STOPPING is not None:
            if val_loss < es_best - EARLY_STOPPING["min_delta"]:
                es_best, es_wait = val_loss, 0
                if EARLY_STOPPING["restore_best"]:
                    es_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                es_wait += 1
                if es_wait >= EARLY_STOPPING["patience"]:
                    if es_state is not None:
                        model.load_state_dict(es_state)  # Keras' restore_best_weights
                    if verbose:
                        print(f"early stopping after epoch {epoch + 1}")
                    break
    return model, history
'''
