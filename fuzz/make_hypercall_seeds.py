#!/usr/bin/env python3
# Regenerate fuzz/corpus/hypercall/: small inputs for fuzz_hypercall.c.
# Layout: [u64 GPA][u32 payload offset][u8 length][payload][operation bytes]
# (see the comment at the top of fuzz_hypercall.c).
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "hypercall")
DONE, ASSERT, SHARE, UNSHARE, DISCARD = 1, 2, 3, 4, 5
OP_DECODE, OP_STRING, OP_PORT = 0, 1, 2
OP_PORT_AT, OP_SUBMIT, OP_PIO, OP_PRIVATE, OP_POKE, OP_HLT = 3, 4, 6, 7, 8, 9


def block(op, *args):
    args = list(args) + [0] * (4 - len(args))
    return struct.pack("<Ii4Q", op, 0, *args)


def seed(gpa, offset, payload, ops=b""):
    assert len(payload) <= 64
    return struct.pack("<QIB", gpa, offset, len(payload)) + payload + ops


def gpa_pick(kind, delta=0):
    return bytes([kind]) + struct.pack("<H", delta)


seeds = {
    # DONE with status 0, then the vCPU halts: outcome done.
    "done-ok": seed(0x1000, 0x1000, block(DONE), bytes([OP_PORT, OP_HLT])),
    # DONE with a failing status and step.
    "done-failed": seed(0x2000, 0x2000, block(DONE, 3, 7), bytes([OP_PORT, OP_DECODE]) + gpa_pick(0)),
    # ASSERT with its two strings in RAM next to the block.
    "assert": seed(0x3000, 0x3000, block(ASSERT, 0x3028, 42, 0x3030) + b"f.c\0\0\0\0\0x == 1\0",
                   bytes([OP_PORT, OP_STRING, 40]) + gpa_pick(1, 0x28)),
    # SHARE and UNSHARE without a conversion policy: ENOSYS.
    "share": seed(0x4000, 0x4000, block(SHARE, 0x200000, 0x1000), bytes([OP_PORT])),
    "unshare": seed(0x4000, 0x4000, block(UNSHARE, 0x80000, 0x2000), bytes([OP_PORT])),
    # DISCARD of a page: the hole punch on fd -1 fails (ENOMEM back).
    "discard": seed(0x5000, 0x5000, block(DISCARD, 0x8000, 0x1000), bytes([OP_PORT])),
    # Unknown op.
    "unknown-op": seed(0x6000, 0x6000, block(0x99), bytes([OP_PORT])),
    # Bad GPAs: misaligned, the last bytes of RAM, beyond RAM, near UINT64_MAX.
    "bad-gpa": seed(0xffffffffffffffc1, 0, b"",
                    bytes([OP_DECODE]) + gpa_pick(0) + bytes([OP_DECODE]) + gpa_pick(3, 8) +
                    bytes([OP_DECODE]) + gpa_pick(4, 16) + bytes([OP_PORT_AT]) + gpa_pick(5 | 8, 3) +
                    bytes([OP_STRING, 100]) + gpa_pick(4, 2)),
    # A block on a private page: refused, its result untouched.
    "private-block": seed(0x7000, 0x7000, block(DONE), bytes([OP_PRIVATE, 7, 0, 0, OP_PORT, OP_HLT])),
    # Port accesses of other sizes and directions, and a rep out.
    "port-shapes": seed(0x1000, 0x1000, block(DONE),
                        bytes([OP_PIO, 0x42, 0, 0x10, 0, 0, OP_PIO, 0x4a, 0, 0x10, 0, 0, 0, 0x10, 0, 0,
                               OP_PIO, 0x40, 1])),
    # A request block written by a submit operation, SHARE at the end of RAM.
    "submit": seed(0x8000, 0, b"", bytes([OP_SUBMIT]) + gpa_pick(0) + bytes([SHARE]) +
                   gpa_pick(3, 0x1000) + gpa_pick(0) + gpa_pick(0) + gpa_pick(0)),
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as out:
        out.write(data)
