#!/usr/bin/env python3
"""Start nginx on a listening socket whose connections are paced by the kernel.

Usage: paced_nginx.py ADDR PORT RATE_BYTES_PER_SEC -- nginx ARGS...

Creates the listening socket itself, sets SO_MAX_PACING_RATE on it (accepted
sockets inherit the value: sk_clone_lock copies sk_max_pacing_rate), makes the
fd inheritable and execs nginx with NGINX="<fd>;" so nginx adopts the socket
instead of binding its own. The nginx config must `listen ADDR:PORT` exactly.

Why not nginx `limit_rate`: it is per request, and every Range request on a
kept-alive connection gets a fresh budget, so small ranges escape it (see
docs/engineering-notes.md Part 2 g). The kernel cap is per TCP connection.
On loopback there is no fq qdisc; since Linux 4.13 TCP paces internally when
a pacing rate is set, which run.sh verifies by measurement before trusting it.
"""
import os
import socket
import struct
import sys

SO_MAX_PACING_RATE = getattr(socket, "SO_MAX_PACING_RATE", 47)  # Linux value


def main() -> None:
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") != 3:
        sys.exit(__doc__)
    addr, port, rate = argv[0], int(argv[1]), int(argv[2])
    cmd = argv[4:]
    if not cmd:
        sys.exit("paced_nginx.py: no command after --")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        # 64-bit value (kernel >= 5.x reads an unsigned long when optlen is 8).
        sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("=Q", rate))
    except OSError:
        # Older kernels only take a 32-bit unsigned value.
        sock.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, struct.pack("=I", min(rate, 0xFFFFFFFF)))
    got = sock.getsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, 8)
    got_val = struct.unpack("=Q", got)[0] if len(got) == 8 else struct.unpack("=I", got[:4])[0]
    sock.bind((addr, port))
    sock.listen(511)
    # nginx expects non-blocking listeners (it only sets O_NONBLOCK on sockets it opens).
    sock.setblocking(False)
    fd = sock.detach()
    os.set_inheritable(fd, True)  # clears FD_CLOEXEC

    env = dict(os.environ)
    env["NGINX"] = f"{fd};"
    print(
        f"paced_nginx: fd {fd} on {addr}:{port}, SO_MAX_PACING_RATE={got_val} B/s "
        f"({got_val / 1048576:.2f} MiB/s), exec {cmd[0]}",
        file=sys.stderr,
        flush=True,
    )
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
