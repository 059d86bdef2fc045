"""A PyTorch ST-GCN written from PYSKL's code (docs/reference.md section 8), for parity tests.

Re-states kennymckormick/pyskl:pyskl/models/gcns/stgcn.py (STGCN, STGCNBlock), pyskl/models/gcns/utils/gcn.py
(unit_gcn with adaptive='importance', conv_pos='pre'), pyskl/models/gcns/utils/tcn.py (unit_tcn) and
pyskl/models/heads/simple_head.py (GCNHead) with the same module tree, so that `state_dict()` has PYSKL's keys:
`backbone.data_bn.*`, `backbone.gcn.{i}.gcn.{A,PA,conv.*,bn.*}`, `backbone.gcn.{i}.tcn.{conv,bn}.*`,
`backbone.gcn.{4,7}.residual.{conv,bn}.*`, and `cls_head.fc_cls.*` (PYSKL) or `cls_head.fc.*` (mmaction2 1.x).
Initialised as PYSKL initialises it: PyTorch's defaults, the head N(0, 0.01) with bias 0.
"""
import torch
from torch import nn

from graphs import Graph


class UnitGCN(nn.Module):
    """1x1 conv to K*C_out, sum_k sum_v x_k[..., v] * (A * PA)_k[v, w], BN, ReLU.

    Shape: (N*M, C_in, T, V) -> (N*M, C_out, T, V)
    """

    def __init__(self, in_channels, out_channels, A):
        super().__init__()
        self.num_subsets = A.size(0)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()
        self.register_buffer('A', A)
        self.PA = nn.Parameter(torch.ones_like(A))
        self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, 1)

    def forward(self, x):
        n, _, t, v = x.shape
        x = self.conv(x).view(n, self.num_subsets, -1, t, v)  # (N*M, K, C_out, T, V)
        x = torch.einsum('nkctv,kvw->nctw', x, self.A * self.PA).contiguous()
        return self.act(self.bn(x))


class UnitTCN(nn.Module):
    """(kernel x 1) conv, padding (kernel - 1) // 2 both sides, stride s, then BN (dropout 0 is the identity).

    Shape: (N*M, C_in, T, V) -> (N*M, C_out, ceil(T / stride), V)
    """

    def __init__(self, in_channels, out_channels, kernel_size=9, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), padding=((kernel_size - 1) // 2, 0),
                              stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.bn(self.conv(x))


class STGCNBlock(nn.Module):
    """relu(tcn(gcn(x)) + residual(x)). Shape: (N*M, C_in, T, V) -> (N*M, C_out, ceil(T / stride), V)."""

    def __init__(self, in_channels, out_channels, A, stride=1, residual=True):
        super().__init__()
        self.gcn = UnitGCN(in_channels, out_channels, A)
        self.tcn = UnitTCN(out_channels, out_channels, 9, stride)
        self.relu = nn.ReLU()
        if not residual:
            self.residual = lambda x: 0
        elif in_channels == out_channels and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)

    def forward(self, x):
        return self.relu(self.tcn(self.gcn(x)) + self.residual(x))


class Backbone(nn.Module):
    """PYSKL's STGCN with its defaults (base 64, ch_ratio 2, inflate and down stages 5 and 8, data_bn 'VC').

    Shape: (N, M, T, V, C) -> (N, M, 256, T / 4, V)
    """

    def __init__(self, layout, in_channels=3):
        super().__init__()
        A = torch.tensor(Graph(layout, 'stgcn_spatial').A, dtype=torch.float32)
        self.data_bn = nn.BatchNorm1d(in_channels * A.size(1))
        self.gcn = nn.ModuleList([
            STGCNBlock(in_channels, 64, A.clone(), 1, residual=False),
            STGCNBlock(64, 64, A.clone()),
            STGCNBlock(64, 64, A.clone()),
            STGCNBlock(64, 64, A.clone()),
            STGCNBlock(64, 128, A.clone(), 2),
            STGCNBlock(128, 128, A.clone()),
            STGCNBlock(128, 128, A.clone()),
            STGCNBlock(128, 256, A.clone(), 2),
            STGCNBlock(256, 256, A.clone()),
            STGCNBlock(256, 256, A.clone()),
        ])

    def forward_blocks(self, x):
        """The ten block outputs, each (N*M, C_i, T_i, V)."""
        N, M, T, V, C = x.size()
        x = x.permute(0, 1, 3, 4, 2).contiguous()  # (N, M, V, C, T)
        x = self.data_bn(x.view(N * M, V * C, T))  # channel v*C + c
        x = x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).contiguous().view(N * M, C, T, V)
        outputs = []
        for block in self.gcn:
            x = block(x)
            outputs.append(x)
        return outputs


class Head(nn.Module):
    """GCNHead: mean over (T, V) per person, mean over M, Linear. Shape: (N, M, C, T, V) -> (N, num_class)."""

    def __init__(self, num_class, in_channels, fc_name):
        super().__init__()
        self.fc_name = fc_name
        setattr(self, fc_name, nn.Linear(in_channels, num_class))
        nn.init.normal_(getattr(self, fc_name).weight, 0.0, 0.01)
        nn.init.zeros_(getattr(self, fc_name).bias)

    def forward(self, x):
        N, M, C, T, V = x.shape
        x = nn.functional.adaptive_avg_pool2d(x.reshape(N * M, C, T, V), 1).reshape(N, M, C).mean(dim=1)
        return getattr(self, self.fc_name)(x)


class Recognizer(nn.Module):
    """RecognizerGCN: backbone + cls_head. fc_name 'fc_cls' is PYSKL's head key, 'fc' mmaction2 1.x's.

    Shape:
        Input: (N, M, T, V, C), PYSKL's layout (FormatGCNInput)
        Output: (N, num_class) logits
    """

    def __init__(self, layout='ntu-rgb+d-pyskl', num_class=60, in_channels=3, fc_name='fc_cls'):
        super().__init__()
        self.backbone = Backbone(layout, in_channels)
        self.cls_head = Head(num_class, 256, fc_name)

    def forward(self, x):
        return self.forward_blocks(x)[-1]

    def forward_blocks(self, x):
        """The ten block outputs (N*M, C_i, T_i, V), then the logits (N, num_class)."""
        outputs = self.backbone.forward_blocks(x)
        N, M = x.shape[:2]
        features = outputs[-1].reshape((N, M) + outputs[-1].shape[1:])  # (N, M, C, T, V)
        return outputs + [self.cls_head(features)]
