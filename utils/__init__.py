"""The shared code of the course: every chapter and exercise imports it.

Each module holds one idea; the chapters show their source with ``literalinclude`` so
the book and the package never drift apart.
"""
from .activations import ReLU, Sigmoid, Tanh, relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad
from .adversarial import AdversarialLoader, accuracy_under_attack, fgsm, pgd
from .attention import (LayerNorm, MultiHeadSelfAttention, attention_weights, causal_mask,
                        scaled_dot_product_attention, sinusoidal_positional_encoding)
from .attribution import integrated_gradients, randomized_copy, saliency
from .augment import AugmentedLoader, random_shift
from .autograd import Value, draw_graph
from .checks import check_same_device, check_tensor
from .conv import AvgPool2d, Conv2d, Flatten, LeNet, MaxPool2d, conv2d_output_size
from .data import Standardizer, load_diabetes, load_digits, make_loader, train_test_split
from .device import cpu_threads, get_device
from .dqn import DQNConfig, ReplayBuffer, dqn_targets, epsilon_greedy, evaluate_policy, greedy_policy, train_dqn
from .fairness import fairness_gaps, group_rates, make_two_group_data
from .federated import fedavg_aggregate, federated_averaging, local_sgd, split_clients
from .gan import (ConvTranspose2d, DigitDiscriminator, DigitGenerator, MinibatchStd, class_coverage, class_entropy,
                  confident_share, conv_transpose2d_output_size, discriminator_loss, feature_frechet_distance,
                  frechet_distance, gan_step, generator_loss, modes_covered, ring_of_gaussians)
from .gpt import GPT, attention_maps, gpt_parameter_count
from .init import he_normal_, he_uniform_, initialize, xavier_normal_, xavier_uniform_
from .layers import MLP, Linear
from .lstm_gru import GRU, LSTM, CharLSTM, GRUCell, LSTMCell
from .metrics import confusion_matrix, precision_recall_f1, precision_recall_f1_score
from .norm import BatchNorm1d
from .losses import cross_entropy, cross_entropy_grad, mse_loss, mse_loss_grad, softmax
from .optim import SGD, Adam, trajectory
from .regularization import AdamW, Dropout, EarlyStopping, dropout, l1_penalty, l2_penalty
from .rnn import RNN, CharRNN, RNNCell, clip_grad_norm, sample_next
from .search import grid_search, optuna_search, random_search
from .seed import set_seed
from .seq2seq import AdditiveAttention, Seq2Seq
from .text import Vocabulary, load_stdlib_corpus
from .train import History, accuracy, evaluate, fit
from .transfer import few_labels, linear_probe

__all__ = [
    # chapter 1: layers, data, training
    "History", "Linear", "MLP", "ReLU", "Sigmoid", "Standardizer", "Tanh", "accuracy",
    "check_same_device", "check_tensor", "evaluate", "fit", "get_device", "load_diabetes",
    "load_digits", "make_loader", "mse_loss", "mse_loss_grad", "relu", "relu_grad", "set_seed",
    "sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "train_test_split",
    # chapter 2: autograd, losses, optimizers
    "Adam", "SGD", "Value", "cross_entropy", "cross_entropy_grad", "draw_graph", "softmax", "trajectory",
    # chapter 3: training deep networks
    "AdamW", "BatchNorm1d", "Dropout", "EarlyStopping", "confusion_matrix", "dropout", "grid_search",
    "he_normal_", "he_uniform_", "initialize", "l1_penalty", "l2_penalty", "optuna_search",
    "precision_recall_f1", "precision_recall_f1_score", "random_search", "xavier_normal_", "xavier_uniform_",
    # chapter 4: convolutional networks
    "AugmentedLoader", "AvgPool2d", "Conv2d", "Flatten", "LeNet", "MaxPool2d", "conv2d_output_size",
    "random_shift",
    # chapter 5: recurrent networks
    "CharRNN", "RNN", "RNNCell", "Vocabulary", "clip_grad_norm", "load_stdlib_corpus", "sample_next",
    # chapter 6: LSTM and GRU
    "CharLSTM", "GRU", "GRUCell", "LSTM", "LSTMCell",
    # chapter 7: attention and Transformers
    "AdditiveAttention", "GPT", "LayerNorm", "MultiHeadSelfAttention", "Seq2Seq", "attention_maps",
    "attention_weights", "causal_mask", "cpu_threads", "gpt_parameter_count", "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
    # chapter 8: generative adversarial networks
    "ConvTranspose2d", "DigitDiscriminator", "DigitGenerator", "MinibatchStd", "class_coverage", "class_entropy",
    "confident_share", "conv_transpose2d_output_size", "discriminator_loss", "feature_frechet_distance",
    "frechet_distance", "gan_step", "generator_loss", "modes_covered", "ring_of_gaussians",
    # chapter 10: applications and open challenges
    "AdversarialLoader", "DQNConfig", "ReplayBuffer", "accuracy_under_attack", "dqn_targets", "epsilon_greedy",
    "evaluate_policy", "fairness_gaps", "fedavg_aggregate", "federated_averaging", "few_labels", "fgsm",
    "greedy_policy", "group_rates", "integrated_gradients", "linear_probe", "local_sgd", "make_two_group_data",
    "pgd", "randomized_copy", "saliency", "split_clients", "train_dqn",
]
