"""The hidden tests bite: an answer with a small, typical bug loses points.

Each case plants one bug in an instructor solution (a change of one line or a few in one answer
cell) and runs that answer and its test cell as the autograder would, hidden tests included:
the test cell must fail, which costs its points. The bugs are the ones students make: a wrong
sign, an off-by-one, a mean for a sum, a missing epsilon, clamp, detach or T^2, floor for round,
a formula that is stable only in float64, an input modified or aliased, a forbidden call.

To keep it quick (it runs in process, not through nbgrader), each solution runs once; every
case then starts from a copy of the state the solution's run had before that answer cell (its
names and torch's random state), so a case runs two cells. `tests/test_exercises.py` checks
separately that nbgrader grades the real submissions.
"""
import copy
import functools
from pathlib import Path

import nbformat
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

# (assignment, answer cell's grade_id, line as the solution has it, the buggy line, what is wrong)
BUGS = [
    # ---- ex01_foundations ----
    ("ex01_foundations", "mse", "return 2 * (y_hat - y) / y_hat.numel()", "return 2 * (y_hat - y) / y_hat.shape[0]",
     "mse_grad divides by the rows, not by all elements"),
    ("ex01_foundations", "mlp_forward", "if k < len(weights) - 1:", "if True:", "ReLU after the last layer too"),
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))",
     "return torch.where(z > 0, 1 / (1 + e), e / (1 + e)) * (z != 0)", "sigmoid(0) = 0"),
    ("ex01_foundations", "sigmoid", "e = torch.exp(-z.abs())", "e = torch.exp(-z)",
     "sigmoid with exp(-z), not exp(-|z|): nan for large negative z"),
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))",
     "return torch.exp(z) / (1 + torch.exp(z))", "sigmoid as e^z / (1 + e^z): nan for large positive z"),
    ("ex01_foundations", "sigmoid", "torch.where(z >= 0, 1 / (1 + e), e / (1 + e))", "torch.where(z >= 0, e / (1 + e), 1 / (1 + e))",
     "the two forms of the sigmoid swapped"),
    ("ex01_foundations", "sigmoid", "    s = sigmoid(z)\n    return s * (1 - s)\n", "    return z * (1 - z)\n",
     "the derivative applied to z instead of sigma(z)"),
    ("ex01_foundations", "sigmoid", "e = torch.exp(-z.abs())", "z = z.float()\n    e = torch.exp(-z.abs())",
     "sigmoid computed in float32 whatever the input"),
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))", "return torch.sigmoid(z)",
     "sigmoid by torch.sigmoid"),
    ("ex01_foundations", "mse", "return ((y_hat - y) ** 2).mean()", "return ((y_hat - y) ** 2).sum()", "MSE summed, not averaged"),
    ("ex01_foundations", "mse", "        raise ValueError(f\"expected y of shape {tuple(y_hat.shape)}, got {tuple(y.shape)}\")\n"
     "    return ((y_hat - y) ** 2).mean()", "        pass\n    return ((y_hat - y) ** 2).mean()",
     "mse_loss broadcasts (N, 1) against (N,)"),
    ("ex01_foundations", "mse", "return 2 * (y_hat - y) / y_hat.numel()", "return (y_hat - y) / y_hat.numel()",
     "MSE gradient without the factor 2"),
    ("ex01_foundations", "mse", "return 2 * (y_hat - y) / y_hat.numel()", "return 2 * (y - y_hat) / y_hat.numel()",
     "MSE gradient with the wrong sign"),
    ("ex01_foundations", "mse", "return ((y_hat - y) ** 2).mean()", "return F.mse_loss(y_hat, y)", "MSE by F.mse_loss"),
    ("ex01_foundations", "gd_step", "w - lr * X.T @ dL_dyhat", "w + lr * X.T @ dL_dyhat", "gradient ascent on w"),
    ("ex01_foundations", "gd_step", "dL_dyhat.sum(0)", "dL_dyhat.mean(0)", "bias gradient averaged, not summed"),
    ("ex01_foundations", "gd_step", "dL_dyhat = 2 * (X @ w + b - y) / y.numel()", "dL_dyhat = (X @ w + b - y) / y.numel()",
     "gradient without the factor 2"),
    ("ex01_foundations", "gd_step", "return w - lr * X.T @ dL_dyhat, b - lr * dL_dyhat.sum(0)",
     "return w.sub_(lr * X.T @ dL_dyhat), b.sub_(lr * dL_dyhat.sum(0))", "w and b updated in place"),
    ("ex01_foundations", "gd_step", "b - lr * dL_dyhat.sum(0)", "b - dL_dyhat.sum(0)", "the learning rate forgotten on b"),
    ("ex01_foundations", "gd_step", "    dL_dyhat = 2 * (X @ w + b - y) / y.numel()\n    return w - lr * X.T @ dL_dyhat, b - lr * dL_dyhat.sum(0)\n",
     "    w_, b_ = w.detach().requires_grad_(), b.detach().requires_grad_()\n"
     "    grad_w, grad_b = torch.autograd.grad(((X @ w_ + b_ - y) ** 2).mean(), [w_, b_])\n"
     "    return w - lr * grad_w, b - lr * grad_b\n", "the gradients by autograd"),
    ("ex01_foundations", "mlp_forward", "A = A.clamp_min(0)", "A = A", "no ReLU at all"),
    ("ex01_foundations", "mlp_forward", "if k < len(weights) - 1:", "if k < len(weights) - 2:", "ReLU missing after the second-to-last layer"),
    ("ex01_foundations", "mlp_forward", "A = A.clamp_min(0)", "A = torch.sigmoid(A)", "sigmoid instead of ReLU"),
    ("ex01_foundations", "mlp_forward", "    A = X\n", "    A = X.clamp_min(0)\n", "ReLU on the input too"),
    # ---- ex02_backprop_optimization ----
    ("ex02_backprop_optimization", "adam_step", "return param - lr * m_hat / (v_hat.sqrt() + eps), m, v",
     "return param - lr * m_hat / v_hat.sqrt(), m, v", "Adam without epsilon: 0 / 0 on a zero gradient"),
    ("ex02_backprop_optimization", "adam_step", "m_hat = m / (1 - beta1**t)", "m_hat = m", "no bias correction of m"),
    ("ex02_backprop_optimization", "cross_entropy", "return (probs - one_hot) / len(y)", "return probs - one_hot",
     "gradient not averaged over the batch"),
    ("ex02_backprop_optimization", "numerical_gradient", "flat_grad[i] = (plus - minus) / (2 * h)",
     "flat_grad[i] = (plus - minus) / h", "central difference divided by h, not 2h"),
    ("ex02_backprop_optimization", "cross_entropy", "    m = logits.max(dim=1, keepdim=True).values\n",
     "    m = torch.zeros_like(logits[:, :1])\n", "logsumexp without subtracting the maximum: overflow"),
    ("ex02_backprop_optimization", "cross_entropy", "    m = logits.max(dim=1, keepdim=True).values\n",
     "    m = logits.max().reshape(1, 1).expand(len(logits), 1)\n", "one global maximum instead of each row's"),
    ("ex02_backprop_optimization", "cross_entropy", "return (logsumexp - logits[torch.arange(len(y)), y]).mean()",
     "return (logsumexp - logits[torch.arange(len(y)), y]).sum()", "loss summed over the batch, not averaged"),
    ("ex02_backprop_optimization", "cross_entropy", "return (probs - one_hot) / len(y)", "return (one_hot - probs) / len(y)",
     "gradient with the wrong sign"),
    ("ex02_backprop_optimization", "cross_entropy", "probs = shifted / shifted.sum(dim=1, keepdim=True)",
     "probs = shifted / shifted.sum(dim=0, keepdim=True)", "softmax over the batch, not the classes"),
    ("ex02_backprop_optimization", "cross_entropy", "shifted = torch.exp(logits - logits.max(dim=1, keepdim=True).values)",
     "shifted = torch.exp(logits.sub_(logits.max(dim=1, keepdim=True).values))", "the logits shifted in place"),
    ("ex02_backprop_optimization", "engine_backward", "self.grad += (1 - t**2) * out.grad", "self.grad = (1 - t**2) * out.grad",
     "tanh's rule overwrites the gradient instead of adding to it"),
    ("ex02_backprop_optimization", "engine_backward", "(1 - t**2)", "(1 - self.data**2)", "tanh's derivative from x, not from tanh(x)"),
    ("ex02_backprop_optimization", "engine_backward", "(1 - t**2)", "(1 - t)", "tanh's derivative as 1 - tanh"),
    ("ex02_backprop_optimization", "engine_backward", "self.grad += e * out.grad", "self.grad += e", "exp's rule without the chain rule"),
    ("ex02_backprop_optimization", "engine_backward", "self.grad += e * out.grad", "self.grad = e * out.grad",
     "exp's rule overwrites the gradient"),
    ("ex02_backprop_optimization", "engine_backward", "e * out.grad", "self.data * out.grad", "exp's derivative as x"),
    ("ex02_backprop_optimization", "adam_step", "(v_hat.sqrt() + eps)", "(v_hat + eps).sqrt()", "Adam with eps inside the square root"),
    ("ex02_backprop_optimization", "adam_step", "v_hat = v / (1 - beta2**t)", "v_hat = v", "no bias correction of v"),
    ("ex02_backprop_optimization", "adam_step", "m = beta1 * m + (1 - beta1) * grad", "m = m.mul_(beta1).add_((1 - beta1) * grad)",
     "Adam's m updated in place"),
    ("ex02_backprop_optimization", "adam_step", "(1 - beta2) * grad**2", "(1 - beta2) * grad.abs()", "v averages |g|, not g^2"),
    ("ex02_backprop_optimization", "adam_step", "1 - beta1**t", "1 - beta1**(t + 1)", "bias correction one step off"),
    ("ex02_backprop_optimization", "numerical_gradient",
     "        flat_x[i] = original - h\n        minus = f(flat_x.reshape(x.shape)).item()\n        flat_x[i] = original\n"
     "        flat_grad[i] = (plus - minus) / (2 * h)\n",
     "        flat_x[i] = original\n        minus = f(flat_x.reshape(x.shape)).item()\n        flat_grad[i] = (plus - minus) / h\n",
     "forward difference: error of order h, not h^2"),
    ("ex02_backprop_optimization", "numerical_gradient", "        flat_x[i] = original\n", "",
     "each element left at x - h for the next ones"),
    ("ex02_backprop_optimization", "numerical_gradient", "    return grad\n", "    return flat_grad\n", "the gradient returned flat"),
    ("ex02_backprop_optimization", "numerical_gradient", "flat_x, flat_grad = x.clone().reshape(-1), grad.reshape(-1)",
     "flat_x, flat_grad = x.float().reshape(-1), grad.reshape(-1)", "differences taken in float32"),
    ("ex02_backprop_optimization", "cross_entropy", "return (logsumexp - logits[torch.arange(len(y)), y]).mean()",
     "return F.cross_entropy(logits, y)", "the loss by F.cross_entropy"),
    ("ex02_backprop_optimization", "adam_step", "    m = beta1 * m + (1 - beta1) * grad\n",
     "    p = param.clone().requires_grad_()\n    optimizer = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)\n"
     "    optimizer.state[p] = {'step': torch.tensor(float(t - 1)), 'exp_avg': m.clone(), 'exp_avg_sq': v.clone()}\n"
     "    p.grad = grad.clone()\n    optimizer.step()\n"
     "    return p.detach(), optimizer.state[p]['exp_avg'], optimizer.state[p]['exp_avg_sq']\n"
     "    m = beta1 * m + (1 - beta1) * grad\n", "the step by torch.optim.Adam"),
    ("ex02_backprop_optimization", "numerical_gradient", "    grad = torch.zeros_like(x)\n",
     "    leaf = x.detach().clone().requires_grad_()\n    return torch.autograd.grad(f(leaf), leaf)[0]\n",
     "the gradient by autograd"),
    # ---- ex03_training_deep_networks ----
    ("ex03_training_deep_networks", "he_normal", "std = math.sqrt(2.0 / in_features)", "std = 2.0 / in_features",
     "He init with the variance as the standard deviation"),
    ("ex03_training_deep_networks", "he_normal", "2.0 / in_features", "2.0 / out_features", "He init by fan-out, not fan-in"),
    ("ex03_training_deep_networks", "he_normal", "2.0 / in_features", "1.0 / in_features", "LeCun's 1/n instead of He's 2/n"),
    ("ex03_training_deep_networks", "he_normal", "torch.randn(out_features, in_features, generator=generator)",
     "torch.randn(in_features, out_features, generator=generator).T", "He init drawn transposed"),
    ("ex03_training_deep_networks", "he_normal", "generator=generator) * std",
     "generator=generator, dtype=torch.float64) * std", "He init in float64"),
    ("ex03_training_deep_networks", "he_normal", "    return torch.randn(out_features, in_features, generator=generator) * std\n",
     "    return torch.nn.init.kaiming_normal_(torch.empty(out_features, in_features), nonlinearity='relu', generator=generator)\n",
     "He init by torch.nn.init"),
    ("ex03_training_deep_networks", "batchnorm_train", "return y, new_mean, new_var", "return y, new_mean.float(), new_var",
     "running mean returned as float32 for a float64 batch"),
    ("ex03_training_deep_networks", "batchnorm_train", "y = gamma * (x - mean) / torch.sqrt(var + eps) + beta",
     "y = gamma * (x - mean) / torch.sqrt(var) + beta", "batch norm without epsilon: 0 / 0 on a constant feature"),
    ("ex03_training_deep_networks", "batchnorm_train", "var.detach() * n / (n - 1)", "var.detach()",
     "running variance not unbiased"),
    ("ex03_training_deep_networks", "batchnorm_train", "momentum * mean.detach()", "momentum * mean",
     "running mean without detach (drags the batch's graph)"),
    ("ex03_training_deep_networks", "batchnorm_train", "momentum * var.detach()", "momentum * var",
     "running variance without detach (drags the batch's graph)"),
    ("ex03_training_deep_networks", "batchnorm_train", "torch.sqrt(var + eps)", "(torch.sqrt(var) + eps)",
     "batch norm with eps outside the square root"),
    ("ex03_training_deep_networks", "batchnorm_train", "var = ((x - mean) ** 2).mean(dim=0)",
     "var = (x ** 2).mean(dim=0) - mean ** 2", "variance as E[x^2] - mean^2: cancels in float32"),
    ("ex03_training_deep_networks", "batchnorm_train", "var = ((x - mean) ** 2).mean(dim=0)", "var = x.var(dim=0)",
     "batch norm normalises with the unbiased variance"),
    ("ex03_training_deep_networks", "batchnorm_train", "(1 - momentum) * running_mean + momentum * mean.detach()",
     "momentum * running_mean + (1 - momentum) * mean.detach()", "momentum convention reversed"),
    ("ex03_training_deep_networks", "batchnorm_train", "new_mean = (1 - momentum) * running_mean + momentum * mean.detach()",
     "new_mean = running_mean.mul_(1 - momentum).add_(momentum * mean.detach())", "running mean updated in place"),
    ("ex03_training_deep_networks", "batchnorm_train", "y = gamma * (x - mean) / torch.sqrt(var + eps) + beta",
     "y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)", "batch norm by F.batch_norm"),
    ("ex03_training_deep_networks", "inverted_dropout", "return x * mask.to(x.dtype) / (1 - p)",
     "return x * mask.to(x.dtype) / p",
     "scaled by 1/p instead of 1/(1 - p), which agrees at p = 0.5"),
    ("ex03_training_deep_networks", "inverted_dropout", "mask.to(x.dtype)", "mask.float()",
     "dropout mask as float32: float16 input promoted"),
    ("ex03_training_deep_networks", "inverted_dropout", "return x * mask.to(x.dtype) / (1 - p)", "return x * mask.to(x.dtype)",
     "dropout without the 1/(1 - p) scaling"),
    ("ex03_training_deep_networks", "inverted_dropout", "return x * mask.to(x.dtype) / (1 - p)",
     "return x.mul_(mask.to(x.dtype)).div_(1 - p)", "dropout in place on x"),
    ("ex03_training_deep_networks", "inverted_dropout", "mask.to(x.dtype) / (1 - p)", "mask.to(x.dtype) * (1 - p)",
     "dropout multiplied by (1 - p)"),
    ("ex03_training_deep_networks", "precision_recall_f1",
     "return torch.where(b > 0, a / b.clamp_min(1), torch.zeros_like(a))", "return a / b",
     "precision and recall without the zero-division guard"),
    ("ex03_training_deep_networks", "precision_recall_f1", "predicted, actual = cm.sum(dim=0), cm.sum(dim=1)",
     "predicted, actual = cm.sum(dim=1), cm.sum(dim=0)", "precision and recall swapped (rows for columns)"),
    ("ex03_training_deep_networks", "precision_recall_f1", "cm = cm.double()", "cm = cm.float()", "scores in float32"),
    ("ex03_training_deep_networks", "precision_recall_f1", "divide(2 * tp, predicted + actual)",
     "(divide(tp, predicted) + divide(tp, actual)) / 2", "F1 as the arithmetic mean of precision and recall"),
    ("ex03_training_deep_networks", "precision_recall_f1", "divide(2 * tp, predicted + actual)",
     "2 * tp / (predicted + actual)", "F1 without the zero-division guard"),
    # ---- ex04_convolutional_networks ----
    ("ex04_convolutional_networks", "sizes", "if H + 2 * P < F:", "if H < F:", "the fit check ignores padding"),
    ("ex04_convolutional_networks", "conv_loops", "y[k, i, j] = (w[k] * patch).sum() + b[k]",
     "y[k, i, j] = (w[k] * patch).sum()", "bias forgotten"),
    ("ex04_convolutional_networks", "max_pool", "return x.reshape(N, C, H // k, k, W // k, k).amax(dim=(3, 5))",
     "return x.reshape(N, C, H // k, k, W // k, k).clamp_min(0).amax(dim=(3, 5))",
     "a running maximum that starts at 0"),
    ("ex04_convolutional_networks", "sizes", "return (H + 2 * P - F) // S + 1", "return (H + 2 * P - F) // S",
     "output size without the + 1"),
    ("ex04_convolutional_networks", "sizes", "(H + 2 * P - F) // S", "(H + P - F) // S", "padding counted on one side only"),
    ("ex04_convolutional_networks", "sizes", "(H + 2 * P - F) // S + 1", "(H + 2 * P - F) / S + 1",
     "true division instead of the floor"),
    ("ex04_convolutional_networks", "sizes", "(H + 2 * P - F) // S + 1", "-(-(H + 2 * P - F) // S) + 1", "ceiling instead of the floor"),
    ("ex04_convolutional_networks", "sizes", "(C_out if bias else 0)", "C_out", "bias counted even without a bias"),
    ("ex04_convolutional_networks", "sizes", "C_out * C_in * F * F", "C_out * C_in * F", "kernel size not squared"),
    ("ex04_convolutional_networks", "conv_loops", "(w[k] * patch)", "(w[k].flip(-1, -2) * patch)",
     "kernel flipped (true convolution, not cross-correlation)"),
    ("ex04_convolutional_networks", "conv_loops", "patch = xp[:, i * stride:i * stride + F_, j * stride:j * stride + F_]",
     "patch = xp[:, i:i + F_, j:j + F_]", "stride ignored when cutting the patches"),
    ("ex04_convolutional_networks", "conv_loops", "y = torch.empty(K, H_out, W_out, dtype=x.dtype)",
     "y = torch.zeros(K, H_out, W_out)", "output in the default float32 whatever x's dtype"),
    ("ex04_convolutional_networks", "conv_loops", "xp = F.pad(x, (padding,) * 4)", "xp = x", "padding ignored"),
    ("ex04_convolutional_networks", "conv_loops", "W_out = (xp.shape[2] - F_)", "W_out = (xp.shape[1] - F_)",
     "output width from the height"),
    ("ex04_convolutional_networks", "conv_unfold", "return y.reshape(N, K, H_out, W_out)", "return y.reshape(N, K, W_out, H_out)",
     "output reshaped with height and width swapped"),
    ("ex04_convolutional_networks", "conv_unfold", "F.unfold(x, F_, padding=padding, stride=stride)", "F.unfold(x, F_, stride=stride)",
     "padding not passed to unfold"),
    ("ex04_convolutional_networks", "conv_unfold", "w.reshape(K, -1)", "w.transpose(2, 3).reshape(K, -1)",
     "kernels flattened in another order than the patches"),
    ("ex04_convolutional_networks", "conv_unfold", "F.unfold(x, F_,", "F.unfold(x.detach(), F_,", "no gradient to x (detached)"),
    ("ex04_convolutional_networks", "conv_unfold", "b.reshape(1, K, 1)", "b.reshape(1, K, 1).detach()", "no gradient to the bias"),
    ("ex04_convolutional_networks", "max_pool", "x.reshape(N, C, H // k, k, W // k, k)", "x.reshape(N, C, k, H // k, k, W // k)",
     "windows cut in the wrong layout"),
    ("ex04_convolutional_networks", "max_pool", ".amax(dim=(3, 5))", ".mean(dim=(3, 5))", "average pooling instead of max"),
    ("ex04_convolutional_networks", "max_pool", "if H % k or W % k:", "if H % k:", "the width's divisibility not checked"),
    ("ex04_convolutional_networks", "max_pool", ".amax(dim=(3, 5))", ".clamp_min(-1e30).amax(dim=(3, 5))",
     "a running maximum that starts at -1e30"),
    ("ex04_convolutional_networks", "conv_loops", "    return y\n",
     "    return F.conv2d(x[None], w, b, stride=stride, padding=padding)[0]\n", "convolution by F.conv2d"),
    ("ex04_convolutional_networks", "conv_unfold", "    return y.reshape(N, K, H_out, W_out)\n",
     "    return torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)\n", "convolution as a matrix product by F.conv2d"),
    ("ex04_convolutional_networks", "max_pool", "return x.reshape(N, C, H // k, k, W // k, k).amax(dim=(3, 5))",
     "return torch.nn.MaxPool2d(k)(x)", "pooling by nn.MaxPool2d"),
    # ---- ex05_recurrent_networks ----
    ("ex05_recurrent_networks", "clip", "scale = max_norm / (total + 1e-6)", "scale = max_norm / total.item()",
     "clipping without the zero guard: division by zero on zero gradients"),
    ("ex05_recurrent_networks", "clip", "scale = max_norm / (total + 1e-6)", "scale = max_norm / total",
     "clipping without the 1e-6 of the rule"),
    ("ex05_recurrent_networks", "sample", "probs = torch.softmax(logits / temperature, dim=-1)",
     "probs = torch.softmax(logits * temperature, dim=-1)", "temperature multiplies instead of dividing"),
    ("ex05_recurrent_networks", "sample", "if not temperature > 0:", "if temperature == 0:",
     "a negative temperature accepted"),
    ("ex05_recurrent_networks", "sequence_loss", "return loss, loss / math.log(2)", "return loss, loss / math.log(10)",
     "wrong logarithm for bits"),
    ("ex05_recurrent_networks", "rnn_step", "torch.tanh(", "torch.sigmoid(", "a sigmoid, as the notes write, not tanh"),
    ("ex05_recurrent_networks", "rnn_step", "x_t @ W_xh.T + h_prev @ W_hh.T + b", "x_t @ W_xh.T + b", "the previous state ignored"),
    ("ex05_recurrent_networks", "rnn_step", "h_prev @ W_hh.T", "h_prev @ W_hh", "W_hh not transposed"),
    ("ex05_recurrent_networks", "rnn_step", "torch.tanh(", "torch.relu(", "ReLU instead of tanh"),
    ("ex05_recurrent_networks", "rnn_step", "return torch.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)",
     "return torch.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b).detach()", "the step cut from the graph (detach)"),
    ("ex05_recurrent_networks", "rnn_step", "return torch.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)",
     "return torch.rnn_tanh_cell(x_t, h_prev, W_xh, W_hh, b, torch.zeros_like(b))", "the step by torch.rnn_tanh_cell"),
    ("ex05_recurrent_networks", "sequence_loss", "-log_probs.gather(-1, targets.unsqueeze(-1)).mean()",
     "-log_probs.gather(-1, targets.unsqueeze(-1)).sum()", "loss summed over positions, not averaged"),
    ("ex05_recurrent_networks", "sequence_loss", "torch.logsumexp(logits, dim=-1, keepdim=True)",
     "torch.logsumexp(logits, dim=1, keepdim=True)", "softmax over time, not over the characters"),
    ("ex05_recurrent_networks", "sequence_loss", "torch.logsumexp(logits, dim=-1, keepdim=True)",
     "torch.log(torch.exp(logits).sum(dim=-1, keepdim=True))", "log-sum-exp without the shift: overflow"),
    ("ex05_recurrent_networks", "sequence_loss", "loss / math.log(2)", "loss * math.log(2)", "bits multiplied by ln 2, not divided"),
    ("ex05_recurrent_networks", "sequence_loss", "-log_probs.gather(-1, targets.unsqueeze(-1)).mean()",
     "-log_probs.gather(-1, targets.unsqueeze(-1)).sum(dim=1).mean()", "loss summed over each sequence"),
    ("ex05_recurrent_networks", "sequence_loss", "return loss, loss / math.log(2)",
     "return loss.detach(), loss.detach() / math.log(2)", "the loss cut from the graph (detach)"),
    ("ex05_recurrent_networks", "sequence_loss", "    loss = -log_probs.gather(-1, targets.unsqueeze(-1)).mean()\n",
     "    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))\n", "the loss by F.cross_entropy"),
    ("ex05_recurrent_networks", "sample", "return torch.multinomial(probs, 1, generator=generator).squeeze(-1)",
     "return probs.argmax(dim=-1)", "argmax instead of sampling"),
    ("ex05_recurrent_networks", "sample", "torch.softmax(logits / temperature, dim=-1)", "torch.softmax(logits / temperature, dim=0)",
     "softmax over the batch"),
    ("ex05_recurrent_networks", "sample", "probs = torch.softmax(logits / temperature, dim=-1)", "probs = torch.exp(logits / temperature)",
     "unnormalised exp(z / T): overflow at low temperature"),
    ("ex05_recurrent_networks", "sample", "torch.multinomial(probs, 1, generator=generator)", "torch.multinomial(probs, 1)",
     "the generator not passed: not reproducible"),
    ("ex05_recurrent_networks", "sample", "generator=generator).squeeze(-1)", "generator=generator)", "samples of shape (B, 1)"),
    ("ex05_recurrent_networks", "clip", "    scale = max_norm / (total + 1e-6)\n    if scale < 1:\n        for g in grads:\n            g.mul_(scale)\n",
     "    for g in grads:\n        scale = max_norm / (g.norm() + 1e-6)\n        if scale < 1:\n            g.mul_(scale)\n",
     "each gradient clipped by its own norm, not the global one"),
    ("ex05_recurrent_networks", "clip", "if scale < 1:", "if True:", "small gradients scaled up to max_norm"),
    ("ex05_recurrent_networks", "clip", "g.mul_(scale)", "g = g * scale", "clipping a copy, not the gradients in place"),
    ("ex05_recurrent_networks", "clip", "    return total\n", "    return torch.sqrt(sum((g ** 2).sum() for g in grads))\n",
     "the norm after clipping returned"),
    ("ex05_recurrent_networks", "clip", "torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))", "sum(g.detach().norm() for g in grads)",
     "sum of the norms, not the global norm"),
    ("ex05_recurrent_networks", "clip", "[p.grad for p in parameters if p.grad is not None]", "[p.grad for p in parameters]",
     "a parameter without a gradient not skipped"),
    ("ex05_recurrent_networks", "clip", "    grads = [p.grad for p in parameters if p.grad is not None]\n",
     "    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)\n", "clipping by clip_grad_norm_"),
    # ---- ex07_attention_transformers ----
    ("ex07_attention_transformers", "positional_encoding",
     "position = torch.arange(length, dtype=torch.float32)[:, None]",
     "position = torch.arange(1, length + 1, dtype=torch.float32)[:, None]", "positions counted from 1"),
    ("ex07_attention_transformers", "attention", "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])",
     "scores = q @ k.transpose(-2, -1)", "no scaling by sqrt(d_k)"),
    ("ex07_attention_transformers", "attention", "scores = scores.masked_fill(~mask, float(\"-inf\"))",
     "scores = scores.masked_fill(mask, float(\"-inf\"))", "the mask convention inverted"),
    ("ex07_attention_transformers", "heads", "return x.view(B, T, H, E // H).transpose(1, 2)",
     "return x.view(B, H, T, E // H)", "heads cut across positions"),
    ("ex07_attention_transformers", "block", "causal_mask(x.shape[1], x.device))", "None)",
     "a Transformer block without its causal mask"),

    ("ex07_attention_transformers", "attention", "torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)",
     "softmax over the queries, not the keys"),
    ("ex07_attention_transformers", "attention", "math.sqrt(q.shape[-1])", "math.sqrt(v.shape[-1])", "scaled by sqrt(d_v), not sqrt(d_k)"),
    ("ex07_attention_transformers", "attention", "math.sqrt(q.shape[-1])", "q.shape[-1]", "scaled by d_k, not its square root"),
    ("ex07_attention_transformers", "attention", "masked_fill(~mask, float(\"-inf\"))", "masked_fill(~mask, 0.0)",
     "masked scores set to 0, not -inf"),
    ("ex07_attention_transformers", "attention", "masked_fill(~mask, float(\"-inf\"))", "masked_fill(~mask, -1e4)",
     "masked scores set to -1e4: large scores get through"),
    ("ex07_attention_transformers", "attention", "return torch.softmax(scores, dim=-1) @ v",
     "return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)", "attention by F.scaled_dot_product_attention"),
    ("ex07_attention_transformers", "causal_mask", ".tril()", ".triu()", "the mask lets positions see the future"),
    ("ex07_attention_transformers", "causal_mask", ".tril()", ".tril(-1)", "a position may not see itself"),
    ("ex07_attention_transformers", "causal_mask", "torch.ones(T, T, dtype=torch.bool, device=device)", "torch.ones(T, T, device=device)",
     "a float mask, not a boolean one"),
    ("ex07_attention_transformers", "causal_mask", ".tril()", ".triu(1)", "True where attention is forbidden (inverted convention)"),
    ("ex07_attention_transformers", "heads", "x.transpose(1, 2).reshape(B, T, H * D)", "x.transpose(1, 2).view(B, T, H * D)",
     "merge_heads with view: fails on a contiguous input"),
    ("ex07_attention_transformers", "heads", "x.transpose(1, 2).reshape(B, T, H * D)", "x.reshape(B, T, H * D)",
     "merge_heads without moving the heads back"),
    ("ex07_attention_transformers", "heads", "if E % H:", "if False:", "no ValueError when E is not a multiple of H"),
    ("ex07_attention_transformers", "heads", "x.view(B, T, H, E // H).transpose(1, 2)", "x.view(B, T, E // H, H).transpose(1, 3)",
     "heads take every H-th feature, not a block of D"),
    ("ex07_attention_transformers", "positional_encoding",
     "    pe[:, 0::2] = torch.sin(position * frequency)\n    pe[:, 1::2] = torch.cos(position * frequency)\n",
     "    pe[:, 0::2] = torch.cos(position * frequency)\n    pe[:, 1::2] = torch.sin(position * frequency)\n", "sin and cos swapped"),
    ("ex07_attention_transformers", "positional_encoding", "torch.arange(0, d, 2, dtype=torch.float32) / d",
     "torch.arange(0, d // 2, dtype=torch.float32) / d", "exponent i/d, not 2i/d"),
    ("ex07_attention_transformers", "positional_encoding", "10000 ** (-torch.arange", "10000 ** (torch.arange",
     "positions multiplied by 10000^(2i/d), not divided"),
    ("ex07_attention_transformers", "positional_encoding",
     "    pe[:, 0::2] = torch.sin(position * frequency)\n    pe[:, 1::2] = torch.cos(position * frequency)\n",
     "    pe[:, :d // 2] = torch.sin(position * frequency)\n    pe[:, d // 2:] = torch.cos(position * frequency)\n",
     "sines and cosines in two halves, not interleaved"),
    ("ex07_attention_transformers", "positional_encoding", "pe = torch.empty(length, d)", "pe = torch.empty(length, d, dtype=torch.float64)",
     "the encoding in float64"),
    ("ex07_attention_transformers", "positional_encoding", "if d % 2:", "if False:", "no ValueError for an odd d"),
    ("ex07_attention_transformers", "block", "x = x + merge_heads(heads)", "x = merge_heads(heads)", "no residual around attention"),
    ("ex07_attention_transformers", "block", "p[\"ln2_weight\"], p[\"ln2_bias\"]", "p[\"ln1_weight\"], p[\"ln1_bias\"]",
     "the first layer norm's weights used twice"),
    ("ex07_attention_transformers", "block", "+ p[\"fc_bias\"])", "+ p[\"fc_bias\"], approximate=\"tanh\")", "tanh-approximated GELU"),
    ("ex07_attention_transformers", "block", "q, k, v = (", "k, q, v = (", "Q and K taken in the wrong order"),
    ("ex07_attention_transformers", "block",
     "F.layer_norm(x, (E,), p[\"ln2_weight\"], p[\"ln2_bias\"], eps=1e-5) @ p[\"fc_weight\"].T", "x @ p[\"fc_weight\"].T",
     "the MLP without its layer norm"),
    # ---- ex06_lstm_gru ----
    ("ex06_lstm_gru", "lstm_step", "a_i, a_f, a_g, a_o = gates.chunk(4, dim=1)",
     "a_i, a_f, a_o, a_g = gates.chunk(4, dim=1)", "LSTM gates in the order i, f, o, g"),
    ("ex06_lstm_gru", "lstm_step", "a_i, a_f, a_g, a_o = gates.chunk(4, dim=1)",
     "a_f, a_i, a_g, a_o = gates.chunk(4, dim=1)", "input and forget gates swapped"),
    ("ex06_lstm_gru", "lstm_step", "gates = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh",
     "gates = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T", "the LSTM without its recurrent bias b_hh"),
    ("ex06_lstm_gru", "lstm_step", "return torch.sigmoid(a_o) * torch.tanh(c_t), c_t",
     "return torch.sigmoid(a_o) * c_t, c_t", "h_t without the tanh of the cell"),
    ("ex06_lstm_gru", "lstm_step", "torch.sigmoid(a_i) * torch.tanh(a_g)",
     "torch.sigmoid(a_i) * (torch.exp(2 * a_g) - 1) / (torch.exp(2 * a_g) + 1)",
     "an LSTM with a tanh stable in float64 only"),
    ("ex06_lstm_gru", "lstm_step", "return torch.sigmoid(a_o) * torch.tanh(c_t), c_t",
     "return torch.lstm_cell(x_t, (h_prev, c_prev), W_ih, W_hh, b_ih, b_hh)", "the forbidden torch.lstm_cell"),
    ("ex06_lstm_gru", "gru_step", "r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)",
     "z, r = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)", "GRU gates in the order z, r"),
    ("ex06_lstm_gru", "gru_step", "return (1 - z) * n + z * h_prev", "return z * n + (1 - z) * h_prev",
     "z and 1 - z swapped"),
    ("ex06_lstm_gru", "gru_step", "n = torch.tanh(x_n + r * h_n)",
     "n = torch.tanh(x_n + (r * h_prev) @ W_hh.chunk(3)[2].T + b_hh.chunk(3)[2])",
     "the paper's reset (before the product)"),
    ("ex06_lstm_gru", "gru_step", "h_r, h_z, h_n = (h_prev @ W_hh.T + b_hh).chunk(3, dim=1)",
     "h_r, h_z, h_n = (h_prev @ W_hh.T).chunk(3, dim=1)", "the GRU without its recurrent bias b_hh"),
    ("ex06_lstm_gru", "gru_step", "return (1 - z) * n + z * h_prev",
     "return torch.gru_cell(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)", "the forbidden torch.gru_cell"),
    ("ex06_lstm_gru", "gru_step", "n = torch.tanh(x_n + r * h_n)",
     "n = (torch.exp(2 * (x_n + r * h_n)) - 1) / (torch.exp(2 * (x_n + r * h_n)) + 1)",
     "a GRU with a tanh stable in float64 only"),
    ("ex06_lstm_gru", "cell_state_gradient", "total_c = grad_c + grad_h * o * (1 - torch.tanh(c_t) ** 2)",
     "total_c = grad_c", "the path through h_t forgotten"),
    ("ex06_lstm_gru", "cell_state_gradient", "total_c = grad_c + grad_h * o * (1 - torch.tanh(c_t) ** 2)",
     "total_c = grad_c + grad_h * (1 - torch.tanh(c_t) ** 2)", "the output gate forgotten on the h_t path"),
    ("ex06_lstm_gru", "cell_state_gradient", "total_c = grad_c + grad_h * o * (1 - torch.tanh(c_t) ** 2)",
     "total_c = grad_c + grad_h * o * (1 - torch.tanh(c_prev) ** 2)", "tanh' taken at c_prev instead of c_t"),
    ("ex06_lstm_gru", "cell_state_gradient", "return total_c * f", "return total_c",
     "the forget gate's factor forgotten"),
    ("ex06_lstm_gru", "cell_state_gradient", "return total_c * f",
     "c = c_prev.clone().requires_grad_(); h1, c1 = lstm_step(x_t, h_prev, c, W_ih, W_hh, b_ih, b_hh); "
     "return torch.autograd.grad((h1 * grad_h).sum() + (c1 * grad_c).sum(), c)[0]",
     "the forbidden autograd"),
    ("ex06_lstm_gru", "forget_bias", "f = keep ** (1 / steps)", "f = keep ** steps",
     "the share raised to steps, not its root"),
    ("ex06_lstm_gru", "forget_bias", "return math.log(f / (1 - f))", "return math.log((1 - f) / f)",
     "the logit's sign flipped"),
    ("ex06_lstm_gru", "forget_bias", "f = keep ** (1 / steps)", "f = keep / steps", "the share divided by the steps"),
    ("ex06_lstm_gru", "forget_bias", "if steps < 1:", "if steps < 0:", "zero steps accepted"),
    ("ex06_lstm_gru", "forget_bias", "if not 0 < keep < 1:", "if not 0 <= keep <= 1:", "a share of 0 or 1 accepted"),

    # ---- ex08_gans ----
    ("ex08_gans", "d_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
     "return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()",
     "D's loss as log of the sigmoid: finite in float64 only"),
    ("ex08_gans", "d_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
     "return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()", "real and fake labels swapped"),
    ("ex08_gans", "d_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
     "return torch.cat([F.softplus(-real_logits).flatten(), F.softplus(fake_logits).flatten()]).mean() * 2",
     "one mean over real and fake together"),
    ("ex08_gans", "d_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
     "return F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + "
     "F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))",
     "the forbidden BCE with logits"),
    ("ex08_gans", "d_loss", "if real_logits.numel() == 0 or fake_logits.numel() == 0:", "if real_logits.numel() == 0:",
     "no fake logits accepted"),
    ("ex08_gans", "g_loss", "return F.softplus(-fake_logits).mean()",
     "return -torch.log(torch.sigmoid(fake_logits)).mean()", "G's loss as log of the sigmoid: finite in float64 only"),
    ("ex08_gans", "g_loss", "return F.softplus(-fake_logits).mean()", "return -F.softplus(fake_logits).mean()",
     "the saturating loss log(1 - D)"),
    ("ex08_gans", "g_loss", "return F.softplus(-fake_logits).mean()",
     "return -torch.log(torch.sigmoid(fake_logits).clamp_min(1e-7)).mean()",
     "a clamp that hides the inf and the gradient"),
    ("ex08_gans", "g_loss", "return F.softplus(-fake_logits).mean()", "return F.softplus(-fake_logits).sum()",
     "summed instead of averaged"),
    ("ex08_gans", "g_loss", "return F.softplus(-fake_logits).mean()",
     "return torch.nn.BCEWithLogitsLoss()(fake_logits, torch.ones_like(fake_logits))",
     "the forbidden BCEWithLogitsLoss"),
    ("ex08_gans", "step", "d_loss = discriminator_loss(D(real), D(fake.detach()))",
     "d_loss = discriminator_loss(D(real), D(fake))", "the fakes not detached for D's step"),
    ("ex08_gans", "step", "g_loss = generator_loss(D(fake))", "g_loss = generator_loss(D(fake.detach()))",
     "the fakes detached for G's step too"),
    ("ex08_gans", "step", "    opt_d.zero_grad()\n", "", "D's gradients never zeroed"),
    ("ex08_gans", "step", "    opt_g.zero_grad()\n", "", "G's gradients never zeroed (they pile up over rounds)"),
    ("ex08_gans", "step", "return d_loss.item(), g_loss.item()", "return d_loss, g_loss",
     "tensors returned, not floats"),
    ("ex08_gans", "step", "    opt_d.step()\n", "", "D never updated"),
    ("ex08_gans", "frechet", "root = np.real(scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy()))",
     "root = np.real(scipy.linalg.sqrtm(cov1.numpy()) @ scipy.linalg.sqrtm(cov2.numpy()))",
     "the square roots taken one by one (they do not commute)"),
    ("ex08_gans", "frechet", "np.trace(cov1.numpy() + cov2.numpy() - 2 * root)",
     "np.trace(cov1.numpy() + cov2.numpy() - root)", "the cross term without its 2"),
    ("ex08_gans", "frechet", "((mu1 - mu2) ** 2).sum().item()", "(mu1 - mu2).abs().sum().item()",
     "the means' distance not squared"),
    ("ex08_gans", "frechet", "return float(", "return torch.tensor(", "a tensor returned, not a float"),
    ("ex08_gans", "frechet",
     "    d = mu1.shape[0]\n    if mu1.shape != (d,) or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):\n",
     "    d = mu1.shape[0]\n    if mu1.shape != mu2.shape:\n", "shape check on the means only"),
    ("ex08_gans", "frechet", "root = np.real(scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy()))",
     "root = np.real(scipy.linalg.sqrtm(cov1.numpy() * cov2.numpy()))",
     "the element-wise product instead of the matrix product"),
    ("ex08_gans", "frechet", "root = np.real(scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy()))",
     "root = scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy())",
     "sqrtm's complex result kept (float() drops the imaginary part with a ComplexWarning)"),

    ("ex09_scaling_up", "loss_scaler_step", "if not all(torch.isfinite(g).all() for g in grads):",
     "if not all(torch.isfinite(g.sum()) for g in grads):", "overflow checked on the float16 sum, which itself overflows"),
    ("ex09_scaling_up", "average_gradients", "torch.stack(grads).sum(dim=0) / n",
     "torch.stack(grads).float().mean(0).to(grads[0].dtype)", "gradients averaged in float32, cast back"),
    ("ex09_scaling_up", "magnitude_mask", "mask = torch.ones(weight.shape, dtype=weight.dtype, device=weight.device)",
     "mask = torch.ones_like(weight)", "mask by ones_like: keeps a transposed weight's strides, view(-1) fails"),
    # ---- ex10_applications_challenges ----
    ("ex10_applications_challenges", "fgsm", "return (x + epsilon * grad.sign())", "return (x - epsilon * grad.sign())",
     "FGSM steps down the loss"),
    ("ex10_applications_challenges", "fgsm", ".clamp(0, 1).detach()", ".detach()", "FGSM without the clip to [0, 1]"),
    ("ex10_applications_challenges", "fgsm", ".clamp(0, 1).detach()", ".clamp(0, 1)",
     "FGSM result requires grad when x does (no detach)"),
    ("ex10_applications_challenges", "fgsm", "x_leaf = x.detach().clone().requires_grad_(True)",
     "x_leaf = x.requires_grad_(True)", "FGSM switches on requires_grad of the caller's x"),
    ("ex10_applications_challenges", "fgsm", "epsilon * grad.sign()", "epsilon * grad", "FGSM with the raw gradient"),
    ("ex10_applications_challenges", "fgsm", "return (x + epsilon * grad.sign()).clamp(0, 1).detach()",
     "import utils.adversarial; return utils.adversarial.fgsm(model, x, y, epsilon)", "FGSM calls the reference"),
    ("ex10_applications_challenges", "pgd", ".clamp(x - epsilon, x + epsilon).clamp(0, 1)", ".clamp(0, 1)",
     "PGD forgot the clamp to the epsilon-ball"),
    ("ex10_applications_challenges", "pgd", ".clamp(x - epsilon, x + epsilon)", ".clamp(x_adv - epsilon, x_adv + epsilon)",
     "PGD projects onto the ball around the last iterate, not around x"),
    ("ex10_applications_challenges", "pgd", ".clamp(x - epsilon, x + epsilon).clamp(0, 1)", ".clamp(x - epsilon, x + epsilon)",
     "PGD forgot the clip to [0, 1]"),
    ("ex10_applications_challenges", "pgd", "x_adv = x_adv.clone().requires_grad_(True)", "x_adv = x.clone().requires_grad_(True)",
     "PGD starts every step again from x"),
    ("ex10_applications_challenges", "pgd", "for _ in range(steps):", "for _ in range(steps - 1):", "PGD takes one step too few"),
    ("ex10_applications_challenges", "pgd", "    x = x.detach()\n", "", "PGD result requires grad when x does"),
    ("ex10_applications_challenges", "pgd", "x_adv.detach() + step_size", "x_adv.detach() - step_size", "PGD steps down the loss"),
    ("ex10_applications_challenges", "pgd", "    return x_adv\n",
     "    import utils.adversarial; return utils.adversarial.pgd(model, x, y, epsilon, step_size, steps, random_start=False)\n",
     "PGD calls the reference"),
    ("ex10_applications_challenges", "integrated_gradients", "(k + 0.5) / steps", "k / steps",
     "integrated gradients with the left Riemann sum, not the midpoint"),
    ("ex10_applications_challenges", "integrated_gradients", "return ((x - baseline) * total / steps).detach()",
     "return (total / steps).detach()", "integrated gradients without the factor (x - baseline)"),
    ("ex10_applications_challenges", "integrated_gradients", "return ((x - baseline) * total / steps).detach()",
     "return (x - baseline) * total / steps", "attributions require grad when x does (no detach)"),
    ("ex10_applications_challenges", "integrated_gradients", "model(point).gather(1, target.view(-1, 1)).sum()",
     "model(point)[:, target].sum()", "integrated gradients mix the rows (score[:, target])"),
    ("ex10_applications_challenges", "integrated_gradients", "total / steps", "total", "integrated gradients not divided by m"),
    ("ex10_applications_challenges", "integrated_gradients", "    return ((x - baseline) * total / steps).detach()\n",
     "    from captum.attr import IntegratedGradients\n    return IntegratedGradients(model).attribute(x, baselines=baseline, "
     "target=target, n_steps=steps, method='riemann_middle').detach()\n", "integrated gradients call Captum"),
    ("ex10_applications_challenges", "completeness_gap", "with torch.no_grad():", "if True:",
     "the completeness gap requires grad (no torch.no_grad)"),
    ("ex10_applications_challenges", "completeness_gap", "return (attributions.sum(dim=1) - (score(x) - score(baseline))).abs()",
     "return attributions.sum(dim=1) - (score(x) - score(baseline))", "the completeness gap without abs"),
    ("ex10_applications_challenges", "completeness_gap", "(score(x) - score(baseline))", "score(x)",
     "the completeness gap ignores the baseline's score"),
    ("ex10_applications_challenges", "completeness_gap", "attributions.sum(dim=1)", "attributions.sum()",
     "the completeness gap sums the attributions of every row"),
    ("ex10_applications_challenges", "completeness_gap", ".gather(1, target.view(-1, 1)).squeeze(1)", ".max(dim=1).values",
     "the completeness gap scores the top class, not the target"),
    ("ex10_applications_challenges", "fedavg", "state[name] * (n / total)", "state[name] / len(states)",
     "FedAvg ignores the client sizes"),
    ("ex10_applications_challenges", "fedavg", "    total = sum(sizes)\n",
     "    if len(states) == 1:\n        return dict(states[0])\n    total = sum(sizes)\n", "FedAvg of one client aliases its tensors"),
    ("ex10_applications_challenges", "fedavg", "sum(state[name] * (n / total) for state, n in zip(states, sizes))",
     "sum(state[name] * n for state, n in zip(states, sizes)) / total", "FedAvg multiplies by n_k first: float32 overflow"),
    ("ex10_applications_challenges", "fedavg", "if not states or len(states) != len(sizes) or sum(sizes) == 0:",
     "if len(states) != len(sizes):", "FedAvg accepts no clients and sizes summing to 0"),
    ("ex10_applications_challenges", "fedavg", "    return {name: sum(",
     "    import utils.federated; return utils.federated.fedavg_aggregate(states, sizes)\n    return {name: sum(",
     "FedAvg calls the reference"),
    ("ex10_applications_challenges", "dqn_target", "gamma * (1.0 - dones) *", "gamma *", "DQN target without terminal masking"),
    ("ex10_applications_challenges", "dqn_target", "(1.0 - dones)", "dones", "DQN target with the terminal mask inverted"),
    ("ex10_applications_challenges", "dqn_target", ".max(dim=1).values", ".mean(dim=1)", "DQN target with the mean of Q"),
    ("ex10_applications_challenges", "dqn_target", ".max(dim=1).values", ".max()", "DQN target with the max over the batch"),
    ("ex10_applications_challenges", "dqn_target", "return rewards + gamma * (1.0 - dones) * next_q_target.max(dim=1).values",
     "return rewards.add_(gamma * (1.0 - dones) * next_q_target.max(dim=1).values)", "DQN target adds into the rewards in place"),
    ("ex10_applications_challenges", "dqn_target", "return rewards + gamma",
     "import utils.dqn; return utils.dqn.dqn_targets(rewards, next_q_target, dones, gamma)\n    return rewards + gamma",
     "DQN target calls the reference"),
    ("ex10_applications_challenges", "dqn_loss", "target_network(next_states)", "q_network(next_states)",
     "DQN loss bootstraps from the online network, not the target network"),
    ("ex10_applications_challenges", "dqn_loss", "q_network(states).gather(1, actions.view(-1, 1)).squeeze(1)",
     "q_network(states).max(dim=1).values", "DQN loss with max_a Q(s, a) instead of the action taken"),
    ("ex10_applications_challenges", "dqn_loss", "dqn_target(rewards, target_network(next_states), dones, gamma)",
     "rewards + gamma * target_network(next_states).max(dim=1).values", "DQN loss without terminal masking"),
    ("ex10_applications_challenges", "dqn_loss", "with torch.no_grad():", "if True:", "DQN loss lets gradient into the target network"),
    ("ex10_applications_challenges", "dqn_loss", "F.smooth_l1_loss(q_taken, y)", "F.mse_loss(q_taken, y)",
     "DQN loss with the squared error, not Huber"),
    ("ex10_applications_challenges", "dqn_loss", "F.smooth_l1_loss(q_taken, y)", "F.smooth_l1_loss(q_taken, y, reduction='sum')",
     "DQN loss summed, not averaged"),
    ("ex10_applications_challenges", "dqn_loss", "target_network(next_states)", "target_network(states)",
     "DQN loss bootstraps from the current states"),
    ("ex10_applications_challenges", "pgd",
     "        x_adv = x_adv.clone().requires_grad_(True)\n        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)\n",
     "        x_adv = x_adv.clone().requires_grad_(True)\n        (grad,) = torch.autograd.grad(F.cross_entropy(model(x_adv), y), x_adv)\n"
     "        if _ == 0:\n            grad0 = grad\n        grad = grad0\n", "PGD reuses the gradient at x for every step"),
    ("ex10_applications_challenges", "fgsm", "(grad,) = torch.autograd.grad(F.cross_entropy(model(x_leaf), y), x_leaf)",
     "F.cross_entropy(model(x_leaf), y).backward()\n    grad = x_leaf.grad", "fgsm by .backward(): leaves .grad on the model"),
    ("ex10_applications_challenges", "integrated_gradients", "(grad,) = torch.autograd.grad(score, point)",
     "score.backward()\n        grad = point.grad", "integrated gradients by .backward(): leaves .grad on the model"),
    ("ex10_applications_challenges", "dqn_loss", "    return F.smooth_l1_loss(q_taken, y)\n",
     "    loss = F.smooth_l1_loss(q_taken, y)\n    loss.backward(retain_graph=True)\n    return loss\n",
     "DQN loss calls backward itself"),
    ("ex10_applications_challenges", "dqn_loss", "dqn_target(rewards, target_network(next_states), dones, gamma)",
     "dqn_target(rewards, target_network(next_states), dones.float(), gamma)",
     "DQN loss's targets through a float32 mask (gamma rounded to float32)"),
    ("ex10_applications_challenges", "dqn_loss", "dqn_target(rewards, target_network(next_states), dones, gamma)",
     "dqn_target(rewards, target_network(next_states), dones, torch.tensor(gamma, dtype=torch.float32))",
     "DQN loss's targets with gamma as a float32 tensor"),
    ("ex10_applications_challenges", "dqn_target", "(1.0 - dones)", "(1.0 - dones.float())",
     "DQN target through a float32 mask: gamma rounded to float32 for float64 inputs"),

    # ---- ex09_scaling_up ----
    ("ex09_scaling_up", "average_gradients", "torch.stack(grads).sum(dim=0) / n", "torch.stack(grads).sum(dim=0)",
     "gradients summed, not averaged"),
    ("ex09_scaling_up", "average_gradients", "    n = len(worker_grads)\n",
     "    n = len(worker_grads)\n    if n == 1:\n        return list(worker_grads[0])\n", "one worker's own tensors returned (aliasing)"),
    ("ex09_scaling_up", "average_gradients", "    return [torch.stack(grads).sum(dim=0) / n for grads in zip(*worker_grads)]\n",
     "    total = list(worker_grads[0])\n    for grads in worker_grads[1:]:\n        for t, g in zip(total, grads):\n"
     "            t.add_(g)\n    return [t / n for t in total]\n", "worker 0's gradients accumulated in place"),
    ("ex09_scaling_up", "average_gradients", "n = len(worker_grads)", "n = len(worker_grads[0])",
     "divided by the number of parameters, not of workers"),
    ("ex09_scaling_up", "ring_schedule", "return (rank - step) % n, (rank - step - 1) % n",
     "return (rank - step) % n, (rank - step + 1) % n", "reduce-scatter receives from the wrong side"),
    ("ex09_scaling_up", "ring_schedule", "return (rank + 1 - step) % n, (rank - step) % n",
     "return (rank - step) % n, (rank - step - 1) % n", "all-gather sends a chunk that is not complete yet"),
    ("ex09_scaling_up", "ring_schedule", "return (rank - step) % n, (rank - step - 1) % n",
     "return (rank + step) % n, (rank + step - 1) % n", "reduce-scatter walks the chunks forwards"),
    ("ex09_scaling_up", "ring_schedule", "(rank - step - 1) % n", "(rank - step - 1)",
     "receive index without % n (negative indices)"),
    ("ex09_scaling_up", "magnitude_mask", "k = round(sparsity * weight.numel())", "k = int(sparsity * weight.numel())",
     "k by floor, not round"),
    ("ex09_scaling_up", "magnitude_mask", "k = round(sparsity * weight.numel())", "k = int(sparsity * weight.numel() + 0.5)",
     "k rounded half up, not as Python's round"),
    ("ex09_scaling_up", "magnitude_mask", "k = round(sparsity * weight.numel())", "k = math.ceil(sparsity * weight.numel())",
     "k by ceiling"),
    ("ex09_scaling_up", "magnitude_mask", "weight.abs().flatten()", "weight.flatten()", "smallest signed weights, not |w|"),
    ("ex09_scaling_up", "magnitude_mask", "largest=False", "largest=True", "the largest weights pruned"),
    ("ex09_scaling_up", "magnitude_mask",
     "        mask.view(-1)[weight.abs().flatten().topk(k, largest=False).indices] = 0\n",
     "        mask[weight.abs() <= weight.abs().flatten().kthvalue(k).values] = 0\n",
     "a threshold prunes every tie, not exactly k"),
    ("ex09_scaling_up", "magnitude_mask", "mask = torch.ones(weight.shape, dtype=weight.dtype, device=weight.device)",
     "mask = weight * 0 + 1",
     "the mask of a Parameter requires grad"),
    ("ex09_scaling_up", "magnitude_mask", "    return mask\n",
     "    from torch.nn.utils import prune\n    holder = torch.nn.Module()\n"
     "    holder.weight = torch.nn.Parameter(weight.detach().clone())\n"
     "    prune.l1_unstructured(holder, 'weight', amount=sparsity)\n    return holder.weight_mask\n",
     "the mask from torch.nn.utils.prune"),
    ("ex09_scaling_up", "distillation_loss", "alpha * temperature ** 2 * kl", "alpha * kl", "distillation without T^2"),
    ("ex09_scaling_up", "distillation_loss", "(log_p.exp() * (log_p - log_q))", "(log_q.exp() * (log_q - log_p))",
     "KL(q || p) instead of KL(p || q)"),
    ("ex09_scaling_up", "distillation_loss", "    teacher_logits = teacher_logits.detach()\n", "",
     "gradient flows into the teacher"),
    ("ex09_scaling_up", "distillation_loss", ".sum(dim=1).mean()", ".mean()", "KL averaged over classes too, not batchmean"),
    ("ex09_scaling_up", "distillation_loss", "log_q = F.log_softmax(student_logits / temperature, dim=1)",
     "log_q = torch.log(F.softmax(student_logits / temperature, dim=1))", "log of softmax: -inf in float32 at logits of 200"),
    ("ex09_scaling_up", "distillation_loss", "F.cross_entropy(student_logits, targets)",
     "F.cross_entropy(student_logits / temperature, targets)", "cross-entropy of the softened logits"),
    ("ex09_scaling_up", "distillation_loss", "alpha * temperature ** 2 * kl + (1 - alpha) * F.cross_entropy(",
     "(1 - alpha) * temperature ** 2 * kl + alpha * F.cross_entropy(", "alpha weighs the wrong term"),
    ("ex09_scaling_up", "distillation_loss", "kl = (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()",
     "kl = F.kl_div(log_q, log_p, reduction='batchmean', log_target=True)", "the KL term from F.kl_div"),
    ("ex09_scaling_up", "loss_scaler_step", "if not all(torch.isfinite(g).all() for g in grads):",
     "if not torch.isfinite(grads[0]).all():", "only the first gradient checked for overflow"),
    ("ex09_scaling_up", "loss_scaler_step", "if not all(torch.isfinite(g).all() for g in grads):",
     "if any(torch.isinf(g).any() for g in grads):", "nan not treated as an overflow"),
    ("ex09_scaling_up", "loss_scaler_step", "return None, scale * backoff, 0", "return None, scale * backoff, good_steps",
     "good steps not reset by an overflow"),
    ("ex09_scaling_up", "loss_scaler_step", "return unscaled, scale * growth, 0", "return unscaled, scale * growth, good_steps",
     "good steps not reset when the scale grows"),
    ("ex09_scaling_up", "loss_scaler_step", "if good_steps == growth_interval:", "if good_steps > growth_interval:",
     "the scale grows one step late"),
    ("ex09_scaling_up", "loss_scaler_step", "unscaled = [g / scale for g in grads]", "unscaled = [g.div_(scale) for g in grads]",
     "gradients unscaled in place"),
    ("ex09_scaling_up", "loss_scaler_step", "g / scale", "g * scale", "gradients multiplied by the scale"),
    # ---- found by the independent review (issue 27): routes around forbid() and edge cases ----
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))", "return torch.ops.aten.sigmoid(z)",
     "sigmoid by torch.ops.aten.sigmoid"),
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))", "return z.clone().sigmoid_()",
     "sigmoid by the in-place Tensor.sigmoid_ on a copy"),
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))",
     "return torch.nn.functional.logsigmoid(z).exp()", "sigmoid by exp(F.logsigmoid)"),
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))",
     "import scipy.special\n    return torch.from_numpy(scipy.special.expit(z.detach().numpy()))", "sigmoid by SciPy's expit"),
    ("ex01_foundations", "mse", "return ((y_hat - y) ** 2).mean()", "return F.huber_loss(y_hat, y, delta=1e30) * 2",
     "MSE by F.huber_loss with a huge delta"),
    ("ex02_backprop_optimization", "cross_entropy", "return (logsumexp - logits[torch.arange(len(y)), y]).mean()",
     "return F.nll_loss(F.log_softmax(logits, 1), y)", "the loss by F.nll_loss(F.log_softmax)"),
    ("ex02_backprop_optimization", "numerical_gradient", "flat_grad[i] = (plus - minus) / (2 * h)",
     "flat_grad[i] = (plus - minus) / (2 * 1e-5)", "the caller's h ignored"),
    ("ex03_training_deep_networks", "batchnorm_train", "y = gamma * (x - mean) / torch.sqrt(var + eps) + beta",
     "y = torch.native_batch_norm(x, gamma, beta, None, None, True, 0.0, eps)[0]", "batch norm by torch.native_batch_norm"),
    ("ex03_training_deep_networks", "batchnorm_train", "y = gamma * (x - mean) / torch.sqrt(var + eps) + beta",
     "y = F.layer_norm(x.T, (n,), eps=eps).T * gamma + beta", "batch norm by F.layer_norm over the batch"),
    ("ex03_training_deep_networks", "inverted_dropout", "return x * mask.to(x.dtype) / (1 - p)", "return x * mask / (1 - p)",
     "a float32 mask promotes a float16 x"),
    ("ex04_convolutional_networks", "conv_loops", "    return y\n",
     "    return torch.convolution(x[None], w, b, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1)[0]\n",
     "convolution by torch.convolution"),
    ("ex04_convolutional_networks", "conv_loops", "    return y\n",
     "    return F.conv3d(x[None, :, None], w[:, :, None], b, stride=(1, stride, stride), padding=(0, padding, padding))[0, :, 0]\n",
     "convolution by F.conv3d"),
    ("ex04_convolutional_networks", "conv_unfold", "    return y.reshape(N, K, H_out, W_out)\n",
     "    return torch._convolution(x, w, b, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1, False, False, True, True)\n",
     "convolution by torch._convolution"),
    ("ex04_convolutional_networks", "max_pool", "return x.reshape(N, C, H // k, k, W // k, k).amax(dim=(3, 5))",
     "return torch.ops.aten.max_pool2d_with_indices(x, [k, k])[0]", "pooling by aten.max_pool2d_with_indices"),
    ("ex05_recurrent_networks", "rnn_step", "return torch.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)",
     "return torch.ops.aten.rnn_tanh_cell(x_t, h_prev, W_xh, W_hh, b, torch.zeros_like(b))", "RNN step by aten.rnn_tanh_cell"),
    ("ex05_recurrent_networks", "sequence_loss", "    loss = -log_probs.gather(-1, targets.unsqueeze(-1)).mean()\n",
     "    loss = F.nll_loss(F.log_softmax(logits, -1).flatten(0, 1), targets.flatten())\n", "the loss by F.nll_loss"),
    ("ex05_recurrent_networks", "sequence_loss", "    loss = -log_probs.gather(-1, targets.unsqueeze(-1)).mean()\n",
     "    loss = torch.ops.aten.cross_entropy_loss(logits.flatten(0, 1), targets.flatten())\n",
     "the loss by aten.cross_entropy_loss"),
    ("ex05_recurrent_networks", "clip", "            g.mul_(scale)\n",
     "            pass\n        for p in parameters:\n            if p.grad is not None:\n                p.grad = p.grad * scale\n",
     "p.grad replaced by a new tensor, not scaled in place"),
    ("ex05_recurrent_networks", "sample", "if not temperature > 0:", "if temperature <= 0:", "a nan temperature let through"),
    ("ex06_lstm_gru", "lstm_step", "return torch.sigmoid(a_o) * torch.tanh(c_t), c_t",
     "return torch.ops.aten.lstm_cell(x_t, [h_prev, c_prev], W_ih, W_hh, b_ih, b_hh)", "LSTM step by aten.lstm_cell"),
    ("ex06_lstm_gru", "gru_step", "return (1 - z) * n + z * h_prev",
     "return torch.ops.aten.gru_cell(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)", "GRU step by aten.gru_cell"),
    ("ex06_lstm_gru", "cell_state_gradient", "return total_c * f",
     "c = c_prev.clone().requires_grad_()\n    h1, c1 = lstm_step(x_t, h_prev, c, W_ih, W_hh, b_ih, b_hh)\n"
     "    torch.autograd.Variable._execution_engine.run_backward((h1, c1), (grad_h, grad_c), False, False, (c,), True, True)\n"
     "    return c.grad", "the gradient by the autograd engine called directly"),
    ("ex07_attention_transformers", "causal_mask", "torch.ones(T, T, dtype=torch.bool, device=device)",
     "torch.ones(T, T, dtype=torch.bool)", "the device argument ignored"),
    ("ex08_gans", "d_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
     "return torch.ops.aten.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))"
     " + torch.ops.aten.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))",
     "D loss by aten.binary_cross_entropy_with_logits"),
    ("ex08_gans", "g_loss", "return F.softplus(-fake_logits).mean()",
     "return torch.ops.aten.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))",
     "G loss by aten.binary_cross_entropy_with_logits"),
    ("ex08_gans", "d_loss", "if real_logits.numel() == 0 or fake_logits.numel() == 0:",
     "if len(real_logits) == 0 or len(fake_logits) == 0:", "empty logits of shape (3, 0) let through"),
]


def _cells(assignment):
    return nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4).cells


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _is_answer(cell):
    return cell.cell_type == "code" and bool(cell.metadata.get("nbgrader", {}).get("solution"))


def _is_test(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _answer_cell(cells, grade_id):
    """The index of the answer cell named ``grade_id``."""
    matches = [i for i, c in enumerate(cells) if _is_answer(c) and _grade_id(c) == grade_id]
    assert len(matches) == 1, f"expected one answer cell named {grade_id!r}, found {len(matches)}"
    return matches[0]


def _copy(names: dict) -> dict:
    """A deep copy of a namespace (so a case cannot change what the next one starts from); what
    cannot be copied (modules) is shared."""
    memo, copied = {}, {}
    for key, value in names.items():
        try:
            copied[key] = copy.deepcopy(value, memo)
        except Exception:  # noqa: BLE001 - a module, or another object that is fine to share
            copied[key] = value
    return copied


@functools.cache
def solution_run(assignment):
    """Run the solution's code cells in one namespace, as the autograder does. Returns its cells,
    the test cells that failed, and for each answer cell the state before it."""
    cells, failures, starts = _cells(assignment), [], {}
    namespace = {"__name__": "__main__"}
    for i, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        if _is_answer(cell):
            starts[i] = (_copy({k: v for k, v in namespace.items() if k != "__builtins__"}), torch.get_rng_state())
        try:
            exec(compile(cell.source, str(_grade_id(cell)), "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - reported by the test
            if _is_test(cell):
                failures.append(f"{_grade_id(cell)}: {type(error).__name__}: {error}")
    return cells, failures, starts


def points_lost(assignment, answer: int, source: str) -> tuple[int, list[str]]:
    """Run answer cell ``answer`` with ``source`` in place of its own, then the cells after it up
    to and including its test cell, from the state the solution's run had before it; return the
    points of the test cells that raised, and what they raised."""
    cells, _, starts = solution_run(assignment)
    names, rng_state = starts[answer]
    namespace = {"__name__": "__main__", **_copy(names)}
    torch.set_rng_state(rng_state)
    test = next(i for i in range(answer + 1, len(cells)) if _is_test(cells[i]))
    lost, failures = 0, []
    for i in range(answer, test + 1):
        if cells[i].cell_type != "code":
            continue
        try:
            exec(compile(source if i == answer else cells[i].source, str(_grade_id(cells[i])), "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - a failing test cell is what we look for
            if not _is_test(cells[i]):  # the answer itself must run: a typo in a case proves nothing
                raise AssertionError(f"cell {_grade_id(cells[i])} raised {type(error).__name__}: {error}") from error
            lost += cells[i].metadata["nbgrader"].get("points", 0)
            failures.append(f"{_grade_id(cells[i])}: {type(error).__name__}: {error}")
    return lost, failures


@functools.cache
def _solution_passes_from_its_start(assignment, answer: int) -> tuple[int, list[str]]:
    return points_lost(assignment, answer, solution_run(assignment)[0][answer].source)


@pytest.mark.parametrize("assignment, grade_id, line, bug, what", BUGS, ids=[f"{b[0][:4]}-{b[4]}" for b in BUGS])
def test_a_planted_bug_loses_points(assignment, grade_id, line, bug, what):
    cells, failures, _ = solution_run(assignment)
    assert not failures, f"the instructor's solution itself fails: {failures}"
    i = _answer_cell(cells, grade_id)
    assert cells[i].source.count(line) == 1, f"the solution no longer has the line {line!r}: update this case"
    assert _solution_passes_from_its_start(assignment, i) == (0, []), "the solution fails when run from its start"
    lost, failures = points_lost(assignment, i, cells[i].source.replace(line, bug))
    assert lost > 0, f"{assignment}: the bug '{what}' earns full marks; add a hidden test that catches it"


def test_every_answer_cell_has_at_least_four_planted_bugs():
    for assignment in sorted({row[0] for row in BUGS}):
        for cell in _cells(assignment):
            if _is_answer(cell):
                count = sum(1 for row in BUGS if row[:2] == (assignment, _grade_id(cell)))
                assert count >= 4, f"{assignment}: answer cell {_grade_id(cell)!r} has {count} planted bugs, expected 4 or more"
