"""A PyTorch ST-GCN written from docs/reference.md section 4 (the official st-gcn model), for parity tests and benchmarks.

Same module tree as the official `net/st_gcn.py`, so `state_dict()` has the official keys: `A`, `data_bn.*`,
`st_gcn_networks.{i}.gcn.conv.*`, `.tcn.{0,2,3}.*`, `.residual.{0,1}.*`, `edge_importance.{i}`, `fcn.*`.
"""
import torch
from torch import nn

from graphs import Graph


class ConvTemporalGraphical(nn.Module):
    """1x1 conv to K*C_out channels, then sum_k sum_v x_k[..., v] * A_k[v, w].

    Shape:
        Input: (N*M, C_in, T, V), A (K, V, V)
        Output: (N*M, C_out, T, V)
    """

    def __init__(self, in_channels, out_channels, num_subset):
        super().__init__()
        self.num_subset = num_subset
        self.conv = nn.Conv2d(in_channels, out_channels * num_subset, kernel_size=(1, 1))

    def forward(self, x, A):
        x = self.conv(x)
        n, kc, t, v = x.size()
        x = x.view(n, self.num_subset, kc // self.num_subset, t, v)  # (N*M, K, C_out, T, V)
        return torch.einsum('nkctv,kvw->nctw', x, A).contiguous()


class StGcnBlock(nn.Module):
    """Shape: (N*M, C_in, T, V) -> (N*M, C_out, ceil(T / stride), V)."""

    def __init__(self, in_channels, out_channels, num_subset, stride=1, dropout=0.0, residual=True):
        super().__init__()
        self.gcn = ConvTemporalGraphical(in_channels, out_channels, num_subset)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = lambda x: 0
        elif in_channels == out_channels and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, A):
        res = self.residual(x)
        x = self.gcn(x, A)
        x = self.tcn(x) + res
        return self.relu(x)


class Model(nn.Module):
    """The official ST-GCN.

    Shape:
        Input: (N, C, T, V, M)
        Output: (N, num_class)
    """

    def __init__(self, in_channels=3, num_class=60, layout='ntu-rgb+d', partition='spatial',
                 edge_importance_weighting=True, dropout=0.5, channels=(64, 128, 256)):
        super().__init__()
        A = torch.tensor(Graph(layout, partition).A, dtype=torch.float32)
        self.register_buffer('A', A)
        K, V = A.shape[0], A.shape[1]
        self.data_bn = nn.BatchNorm1d(in_channels * V)
        c1, c2, c3 = channels
        self.st_gcn_networks = nn.ModuleList((
            StGcnBlock(in_channels, c1, K, 1, residual=False),
            StGcnBlock(c1, c1, K, 1, dropout),
            StGcnBlock(c1, c1, K, 1, dropout),
            StGcnBlock(c1, c1, K, 1, dropout),
            StGcnBlock(c1, c2, K, 2, dropout),
            StGcnBlock(c2, c2, K, 1, dropout),
            StGcnBlock(c2, c2, K, 1, dropout),
            StGcnBlock(c2, c3, K, 2, dropout),
            StGcnBlock(c3, c3, K, 1, dropout),
            StGcnBlock(c3, c3, K, 1, dropout),
        ))
        if edge_importance_weighting:
            self.edge_importance = nn.ParameterList([nn.Parameter(torch.ones(A.size())) for _ in self.st_gcn_networks])
        else:
            self.edge_importance = [1] * len(self.st_gcn_networks)
        self.fcn = nn.Conv2d(c3, num_class, kernel_size=1)

    def forward(self, x):
        return self.forward_blocks(x)[-1]

    def forward_blocks(self, x):
        """The ten block outputs, each (N*M, C_i, T_i, V), then the logits (N, num_class)."""
        N, C, T, V, M = x.size()
        x = x.permute(0, 4, 3, 1, 2).contiguous()  # (N, M, V, C, T)
        x = x.view(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T)
        x = x.permute(0, 1, 3, 4, 2).contiguous()  # (N, M, C, T, V)
        x = x.view(N * M, C, T, V)
        outputs = []
        for gcn, importance in zip(self.st_gcn_networks, self.edge_importance):
            x = gcn(x, self.A * importance)
            outputs.append(x)
        x = nn.functional.avg_pool2d(x, x.size()[2:])  # (N*M, C, 1, 1)
        x = x.view(N, M, -1, 1, 1).mean(dim=1)  # (N, C, 1, 1)
        x = self.fcn(x)
        outputs.append(x.view(x.size(0), -1))
        return outputs
