"""The shared code of the course: every chapter and exercise imports it.

Each module holds one idea; the chapters show their source with ``literalinclude`` so
the book and the package never drift apart.
"""
from .activations import ReLU, Sigmoid, Tanh, relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad
from .autograd import Value, draw_graph
from .checks import check_same_device, check_tensor
from .data import Standardizer, load_diabetes, load_digits, make_loader, train_test_split
from .device import get_device
from .layers import MLP, Linear
from .losses import cross_entropy, cross_entropy_grad, mse_loss, mse_loss_grad, softmax
from .optim import SGD, Adam, trajectory
from .seed import set_seed
from .train import History, accuracy, evaluate, fit

__all__ = [
    "History", "Linear", "MLP", "ReLU", "Sigmoid", "Standardizer", "Tanh", "accuracy",
    "check_same_device", "check_tensor", "evaluate", "fit", "get_device", "load_diabetes",
    "load_digits", "make_loader", "mse_loss", "mse_loss_grad", "relu", "relu_grad", "set_seed",
    "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "train_test_split",
    "Adam", "SGD", "Value", "cross_entropy", "cross_entropy_grad", "draw_graph", "softmax", "trajectory",
]
