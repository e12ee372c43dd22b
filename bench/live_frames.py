#!/usr/bin/env python3
"""The frames of bench/live.sh: FLOWS UDP/IPv4 flows of SIZE-byte Ethernet frames, written as a
pcap of FRAMES frames (tcpreplay loops it) and as a trafgen configuration of one packet per
flow (trafgen sends its packets round robin). Usage: live_frames.py PCAP CFG FRAMES SIZE FLOWS
"""
import struct
import sys


def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def frames(size, flows):
    pl = size - 42  # Ethernet 14 + IPv4 20 + UDP 8
    out = []
    for f in range(flows):
        src = bytes([10, 1 + (f >> 16), (f >> 8) & 255, f & 255])
        dst = bytes([10, 128 + ((f * 7) >> 16 & 127), (f * 7 >> 8) & 255, (f * 7) & 255])
        sport, dport = 1024 + f % 60000, 5000 + (f % 7) * 1000
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28 + pl, f & 0xffff, 0, 64, 17, 0, src, dst)
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        udp = struct.pack('!HHHH', sport, dport, 8 + pl, 0)
        # Locally administered MACs that are nobody's: the namespace's stack drops the frames
        # as "other host" after the capture tap saw them.
        eth = bytes.fromhex('020000000002' '020000000001' '0800')
        out.append(eth + ip + udp + bytes(pl))
    return out


def main():
    pcap, cfg, count, size, flows = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    recs = frames(size, flows)
    with open(pcap, 'wb') as o:
        o.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            d = recs[i % flows]
            o.write(struct.pack('<IIII', i // 100000, (i % 100000) * 10, len(d), len(d)))
            o.write(d)
    with open(cfg, 'w') as o:
        for d in recs:
            o.write('{ ' + ', '.join('0x%02x' % b for b in d) + ' }\n')


if __name__ == '__main__':
    main()
