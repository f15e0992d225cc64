"""The built-in lessons, registered exactly as a user's would be. Each proves one claim of the
source article in a few seconds of training on a 2-core CPU (tests/engine/test_lessons.py)."""

from __future__ import annotations

from typing import Any

from .lesson import register

SPIRAL_FEW = {"dataset": "spiral", "n_samples": 60, "noise": 0.3, "seed": 2}
SPIRAL_MANY = {"dataset": "spiral", "n_samples": 600, "noise": 0.1, "seed": 1}
CALM = {"epochs": 150, "lr": 0.003, "batch_size": 32, "seed": 1}  # a small lr: no late spikes to misread
GAUSSIANS = {"dataset": "gaussians", "seed": 1}
CIRCLE = {"dataset": "circle", "seed": 1}
DEEP = {"optimizer": "sgd", "lr": 0.5, "epochs": 60, "seed": 0}  # plain SGD: the step is lr x the gradient


def _dense(units: int, activation: str, n: int) -> list[dict[str, Any]]:
    return [{"type": "dense", "units": units, "activation": activation}] * n


WAVES = {"dataset": "sequences", "n_samples": 800, "seed": 0}
WAVE_TRAINING = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 30, "seed": 0}
BIG = [{"type": "dense", "units": 128, "activation": "relu"}] * 3


def _spec(data: dict[str, Any], layers: list[dict[str, Any]], **training: Any) -> dict[str, Any]:
    return {"data": data, "model": {"layers": layers}, "training": {"device": "cpu", **training}}


OVERFIT = _spec(SPIRAL_FEW, BIG, epochs=150, seed=1)
DAE = {"task": "reconstruction", "data": {"dataset": "digits", "seed": 0},
       "model": {"latent_dim": 16,
                 "encoder": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 64, "activation": "relu"}]},
                 "decoder": {"layers": [{"type": "dense", "units": 64, "activation": "relu"}]}},
       "training": {"device": "cpu", "optimizer": "adam", "lr": 0.005, "batch_size": 64, "epochs": 25, "seed": 0,
                    "denoise": 0.3}}


def _gan(width: int, latent: int, minibatch_std: bool) -> dict[str, Any]:
    """A GAN on the ring of 8 Gaussians (the catalog's preset when width 128, latent 8, minibatch_std)."""
    stack = {"layers": [{"type": "dense", "units": width, "activation": "relu"}] * 2}
    return {"task": "generation", "data": {"dataset": "ring", "n_samples": 2000, "seed": 0},
            "model": {"latent_dim": latent, "minibatch_std": minibatch_std, "generator": stack, "discriminator": stack},
            "training": {"device": "cpu", "optimizer": "adam_gan", "lr": 0.001, "batch_size": 128, "epochs": 100,
                         "seed": 0}}

LESSONS: list[dict[str, Any]] = [
    {"id": "underfitting", "number": 1, "family": "feedforward",
     "title": "Underfitting: a straight line cannot draw a circle",
     "text": ["A network with no hidden layer is a linear model: whatever it learns, its decision "
              "boundary is a straight line. The circle dataset puts one class inside a ring of the "
              "other, and no straight line separates them.",
              "So training and validation loss both stay high, close to what a constant guess scores. "
              "That is underfitting: the model is too simple for the data, and training longer does not help."],
     "watch": "Both losses flatten out high and close together; the boundary stays a straight line.",
     "runs": [{"label": "Linear model", "spec": _spec({"dataset": "circle", "seed": 1}, [], epochs=60)}],
     "expect": [{"claim": "verdict", "text": "A linear model underfits the circle: it is too small.",
                 "params": {"run": 0, "verdict": "underfitting", "cause": "too_small"}}],
     "try_next": {"label": "Add a hidden layer",
                  "text": "One hidden layer of 16 ReLU units lets the boundary bend around the disc.",
                  "patch": {"model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}]}},
                  "expect": [{"claim": "verdict", "text": "With one hidden layer it fits well.",
                              "params": {"run": 1, "verdict": "good_fit"}}]}},
    {"id": "overfitting", "number": 2, "family": "feedforward",
     "title": "Overfitting: a big network memorises a few noisy points",
     "text": ["Three layers of 128 units have about 34,000 weights; this spiral has 42 training points, and "
              "they are noisy. The network can memorise every one of them, noise included.",
              "Training loss keeps falling. Validation loss, measured on points the network never trains on, "
              "reaches its lowest within the first few epochs and then climbs: from there on the network "
              "learns the noise of the training points, not the spiral. That growing gap is overfitting."],
     "watch": "The shaded gap between the two loss curves widens after the first few epochs.",
     "runs": [{"label": "Big net, few points", "spec": OVERFIT}],
     "expect": [{"claim": "verdict", "text": "The diagnosis says overfitting.",
                 "params": {"run": 0, "verdict": "overfitting"}},
                {"claim": "val_min_early", "text": "Val loss reaches its minimum early, then rises.",
                 "params": {"run": 0, "within": 0.3, "rise": 0.5}}],
     "try_next": {"label": "Add dropout",
                  "text": "Dropout switches off half the units at random at each step, so no unit can rely on "
                          "memorised detail.",
                  "patch": {"model": {"layers": [{"type": "dense", "units": 128, "activation": "relu"},
                                                 {"type": "dropout", "p": 0.5}] * 3}},
                  "expect": [{"claim": "beats", "text": "With dropout the model ends with a lower val loss.",
                              "params": {"runs": [1], "than": 0, "metric": "kept"}}]}},
    {"id": "four_cures", "number": 3, "family": "feedforward",
     "title": "Four cures for overfitting, side by side",
     "text": ["The overfitting network of lesson 2 again, beside four changes that each cure it in their own way: "
              "more data (ten times the points), a smaller model (one layer of 16), early stopping (keep the "
              "weights of the best epoch) and L2 regularisation (a penalty on large weights).",
              "Compare the validation curves: the original climbs, and each cure ends lower. Early stopping "
              "does not change the curve; it stops where the curve was lowest and keeps those weights."],
     "watch": "Five runs overlaid: the original's validation loss climbs; the cures' stay low.",
     "runs": [{"label": "Original", "spec": OVERFIT},
              {"label": "More data", "spec": _spec({**SPIRAL_FEW, "n_samples": 600}, BIG, epochs=150, seed=1)},
              {"label": "Smaller model", "spec": _spec(SPIRAL_FEW, [{"type": "dense", "units": 16,
                                                                    "activation": "relu"}], epochs=150, seed=1)},
              {"label": "Early stopping", "spec": _spec(SPIRAL_FEW, BIG, epochs=150, seed=1, early_stopping={
                  "patience": 10, "restore_best": True})},
              {"label": "L2", "spec": _spec(SPIRAL_FEW, BIG, epochs=150, seed=1, l2=0.003)}],
     "expect": [{"claim": "beats", "text": "Every cure ends with a lower validation loss than the original.",
                 "params": {"runs": [1, 2, 3, 4], "than": 0, "metric": "kept"}}]},
    {"id": "activations", "number": 4, "family": "feedforward",
     "title": "Why activation functions matter",
     "text": ["Stack as many layers as you like: if each one only multiplies by a matrix and adds a bias, the "
              "whole stack is still one matrix and one bias, a linear model. Without activation functions a "
              "neural network would be a simple linear regression.",
              "Both networks here have four hidden layers of 16 units. The first uses the identity (linear) "
              "activation and underfits the spiral exactly as a linear model does; the second puts a ReLU after "
              "each layer and fits it."],
     "watch": "The linear network's boundary stays a straight line however long it trains.",
     "runs": [{"label": "Linear activations", "spec": _spec(SPIRAL_MANY, [
                 {"type": "dense", "units": 16, "activation": "linear"}] * 4, **CALM)},
              {"label": "ReLU", "spec": _spec(SPIRAL_MANY, [
                 {"type": "dense", "units": 16, "activation": "relu"}] * 4, **CALM)}],
     "expect": [{"claim": "verdict", "text": "With linear activations the deep network underfits.",
                 "params": {"run": 0, "verdict": "underfitting"}},
                {"claim": "verdict", "text": "With ReLU the same network fits.",
                 "params": {"run": 1, "verdict": "good_fit"}}]},
    {"id": "vanishing_gradients", "number": 5, "family": "feedforward",
     "title": "Sigmoid, tanh and ReLU: vanishing gradients",
     "text": ["An activation bends each layer's output. Sigmoid squashes it into (0, 1) and tanh into (-1, 1); "
              "both flatten out at the ends, where their slope is nearly zero. ReLU passes positive values "
              "through unchanged and zeroes the rest.",
              "Backpropagation multiplies the slopes of every layer on the way back. With eight sigmoid layers "
              "the product shrinks at each one, so the first layers get almost no gradient and barely learn: "
              "vanishing gradients. Open \u201cInside the network\u201d and compare the gradient norms of the "
              "first and last layers, then the same network with ReLU."],
     "watch": "In \u201cInside the network\u201d, the sigmoid net's first layers are flagged: their gradient is "
              "a hundred times smaller than the last layer's.",
     "runs": [{"label": "8 sigmoid layers", "spec": _spec(GAUSSIANS, _dense(16, "sigmoid", 8), **DEEP)},
              {"label": "8 ReLU layers", "spec": _spec(GAUSSIANS, _dense(16, "relu", 8), **DEEP)}],
     "expect": [{"claim": "verdict", "text": "The sigmoid net's gradients vanish.",
                 "params": {"run": 0, "verdict": "underfitting", "cause": "vanishing_gradients"}},
                {"claim": "verdict", "text": "The same net with ReLU fits.",
                 "params": {"run": 1, "verdict": "good_fit"}}]},
    {"id": "learning_rate", "number": 6, "family": "feedforward",
     "title": "The learning rate: too high, too low, about right",
     "text": ["Each step of gradient descent moves every weight by the learning rate times its gradient. Too "
              "large a step overshoots the valley it is trying to reach, so the loss jumps about far above a "
              "constant guess. Too small a step does go downhill, but so slowly that the run ends long "
              "before the bottom.",
              "The same network trains three times on the circle with plain SGD: learning rates 50, 0.001 "
              "and 0.1. The diagnosis names each cause from the loss curve and from the size of the updates "
              "relative to the weights, measured inside the network."],
     "watch": "Three curves: one bouncing high, one creeping down, one falling fast and flattening low.",
     "runs": [{"label": f"lr {lr:g}", "spec": _spec(CIRCLE, _dense(16, "relu", 2), optimizer="sgd", lr=lr,
                                                    batch_size=bs, epochs=60, seed=0)}
              for lr, bs in ((50, 32), (0.001, 8), (0.1, 8))],
     "expect": [{"claim": "verdict", "text": "At lr 50 the steps are too big: the loss cannot settle.",
                 "params": {"run": 0, "verdict": "unstable", "cause": "lr_too_high"}},
                {"claim": "verdict", "text": "At lr 0.001 the steps are too small to get anywhere in 60 epochs.",
                 "params": {"run": 1, "verdict": "underfitting", "cause": "lr_too_low"}},
                {"claim": "verdict", "text": "At lr 0.1 it fits.", "params": {"run": 2, "verdict": "good_fit"}}]},
    {"id": "cnn_vs_mlp", "number": 7, "family": "cnn",
     "title": "A CNN against an MLP on handwritten digits",
     "text": ["A dense layer connects every pixel to every unit, so it must learn the same stroke detector once "
              "for every place a stroke can appear. A convolution slides one small filter over the whole "
              "image: the same few weights find an edge wherever it is.",
              "Both networks classify 8×8 digits. The CNN has fewer parameters than the MLP and reaches at "
              "least its validation accuracy."],
     "watch": "Compare the parameter counts in the builder with the accuracy curves.",
     "runs": [{"label": "CNN", "spec": _spec({"dataset": "digits", "seed": 0}, [
                 {"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu"},
                 {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
                 {"type": "dense", "units": 32, "activation": "relu"}], epochs=25, batch_size=32, lr=0.005)},
              {"label": "MLP", "spec": _spec({"dataset": "digits", "seed": 0}, [
                 {"type": "flatten"}, {"type": "dense", "units": 128, "activation": "relu"}],
                 epochs=25, batch_size=32, lr=0.005)}],
     "expect": [{"claim": "fewer_params_no_worse",
                 "text": "The CNN reaches the MLP's validation accuracy with fewer parameters.",
                 "params": {"run": 0, "than": 1, "tolerance": 0.01}}]},
    {"id": "lstm_forecast", "number": 8, "family": "rnn",
     "title": "An LSTM forecasts a noisy wave",
     "text": ["A recurrent layer reads a window of the series one step at a time and carries a memory from "
              "step to step, so it can follow a rhythm: where the wave was, and which way it was going.",
              "The honest yardstick for a forecast is the naive one: tomorrow equals today. The LSTM here "
              "beats it clearly. An MLP sees the same 30 steps all at once, flattened, and is trained beside "
              "it: compare their validation curves with the naive forecast's line."],
     "watch": "The validation loss against the flat naive-forecast line on the loss chart, and the Forecast view.",
     "runs": [{"label": "LSTM", "spec": _spec(WAVES, [{"type": "lstm", "units": 16}], **WAVE_TRAINING)},
              {"label": "MLP", "spec": _spec(WAVES, [{"type": "flatten"},
                                                   {"type": "dense", "units": 32, "activation": "relu"}],
                                            **WAVE_TRAINING)}],
     "expect": [{"claim": "beats_naive", "text": "The LSTM beats the naive forecast.",
                 "params": {"run": 0, "factor": 0.8}}]},
    {"id": "denoising_autoencoder", "number": 9, "family": "autoencoder",
     "title": "A denoising autoencoder cleans up noisy digits",
     "text": ["An autoencoder copies its input through a bottleneck: an encoder squeezes each 8x8 digit into a "
              "code of 16 numbers, and a decoder rebuilds the 64 pixels from that code. Nobody tells it the "
              "labels; the input is its own target.",
              "Here every training digit gets Gaussian noise added before it goes in, and the target is the "
              "clean digit. Copying the input would only copy the noise, so the network has to learn what "
              "digits look like. Its reconstructions of noisy validation digits end up much closer to the "
              "clean ones than the noisy digits themselves: the thin line on the loss chart."],
     "watch": "The validation loss falling well below the noisy input's line, and the Reconstructions view: "
              "noisy input, reconstruction, clean.",
     "runs": [{"label": "Denoising autoencoder", "spec": DAE}],
     "expect": [{"claim": "beats_noisy_input", "text": "Its reconstructions beat the noisy input.",
                 "params": {"run": 0, "factor": 0.6}}],
     "try_next": {"label": "Twice the noise",
                  "text": "With noise of standard deviation 0.5 the digits are hard to read; the autoencoder still "
                          "cleans them up.",
                  "patch": {"training": {"denoise": 0.5}},
                  "expect": [{"claim": "beats_noisy_input", "text": "It still beats the noisier input.",
                              "params": {"run": 1, "factor": 0.6}}]}},
    {"id": "gan_ring", "number": 10, "family": "gan",
     "title": "A GAN learns a ring of 8 Gaussians, and mode collapse",
     "text": ["A GAN is two networks in a contest. The generator turns random noise into points; the "
              "discriminator sees real points and generated ones and learns to tell them apart. Each step, the "
              "generator moves its points wherever the discriminator finds them least fake.",
              "The real points lie in 8 small clusters on a circle. The first GAN spreads its points over all of "
              "them. The second has a smaller generator fed with only 2 noise numbers, and a discriminator that "
              "judges each point alone: the generator finds one or two clusters that fool it and piles every "
              "point there. That is mode collapse: the samples look real, but they are all alike."],
     "watch": "In the GAN view, count the clusters the generated points sit on; the Modes covered curve says the "
              "same in numbers.",
     "runs": [{"label": "Balanced GAN", "spec": _gan(128, 8, True)},
              {"label": "Collapsing GAN", "spec": _gan(64, 2, False)}],
     "expect": [{"claim": "modes_covered", "text": "The balanced GAN covers at least 6 of the 8 modes.",
                 "params": {"run": 0, "of": 8, "at_least": 6}},
                {"claim": "modes_covered", "text": "The second GAN covers at most half of them.",
                 "params": {"run": 1, "of": 8, "at_most": 4}},
                {"claim": "verdict", "text": "The diagnosis names it mode collapse.",
                 "params": {"run": 1, "verdict": "mode_collapse"}}],
     "try_next": {"label": "Let D see the whole batch", "run": 1,
                  "text": "With minibatch_std the discriminator sees how spread out each batch is, so a batch of "
                          "identical fakes gives itself away and the generator is pushed to spread out.",
                  "patch": {"model": {"minibatch_std": True}},
                  "expect": [{"claim": "modes_covered", "text": "Seeing the batch, the same GAN covers at least "
                              "6 of the 8 modes.", "params": {"run": 2, "of": 8, "at_least": 6}}]}},
    {"id": "why_gpus", "number": 11, "family": "feedforward",
     "title": "Why GPUs: bigger batches, more samples per second",
     "text": ["Training is mostly matrix multiplication, and a batch of samples is one bigger multiplication. "
              "Hardware that does many multiply-adds at once, above all a GPU, gets through a big batch "
              "almost as fast as a small one.",
              "The same wide network trains here with batches of 16, 64 and 256. Watch the step time beside "
              "the epoch counter: it grows much more slowly than the batch, so the samples per second climb. "
              "On a CPU they level off past a few dozen samples, where its few cores are busy; on a server "
              "with a GPU, choose the device cuda and compare."],
     "watch": "The step time beside the epoch counter, and the samples per second in the claim.",
     "runs": [{"label": f"Batch {b}", "spec": _spec({"dataset": "digits", "seed": 0}, [
                 {"type": "flatten"}, {"type": "dense", "units": 512, "activation": "relu"},
                 {"type": "dense", "units": 512, "activation": "relu"}], epochs=3, batch_size=b)}
              for b in (16, 64, 256)],
     "expect": [{"claim": "throughput_rises", "text": "Batches of 64 and 256 train at least 1.5 times as many "
                 "samples per second as batches of 16.", "params": {"runs": [0, 1, 2], "factor": 1.5}}]},
]

for _lesson in LESSONS:
    register(_lesson)
