#!/usr/bin/python3
"""Writes tests/ref/lstm_ref.bin: a PyTorch reference for encoders/lstm.c.

Run with Debian's python3 (python3-torch 1.13):  /usr/bin/python3 tests/ref/lstm_ref.py [OUT]

A 2-layer bidirectional nn.LSTM (batch_first) runs in float64 over a batch of
ragged sequences packed with pack_padded_sequence (unsorted lengths). Its loss
is  sum(out * r_out) + sum(hlast * r_hlast)  where out is the padded output
(B,T,2H) and hlast = cat(h_n[-2], h_n[-1]) (B,2H), the top layer's final
forward and backward states. Gradients of that loss with respect to the input
and every parameter are stored too.

File format (little-endian):
  magic    8 bytes  b"SSLSTMR1"
  count    u32      number of tensors
  count times:
    name_len u32, name (ASCII, no NUL), ndim u32, dims u32[ndim],
    data     float32[prod(dims)], row-major
Tensors: "config" = [input_size, hidden, layers, bidirectional, B, T],
"lengths" (B), "input" (B,T,In), "r_out", "r_hlast", "out", "hlast", "h_n",
"c_n", every parameter under PyTorch's name ("weight_ih_l0",
"bias_hh_l1_reverse", ...) and its gradient as "grad.<name>", and
"grad.input". Values are float64 results rounded to float32.
"""
import os
import struct
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

IN, H, LAYERS, B, T = 5, 6, 2, 4, 7
LENGTHS = [5, 7, 1, 3]  # unsorted, one full, one of length 1


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/ref/lstm_ref.bin"
    torch.manual_seed(1234)
    lstm = torch.nn.LSTM(IN, H, num_layers=LAYERS, bidirectional=True,
                         batch_first=True).double()
    x = torch.randn(B, T, IN, dtype=torch.float64)
    for b, n in enumerate(LENGTHS):  # padding must not matter: fill it with noise
        x[b, n:] = 7.0 * torch.randn(T - n, IN, dtype=torch.float64)
    x.requires_grad_(True)
    r_out = torch.randn(B, T, 2 * H, dtype=torch.float64)
    r_hlast = torch.randn(B, 2 * H, dtype=torch.float64)

    lengths = torch.tensor(LENGTHS)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_p, (h_n, c_n) = lstm(packed)
    out, _ = pad_packed_sequence(out_p, batch_first=True, total_length=T)
    hlast = torch.cat([h_n[-2], h_n[-1]], dim=1)
    loss = (out * r_out).sum() + (hlast * r_hlast).sum()
    loss.backward()

    tensors = [
        ("config", torch.tensor([IN, H, LAYERS, 1, B, T], dtype=torch.float64)),
        ("lengths", lengths.double()),
        ("input", x.detach()),
        ("r_out", r_out),
        ("r_hlast", r_hlast),
        ("out", out.detach()),
        ("hlast", hlast.detach()),
        ("h_n", h_n.detach()),
        ("c_n", c_n.detach()),
        ("grad.input", x.grad),
    ]
    for name, p in lstm.named_parameters():
        tensors.append((name, p.detach()))
        tensors.append(("grad." + name, p.grad))

    with open(out_path + ".tmp", "wb") as f:
        f.write(b"SSLSTMR1")
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors:
            nb = name.encode("ascii")
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", t.dim()))
            f.write(struct.pack("<%dI" % t.dim(), *t.shape))
            f.write(t.detach().contiguous().float().numpy().astype("<f4").tobytes())
    os.replace(out_path + ".tmp", out_path)
    print("wrote %s: %d tensors, loss %.6f" % (out_path, len(tensors), loss.item()))


if __name__ == "__main__":
    main()
