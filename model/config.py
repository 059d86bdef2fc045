"""Typed configuration of the ST-GCN model and its three named presets.

`paper` is the official PyTorch model (Yan et al. 2018, docs/reference.md section 4); `tf2019` is the 2019 TensorFlow port
whose Dropbox weights this project loads (docs/reference.md section 5); `pyskl` is the same network as PYSKL and
mmaction2 1.x build it (docs/reference.md section 8). Everything that differs between them lives in `STGCNConfig`, so
one model class serves all three.
"""
import dataclasses

from graphs import LAYOUTS, PARTITIONS, get_layout

TEMPORAL_PADDINGS = ('symmetric', 'same')
# The T of the official and the 2019 port's training data (NTU and Kinetics zero-padded to 300 frames): what
# their weights expect, and what is assumed for this project's checkpoints written before they recorded it.
DEFAULT_MAX_FRAME = 300
# PYSKL's feature streams (GenSkeFeat's feats): joints, bones, and their motion. Weights trained on an annotation
# pickle record theirs (model.weights.checkpoint_meta), since the same pickle feeds all four.
STREAMS = ('j', 'b', 'jm', 'bm')
# Each stream as the feats of PYSKL's GenSkeFeat (feeders/pyskl_transforms.py gen_ske_feat) that compute it.
STREAM_FEATS = {stream: (stream,) for stream in STREAMS}
# official: N(0, 0.02) convs and head, N(1, 0.02) BN scales (st-gcn's weights_init); keras: Keras' defaults;
# pyskl: torch.nn.Conv2d's own initialisation and a N(0, 0.01) head (model/stgcn.py says where each comes from).
INITS = ('official', 'keras', 'pyskl')


@dataclasses.dataclass(frozen=True)
class STGCNConfig:
    """Hyper-parameters of one ST-GCN model.

    bn_momentum has the Keras meaning (weight of the old moving average): PyTorch's momentum 0.1 is 0.9 here.
    temporal_padding 'symmetric' pads the 9-tap temporal conv (4, 4) as PyTorch's padding=4 does, also at
    stride 2; 'same' is Keras' padding="same", which pads a stride-2 conv (3, 4) on even T.
    channels are the widths of the three stages (blocks 1-4, 5-7, 8-10).
    """
    num_class: int = 60
    in_channels: int = 3
    num_person: int = 2
    layout: object = 'ntu-rgb+d'  # a shipped layout's name, or a user's layout as graphs.Layout.to_dict() gives it
    partition: str = 'spatial'
    edge_importance: bool = True
    dropout: float = 0.5
    bn_momentum: float = 0.9
    bn_epsilon: float = 1e-5
    temporal_padding: str = 'symmetric'
    channels: tuple = (64, 128, 256)
    init: str = 'official'
    sync_bn: bool = False  # training option: BatchNorm statistics over the global batch (--sync-bn)

    def __post_init__(self):
        # A list (from YAML or JSON) is accepted for channels; the frozen config stores a tuple.
        object.__setattr__(self, 'channels', tuple(self.channels))
        if isinstance(self.layout, dict):
            # A user's layout, checked and stored 0-based: the config (and so a checkpoint) rebuilds its graph.
            object.__setattr__(self, 'layout', get_layout(self.layout).to_dict())
        else:
            _check_choice('layout', self.layout, LAYOUTS)
        _check_choice('partition', self.partition, PARTITIONS)
        _check_choice('temporal_padding', self.temporal_padding, TEMPORAL_PADDINGS)
        _check_choice('init', self.init, INITS)
        for name in ('num_class', 'in_channels', 'num_person'):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'STGCNConfig.{name} must be a positive int, got {value!r}')
        if not isinstance(self.sync_bn, bool):
            raise ValueError(f'STGCNConfig.sync_bn must be a bool, got {self.sync_bn!r}')
        if not isinstance(self.edge_importance, bool):
            raise ValueError(f'STGCNConfig.edge_importance must be a bool, got {self.edge_importance!r}')
        if len(self.channels) != 3 or not all(isinstance(c, int) and c >= 1 for c in self.channels):
            raise ValueError(f'STGCNConfig.channels must be three positive ints, got {self.channels!r}')
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f'STGCNConfig.dropout must be in [0, 1), got {self.dropout!r}')
        if not 0.0 <= self.bn_momentum < 1.0:
            raise ValueError(f'STGCNConfig.bn_momentum must be in [0, 1) (Keras meaning), got {self.bn_momentum!r}')
        if not self.bn_epsilon > 0.0:
            raise ValueError(f'STGCNConfig.bn_epsilon must be > 0, got {self.bn_epsilon!r}')

    def to_dict(self):
        """Plain JSON-ready dict (channels as a list)."""
        d = dataclasses.asdict(self)  # a custom layout's dict is copied deeply
        d['channels'] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d):
        """Inverse of to_dict; unknown keys are an error naming them and the valid ones. Checkpoints written
        before the graph partition's field was named `partition` call it `strategy`."""
        d = dict(d)
        if 'strategy' in d and 'partition' not in d:
            d['partition'] = d.pop('strategy')
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ValueError(f'unknown STGCNConfig key(s) {unknown}; valid keys: {valid}')
        return cls(**d)


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f'unknown {name} {value!r}; valid: {", ".join(choices)}')


PRESETS = {
    # The official model (docs/reference.md section 4): PyTorch BN defaults (momentum 0.1 -> Keras 0.9, eps 1e-5),
    # padding=4 on both sides of every temporal conv, dropout 0.5 in blocks 2-10, N(0, 0.02) init.
    'paper': STGCNConfig(),
    # The 2019 TF port (docs/reference.md section 5): 2s-AGCN graph, no edge importance, no dropout, Keras BN defaults,
    # padding="same", Keras default initialisers.
    'tf2019': STGCNConfig(partition='agcn', edge_importance=False, dropout=0.0, bn_momentum=0.99,
                          bn_epsilon=1e-3, temporal_padding='same', init='keras'),
    # PYSKL's ST-GCN (kennymckormick/pyskl:pyskl/models/gcns/stgcn.py:STGCN with GCNHead, configs/stgcn/
    # stgcn_pyskl_*/j.py; mmaction2 1.x's mmaction/models/backbones/stgcn.py:STGCN is the same code). It computes
    # what the official blocks compute (the checks are listed in model/convert_pyskl.py); it differs in:
    # - the graph: layout 'nturgb+d' wires the hand joints to the hands, partition 'stgcn_spatial'
    #   (kennymckormick/pyskl:pyskl/utils/graph.py:Graph.stgcn_spatial); 2D models use layout 'coco' with
    #   in_channels 3 (x, y, score);
    # - no TCN dropout: pyskl/models/gcns/utils/tcn.py:unit_tcn defaults to dropout=0 and the configs set none,
    #   and GCNHead's dropout is 0 (pyskl/models/heads/simple_head.py:GCNHead);
    # - PyTorch's default initialisation: unit_gcn.init_weights does nothing and STGCN.init_weights only loads a
    #   pretrained file (pyskl/models/gcns/stgcn.py:STGCN.init_weights), so convs and BNs keep torch's own init;
    #   the head is N(0, 0.01) (pyskl/models/heads/simple_head.py:SimpleHead.init_weights).
    'pyskl': STGCNConfig(layout='ntu-rgb+d-pyskl', partition='stgcn_spatial', dropout=0.0, init='pyskl'),
}


def make_config(preset='paper', **overrides):
    """The preset's config with `overrides` replaced, e.g. make_config('paper', num_class=120)."""
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; valid: {", ".join(PRESETS)}')
    valid = [f.name for f in dataclasses.fields(STGCNConfig)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f'unknown STGCNConfig key(s) {unknown}; valid keys: {valid}')
    return dataclasses.replace(PRESETS[preset], **overrides)
