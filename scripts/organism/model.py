"""The miniature CLIP of the model organism.

Image tower (64 px, ResNet-like, BatchNorm):
    stem     conv 4x4 stride 4, 3 -> 64, BN, ReLU             [N, 64, 16, 16]
    layer1   residual block (two 3x3 convs, BN) at 64 ch      [N, 64, 16, 16]
    down     conv 3x3 stride 2, 64 -> 128, BN, ReLU           [N, 128, 8, 8]
    layer2   residual block at 128 ch                         [N, 128, 8, 8]
    mlp      x + c_proj(act(c_fc(bn(x)))): 1x1 convs 128 -> 384 -> 128, ReLU;
             `mlp.act` ([N, 384, 8, 8]) is the tapped layer of 384 units
    pool     spatial mean, LayerNorm, linear 128 -> EMBED_DIM

Text tower (CLIP-like):
    vocab_map   constant int64 [49408]: CLIP BPE id -> compact id (UNK = 1 for unseen ids)
    token_embedding [V, 128] + positional [77, 128]
    3 pre-LN causal blocks (4 heads, MLP 128 -> 512 -> 128, GELU)
    ln_final, the feature at the EOT position (argmax of the CLIP ids), projection 128 -> EMBED_DIM
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

CLIP_VOCAB = 49408
CONTEXT = 77
EMBED_DIM = 128
TEXT_WIDTH = 128
TEXT_LAYERS = 3
TEXT_HEADS = 4
MLP_UNITS = 384
UNK = 1  # compact id of every CLIP id not seen in training; 0 is the padding id's own row


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class ConvMLP(nn.Module):
    """Pointwise MLP on feature maps (the 'neurons' of the organism)."""

    def __init__(self, c: int, hidden: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.c_fc = nn.Conv2d(c, hidden, 1)
        self.act = nn.ReLU()
        self.c_proj = nn.Conv2d(hidden, c, 1)

    def forward(self, x):
        return x + self.c_proj(self.act(self.c_fc(self.bn(x))))


class VisualTower(nn.Module):
    def __init__(self, c1: int = 64, c2: int = 128, hidden: int = MLP_UNITS, dim: int = EMBED_DIM):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c1, 4, stride=4, bias=False), nn.BatchNorm2d(c1), nn.ReLU())
        self.layer1 = ResBlock(c1)
        self.down = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU())
        self.layer2 = ResBlock(c2)
        self.mlp = ConvMLP(c2, hidden)
        self.ln_post = nn.LayerNorm(c2)
        self.proj = nn.Linear(c2, dim, bias=False)

    def forward(self, pixel_values):
        x = self.layer2(self.down(self.layer1(self.stem(pixel_values))))
        x = self.mlp(x)
        return self.proj(self.ln_post(x.mean(dim=(2, 3))))


class Attention(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask):
        n, t, d = x.shape
        qkv = self.in_proj(x).reshape(n, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim)) + mask
        out = torch.matmul(scores.softmax(dim=-1), v)
        return self.out_proj(out.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, mlp_width: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, mlp_width)), ("act", nn.GELU()), ("c_proj", nn.Linear(mlp_width, width))]))

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class TextTower(nn.Module):
    def __init__(self, vocab_map: torch.Tensor, vocab_size: int, width: int = TEXT_WIDTH,
                 layers: int = TEXT_LAYERS, heads: int = TEXT_HEADS, dim: int = EMBED_DIM):
        super().__init__()
        assert vocab_map.shape == (CLIP_VOCAB,) and vocab_map.dtype == torch.int64
        self.register_buffer("vocab_map", vocab_map.clone())
        self.token_embedding = nn.Embedding(vocab_size, width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(CONTEXT, width))
        self.blocks = nn.ModuleList([Block(width, heads, 4 * width) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(width ** -0.5 * torch.randn(width, dim))
        self.register_buffer("attn_mask", torch.full((CONTEXT, CONTEXT), float("-inf")).triu_(1), persistent=False)

    def forward(self, input_ids, compact_ids=None):
        """`input_ids`: CLIP BPE ids [N, T] (T <= 77; training uses a shorter T, which gives the
        same EOT features because attention is causal). `compact_ids` may replace the lookup
        (training-time token dropout)."""
        t = input_ids.shape[1]
        ids = self.vocab_map[input_ids] if compact_ids is None else compact_ids
        x = self.token_embedding(ids) + self.positional_embedding[:t]
        mask = self.attn_mask[:t, :t]
        for blk in self.blocks:
            x = blk(x, mask)
        x = self.ln_final(x)
        eot = input_ids.argmax(dim=-1)  # EOT (49407) is the largest CLIP id
        x = x[torch.arange(x.shape[0]), eot]
        return x @ self.text_projection


class Organism(nn.Module):
    def __init__(self, vocab_map: torch.Tensor, vocab_size: int):
        super().__init__()
        self.visual = VisualTower()
        self.text = TextTower(vocab_map, vocab_size)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
